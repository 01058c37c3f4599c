#pragma once
// safetensors files (https://github.com/huggingface/safetensors): an 8-byte little-endian uint64
// N, then N bytes of a JSON object header, then the data section. The header maps each tensor
// name to {"dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end]} with offsets relative
// to the start of the data section, and may hold "__metadata__": {string: string}. Tensors cover
// the data section exactly (no gaps, no overlaps); values are little-endian.
//
// `write_safetensors` writes a file atomically, tensors in the given order, the header padded
// with spaces to a multiple of 8 bytes as the reference implementation does. `SafetensorsFile`
// maps a file and validates all of it on open, throwing io_error naming the file and the tensor
// or field at fault; its accessors then copy values out without assuming alignment or the host's
// byte order.
//
// io/safetensors/format.hpp holds the element types, writer.hpp write_safetensors, reader.hpp
// SafetensorsFile and shards.hpp SafetensorsShards (a checkpoint split over several files).

#include "est/io/safetensors/format.hpp"
#include "est/io/safetensors/reader.hpp"
#include "est/io/safetensors/shards.hpp"
#include "est/io/safetensors/writer.hpp"
