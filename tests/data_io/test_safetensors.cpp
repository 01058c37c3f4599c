// est/io/safetensors.hpp, est/models/gpt2/hf_format.hpp and est/io/atomic_file.hpp: round trips of
// every common dtype, a file assembled byte by byte in the test (independent of est's writer),
// rejection of every malformed header with an io_error naming the file and the field, bit flips
// and random mutations that must end in an io_error or a clean parse, GPT-2 checkpoints with
// Hugging Face's names and shapes, and atomic replacement under simulated crashes.

#include <catch2/catch.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <map>
#include <random>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include <est/io/atomic_file.hpp>
#include <est/models/gpt2/hf_format.hpp>
#include <est/io/safetensors.hpp>
#include <est/models/gpt2/model.hpp>

#include "../support/test_support.hpp"

using est::testing::Bytes;
using est::testing::read_bytes;
using est::testing::TempDir;
using est::testing::write_bytes;

namespace fs = std::filesystem;
using Catch::Matchers::Contains;
using est::SafetensorsDtype;
using est::SafetensorsFile;

namespace {



/// A file as the format defines it: 8-byte little-endian `length`, `header`, `data`.
Bytes assemble(std::uint64_t length, const std::string& header, const Bytes& data) {
  Bytes b;
  for (int i = 0; i < 8; ++i) b.push_back(static_cast<unsigned char>(length >> (8 * i)));
  b.insert(b.end(), header.begin(), header.end());
  b.insert(b.end(), data.begin(), data.end());
  return b;
}
Bytes assemble(const std::string& header, const Bytes& data) {
  return assemble(header.size(), header, data);
}

std::uint64_t header_length(const Bytes& file) {
  std::uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | file[std::size_t(i)];
  return n;
}

template <class T>
std::vector<T> read_as(const SafetensorsFile& f, const std::string& name) {
  std::vector<T> out(std::size_t(f.info(name).numel));
  f.copy_to<T>(name, out);
  return out;
}

template <class T>
bool same_bits(const std::vector<T>& a, const std::vector<T>& b) {
  return a.size() == b.size() &&
         (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(T)) == 0);
}

/// The message of the io_error that opening `path` throws; "" when it opens. Any other exception
/// escapes and fails the test.
std::string open_error(const fs::path& path) {
  try {
    (void)SafetensorsFile::open(path);
  } catch (const est::io_error& e) {
    return e.what();
  }
  return "";
}

/// Opens a file and reads every tensor. True when that worked; false on est::io_error; any other
/// exception type is a test failure.
bool opens_and_reads(const fs::path& path) {
  try {
    const SafetensorsFile f = SafetensorsFile::open(path);
    for (const std::string& name : f.names()) {
      const auto& info = f.info(name);
      std::size_t sum = 0;
      for (std::byte b : f.bytes(name)) sum += std::to_integer<std::size_t>(b);
      (void)sum;
      const bool floating =
          info.dtype == SafetensorsDtype::f16 || info.dtype == SafetensorsDtype::bf16 ||
          info.dtype == SafetensorsDtype::f32 || info.dtype == SafetensorsDtype::f64;
      if (floating) {
        std::vector<double> values(std::size_t(info.numel));
        f.convert_to<double>(name, values);
      }
    }
    (void)f.metadata();
    return true;
  } catch (const est::io_error&) {
    return false;
  }
}

/// Sets the atomic-write fault hook for the lifetime of the object.
class FaultHook {
 public:
  explicit FaultHook(std::function<void(std::string_view)> hook) {
    est::testing_hooks::atomic_write_fault = std::move(hook);
  }
  ~FaultHook() { est::testing_hooks::atomic_write_fault = nullptr; }
  FaultHook(const FaultHook&) = delete;
  FaultHook& operator=(const FaultHook&) = delete;
};

}  // namespace

// --- Writer and reader --------------------------------------------------------------------------

