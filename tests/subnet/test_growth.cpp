// est/subnet/growth.hpp: Constant, ThreeStage, Linear and Boundary against rates and stage
// boundaries worked out by hand (including llround's half-away-from-zero rounding of fractional
// boundaries), the exact full-model rates of stage 3, and the error messages for bad rates,
// boundaries and steps. Also the GrowthPolicy concept on user-written types.

#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <limits>
#include <sstream>
#include <string>
#include <string_view>

#include <est/subnet/growth.hpp>

#include "../support/test_support.hpp"

using est::testing::to_vector;
using est::testing::value_error_message;

using est::Boundary;
using est::Rates;
using est::growth::Constant;
using est::growth::Linear;
using est::growth::ThreeStage;

namespace {


void check_rates_equal(const Rates& got, double layers, double heads, double neurons) {
  CHECK(got.layers == layers);
  CHECK(got.heads == heads);
  CHECK(got.neurons == neurons);
}

// A user-written growth policy (halves everything until step 10), and two near misses.
struct HalfThenFull {
  [[nodiscard]] Rates rates(std::int64_t step) const {
    return step < 10 ? Rates{0.5, 0.5, 0.5} : Rates{};
  }
  [[nodiscard]] std::string_view name() const { return "HalfThenFull"; }
};
struct NoName {
  [[nodiscard]] Rates rates(std::int64_t) const { return {}; }
};
struct WrongReturn {
  [[nodiscard]] double rates(std::int64_t) const { return 1; }
  [[nodiscard]] std::string_view name() const { return "WrongReturn"; }
};

}  // namespace

static_assert(est::GrowthPolicy<HalfThenFull>);
static_assert(!est::GrowthPolicy<NoName>);
static_assert(!est::GrowthPolicy<WrongReturn>);
static_assert(!est::GrowthPolicy<int>);

TEST_CASE("Rates default to the full model and print their three rates", "[subnet][growth]") {
  CHECK(Rates{}.is_full());
  CHECK(Rates{1, 1, 1}.is_full());
  CHECK_FALSE(Rates{1, 1, 0.999}.is_full());
  CHECK_FALSE(Rates{0.5, 1, 1}.is_full());
  std::ostringstream out;
  out << Rates{0.5, 0.25, 1};
  CHECK(out.str() == "(pL 0.5, pH 0.25, pM 1)");
}

TEST_CASE("check_rates accepts rates 0 < p <= 1 and names the source and the bad rate otherwise",
          "[subnet][growth][errors]") {
  CHECK_NOTHROW(est::check_rates({1, 1, 1}, "Src"));
  CHECK_NOTHROW(est::check_rates({1e-9, 0.5, 1}, "Src"));
  std::string m = value_error_message([] { est::check_rates({0.5, 2.0, 0.5}, "MySource"); });
  CHECK_THAT(m, Catch::Matchers::Contains("MySource"));
  CHECK_THAT(m, Catch::Matchers::Contains("head rate 2"));
  m = value_error_message([] { est::check_rates({0.5, 0.5, 0.0}, "MySource"); });
  CHECK_THAT(m, Catch::Matchers::Contains("MySource"));
  CHECK_THAT(m, Catch::Matchers::Contains("neuron rate 0"));
  m = value_error_message([] { est::check_rates({-0.1, 0.5, 0.5}, "MySource"); });
  CHECK_THAT(m, Catch::Matchers::Contains("layer rate -0.1"));
  m = value_error_message(
      [] { est::check_rates({std::numeric_limits<double>::infinity(), 1, 1}, "MySource"); });
  CHECK_THAT(m, Catch::Matchers::Contains("layer rate inf"));
}

TEST_CASE("Constant returns its rates at every step", "[subnet][growth]") {
  const Constant c({0.25, 0.5, 0.75});
  for (std::int64_t step : {0, 1, 17, 1000000}) check_rates_equal(c.rates(step), 0.25, 0.5, 0.75);
  CHECK(Constant().rates(3).is_full());
  CHECK(c.name() == "growth::Constant");
}

