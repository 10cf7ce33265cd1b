#!/usr/bin/env bash
# Builds dmascope and runs its whole test suite: the unit, golden and malformed-input tests (ctest + GoogleTest), then
# the parser fuzz targets for a bounded time under ASan + UBSan. GPU tests skip themselves on a machine without a GPU.
# Usage: tools/test.sh            (DMASCOPE_FUZZ_SECONDS=N to change the fuzzing time per target, 0 to skip fuzzing)
set -euo pipefail
cd "$(dirname "$0")/.."
tools/install-deps.sh
jobs=$(nproc)
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release
cmake --build build -j "$jobs"
ctest --test-dir build --output-on-failure -j "$jobs"
fuzz_seconds=${DMASCOPE_FUZZ_SECONDS:-30}
if [ "$fuzz_seconds" != 0 ]; then
  CC=clang CXX=clang++ cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DDMASCOPE_CUDA=OFF \
    -DDMASCOPE_FUZZ=ON -DDMASCOPE_FUZZ_SECONDS="$fuzz_seconds" -DBUILD_TESTING=ON
  cmake --build build-fuzz -j "$jobs"
  # Each fuzzer runs on one core: the targets run side by side, one per core.
  ctest --test-dir build-fuzz --output-on-failure -R '^fuzz\.' -j "$jobs"
fi