TEST_CASE("safetensors round-trip every common dtype, empty and scalar tensors and metadata",
          "[safetensors]") {
  TempDir dir;
  const auto path = dir / "model.safetensors";
  const std::vector<float> f32{1.5f, -2.f, 3.25f, 0.f, -0.f, 1e-30f};
  const std::vector<std::uint8_t> u8{1, 2, 3, 4, 255};  // 5 bytes: what follows is misaligned
  const std::vector<double> f64{3.141592653589793, -1e300, 0.1};
  const std::vector<std::int32_t> i32{-1, 2, std::numeric_limits<std::int32_t>::min(),
                                      std::numeric_limits<std::int32_t>::max()};
  const std::vector<std::int64_t> i64{std::numeric_limits<std::int64_t>::min()};
  const std::vector<std::uint16_t> u16{0, 65535, 258};
  const std::vector<float> empty;
  const std::vector<double> scalar{42.0};
  const std::map<std::string, std::string> metadata{
      {"format", "pt"}, {"note", "h\xc3\xa9llo \"quoted\"\n"}, {"empty", ""}};
  est::write_safetensors(path,
                         {est::safetensors_entry<float>("f32", {2, 3}, f32),
                          est::safetensors_entry<std::uint8_t>("u8", {5}, u8),
                          est::safetensors_entry<double>("f64", {3}, f64),
                          est::safetensors_entry<std::int32_t>("i32", {2, 2}, i32),
                          est::safetensors_entry<std::int64_t>("i64", {1}, i64),
                          est::safetensors_entry<std::uint16_t>("u16", {3}, u16),
                          est::safetensors_entry<float>("empty", {0, 4}, empty),
                          est::safetensors_entry<double>("scalar", {}, scalar)},
                         metadata);

  const SafetensorsFile f = SafetensorsFile::open(path);
  CHECK(f.path() == path);
  CHECK(f.names() ==
        std::vector<std::string>{"f32", "u8", "f64", "i32", "i64", "u16", "empty", "scalar"});
  CHECK(f.metadata() == metadata);
  CHECK(f.info("f32").dtype == SafetensorsDtype::f32);
  CHECK(f.info("f32").shape == std::vector<std::int64_t>{2, 3});
  CHECK(f.info("u8").dtype == SafetensorsDtype::u8);
  CHECK(f.info("f64").begin == 29);  // odd offset within the data section
  CHECK(f.info("empty").shape == std::vector<std::int64_t>{0, 4});
  CHECK(f.info("empty").numel == 0);
  CHECK(f.info("scalar").shape.empty());
  CHECK(f.info("scalar").numel == 1);
  CHECK(same_bits(read_as<float>(f, "f32"), f32));
  CHECK(read_as<std::uint8_t>(f, "u8") == u8);
  CHECK(same_bits(read_as<double>(f, "f64"), f64));
  CHECK(read_as<std::int32_t>(f, "i32") == i32);
  CHECK(read_as<std::int64_t>(f, "i64") == i64);
  CHECK(read_as<std::uint16_t>(f, "u16") == u16);
  CHECK(read_as<float>(f, "empty").empty());
  CHECK(read_as<double>(f, "scalar") == scalar);
  CHECK(f.bytes("u8").size() == 5);
}

TEST_CASE("the writer pads the header with spaces to a multiple of 8 and lays data out in order",
          "[safetensors]") {
  TempDir dir;
  const std::vector<float> values{1, 2, 3};
  for (int length = 1; length <= 12; ++length) {
    const auto path = dir / "pad.safetensors";
    const std::string name(std::size_t(length), 'x');
    est::write_safetensors(path,
                           {est::safetensors_entry<float>(name, {3}, values),
                            est::safetensors_entry<float>("y", {1}, std::span(values).first(1))},
                           {{"k", "v"}});
    const Bytes file = read_bytes(path);
    const std::uint64_t n = header_length(file);
    INFO("name length " << length << ", header length " << n);
    CHECK(n % 8 == 0);
    REQUIRE(file.size() == 8 + n + 16);
    const std::string header(file.begin() + 8, file.begin() + 8 + std::ptrdiff_t(n));
    const std::size_t last = header.find_last_not_of(' ');
    CHECK(header[last] == '}');
    CHECK(header.size() - last - 1 < 8);
    CHECK(header.starts_with(R"({"__metadata__":{"k":"v"},)"));
    const auto json = nlohmann::json::parse(header);
    CHECK(json[name]["data_offsets"] == nlohmann::json{0, 12});
    CHECK(json["y"]["data_offsets"] == nlohmann::json{12, 16});
    CHECK(json["y"]["dtype"] == "F32");
    CHECK(json["y"]["shape"] == nlohmann::json{1});
    CHECK(read_as<float>(SafetensorsFile::open(path), name) == values);
  }
}

TEST_CASE("a file assembled by hand is read, whatever its alignment and key order",
          "[safetensors]") {
  TempDir dir;
  const auto path = dir / "hand.safetensors";
  // Typed out: keys in no particular order, the tensor listed first stored second, an odd header
  // length (so the F32 data starts at an odd address), two spaces of trailing whitespace.
  const std::string header =
      R"({"b":{"dtype":"F64","shape":[2],"data_offsets":[12,28]},"__metadata__":{"k":"v"},)"
      R"("a":{"dtype":"F32","shape":[3,1],"data_offsets":[0,12]}}  )";
  REQUIRE(header.size() % 2 == 1);
  const Bytes data{0x00, 0x00, 0xC0, 0x3F,                          // 1.5f
                   0x00, 0x00, 0x00, 0xC0,                          // -2.0f
                   0x00, 0x00, 0x80, 0x3E,                          // 0.25f
                   0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x08, 0x40,  // 3.0
                   0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xE0, 0xBF}; // -0.5
  write_bytes(path, assemble(header, data));

  const SafetensorsFile f = SafetensorsFile::open(path);
  CHECK(f.names() == std::vector<std::string>{"a", "b"});
  CHECK(f.size() == 2);
  CHECK(f.contains("a"));
  CHECK_FALSE(f.contains("__metadata__"));
  CHECK(f.metadata() == std::map<std::string, std::string>{{"k", "v"}});
  CHECK(f.info("a").shape == std::vector<std::int64_t>{3, 1});
  CHECK(f.info("b").dtype == SafetensorsDtype::f64);
  CHECK(read_as<float>(f, "a") == std::vector<float>{1.5f, -2.0f, 0.25f});
  CHECK(read_as<double>(f, "b") == std::vector<double>{3.0, -0.5});
  std::vector<double> widened(3);
  f.convert_to<double>("a", widened);
  CHECK(widened == std::vector<double>{1.5, -2.0, 0.25});
}