TEST_CASE("Every growth policy rejects rates outside 0 < p <= 1, naming itself and the rate",
          "[subnet][growth][errors]") {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  struct Bad {
    Rates rates;
    const char* text;
  };
  for (const Bad& bad : {Bad{{0.0, 1, 1}, "layer rate 0 "}, Bad{{1, -0.1, 1}, "head rate -0.1"},
                         Bad{{1, 1, 1.5}, "neuron rate 1.5"}, Bad{{nan, 1, 1}, "layer rate "}}) {
    INFO(bad.text);
    std::string m = value_error_message([&] { (void)Constant(bad.rates); });
    CHECK_THAT(m, Catch::Matchers::Contains("growth::Constant"));
    CHECK_THAT(m, Catch::Matchers::Contains(bad.text));

    m = value_error_message([&] { (void)Linear(bad.rates, Boundary::step(5), 10); });
    CHECK_THAT(m, Catch::Matchers::Contains("growth::Linear"));
    CHECK_THAT(m, Catch::Matchers::Contains(bad.text));

    ThreeStage::Options o;
    o.stage1 = bad.rates;
    m = value_error_message([&] { (void)ThreeStage(o, 10); });
    CHECK_THAT(m, Catch::Matchers::Contains("growth::ThreeStage stage 1"));
    CHECK_THAT(m, Catch::Matchers::Contains(bad.text));
  }
  // NaN prints as "nan" (or "-nan"): the message shows it.
  CHECK_THAT(value_error_message([&] { (void)Constant({nan, 1, 1}); }),
             Catch::Matchers::Contains("nan"));

  ThreeStage::Options o;
  o.stage2_heads = 0;
  std::string m = value_error_message([&] { (void)ThreeStage(o, 10); });
  CHECK_THAT(m, Catch::Matchers::Contains("growth::ThreeStage stage 2"));
  CHECK_THAT(m, Catch::Matchers::Contains("head rate 0"));
  o = {};
  o.stage2_neurons = 1.25;
  m = value_error_message([&] { (void)ThreeStage(o, 10); });
  CHECK_THAT(m, Catch::Matchers::Contains("growth::ThreeStage stage 2"));
  CHECK_THAT(m, Catch::Matchers::Contains("neuron rate 1.25"));
}

TEST_CASE("ThreeStage's defaults put the boundaries at llround(total/4) and llround(total/2)",
          "[subnet][growth]") {
  // total 10: end of stage 1 = llround(0.25 * 10) = llround(2.5) = 3 (half away from zero, not
  // to even), end of stage 2 = llround(5.0) = 5.
  const ThreeStage g(10);
  CHECK(g.end_of_stage1() == 3);
  CHECK(g.end_of_stage2() == 5);
  check_rates_equal(g.rates(0), 0.5, 0.5, 0.5);
  check_rates_equal(g.rates(2), 0.5, 0.5, 0.5);  // T1 - 1
  check_rates_equal(g.rates(3), 1.0, 0.5, 0.5);  // T1: every layer
  check_rates_equal(g.rates(4), 1.0, 0.5, 0.5);  // T2 - 1
  CHECK(g.rates(5) == Rates{1, 1, 1});           // T2: the full model
  CHECK(g.rates(5).is_full());
  CHECK(g.rates(9).is_full());        // last step of the run
  CHECK(g.rates(10).is_full());       // beyond the run
  CHECK(g.rates(1000000).is_full());
  CHECK(g.name() == "growth::ThreeStage");

  // total 6: llround(1.5) = 2, llround(3.0) = 3.
  const ThreeStage six(6);
  CHECK(six.end_of_stage1() == 2);
  CHECK(six.end_of_stage2() == 3);
  check_rates_equal(six.rates(1), 0.5, 0.5, 0.5);
  check_rates_equal(six.rates(2), 1.0, 0.5, 0.5);
  CHECK(six.rates(3).is_full());
}

