#pragma once
// Reference files written by tests/data/make_*_reference.py (PyTorch in float64): magic
// b"ESTREF01"; u32 count; per tensor: u32 name length, name, u32 rank, rank x u32 extents,
// float64 values (little endian).

#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdint>
#include <fstream>
#include <map>
#include <string>
#include <vector>

namespace est::testing {

struct PeerTensor {
  std::vector<std::uint32_t> shape;
  std::vector<double> values;
};

inline std::uint32_t read_u32(std::ifstream& in) {
  unsigned char b[4];
  in.read(reinterpret_cast<char*>(b), 4);
  return std::uint32_t(b[0]) | std::uint32_t(b[1]) << 8 | std::uint32_t(b[2]) << 16 |
         std::uint32_t(b[3]) << 24;
}

inline std::map<std::string, PeerTensor> read_reference(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  REQUIRE(in.good());
  char magic[8];
  in.read(magic, 8);
  REQUIRE(std::string(magic, 8) == "ESTREF01");
  std::map<std::string, PeerTensor> tensors;
  const std::uint32_t count = read_u32(in);
  for (std::uint32_t i = 0; i < count; ++i) {
    std::string name(read_u32(in), '\0');
    in.read(name.data(), std::streamsize(name.size()));
    PeerTensor t;
    t.shape.resize(read_u32(in));
    std::size_t n = 1;
    for (auto& e : t.shape) n *= (e = read_u32(in));
    t.values.resize(n);
    in.read(reinterpret_cast<char*>(t.values.data()), std::streamsize(n * sizeof(double)));
    REQUIRE(in.good());
    tensors.emplace(std::move(name), std::move(t));
  }
  return tensors;
}

/// Copies the peer's tensors into `model`'s parameter arena by their names, requiring every
/// tensor the model has, with its shape.
template <class Model>
void load_peer_parameters(Model& model, const std::map<std::string, PeerTensor>& ref) {
  auto arena = model.parameter_arena();
  for (const auto& spec : model.parameter_specs()) {
    INFO(spec.name);
    const PeerTensor& t = ref.at(spec.name);
    REQUIRE(t.shape.size() == std::size_t(spec.shape.rank()));
    for (int d = 0; d < spec.shape.rank(); ++d) REQUIRE(t.shape[std::size_t(d)] == spec.shape[d]);
    std::copy(t.values.begin(), t.values.end(), arena.data() + spec.offset);
  }
}

}  // namespace est::testing