TEST_CASE("floating dtypes convert: F16, BF16, F32, F64 into float and double", "[safetensors]") {
  TempDir dir;
  const auto path = dir / "convert.safetensors";
  const std::string header = R"({"h":{"dtype":"F16","shape":[6],"data_offsets":[0,12]},)"
                             R"("bf":{"dtype":"BF16","shape":[2],"data_offsets":[12,16]},)"
                             R"("d":{"dtype":"F64","shape":[1],"data_offsets":[16,24]},)"
                             R"("i":{"dtype":"I32","shape":[1],"data_offsets":[24,28]}})";
  const Bytes data{0x00, 0x3C, 0x00, 0xC0, 0xFF, 0x7B,  // F16 1.0, -2.0, 65504
                   0x01, 0x00, 0x00, 0x7C, 0x00, 0x80,  // F16 2^-24 (subnormal), +inf, -0
                   0x80, 0x3F, 0x40, 0xC0,              // BF16 1.0, -3.0
                   0x9A, 0x99, 0x99, 0x99, 0x99, 0x99, 0xB9, 0x3F,  // F64 0.1
                   0x07, 0x00, 0x00, 0x00};                         // I32 7
  write_bytes(path, assemble(header, data));
  const SafetensorsFile f = SafetensorsFile::open(path);

  std::vector<float> h(6);
  f.convert_to<float>("h", h);
  CHECK(h[0] == 1.0f);
  CHECK(h[1] == -2.0f);
  CHECK(h[2] == 65504.0f);
  CHECK(h[3] == std::ldexp(1.0f, -24));
  CHECK(std::isinf(h[4]));
  CHECK((h[5] == 0.0f && std::signbit(h[5])));
  std::vector<double> bf(2);
  f.convert_to<double>("bf", bf);
  CHECK(bf == std::vector<double>{1.0, -3.0});
  std::vector<float> d(1);
  f.convert_to<float>("d", d);
  CHECK(d[0] == 0.1f);
  EST_CHECK_THROWS(f.convert_to<float>("i", d), est::io_error,
                   "tensor \"i\" holds I32 values; only F16, BF16, F32 and F64 convert");
}

TEST_CASE("accessors name the file and what is missing or mismatched", "[safetensors][errors]") {
  TempDir dir;
  const auto path = dir / "acc.safetensors";
  const std::vector<double> values{1, 2, 3, 4};
  est::write_safetensors(path, {est::safetensors_entry<double>("alpha", {2, 2}, values),
                                est::safetensors_entry<double>("beta", {4}, values)});
  const SafetensorsFile f = SafetensorsFile::open(path);
  EST_CHECK_THROWS(
      (void)f.info("gamma"), est::io_error,
      path.string() + "\" has no tensor \"gamma\"; it holds 2 tensors: \"alpha\", \"beta\"");
  std::vector<float> as_float(4);
  EST_CHECK_THROWS(f.copy_to<float>("alpha", as_float), est::io_error,
                   "tensor \"alpha\" holds F64 values, not the destination's F32");
  std::vector<double> short_buffer(3);
  EST_CHECK_THROWS(f.copy_to<double>("alpha", short_buffer), est::shape_error,
                   "tensor \"alpha\" has 4 elements but the destination has 3");
  EST_CHECK_THROWS(f.convert_to<double>("beta", short_buffer), est::shape_error,
                   "has 4 elements but the destination has 3");
}

TEST_CASE("the writer checks every entry before writing anything", "[safetensors][errors]") {
  TempDir dir;
  const auto path = dir / "w.safetensors";
  const std::vector<float> v{1, 2, 3, 4};
  auto entry = [&](std::string name, std::vector<std::int64_t> shape) {
    return est::safetensors_entry<float>(std::move(name), std::move(shape), v);
  };
  EST_CHECK_THROWS(est::write_safetensors(path, {entry("a", {4}), entry("a", {2, 2})}),
                   est::value_error, "duplicate tensor name \"a\"");
  EST_CHECK_THROWS(est::write_safetensors(path, {entry("a", {3})}), est::shape_error,
                   "tensor \"a\" (F32, 3 elements) needs 12 bytes of data, got 16");
  EST_CHECK_THROWS(est::write_safetensors(path, {entry("__metadata__", {4})}), est::value_error,
                   "\"__metadata__\" is reserved");
  EST_CHECK_THROWS(est::write_safetensors(path, {entry("", {4})}), est::value_error, "empty name");
  EST_CHECK_THROWS(est::write_safetensors(path, {entry("a", {-4})}), est::value_error,
                   "negative extent -4");
  EST_CHECK_THROWS(est::write_safetensors(path, {entry("bad\xff", {4})}), est::value_error,
                   "not valid UTF-8");
  CHECK(dir.entries().empty());
}

// --- Malformed files ----------------------------------------------------------------------------

