#!/bin/bash
# Session 6, device call 8: after a review tidy (the gather-list launch moved into DmaRunner::Impl so the mask build
# and the list launch sit in one place; one runs_wgmma helper for the kernel name and the chunk-key choice; comments) —
# the GPU tests and the CLI bench tests on these binaries, and one same-shape DMA timing.
set -u
bin=.carry/lead
out=${OUT:-/tmp}
mkdir -p build/app && cp "$bin/dmascope-cli" build/app/
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm --format=csv,noheader
"$bin/dmascope_tests" --gtest_filter='*Cuda*:*Gpu*:*CliBench*' --gtest_brief=1 > "$out/tests.log" 2>&1; echo "tests exit $?"; tail -1 "$out/tests.log"
DMASCOPE_FUSED_LISTS=0 "$bin/dmascope_tests" --gtest_filter='*GpuForward*:*GpuMaskBuildLists*' --gtest_brief=1 >> "$out/tests.log" 2>&1; echo "tests with the gather-list launch exit $?"; tail -1 "$out/tests.log"
"$bin/dmascope-cli" bench --backend cuda --bias random --repeats 50 --warmup 10 --len 32768 --window 1024 --heads 2/1 --dim 64 | tee "$out/bench.txt"
