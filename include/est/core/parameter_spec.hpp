#pragma once
// The description of one named tensor of a flat parameter arena: what optimizers, checkpoints
// and weight files need to know about a model's parameters, whatever its family.

#include <string>

#include "est/core/shape.hpp"

namespace est {

/// One named tensor of the arena.
struct ParameterSpec {
  std::string name;   ///< Hugging Face name, e.g. `h.0.attn.c_attn.weight`
  Shape shape;        ///< its shape, as the model uses it
  Index offset = 0;   ///< its first element in the arena
  bool weight_decay = false;  ///< matrices decay; biases and norm weights do not
};

}  // namespace est