TEST_CASE("malformed files are rejected with an io_error naming the file and the field",
          "[safetensors][errors]") {
  TempDir dir;
  const auto path = dir / "bad.safetensors";
  auto rejects = [&](const Bytes& bytes, std::initializer_list<std::string> texts) {
    write_bytes(path, bytes);
    const std::string message = open_error(path);
    INFO("message: " << message);
    CHECK_THAT(message, Contains("\"" + path.string() + "\""));
    for (const std::string& text : texts) CHECK_THAT(message, Contains(text));
  };
  const std::string a4 = R"("a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]})";
  const Bytes four(4, 0), eight(8, 0), twelve(12, 0);

  // Structure of the file.
  rejects(Bytes{1, 2, 3, 4, 5}, {"the file is 5 bytes, shorter than the 8-byte header length"});
  rejects(Bytes{}, {"the file is 0 bytes"});
  rejects(assemble(1000, "{" + a4 + "}", four),
          {"header length 1000 extends beyond the end of the file"});
  rejects(assemble(std::uint64_t(1) << 63, "{}", {}),
          {"header length 9223372036854775808 extends beyond"});
  // JSON.
  rejects(assemble(R"({"a":)", {}), {"the header is not valid JSON"});
  rejects(assemble("", {}), {"the header is not valid JSON"});
  rejects(assemble("{} x", {}), {"the header is not valid JSON"});
  rejects(assemble("{\"a\xff\":1}", {}), {"the header is not valid JSON"});
  rejects(assemble("[1, 2]", {}), {"the header is a JSON array, not an object"});
  rejects(assemble("{" + a4 + "," + a4 + "}", four), {"duplicate tensor name \"a\""});
  rejects(assemble(R"({"a":{"dtype":"F32","dtype":"F32","shape":[1],"data_offsets":[0,4]}})", four),
          {"duplicate key \"dtype\""});
  rejects(assemble(R"({"a":[[[[[[[[[[[[1]]]]]]]]]]]]})", {}), {"nests deeper"});
  // A NUL byte would end nlohmann's reading of the header early, accepting what follows it.
  rejects(assemble("{" + a4 + std::string("}\0garbage", 9), four),
          {"the header holds a NUL byte at offset"});
  rejects(assemble(std::string("{\0}", 3), {}), {"the header holds a NUL byte at offset 1"});
  // Tensor entries.
  rejects(assemble(R"({"a":5})", {}), {"tensor \"a\" is a JSON number, not an object"});
  rejects(assemble(R"({"a":{"shape":[1],"data_offsets":[0,4]}})", four),
          {"tensor \"a\" has no \"dtype\""});
  rejects(assemble(R"({"a":{"dtype":7,"shape":[1],"data_offsets":[0,4]}})", four),
          {"tensor \"a\": \"dtype\" is a JSON number, not a string"});
  rejects(assemble(R"({"a":{"dtype":"F17","shape":[1],"data_offsets":[0,4]}})", four),
          {"tensor \"a\": unknown \"dtype\" \"F17\""});
  rejects(assemble(R"({"a":{"dtype":"F32","data_offsets":[0,4]}})", four),
          {"tensor \"a\" has no \"shape\""});
  rejects(assemble(R"({"a":{"dtype":"F32","shape":4,"data_offsets":[0,4]}})", four),
          {"tensor \"a\": \"shape\" is a JSON number, not a list"});
  rejects(assemble(R"({"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}})", four),
          {"tensor \"a\": \"shape\" must be a list of non-negative integers, found a negative "
           "integer"});
  rejects(assemble(R"({"a":{"dtype":"F32","shape":[1.0],"data_offsets":[0,4]}})", four),
          {"\"shape\" must be a list of non-negative integers, found number"});
  rejects(assemble(R"({"a":{"dtype":"F32","shape":["1"],"data_offsets":[0,4]}})", four),
          {"\"shape\" must be a list of non-negative integers, found string"});
  rejects(assemble(R"({"a":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,4]}})",
                   four),
          {"tensor \"a\": \"shape\" has more elements than a 64-bit count holds"});
  rejects(assemble(R"({"a":{"dtype":"F32","shape":[1]}})", four),
          {"tensor \"a\" has no \"data_offsets\""});
  rejects(assemble(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0]}})", four),
          {"tensor \"a\": \"data_offsets\" must be two non-negative integers"});
  rejects(assemble(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,"4"]}})", four),
          {"\"data_offsets\" must be two non-negative integers"});
  rejects(assemble(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[-1,4]}})", four),
          {"\"data_offsets\" must be two non-negative integers"});
  rejects(assemble(R"({"a":{"dtype":"F32","shape":[0],"data_offsets":[4,0]}})", four),
          {"tensor \"a\": \"data_offsets\" [4, 0] has begin > end"});
  // Sizes and coverage of the data section.
  rejects(assemble(R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", eight),
          {"tensor \"a\": \"shape\" and \"dtype\" give 3 x 4 bytes but \"data_offsets\" [0, 8] "
           "span 8 bytes"});
  rejects(assemble(R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})", eight),
          {"tensor \"a\": \"data_offsets\" [0, 16] extend beyond the data section of 8 bytes"});
  rejects(assemble(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                   R"("b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
                   twelve),
          {"tensors \"a\" and \"b\" overlap", "\"data_offsets\" of \"b\" begin at 4"});
  rejects(assemble(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                   R"("b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}})",
                   twelve),
          {"gap in the data section: bytes [4, 8) between tensors \"a\" and \"b\""});
  rejects(assemble(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", eight),
          {"gap in the data section: bytes [0, 4) before tensor \"a\""});
  rejects(assemble("{" + a4 + "}", eight), {"gap in the data section: its last 4 bytes"});
  rejects(assemble("{}", four), {"gap in the data section: its last 4 bytes"});
  // Metadata.
  rejects(assemble(R"({"__metadata__":{"k":1}})", {}),
          {"\"__metadata__\" value of \"k\" is a JSON number, not a string"});
  rejects(assemble(R"({"__metadata__":["k"]})", {}),
          {"\"__metadata__\" is a JSON array, not an object"});
  rejects(assemble(R"({"__metadata__":{"k":"v","k":"w"}})", {}), {"duplicate key \"k\""});

  // Controls: the minimal valid files open.
  write_bytes(path, assemble("{}", {}));
  CHECK(open_error(path).empty());
  write_bytes(path, assemble("{" + a4 + "}", four));
  CHECK(open_error(path).empty());
  EST_CHECK_THROWS(SafetensorsFile::open(dir / "none.safetensors"), est::io_error,
                   (dir / "none.safetensors").string() + "\": No such file or directory");
}