TEST_CASE("ThreeStage switches stages exactly at boundaries given as steps", "[subnet][growth]") {
  ThreeStage::Options o;
  o.stage1 = {0.25, 0.5, 0.75};
  o.stage2_heads = 0.625;
  o.stage2_neurons = 0.875;
  o.end_of_stage1 = Boundary::step(30);
  o.end_of_stage2 = Boundary::step(70);
  const ThreeStage g(o, 100);
  CHECK(g.end_of_stage1() == 30);
  CHECK(g.end_of_stage2() == 70);
  check_rates_equal(g.rates(0), 0.25, 0.5, 0.75);
  check_rates_equal(g.rates(29), 0.25, 0.5, 0.75);
  check_rates_equal(g.rates(30), 1.0, 0.625, 0.875);
  CHECK(g.rates(30).layers == 1.0);  // stage 2 trains every layer, exactly
  check_rates_equal(g.rates(69), 1.0, 0.625, 0.875);
  CHECK(g.rates(70) == Rates{1, 1, 1});
  CHECK(g.rates(99) == Rates{1, 1, 1});
  CHECK(g.rates(100) == Rates{1, 1, 1});
  CHECK(g.rates(12345) == Rates{1, 1, 1});
}

TEST_CASE("ThreeStage resolves fractional boundaries with llround", "[subnet][growth]") {
  ThreeStage::Options o;
  o.end_of_stage1 = Boundary::fraction(0.125);  // 0.125 * 20 = 2.5 -> 3
  o.end_of_stage2 = Boundary::fraction(0.375);  // 0.375 * 20 = 7.5 -> 8
  const ThreeStage g(o, 20);
  CHECK(g.end_of_stage1() == 3);
  CHECK(g.end_of_stage2() == 8);
  check_rates_equal(g.rates(2), 0.5, 0.5, 0.5);
  check_rates_equal(g.rates(3), 1, 0.5, 0.5);
  check_rates_equal(g.rates(7), 1, 0.5, 0.5);
  CHECK(g.rates(8).is_full());
  CHECK(g.rates(19).is_full());

  SECTION("fractions 0 and 1 are the ends of the run") {
    o.end_of_stage1 = Boundary::fraction(0.0);
    o.end_of_stage2 = Boundary::fraction(1.0);
    const ThreeStage ends(o, 20);
    CHECK(ends.end_of_stage1() == 0);
    CHECK(ends.end_of_stage2() == 20);
    check_rates_equal(ends.rates(0), 1, 0.5, 0.5);   // no stage 1
    check_rates_equal(ends.rates(19), 1, 0.5, 0.5);  // stage 2 to the last step
    CHECK(ends.rates(20).is_full());
  }
  SECTION("equal boundaries skip stage 2") {
    o.end_of_stage1 = Boundary::step(5);
    o.end_of_stage2 = Boundary::fraction(0.25);  // 0.25 * 20 = 5
    const ThreeStage no2(o, 20);
    check_rates_equal(no2.rates(4), 0.5, 0.5, 0.5);
    CHECK(no2.rates(5).is_full());
  }
  SECTION("a mix of step and fraction") {
    o.end_of_stage1 = Boundary::fraction(0.75);  // 0.75 * 10 = 7.5 -> 8
    o.end_of_stage2 = Boundary::step(9);
    const ThreeStage mix(o, 10);
    CHECK(mix.end_of_stage1() == 8);
    CHECK(mix.end_of_stage2() == 9);
    check_rates_equal(mix.rates(7), 0.5, 0.5, 0.5);
    check_rates_equal(mix.rates(8), 1, 0.5, 0.5);
    CHECK(mix.rates(9).is_full());
  }
}

