// est/subnet/subnetwork.hpp: Subnetwork built by hand, checked against index sets, strings and
// error messages written out in the tests (sorted order, validation messages naming the source
// and the offending value, digest equality / inequality, the documented to_string format).

#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <set>
#include <span>
#include <sstream>
#include <string>
#include <vector>

#include <est/subnet/subnetwork.hpp>

#include "../support/test_support.hpp"

using est::testing::to_vector;
using est::testing::value_error_message;

using est::Subnetwork;
using est::SubnetworkShape;

namespace {



}  // namespace

TEST_CASE("full() activates every layer, head and neuron", "[subnet]") {
  const SubnetworkShape shape{3, 4, 5};
  const Subnetwork s = Subnetwork::full(shape);
  CHECK(s.shape() == shape);
  CHECK(s.active_layer_count() == 3);
  CHECK(s.active_layers() == std::vector<int>{0, 1, 2});
  for (int l = 0; l < 3; ++l) {
    CHECK(s.is_active(l));
    CHECK(to_vector(s.heads(l)) == std::vector<int>{0, 1, 2, 3});
    CHECK(to_vector(s.neurons(l)) == std::vector<int>{0, 1, 2, 3, 4});
  }
  CHECK(s.is_full());
  CHECK_NOTHROW(s.validate("full"));
}

TEST_CASE("A shape with a zero or negative size is rejected", "[subnet][errors]") {
  EST_CHECK_THROWS(Subnetwork(SubnetworkShape{0, 4, 5}), est::value_error, "(0, 4, 5)");
  EST_CHECK_THROWS(Subnetwork(SubnetworkShape{2, 0, 5}), est::value_error, "(2, 0, 5)");
  EST_CHECK_THROWS(Subnetwork(SubnetworkShape{2, 4, -1}), est::value_error, "(2, 4, -1)");
  EST_CHECK_THROWS(Subnetwork::full(SubnetworkShape{-3, 4, 5}), est::value_error, "(-3, 4, 5)");
}

TEST_CASE("activate_layer keeps the index lists sorted whatever order they are given in",
          "[subnet]") {
  Subnetwork s(SubnetworkShape{3, 4, 8});
  s.activate_layer(2, {3, 1}, {7, 0, 5, 2});
  CHECK(to_vector(s.heads(2)) == std::vector<int>{1, 3});
  CHECK(to_vector(s.neurons(2)) == std::vector<int>{0, 2, 5, 7});
  CHECK(s.is_active(2));
  CHECK_FALSE(s.is_active(0));
  CHECK_FALSE(s.is_active(1));
  CHECK(s.heads(0).empty());
  CHECK(s.neurons(1).empty());
  CHECK(s.active_layers() == std::vector<int>{2});
  CHECK(s.active_layer_count() == 1);
}

TEST_CASE("activate_layer rejects a layer out of range or activated twice", "[subnet][errors]") {
  Subnetwork s(SubnetworkShape{2, 4, 8});
  EST_CHECK_THROWS(s.activate_layer(2, {0}, {0}), est::value_error, "layer 2 is outside [0, 2)");
  EST_CHECK_THROWS(s.activate_layer(-1, {0}, {0}), est::value_error,
                   "layer -1 is outside [0, 2)");
  s.activate_layer(1, {0}, {0});
  EST_CHECK_THROWS(s.activate_layer(1, {1}, {1}), est::value_error, "layer 1 is already active");
  // The failed second activation left the first one untouched.
  CHECK(to_vector(s.heads(1)) == std::vector<int>{0});
}