TEST_CASE("flipping any bit of the header gives an io_error or a clean parse, never a crash",
          "[safetensors][errors][fuzz]") {
  TempDir dir;
  const auto valid = dir / "valid.safetensors";
  const auto path = dir / "flipped.safetensors";
  const std::vector<float> w{1, 2, 3, 4, 5, 6};
  const std::vector<std::int32_t> ids{7, 8};
  est::write_safetensors(valid,
                         {est::safetensors_entry<float>("w", {2, 3}, w),
                          est::safetensors_entry<std::int32_t>("ids", {2}, ids)},
                         {{"format", "pt"}});
  const Bytes original = read_bytes(valid);
  const std::size_t header_end = 8 + header_length(original);
  int parsed = 0, rejected = 0;
  for (std::size_t i = 0; i < header_end; ++i) {
    for (int bit = 0; bit < 8; ++bit) {
      Bytes mutated = original;
      mutated[i] ^= static_cast<unsigned char>(1u << bit);
      write_bytes(path, mutated);
      (opens_and_reads(path) ? parsed : rejected) += 1;
    }
  }
  INFO("parsed " << parsed << ", rejected " << rejected);
  CHECK(rejected > 0);
  CHECK(parsed > 0);  // e.g. a flipped letter of a name or of a metadata value
  CHECK(parsed + rejected == int(8 * header_end));
}

TEST_CASE("random mutations of a valid file give an io_error or a clean parse",
          "[safetensors][errors][fuzz]") {
  TempDir dir;
  const auto valid = dir / "valid.safetensors";
  const auto path = dir / "mutated.safetensors";
  const std::vector<double> a{1, 2, 3};
  const std::vector<float> b{4, 5};
  const std::vector<std::uint8_t> c{9};
  est::write_safetensors(
      valid,
      {est::safetensors_entry<double>("a", {3}, a), est::safetensors_entry<float>("b", {1, 2}, b),
       est::safetensors_entry<std::uint8_t>("c", {1}, c)},
      {{"format", "pt"}, {"step", "12"}});
  const Bytes original = read_bytes(valid);
  const std::size_t header_end = 8 + header_length(original);
  const std::string interesting = "{}[]\":,0123456789-.eE \\u\xff";
  std::mt19937_64 gen(20240520);
  auto below = [&](std::size_t n) {
    return std::uniform_int_distribution<std::size_t>(0, n - 1)(gen);
  };
  int parsed = 0, rejected = 0;
  for (int iteration = 0; iteration < 3000; ++iteration) {
    Bytes m = original;
    const std::size_t mutations = 1 + below(4);
    for (std::size_t k = 0; k < mutations && !m.empty(); ++k) {
      // Mostly inside the header, where the parser works; sometimes anywhere.
      const std::size_t at =
          below(4) == 0 ? below(m.size()) : below(std::min(header_end, m.size()));
      switch (below(6)) {
        case 0:
          m[at] = static_cast<unsigned char>(below(256));
          break;
        case 1:
          m[at] ^= static_cast<unsigned char>(1u << below(8));
          break;
        case 2:
          m[at] = static_cast<unsigned char>(interesting[below(interesting.size())]);
          break;
        case 3:
          m.insert(m.begin() + std::ptrdiff_t(at),
                   static_cast<unsigned char>(interesting[below(interesting.size())]));
          break;
        case 4:
          m.erase(m.begin() + std::ptrdiff_t(at));
          break;
        default:
          m.resize(at);
          break;
      }
    }
    write_bytes(path, m);
    (opens_and_reads(path) ? parsed : rejected) += 1;
  }
  INFO("parsed " << parsed << ", rejected " << rejected);
  CHECK(rejected > 0);
  CHECK(parsed > 0);
  CHECK(parsed + rejected == 3000);
}

// --- GPT-2 checkpoints --------------------------------------------------------------------------

namespace {

constexpr est::Gpt2Config tiny = est::presets::gpt2_tiny;
constexpr est::Gpt2Config tiny_wide{
    .layers = 2, .heads = 4, .width = 48, .mlp_hidden = 192, .vocab = 64, .context = 16};
constexpr est::Gpt2Config tiny_deep{
    .layers = 3, .heads = 4, .width = 32, .mlp_hidden = 128, .vocab = 64, .context = 16};
constexpr est::Gpt2Config tiny_shallow{
    .layers = 1, .heads = 4, .width = 32, .mlp_hidden = 128, .vocab = 64, .context = 16};

/// Hugging Face GPT2Model's parameter names and shapes (its state_dict less the attention-mask
/// buffers), written out from the transformers source rather than from est's layout.
std::map<std::string, std::vector<std::int64_t>> hf_gpt2_shapes(const est::Gpt2Config& c) {
  const std::int64_t C = c.width, M = c.mlp_hidden;
  std::map<std::string, std::vector<std::int64_t>> s{{"wte.weight", {c.vocab, C}},
                                                     {"wpe.weight", {c.context, C}},
                                                     {"ln_f.weight", {C}},
                                                     {"ln_f.bias", {C}}};
  for (int l = 0; l < c.layers; ++l) {
    const std::string h = "h." + std::to_string(l) + ".";
    s[h + "ln_1.weight"] = {C};
    s[h + "ln_1.bias"] = {C};
    s[h + "attn.c_attn.weight"] = {C, 3 * C};
    s[h + "attn.c_attn.bias"] = {3 * C};
    s[h + "attn.c_proj.weight"] = {C, C};
    s[h + "attn.c_proj.bias"] = {C};
    s[h + "ln_2.weight"] = {C};
    s[h + "ln_2.bias"] = {C};
    s[h + "mlp.c_fc.weight"] = {C, M};
    s[h + "mlp.c_fc.bias"] = {M};
    s[h + "mlp.c_proj.weight"] = {M, C};
    s[h + "mlp.c_proj.bias"] = {C};
  }
  return s;
}

std::vector<float> arena_copy(est::TensorView<const float> arena) {
  return {arena.data(), arena.data() + arena.numel()};
}

}  // namespace