TEST_CASE("Boundary::resolve rounds fractions half away from zero and checks the run",
          "[subnet][growth]") {
  CHECK(Boundary::fraction(0.25).resolve(10, "b") == 3);  // llround(2.5) = 3
  CHECK(Boundary::fraction(0.75).resolve(10, "b") == 8);  // llround(7.5) = 8
  CHECK(Boundary::fraction(0.5).resolve(7, "b") == 4);    // llround(3.5) = 4
  CHECK(Boundary::fraction(0.3).resolve(7, "b") == 2);    // llround(2.1) = 2
  CHECK(Boundary::fraction(1.0).resolve(7, "b") == 7);
  CHECK(Boundary::step(0).resolve(7, "b") == 0);
  CHECK(Boundary::step(7).resolve(7, "b") == 7);
  EST_CHECK_THROWS((void)Boundary::step(8).resolve(7, "MyBoundary"), est::value_error,
                   "MyBoundary: step 8 is outside the run [0, 7]");
  EST_CHECK_THROWS((void)Boundary::step(-1).resolve(7, "MyBoundary"), est::value_error,
                   "MyBoundary: step -1 is outside the run [0, 7]");
  EST_CHECK_THROWS((void)Boundary::fraction(1.5).resolve(7, "MyBoundary"), est::value_error,
                   "MyBoundary: fraction 1.5 of the run is outside [0, 1]");
  EST_CHECK_THROWS((void)Boundary::fraction(-0.25).resolve(7, "MyBoundary"), est::value_error,
                   "fraction -0.25");
  EST_CHECK_THROWS(
      (void)Boundary::fraction(std::numeric_limits<double>::quiet_NaN()).resolve(7, "MyBoundary"),
      est::value_error, "MyBoundary: fraction");
}

TEST_CASE("ThreeStage rejects boundaries out of order, beyond the run or bad fractions",
          "[subnet][growth][errors]") {
  ThreeStage::Options o;
  SECTION("end of stage 1 after end of stage 2") {
    o.end_of_stage1 = Boundary::step(7);
    o.end_of_stage2 = Boundary::step(3);
    const std::string m = value_error_message([&] { (void)ThreeStage(o, 10); });
    CHECK_THAT(m, Catch::Matchers::Contains("growth::ThreeStage"));
    CHECK_THAT(m, Catch::Matchers::Contains("stage 1 ends at step 7"));
    CHECK_THAT(m, Catch::Matchers::Contains("stage 2 ends at step 3"));
  }
  SECTION("out of order after rounding fractions") {
    o.end_of_stage1 = Boundary::fraction(0.75);  // 8
    o.end_of_stage2 = Boundary::fraction(0.25);  // 3
    const std::string m = value_error_message([&] { (void)ThreeStage(o, 10); });
    CHECK_THAT(m, Catch::Matchers::Contains("stage 1 ends at step 8"));
    CHECK_THAT(m, Catch::Matchers::Contains("stage 2 ends at step 3"));
  }
  SECTION("a step beyond the run") {
    o.end_of_stage1 = Boundary::step(3);
    o.end_of_stage2 = Boundary::step(11);
    const std::string m = value_error_message([&] { (void)ThreeStage(o, 10); });
    CHECK_THAT(m, Catch::Matchers::Contains("growth::ThreeStage end of stage 2"));
    CHECK_THAT(m, Catch::Matchers::Contains("step 11"));
  }
  SECTION("a negative step") {
    o.end_of_stage1 = Boundary::step(-2);
    const std::string m = value_error_message([&] { (void)ThreeStage(o, 10); });
    CHECK_THAT(m, Catch::Matchers::Contains("growth::ThreeStage end of stage 1"));
    CHECK_THAT(m, Catch::Matchers::Contains("step -2"));
  }
  SECTION("a fraction above 1") {
    o.end_of_stage2 = Boundary::fraction(1.25);
    const std::string m = value_error_message([&] { (void)ThreeStage(o, 10); });
    CHECK_THAT(m, Catch::Matchers::Contains("growth::ThreeStage end of stage 2"));
    CHECK_THAT(m, Catch::Matchers::Contains("fraction 1.25"));
  }
  SECTION("a fraction below 0") {
    o.end_of_stage1 = Boundary::fraction(-0.5);
    const std::string m = value_error_message([&] { (void)ThreeStage(o, 10); });
    CHECK_THAT(m, Catch::Matchers::Contains("growth::ThreeStage end of stage 1"));
    CHECK_THAT(m, Catch::Matchers::Contains("fraction -0.5"));
  }
  SECTION("an empty run") {
    EST_CHECK_THROWS(ThreeStage(0), est::value_error,
                     "growth::ThreeStage: total_steps must be >= 1, got 0");
  }
}