TEST_CASE("validate names the source and the offending value of every invalid subnetwork",
          "[subnet][errors]") {
  const SubnetworkShape shape{3, 4, 6};

  SECTION("an empty head set") {
    Subnetwork s(shape);
    s.activate_layer(0, {0, 1}, {0});
    s.activate_layer(2, {}, {1, 2});
    const std::string m = value_error_message([&] { s.validate("MyPolicy"); });
    CHECK_THAT(m, Catch::Matchers::Contains("MyPolicy"));
    CHECK_THAT(m, Catch::Matchers::Contains("layer 2 is active with no heads"));
  }
  SECTION("an empty neuron set") {
    Subnetwork s(shape);
    s.activate_layer(1, {3}, {});
    const std::string m = value_error_message([&] { s.validate("MyPolicy"); });
    CHECK_THAT(m, Catch::Matchers::Contains("MyPolicy"));
    CHECK_THAT(m, Catch::Matchers::Contains("layer 1 is active with no neurons"));
  }
  SECTION("a head index out of range") {
    Subnetwork s(shape);
    s.activate_layer(0, {0, 4}, {0});
    const std::string m = value_error_message([&] { s.validate("MyPolicy"); });
    CHECK_THAT(m, Catch::Matchers::Contains("MyPolicy"));
    CHECK_THAT(m, Catch::Matchers::Contains("head 4"));
    CHECK_THAT(m, Catch::Matchers::Contains("outside [0, 4)"));
  }
  SECTION("a negative head index") {
    Subnetwork s(shape);
    s.activate_layer(0, {-1, 2}, {0});
    const std::string m = value_error_message([&] { s.validate("MyPolicy"); });
    CHECK_THAT(m, Catch::Matchers::Contains("MyPolicy"));
    CHECK_THAT(m, Catch::Matchers::Contains("head -1"));
  }
  SECTION("a neuron index out of range") {
    Subnetwork s(shape);
    s.activate_layer(2, {0}, {5, 6});
    const std::string m = value_error_message([&] { s.validate("MyPolicy"); });
    CHECK_THAT(m, Catch::Matchers::Contains("MyPolicy"));
    CHECK_THAT(m, Catch::Matchers::Contains("layer 2 neuron 6"));
    CHECK_THAT(m, Catch::Matchers::Contains("outside [0, 6)"));
  }
  SECTION("a head listed twice") {
    Subnetwork s(shape);
    s.activate_layer(1, {2, 0, 2}, {0});
    const std::string m = value_error_message([&] { s.validate("MyPolicy"); });
    CHECK_THAT(m, Catch::Matchers::Contains("MyPolicy"));
    CHECK_THAT(m, Catch::Matchers::Contains("head 2 is listed twice"));
  }
  SECTION("a neuron listed twice") {
    Subnetwork s(shape);
    s.activate_layer(0, {0}, {3, 1, 3});
    const std::string m = value_error_message([&] { s.validate("MyPolicy"); });
    CHECK_THAT(m, Catch::Matchers::Contains("MyPolicy"));
    CHECK_THAT(m, Catch::Matchers::Contains("neuron 3 is listed twice"));
  }
  SECTION("no active layer") {
    const Subnetwork s(shape);
    const std::string m = value_error_message([&] { s.validate("MyPolicy"); });
    CHECK_THAT(m, Catch::Matchers::Contains("MyPolicy"));
    CHECK_THAT(m, Catch::Matchers::Contains("no active layer"));
  }
  SECTION("a default-constructed placeholder") {
    const Subnetwork s;
    const std::string m = value_error_message([&] { s.validate("MyPolicy"); });
    CHECK_THAT(m, Catch::Matchers::Contains("MyPolicy"));
    CHECK_THAT(m, Catch::Matchers::Contains("no shape"));
  }
  SECTION("a valid partial subnetwork passes") {
    Subnetwork s(shape);
    s.activate_layer(1, {3, 0}, {5, 0, 2});
    CHECK_NOTHROW(s.validate("MyPolicy"));
  }
}

TEST_CASE("is_full is true only when every layer, head and neuron is active", "[subnet]") {
  const SubnetworkShape shape{2, 3, 4};
  CHECK(Subnetwork::full(shape).is_full());
  CHECK_FALSE(Subnetwork().is_full());
  CHECK_FALSE(Subnetwork(shape).is_full());

  Subnetwork missing_layer(shape);
  missing_layer.activate_layer(0, {0, 1, 2}, {0, 1, 2, 3});
  CHECK_FALSE(missing_layer.is_full());

  Subnetwork missing_head(shape);
  missing_head.activate_layer(0, {0, 1, 2}, {0, 1, 2, 3});
  missing_head.activate_layer(1, {0, 2}, {0, 1, 2, 3});
  CHECK_FALSE(missing_head.is_full());

  Subnetwork missing_neuron(shape);
  missing_neuron.activate_layer(0, {0, 1, 2}, {0, 1, 3});
  missing_neuron.activate_layer(1, {0, 1, 2}, {0, 1, 2, 3});
  CHECK_FALSE(missing_neuron.is_full());

  Subnetwork by_hand(shape);
  by_hand.activate_layer(1, {2, 1, 0}, {3, 2, 1, 0});
  by_hand.activate_layer(0, {0, 1, 2}, {0, 1, 2, 3});
  CHECK(by_hand.is_full());
  CHECK(by_hand == Subnetwork::full(shape));
}