TEST_CASE("GPT-2 checkpoints carry Hugging Face's names and shapes and load back bitwise",
          "[safetensors][gpt2]") {
  TempDir dir;
  const auto path = dir / "model.safetensors";
  const est::Context<est::cpu> ctx(1);
  est::Gpt2<tiny> source(ctx, 1);
  est::save_gpt2_safetensors(path, source.parameter_specs(), source.parameter_arena().span(),
                             {{"step", "100"}});

  const SafetensorsFile f = SafetensorsFile::open(path);
  std::map<std::string, std::vector<std::int64_t>> in_file;
  for (const std::string& name : f.names()) {
    CHECK(f.info(name).dtype == SafetensorsDtype::f32);
    in_file[name] = f.info(name).shape;
  }
  CHECK(in_file == hf_gpt2_shapes(tiny));
  CHECK(f.info("h.0.attn.c_attn.weight").shape == std::vector<std::int64_t>{32, 96});
  CHECK(f.info("wpe.weight").shape == std::vector<std::int64_t>{16, 32});
  CHECK_FALSE(f.contains("lm_head.weight"));
  CHECK(f.metadata() == std::map<std::string, std::string>{{"format", "pt"}, {"step", "100"}});
  std::vector<std::string> spec_names;
  for (const auto& spec : source.parameter_specs()) spec_names.push_back(spec.name);
  CHECK(f.names() == spec_names);  // arena order

  est::Gpt2<tiny> target(ctx, 2);
  REQUIRE(arena_copy(target.parameter_arena()) != arena_copy(source.parameter_arena()));
  est::load_gpt2_safetensors(path, target.parameter_specs(), target.parameter_arena().span());
  CHECK(same_bits(arena_copy(target.parameter_arena()), arena_copy(source.parameter_arena())));
}

TEST_CASE("GPT-2 loading accepts GPT2LMHeadModel files: prefixed names, lm_head and buffers",
          "[safetensors][gpt2]") {
  TempDir dir;
  const auto path = dir / "lm_head.safetensors";
  const est::Context<est::cpu> ctx(1);
  est::Gpt2<tiny> source(ctx, 3);
  const auto arena = source.parameter_arena();
  const std::vector<float> mask(16 * 16, 1.0f);
  const std::vector<float> masked_bias{-1e4f};
  std::vector<est::SafetensorsEntry> entries;
  entries.push_back(est::safetensors_entry<float>(
      "lm_head.weight", {tiny.vocab, tiny.width},
      std::span<const float>(arena.data(), std::size_t(tiny.vocab * tiny.width))));
  for (const auto& spec : source.parameter_specs()) {
    std::vector<std::int64_t> shape;
    for (int i = 0; i < spec.shape.rank(); ++i) shape.push_back(spec.shape[i]);
    entries.push_back(est::safetensors_entry<float>(
        "transformer." + spec.name, shape,
        std::span<const float>(arena.data() + spec.offset, std::size_t(spec.shape.numel()))));
  }
  for (int l = 0; l < tiny.layers; ++l) {
    const std::string h = "transformer.h." + std::to_string(l);
    entries.push_back(est::safetensors_entry<float>(h + ".attn.bias", {1, 1, 16, 16}, mask));
    entries.push_back(est::safetensors_entry<float>(h + ".attn.masked_bias", {}, masked_bias));
  }
  est::write_safetensors(path, entries, {{"format", "pt"}});

  est::Gpt2<tiny> target(ctx, 4);
  est::load_gpt2_safetensors(path, target.parameter_specs(), target.parameter_arena().span());
  CHECK(same_bits(arena_copy(target.parameter_arena()), arena_copy(source.parameter_arena())));
}

TEST_CASE("GPT-2 loading converts F64 checkpoints", "[safetensors][gpt2]") {
  TempDir dir;
  const auto path = dir / "f64.safetensors";
  const est::Context<est::cpu> ctx(1);
  est::Gpt2<tiny, est::cpu, double> source(ctx, 5);
  est::save_gpt2_safetensors(path, source.parameter_specs(), source.parameter_arena().span());
  CHECK(SafetensorsFile::open(path).info("wte.weight").dtype == SafetensorsDtype::f64);

  est::Gpt2<tiny> target(ctx, 6);
  est::load_gpt2_safetensors(path, target.parameter_specs(), target.parameter_arena().span());
  const auto src = source.parameter_arena();
  const auto dst = target.parameter_arena();
  bool all_equal = true;
  for (est::Index i = 0; i < dst.numel(); ++i) all_equal &= dst[i] == static_cast<float>(src[i]);
  CHECK(all_equal);
}

