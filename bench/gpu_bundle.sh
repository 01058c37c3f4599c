#!/usr/bin/env bash
# Packs the header-only dependencies of the GPU build (Eigen, nlohmann-json, Catch2),
# with their CMake package files, into a prefix that bench/gpu_check.sh can use on a GPU machine
# that has CUDA and CMake but neither these packages nor a network.
#
# Usage: bench/gpu_bundle.sh [DIR]   (default: .gpu-deps; run it where the packages are
#                                     installed, e.g. after scripts/setup.sh)
set -euo pipefail
dest=${1:-.gpu-deps}
rm -rf "$dest"
mkdir -p "$dest/include" "$dest/share" "$dest/lib/cmake" "$dest/share/cmake"
copy() {  # copy <path under /usr> into the same place under $dest
  mkdir -p "$dest/$(dirname "$1")"
  cp -r "/usr/$1" "$dest/$1"
}
for path in include/eigen3 include/nlohmann include/catch2 share/eigen3 \
            share/cmake/nlohmann_json lib/cmake/Catch2 lib/libCatch2WithMain.a; do
  [[ -e "/usr/$path" ]] || { echo "gpu_bundle.sh: /usr/$path is missing; run scripts/setup.sh first" >&2; exit 1; }
  copy "$path"
done
echo "gpu_bundle.sh: wrote $(du -sh "$dest" | cut -f1) to $dest"