TEST_CASE("active_layers lists the active layers in ascending order", "[subnet]") {
  Subnetwork s(SubnetworkShape{5, 2, 2});
  CHECK(s.active_layers().empty());
  s.activate_layer(4, {0}, {1});
  s.activate_layer(1, {1}, {0});
  s.activate_layer(3, {0, 1}, {0, 1});
  CHECK(s.active_layers() == std::vector<int>{1, 3, 4});
  CHECK(s.active_layer_count() == 3);
}

namespace {

/// The subnetwork the digest tests perturb: shape (3, 4, 6), layers 0 and 2 active.
Subnetwork digest_base() {
  Subnetwork s(SubnetworkShape{3, 4, 6});
  s.activate_layer(0, {0, 2}, {1, 3, 5});
  s.activate_layer(2, {1, 2, 3}, {0, 4});
  return s;
}

}  // namespace

TEST_CASE("digest and == ignore the order indices were given in and see every single change",
          "[subnet]") {
  const Subnetwork base = digest_base();
  const std::uint64_t d = base.digest();
  CHECK(base.digest() == d);  // stable across calls
  CHECK(digest_base().digest() == d);

  Subnetwork shuffled(SubnetworkShape{3, 4, 6});
  shuffled.activate_layer(2, {3, 1, 2}, {4, 0});
  shuffled.activate_layer(0, {2, 0}, {5, 1, 3});
  CHECK(shuffled == base);
  CHECK(shuffled.digest() == d);
  CHECK(std::hash<Subnetwork>{}(shuffled) == static_cast<std::size_t>(d));

  struct Variant {
    const char* what;
    Subnetwork s;
  };
  auto make = [](SubnetworkShape shape, std::vector<int> h0, std::vector<int> n0,
                 std::vector<int> h2, std::vector<int> n2, int second_layer = 2) {
    Subnetwork s(shape);
    s.activate_layer(0, std::move(h0), std::move(n0));
    s.activate_layer(second_layer, std::move(h2), std::move(n2));
    return s;
  };
  const SubnetworkShape sh{3, 4, 6};
  std::vector<Variant> variants;
  variants.push_back({"one head index changed", make(sh, {0, 3}, {1, 3, 5}, {1, 2, 3}, {0, 4})});
  variants.push_back({"one head removed", make(sh, {0}, {1, 3, 5}, {1, 2, 3}, {0, 4})});
  variants.push_back({"one head added", make(sh, {0, 1, 2}, {1, 3, 5}, {1, 2, 3}, {0, 4})});
  variants.push_back({"one neuron changed", make(sh, {0, 2}, {1, 3, 5}, {1, 2, 3}, {0, 3})});
  variants.push_back({"one neuron removed", make(sh, {0, 2}, {1, 3}, {1, 2, 3}, {0, 4})});
  variants.push_back({"second layer moved", make(sh, {0, 2}, {1, 3, 5}, {1, 2, 3}, {0, 4}, 1)});
  variants.push_back({"a head moved to the neurons",
                      make(sh, {0}, {1, 2, 3, 5}, {1, 2, 3}, {0, 4})});
  variants.push_back({"wider shape, same sets",
                      make({3, 5, 6}, {0, 2}, {1, 3, 5}, {1, 2, 3}, {0, 4})});
  variants.push_back({"deeper shape, same sets",
                      make({4, 4, 6}, {0, 2}, {1, 3, 5}, {1, 2, 3}, {0, 4})});
  {
    Subnetwork extra = digest_base();
    extra.activate_layer(1, {0}, {0});
    variants.push_back({"one layer added", extra});
  }
  {
    Subnetwork only0(sh);
    only0.activate_layer(0, {0, 2}, {1, 3, 5});
    variants.push_back({"one layer removed", only0});
  }

  std::set<std::uint64_t> digests{d};
  for (const Variant& v : variants) {
    INFO(v.what);
    CHECK_FALSE(v.s == base);
    CHECK(v.s.digest() != d);
    digests.insert(v.s.digest());
  }
  // All variants differ from each other too.
  CHECK(digests.size() == variants.size() + 1);
}

TEST_CASE("to_string follows the documented one-line format", "[subnet]") {
  // The example in the header comment of to_string.
  Subnetwork s(SubnetworkShape{3, 4, 32});
  std::vector<int> n16, n8;
  for (int i = 0; i < 16; ++i) n16.push_back(31 - 2 * i);
  for (int i = 0; i < 8; ++i) n8.push_back(i);
  s.activate_layer(2, {0}, n8);
  s.activate_layer(0, {3, 1}, n16);
  CHECK(s.to_string() ==
        "layers 2/3 [0: heads {1,3}/4 neurons 16/32] [2: heads {0}/4 neurons 8/32]");
  std::ostringstream out;
  out << s;
  CHECK(out.str() == s.to_string());

  CHECK(Subnetwork(SubnetworkShape{2, 1, 1}).to_string() == "layers 0/2");
  CHECK(Subnetwork::full(SubnetworkShape{1, 2, 3}).to_string() ==
        "layers 1/1 [0: heads {0,1}/2 neurons 3/3]");
}