TEST_CASE("a checkpoint of another configuration is refused and the arena stays unchanged",
          "[safetensors][gpt2][errors]") {
  TempDir dir;
  const est::Context<est::cpu> ctx(1);
  est::Gpt2<tiny> target(ctx, 7);
  const std::vector<float> before = arena_copy(target.parameter_arena());
  auto load = [&](const fs::path& path) {
    est::load_gpt2_safetensors(path, target.parameter_specs(), target.parameter_arena().span());
  };

  est::Gpt2<tiny_wide> wide(ctx, 8);
  est::save_gpt2_safetensors(dir / "wide.safetensors", wide.parameter_specs(),
                             wide.parameter_arena().span());
  EST_CHECK_THROWS(load(dir / "wide.safetensors"), est::io_error,
                   (dir / "wide.safetensors").string() +
                       "\": tensor \"wte.weight\" has shape [64, 48], expected [64, 32]; the file "
                       "holds a checkpoint from a different model configuration (file: layers 2, "
                       "width 48, mlp_hidden 192, vocab 64, context 16; model: layers 2, width 32, "
                       "mlp_hidden 128, vocab 64, context 16)");

  est::Gpt2<tiny_deep> deep(ctx, 9);
  est::save_gpt2_safetensors(dir / "deep.safetensors", deep.parameter_specs(),
                             deep.parameter_arena().span());
  EST_CHECK_THROWS(
      load(dir / "deep.safetensors"), est::io_error,
      "tensor \"h.2.attn.c_attn.bias\" belongs to layer 2 but the model has 2 layers; "
      "the file holds a checkpoint from a different model configuration (file: layers 3");

  est::Gpt2<tiny_shallow> shallow(ctx, 10);
  est::save_gpt2_safetensors(dir / "shallow.safetensors", shallow.parameter_specs(),
                             shallow.parameter_arena().span());
  EST_CHECK_THROWS(load(dir / "shallow.safetensors"), est::io_error,
                   "tensor \"h.1.ln_1.weight\" is missing (and 11 more); the file holds a "
                   "checkpoint from a different model configuration (file: layers 1");

  const std::vector<float> x{1};
  est::write_safetensors(dir / "other.safetensors", {est::safetensors_entry<float>("x", {1}, x)});
  EST_CHECK_THROWS(load(dir / "other.safetensors"), est::io_error,
                   "tensor \"wte.weight\" is missing (and 27 more); the file does not look like a "
                   "GPT-2 checkpoint");

  // A tensor of the right shape but an integer dtype.
  std::vector<est::SafetensorsEntry> entries;
  const auto arena = wide.parameter_arena();
  const std::vector<std::int32_t> ints(std::size_t(tiny.width), 1);
  for (const auto& spec : target.parameter_specs()) {
    std::vector<std::int64_t> shape;
    for (int i = 0; i < spec.shape.rank(); ++i) shape.push_back(spec.shape[i]);
    if (spec.name == "ln_f.bias") {
      entries.push_back(est::safetensors_entry<std::int32_t>(spec.name, shape, ints));
    } else {
      entries.push_back(est::safetensors_entry<float>(
          spec.name, shape, std::span<const float>(arena.data(), std::size_t(spec.shape.numel()))));
    }
  }
  est::write_safetensors(dir / "ints.safetensors", entries);
  EST_CHECK_THROWS(
      load(dir / "ints.safetensors"), est::io_error,
      "tensor \"ln_f.bias\" holds I32 values; parameters must be F32, F64, F16 or BF16");

  CHECK(same_bits(arena_copy(target.parameter_arena()), before));

  std::vector<float> small(10);
  EST_CHECK_THROWS(
      est::load_gpt2_safetensors(dir / "wide.safetensors", target.parameter_specs(), small),
      est::shape_error, "does not fit the arena of 10 elements");
  EST_CHECK_THROWS(est::save_gpt2_safetensors(dir / "small.safetensors", target.parameter_specs(),
                                              std::span<const float>(small)),
                   est::shape_error,
                   "tensor \"wte.weight\" (offset 0, 2048 elements) does not fit");
  CHECK_FALSE(fs::exists(dir / "small.safetensors"));
}

// --- Atomic replacement and mapping -------------------------------------------------------------

TEST_CASE("a crash at any stage of an atomic write leaves a complete file and no temporary",
          "[atomic_file]") {
  TempDir dir;
  const auto path = dir / "state.bin";
  const std::string old_text = "the previous contents";
  const std::string new_text = "the new contents, longer than the previous";
  auto bytes_of = [](const std::string& s) { return std::as_bytes(std::span(s.data(), s.size())); };
  auto contents = [&] {
    const Bytes b = read_bytes(path);
    return std::string(b.begin(), b.end());
  };

  {
    std::vector<std::string> stages;
    FaultHook hook([&](std::string_view stage) { stages.emplace_back(stage); });
    est::write_file_atomically(path, bytes_of(old_text));
    CHECK(stages == std::vector<std::string>{"written", "synced", "renamed"});
  }
  CHECK(contents() == old_text);

  for (const std::string crash_at : {"written", "synced", "renamed"}) {
    INFO("crash after stage " << crash_at);
    est::write_file_atomically(path, bytes_of(old_text));
    {
      FaultHook hook([&](std::string_view stage) {
        if (stage == crash_at) throw std::runtime_error("simulated crash");
      });
      CHECK_THROWS_WITH(est::write_file_atomically(path, bytes_of(new_text)), "simulated crash");
    }
    // Before the rename the old file is untouched; after it the new one is complete.
    CHECK(contents() == (crash_at == "renamed" ? new_text : old_text));
    CHECK(dir.entries() == std::vector<std::string>{"state.bin"});
  }

  // A writer that fails part-way leaves the old file too.
  est::write_file_atomically(path, bytes_of(old_text));
  CHECK_THROWS_WITH(est::write_file_atomically(path,
                                               [&](est::FileSink& sink) {
                                                 sink.write(bytes_of(new_text));
                                                 throw std::runtime_error("writer failed");
                                               }),
                    "writer failed");
  CHECK(contents() == old_text);
  CHECK(dir.entries() == std::vector<std::string>{"state.bin"});
}

