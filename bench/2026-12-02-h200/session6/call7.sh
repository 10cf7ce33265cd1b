#!/bin/bash
# Session 6, device call 7: the two forward kernels bind forward_cta's fields by a structured binding (duplicates D12;
# no other change) — GPU tests, memcheck — then issue #3's matrix with the final kernels: random, block-clustered and
# a real model's β (the bundled doge-toy-mix), table rows as they finish (the call's time caps it).
set -u
bin=.carry/lead
out=${OUT:-/tmp}
mkdir -p build/app && cp "$bin/dmascope-cli" build/app/
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm --format=csv,noheader
"$bin/dmascope_tests" --gtest_filter='*Cuda*:*Gpu*:*CliBench*' --gtest_brief=1 > "$out/tests.log" 2>&1; echo "tests exit $?"; tail -1 "$out/tests.log"
for heads in 1 2; do
  DMASCOPE_HEADS_PER_CTA=$heads "$bin/dmascope_tests" --gtest_filter='*GpuForward*auto*:*GpuMaskBuildLists*' --gtest_brief=1 >> "$out/tests.log" 2>&1
  echo "forward tests, at most $heads heads per CTA: exit $?"
done
compute-sanitizer --tool memcheck --error-exitcode 3 "$bin/dmascope_tests" --gtest_filter='*GpuForward*B1_H2x1_Lq1023*:*GpuForward*B2_H4x1_Lq65*:*GpuForward*B1_H8x2_Lq500*auto' --gtest_brief=1 > "$out/sanitizer-memcheck.log" 2>&1
echo "memcheck exit $?"; tail -1 "$out/sanitizer-memcheck.log"
timeout 300 "$bin/dmascope-cli" bench --backend cuda --matrix --bias-model assets/models/doge-toy-mix --repeats 10 --warmup 3 > "$out/matrix.txt" 2>&1
echo "matrix exit $? ($(grep -c '^ *[0-9]' "$out/matrix.txt") rows)"