TEST_CASE("operator== compares shape, active layers and index sets", "[subnet]") {
  const SubnetworkShape shape{2, 3, 3};
  Subnetwork a(shape), b(shape);
  CHECK(a == b);
  a.activate_layer(0, {2, 0}, {1});
  CHECK_FALSE(a == b);
  b.activate_layer(0, {0, 2}, {1});
  CHECK(a == b);
  CHECK_FALSE(Subnetwork(SubnetworkShape{2, 3, 3}) == Subnetwork(SubnetworkShape{2, 3, 4}));
  CHECK(Subnetwork() == Subnetwork());
  CHECK_FALSE(Subnetwork() == Subnetwork(shape));
}

TEST_CASE("per-unit scales travel with their indices and default to H/h and M/m", "[subnet]") {
  const SubnetworkShape shape{2, 4, 6};
  Subnetwork s(shape);
  s.activate_layer(0, {3, 0}, {5, 1, 2}, {1.5, 4.0}, {0.5, 2.0, 3.0});
  s.activate_layer(1, {1}, {0, 4});
  CHECK(std::vector<int>(s.heads(0).begin(), s.heads(0).end()) == std::vector<int>{0, 3});
  CHECK(std::vector<double>(s.head_scales(0).begin(), s.head_scales(0).end()) ==
        std::vector<double>{4.0, 1.5});
  CHECK(std::vector<double>(s.neuron_scales(0).begin(), s.neuron_scales(0).end()) ==
        std::vector<double>{2.0, 3.0, 0.5});
  CHECK(s.head_scale(0, 1) == 1.5);
  CHECK(s.neuron_scale(0, 2) == 0.5);
  CHECK(s.head_scales(1).empty());
  CHECK(s.head_scale(1, 0) == 4.0);           // H/h = 4/1
  CHECK(s.neuron_scale(1, 1) == 3.0);         // M/m = 6/2
  CHECK(s.has_unit_scales());
  CHECK_NOTHROW(s.validate("test"));
  CHECK_THAT(s.to_string(), Catch::Matchers::Contains("scaled per unit"));

  // Scales are part of the value: another scale is another subnetwork.
  Subnetwork t(shape);
  t.activate_layer(0, {0, 3}, {1, 2, 5}, {4.0, 1.5}, {2.0, 3.0, 0.5});
  t.activate_layer(1, {1}, {4, 0});
  CHECK(t == s);
  CHECK(t.digest() == s.digest());
  Subnetwork u(shape);
  u.activate_layer(0, {0, 3}, {1, 2, 5}, {4.0, 1.25}, {2.0, 3.0, 0.5});
  u.activate_layer(1, {1}, {4, 0});
  CHECK_FALSE(u == s);
  CHECK(u.digest() != s.digest());

  // A complete subnetwork is the full model only when every scale is 1.
  auto complete = [&](double scale) {
    Subnetwork c(shape);
    for (int l = 0; l < 2; ++l) {
      c.activate_layer(l, {0, 1, 2, 3}, {0, 1, 2, 3, 4, 5}, std::vector<double>(4, scale),
                       std::vector<double>(6, scale));
    }
    return c;
  };
  CHECK(complete(1.0).is_full());
  CHECK_FALSE(complete(2.0).is_full());
}

TEST_CASE("per-unit scales must match their sets and be finite and positive",
          "[subnet][errors]") {
  const SubnetworkShape shape{1, 4, 6};
  Subnetwork s(shape);
  EST_CHECK_THROWS(s.activate_layer(0, {0, 1}, {0}, {1.0}, {}), est::value_error,
                   "layer 0 has 2 heads but 1 head scales");
  Subnetwork zero(shape);
  zero.activate_layer(0, {0, 1}, {0}, {1.0, 0.0}, {});
  EST_CHECK_THROWS(zero.validate("policy"), est::value_error,
                   "policy: layer 0 head scale 1 is 0 (scales must be finite and > 0)");
  Subnetwork infinite(shape);
  infinite.activate_layer(0, {0}, {0, 1}, {}, {1.0, INFINITY});
  EST_CHECK_THROWS(infinite.validate("policy"), est::value_error, "neuron scale 1 is inf");
}