TEST_CASE("a crash while replacing a checkpoint leaves the previous checkpoint loadable",
          "[atomic_file][safetensors]") {
  TempDir dir;
  const auto path = dir / "ckpt.safetensors";
  const std::vector<float> old_values{1, 2, 3}, new_values{4, 5, 6, 7};
  est::write_safetensors(path, {est::safetensors_entry<float>("w", {3}, old_values)});
  {
    FaultHook hook([](std::string_view stage) {
      if (stage == "synced") throw std::runtime_error("simulated crash");
    });
    CHECK_THROWS(
        est::write_safetensors(path, {est::safetensors_entry<float>("w", {4}, new_values)}));
  }
  CHECK(read_as<float>(SafetensorsFile::open(path), "w") == old_values);
  CHECK(dir.entries() == std::vector<std::string>{"ckpt.safetensors"});
}

TEST_CASE("atomic writes into a missing or read-only directory fail with the path named",
          "[atomic_file][errors]") {
  TempDir dir;
  const std::vector<std::byte> bytes(10, std::byte{1});
  const auto missing = dir / "no_such_dir" / "file.bin";
  EST_CHECK_THROWS(est::write_file_atomically(missing, bytes), est::io_error,
                   "cannot write \"" + missing.string() + "\"");
  EST_CHECK_THROWS(est::write_file_atomically(missing, bytes), est::io_error,
                   "No such file or directory");

  if (::geteuid() == 0) {
    WARN("running as root, which ignores directory permissions: read-only directory case skipped");
  } else {
    const auto locked = dir / "locked";
    fs::create_directories(locked);
    fs::permissions(locked, fs::perms::owner_read | fs::perms::owner_exec);
    EST_CHECK_THROWS(est::write_file_atomically(locked / "file.bin", bytes), est::io_error,
                     (locked / "file.bin").string());
    EST_CHECK_THROWS(est::write_file_atomically(locked / "file.bin", bytes), est::io_error,
                     "Permission denied");
    fs::permissions(locked, fs::perms::owner_all);
  }
}

TEST_CASE("MappedFile maps whole files, empty ones without mmap, and moves", "[atomic_file]") {
  TempDir dir;
  write_bytes(dir / "empty", {});
  const est::MappedFile empty(dir / "empty");
  CHECK(empty.size() == 0);
  CHECK(empty.empty());
  CHECK(empty.bytes().empty());

  write_bytes(dir / "abc", {'a', 'b', 'c'});
  est::MappedFile first(dir / "abc");
  REQUIRE(first.size() == 3);
  CHECK(std::to_integer<char>(first.bytes()[2]) == 'c');
  est::MappedFile second = std::move(first);
  CHECK(second.size() == 3);
  CHECK(second.path() == dir / "abc");
  CHECK(std::to_integer<char>(second.bytes()[0]) == 'a');
  est::MappedFile third;
  third = std::move(second);
  CHECK(std::to_integer<char>(third.bytes()[1]) == 'b');

  EST_CHECK_THROWS(est::MappedFile(dir / "nothing"), est::io_error,
                   "cannot open \"" + (dir / "nothing").string() + "\": No such file or directory");
  EST_CHECK_THROWS(est::MappedFile(dir.path()), est::io_error, "is not a regular file");
}

TEST_CASE("a header of many tensors parses, every tensor in place", "[safetensors]") {
  // 20,000 tensors: the duplicate-key check streams the header once (it used to rescan the
  // top-level object at the end of every tensor entry, quadratic in the tensors).
  TempDir dir;
  const int count = 20000;
  std::vector<float> values(count);
  std::vector<std::string> names(count);
  std::vector<est::SafetensorsEntry> entries;
  for (int i = 0; i < count; ++i) {
    values[std::size_t(i)] = float(i);
    names[std::size_t(i)] = "layer." + std::to_string(i) + ".w";
  }
  for (int i = 0; i < count; ++i) {
    entries.push_back(est::safetensors_entry<float>(
        names[std::size_t(i)], {1}, std::span<const float>(values).subspan(std::size_t(i), 1)));
  }
  est::write_safetensors(dir / "many.safetensors", entries, {});
  const auto f = est::SafetensorsFile::open(dir / "many.safetensors");
  REQUIRE(f.size() == std::size_t(count));
  for (int i = 0; i < count; i += 997) {
    float v = -1;
    f.copy_to<float>(names[std::size_t(i)], std::span<float>(&v, 1));
    CHECK(v == float(i));
  }
}
