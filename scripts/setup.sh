#!/usr/bin/env bash
# Installs the system packages est needs to build, test, benchmark and run its examples.
# Safe to run repeatedly: it only calls apt-get when something is missing, so CI runs that
# start from a ready machine need neither network access nor root.
set -euo pipefail

# Package -> why est needs it (also printed on systems without apt-get).
packages=(g++ cmake ninja-build libeigen3-dev nlohmann-json3-dev libcli11-dev catch2
          libbenchmark-dev fortunes gnuplot-nox clang libclang-rt-14-dev doxygen graphviz
          openmpi-bin libopenmpi-dev)
declare -A purpose=(
  [g++]="C++20 compiler"
  [cmake]="build system (3.25 or newer)"
  [ninja-build]="build tool used by the CMake presets"
  [libeigen3-dev]="Eigen 3.4 linear algebra (est's CPU matrix kernels)"
  [nlohmann-json3-dev]="JSON (tokenizer vocabularies, safetensors headers, checkpoints)"
  [libcli11-dev]="CLI11 command-line parsing for the example programs"
  [catch2]="Catch2 2.x unit-test framework"
  [libbenchmark-dev]="Google Benchmark, for bench/"
  [fortunes]="English text under /usr/share/games/fortunes, est-train's default corpus"
  [gnuplot-nox]="plots of est-train runs (--plot)"
  [clang]="clang++, which builds the fuzz targets (fuzz/) with libFuzzer"
  [libclang-rt-14-dev]="libFuzzer and the sanitizer runtimes for clang"
  [doxygen]="the API reference (target est_docs) and its documentation check (docs.api_coverage)"
  [graphviz]="class diagrams in the API reference"
  [openmpi-bin]="mpirun, which launches est-train as N data-parallel processes"
  [libopenmpi-dev]="Open MPI's library and headers, for est-train's data parallelism"
)
min_cmake=3.25

is_debian_like() {
  if [[ -r /etc/os-release ]]; then
    local id id_like
    # Sourced in subshells so that its variables (NAME, VERSION, ...) stay out of ours.
    # shellcheck disable=SC1091
    id="$(. /etc/os-release && echo "${ID:-}")"
    # shellcheck disable=SC1091
    id_like="$(. /etc/os-release && echo "${ID_LIKE:-}")"
    case " ${id} ${id_like} " in
      *" debian "* | *" ubuntu "*) return 0 ;;
    esac
  fi
  command -v apt-get > /dev/null 2>&1
}

if ! is_debian_like; then
  echo "setup: this script only knows Debian/Ubuntu (apt-get). Please install:" >&2
  for p in "${packages[@]}"; do
    printf '  %-18s %s\n' "${p}" "${purpose[${p}]}" >&2
  done
  exit 1
fi

missing=()
for p in "${packages[@]}"; do
  # dpkg-query prints "install ok installed" only for a fully installed package.
  status="$(dpkg-query -W -f='${Status}' "${p}" 2> /dev/null || true)"
  if [[ "${status}" != "install ok installed" ]]; then
    missing+=("${p}")
  fi
done

if ((${#missing[@]} == 0)); then
  echo "setup: all packages present"
else
  if ((EUID == 0)); then
    sudo=()
  elif command -v sudo > /dev/null 2>&1; then
    sudo=(sudo)
  else
    echo "setup: missing packages (${missing[*]}) and not root; sudo is not available." >&2
    echo "setup: run this script as root or install them with your package manager." >&2
    exit 1
  fi
  echo "setup: installing ${missing[*]}"
  # Set through env because sudo resets the environment.
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y --no-install-recommends "${missing[@]}"
fi

# The presets and CMakeLists need CMake 3.25 (workflow presets); older distributions ship less.
cmake_version="$(cmake --version | sed -n '1s/^cmake version \([0-9][0-9.]*\).*$/\1/p')"
if [[ -z "${cmake_version}" ]]; then
  echo "setup: could not determine the CMake version from 'cmake --version'" >&2
  exit 1
fi
oldest="$(printf '%s\n%s\n' "${min_cmake}" "${cmake_version}" | sort -V | head -n1)"
if [[ "${oldest}" != "${min_cmake}" ]]; then
  echo "setup: CMake ${cmake_version} is too old; est needs CMake >= ${min_cmake}." >&2
  echo "setup: install a newer one, e.g. from Kitware's apt repository or 'pip install cmake'." >&2
  exit 1
fi
echo "setup: cmake ${cmake_version} OK"
