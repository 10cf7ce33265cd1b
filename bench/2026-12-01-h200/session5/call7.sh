#!/bin/bash
# Session 5, device call 7: the final binaries (call 6's kernel; only comments changed since): all GPU tests with
# CliBench, the app's GPU tests, compute-sanitizer memcheck/racecheck/synccheck, and one more same-run look at d64
# (1 vs 2 heads per CTA now that warpgroups no longer meet at a barrier per block).
set -u
bin=.carry/lead
out=${OUT:-/tmp}
mkdir -p build/app && cp "$bin/dmascope-cli" build/app/  # CliBench runs the CLI from the build tree
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm --format=csv,noheader
"$bin/dmascope_tests" --gtest_filter='*Cuda*:*Gpu*:*CliBench*' --gtest_brief=1 > "$out/tests.log" 2>&1; echo "tests exit $?"; tail -2 "$out/tests.log"
"$bin/dmascope_gui_tests" --gtest_filter='AppGpuForward*:AppTiming*:GuiToyAnswers*' > "$out/gui-gpu-tests.txt" 2>&1; echo "gui tests exit $?"; tail -1 "$out/gui-gpu-tests.txt"
filter='Small/GpuMaskBuildLists.*:*GpuForward*B1_H2x1_Lq1023*auto:*GpuForward*B1_H8x2_Lq500*auto:*GpuForward*B1_H4x4_Lq257*auto:*GpuForward*B2_H4x1_Lq65*auto:*GpuForward*B1_H2x1_Lq300*auto:*GpuForward*H8x1*auto'
for tool in memcheck racecheck synccheck; do
  compute-sanitizer --tool $tool --error-exitcode 3 "$bin/dmascope_tests" --gtest_filter="$filter" --gtest_brief=1 > "$out/sanitizer-$tool.log" 2>&1
  echo "compute-sanitizer $tool: exit $?"; tail -1 "$out/sanitizer-$tool.log"
done
grep -m3 -B2 -A12 "Barrier error" "$out/sanitizer-synccheck.log" | head -40
for round in 1 2; do
  for heads in 2 1; do
    DMASCOPE_HEADS_PER_CTA=$heads "$bin/dmascope-cli" bench --backend cuda --bias random --repeats 50 --warmup 10 --json --len 32768 --window 1024 --heads 2/1 --dim 64 |
      python3 -c "import json,sys; r=json.load(sys.stdin); print('heads per CTA $heads: dma(graph) %.1f us, dense %.1f us' % (r['dma_ms']*1e3, r['dense_ms']*1e3)); open('$out/bench.jsonl','a').write(json.dumps(dict(r, label='heads$heads'))+'\n')"
  done
done
