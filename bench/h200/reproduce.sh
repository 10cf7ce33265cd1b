#!/bin/bash
# Reproduces bench/h200 on a GPU machine: the GPU tests and compute-sanitizer (gpu-tests.txt, gui-gpu-tests.txt), the
# peer table (peers.txt, peers.json: tools/bench_peers.py) and the matrix (matrix.txt). Run from the repository root.
#
# Usage: bench/h200/reproduce.sh BIN OUTDIR [FSA_DIR]
#   BIN      a folder with dmascope-cli, dmascope_tests and dmascope_gui_tests built in Release for the GPU
#            (CUDAARCHS=90 for an H100/H200)
#   OUTDIR   where the logs, peers.* and matrix.txt go
#   FSA_DIR  optional: a flash-dmattn checkout holding its flash_sparse_attn package, to time that project's Triton
#            kernel too (tools/bench_peers.py --fsa); not part of dmascope
# Needs python3 with torch (2.11 here) for the peers, and compute-sanitizer from the CUDA toolkit.
set -u
bin=${1:?usage: bench/h200/reproduce.sh BIN OUTDIR [FSA_DIR]}
out=${2:?usage: bench/h200/reproduce.sh BIN OUTDIR [FSA_DIR]}
fsa=${3:-}
cd "$(dirname "$0")/../.."
mkdir -p "$out"
# The tests run the CLI and read the fixtures by the paths they were built with; point them at this tree.
export DMASCOPE_CLI_PATH="$bin/dmascope-cli" DMASCOPE_FIXTURES_DIR="$PWD/tests/fixtures/data"
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm --format=csv,noheader | tee "$out/gpu.txt"

tests="$out/gpu-tests.txt"
"$bin/dmascope_tests" --gtest_filter='*Cuda*:*Gpu*:*CliBench*' --gtest_brief=1 > "$tests" 2>&1; rc=$?
echo "GPU tests: exit $rc"
# The same forward and mask tests through the gather-list launch, and with at most 1 and 2 heads per CTA.
DMASCOPE_FUSED_LISTS=0 "$bin/dmascope_tests" --gtest_filter='*GpuForward*:*GpuMaskBuildLists*' --gtest_brief=1 \
  >> "$tests" 2>&1; echo "GPU forward tests, gather-list launch: exit $?"
for heads in 1 2; do
  DMASCOPE_HEADS_PER_CTA=$heads "$bin/dmascope_tests" --gtest_filter='*GpuForward*auto*:*GpuMaskBuildLists*' \
    --gtest_brief=1 >> "$tests" 2>&1; echo "GPU forward tests, at most $heads heads per CTA: exit $?"
done
# Small shapes only: racecheck is slow (about 40 s for these on an H200).
filter='Small/GpuMaskBuildLists.*:Small/GpuChunked*:*GpuForward*B1_H2x1_Lq1023*auto:*GpuForward*B1_H8x2_Lq500*auto'
filter="$filter:*GpuForward*B1_H4x4_Lq257*auto:*GpuForward*B2_H4x1_Lq65*auto:*GpuForward*H8x1*auto"
for tool in memcheck racecheck; do
  compute-sanitizer --tool $tool --error-exitcode 3 "$bin/dmascope_tests" --gtest_filter="$filter" --gtest_brief=1 \
    >> "$tests" 2>&1; echo "compute-sanitizer $tool: exit $?"
done
"$bin/dmascope_gui_tests" --gtest_filter='AppGpuForward*:AppTiming*:GuiToyAnswers*' > "$out/gui-gpu-tests.txt" 2>&1
echo "app GPU tests: exit $?"

if [ "$rc" != 0 ]; then echo "GPU tests failed: no timings (see $tests)"; exit 1; fi
python3 tools/bench_peers.py --cli "$bin/dmascope-cli" --quick ${fsa:+--fsa "$fsa"} --out "$out/peers.json" \
  > "$out/peers.txt" 2>&1; echo "peers: exit $?"
cat "$out/peers.txt"
# About 5 minutes on an H200; rows print as they finish, so a time limit keeps the rows done before it.
"$bin/dmascope-cli" bench --backend cuda --matrix --bias-model assets/models/doge-toy-mix --repeats 10 --warmup 3 \
  > "$out/matrix.txt" 2>&1; echo "matrix: exit $? ($(grep -c '^ *[0-9]' "$out/matrix.txt") rows)"