TEST_CASE("Linear ramps every rate from its start to 1 and is exactly full from the end on",
          "[subnet][growth]") {
  const Linear g({0.5, 0.25, 0.75}, Boundary::step(10), 20);
  CHECK(g.end() == 10);
  check_rates_equal(g.rates(0), 0.5, 0.25, 0.75);
  // Midpoint t = 5/10: 0.5 + 0.5/2 = 0.75, 0.25 + 0.75/2 = 0.625, 0.75 + 0.25/2 = 0.875
  // (all exact in binary).
  check_rates_equal(g.rates(5), 0.75, 0.625, 0.875);
  // t = 9/10: 0.5 + 0.5*0.9 = 0.95, 0.25 + 0.75*0.9 = 0.925, 0.75 + 0.25*0.9 = 0.975.
  const Rates r9 = g.rates(9);
  CHECK(r9.layers == Approx(0.95).epsilon(1e-14));
  CHECK(r9.heads == Approx(0.925).epsilon(1e-14));
  CHECK(r9.neurons == Approx(0.975).epsilon(1e-14));
  CHECK_FALSE(r9.is_full());
  CHECK(g.rates(10) == Rates{1, 1, 1});
  CHECK(g.rates(19) == Rates{1, 1, 1});
  CHECK(g.rates(20) == Rates{1, 1, 1});
  CHECK(g.rates(5000) == Rates{1, 1, 1});
  CHECK(g.name() == "growth::Linear");

  // End as a fraction: 0.25 * 10 = 2.5 -> 3; step 1 is t = 1/3: 0.4 + 0.6/3 = 0.6.
  const Linear f({0.4, 0.4, 0.4}, Boundary::fraction(0.25), 10);
  CHECK(f.end() == 3);
  CHECK(f.rates(1).layers == Approx(0.6).epsilon(1e-14));
  CHECK(f.rates(2).heads == Approx(0.8).epsilon(1e-14));
  CHECK(f.rates(3).is_full());

  // A ramp that ends at step 0 is the full model throughout.
  const Linear none({0.1, 0.1, 0.1}, Boundary::fraction(0.0), 10);
  CHECK(none.end() == 0);
  CHECK(none.rates(0).is_full());
}

TEST_CASE("Linear rejects a bad end of ramp or run length", "[subnet][growth][errors]") {
  std::string m = value_error_message([] { (void)Linear({0.5, 0.5, 0.5}, Boundary::step(21), 20); });
  CHECK_THAT(m, Catch::Matchers::Contains("growth::Linear"));
  CHECK_THAT(m, Catch::Matchers::Contains("step 21"));
  m = value_error_message([] { (void)Linear({0.5, 0.5, 0.5}, Boundary::fraction(2.0), 20); });
  CHECK_THAT(m, Catch::Matchers::Contains("growth::Linear"));
  CHECK_THAT(m, Catch::Matchers::Contains("fraction 2"));
  m = value_error_message([] { (void)Linear({0.5, 0.5, 0.5}, Boundary::fraction(-0.1), 20); });
  CHECK_THAT(m, Catch::Matchers::Contains("fraction -0.1"));
  EST_CHECK_THROWS(Linear({0.5, 0.5, 0.5}, Boundary::step(0), 0), est::value_error,
                   "growth::Linear: total_steps must be >= 1, got 0");
}

TEST_CASE("Every growth policy rejects a negative step, naming itself and the step",
          "[subnet][growth][errors]") {
  EST_CHECK_THROWS((void)Constant().rates(-1), est::value_error,
                   "growth::Constant: step -1 is negative");
  EST_CHECK_THROWS((void)ThreeStage(10).rates(-3), est::value_error,
                   "growth::ThreeStage: step -3 is negative");
  EST_CHECK_THROWS((void)Linear({0.5, 0.5, 0.5}, Boundary::step(5), 10).rates(-7),
                   est::value_error, "growth::Linear: step -7 is negative");
}

TEST_CASE("A user-written type with rates() and name() is a GrowthPolicy", "[subnet][growth]") {
  // The static_asserts above are the real test; this checks the policy behaves as written.
  const HalfThenFull g;
  check_rates_equal(g.rates(9), 0.5, 0.5, 0.5);
  CHECK(g.rates(10).is_full());
  CHECK(g.name() == "HalfThenFull");
}
