#!/bin/bash
# Session 5, device call 8: four K/V stages instead of three in the wgmma forward (warpgroups may drift further apart
# before a refill waits). GPU tests of both builds, compute-sanitizer on the four-stage one, same-run timings.
set -u
bin=.carry/lead
out=${OUT:-/tmp}
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm --format=csv,noheader
for t in dmascope_tests dmascope_tests-4stage; do
  "$bin/$t" --gtest_filter='*Cuda*:*Gpu*' --gtest_brief=1 > "$out/$t.log" 2>&1; echo "$t exit $?"; tail -1 "$out/$t.log"
done
filter='*GpuForward*B1_H2x1_Lq1023*auto:*GpuForward*B1_H8x2_Lq500*auto:*GpuForward*B1_H4x4_Lq257*auto:*GpuForward*B2_H4x1_Lq65*auto:*GpuForward*H8x1*auto'
for tool in memcheck racecheck; do
  compute-sanitizer --tool $tool --error-exitcode 3 "$bin/dmascope_tests-4stage" --gtest_filter="$filter" --gtest_brief=1 > "$out/sanitizer-$tool.log" 2>&1
  echo "compute-sanitizer $tool (4 stages): exit $?"; tail -1 "$out/sanitizer-$tool.log"
done
for shape in "--len 32768 --window 1024 --heads 2/1 --dim 64" "--len 32768 --window 2048 --heads 32/8 --dim 128" "--len 16384 --window 16384 --heads 32/8 --dim 128"; do
  for round in 1 2; do
    for cli in dmascope-cli dmascope-cli-4stage; do
      "$bin/$cli" bench --backend cuda --bias random --repeats 50 --warmup 10 --json $shape | python3 -c "
import json,sys; r=json.load(sys.stdin)
print('%-20s L=%6d w=%5d H=%d/%d d=%d  dma(graph) %8.1f us  dense %8.1f us' % ('$cli', r['len'], r['window'], r['q_heads'], r['kv_heads'], r['dim'], r['dma_ms']*1e3, r['dense_ms']*1e3))
open('$out/bench.jsonl','a').write(json.dumps(dict(r, label='$cli'))+'\n')"
    done
  done
done
