#!/bin/bash
# Session 6, device call 1: the two forward kernels' CTA set-up folded into forward_cta (duplicates D2) — GPU tests,
# memcheck — and a profile of the DMA at the d64 target (32K, w1024, 2/1): the wgmma forward's SASS and its
# per-instruction stall samples (Nsight Compute, source page), the chunked mask build's per-stage trace, timings.
set -u
bin=.carry/lead
out=${OUT:-/tmp}
mkdir -p build/app && cp "$bin/dmascope-cli" build/app/  # CliBench runs the CLI from the build tree
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm --format=csv,noheader
"$bin/dmascope_tests" --gtest_filter='*Cuda*:*Gpu*:*CliBench*' --gtest_brief=1 > "$out/tests.log" 2>&1; echo "tests exit $?"; tail -2 "$out/tests.log"
for heads in 1 2; do
  DMASCOPE_HEADS_PER_CTA=$heads "$bin/dmascope_tests" --gtest_filter='*GpuForward*auto*' --gtest_brief=1 >> "$out/tests.log" 2>&1
  echo "forward tests, at most $heads heads per CTA: exit $?"
done
filter='*GpuForward*B1_H2x1_Lq1023*:*GpuForward*B2_H4x1_Lq65*:*GpuForward*B1_H8x2_Lq500*auto'
compute-sanitizer --tool memcheck --error-exitcode 3 "$bin/dmascope_tests" --gtest_filter="$filter" --gtest_brief=1 > "$out/sanitizer-memcheck.log" 2>&1
echo "memcheck exit $?"; tail -1 "$out/sanitizer-memcheck.log"
shape="--len 32768 --window 1024 --heads 2/1 --dim 64"
for round in 1 2; do
  "$bin/dmascope-cli" bench --backend cuda --bias random --repeats 50 --warmup 10 --json $shape >> "$out/bench.jsonl"
done
python3 -c "
import json
for l in open('$out/bench.jsonl'):
  r=json.loads(l); r=r[0] if isinstance(r,list) else r
  print('mask', round(r['mask_build_ms']*1e3,1), 'mask+lists', round(r['mask_and_gather_ms']*1e3,1), 'dma', round(r['dma_ms']*1e3,1), 'dense', round(r['dense_ms']*1e3,1))"
DMASCOPE_CHUNKED_TRACE=1 "$bin/dmascope-cli" bench --backend cuda --bias random --repeats 1 --warmup 0 $shape > /dev/null 2> "$out/mask-trace.txt"
tail -5 "$out/mask-trace.txt"
fun=$(cuobjdump -symbols "$bin/dmascope-cli" 2>/dev/null | grep -o '_ZN[^ ]*attention_forward_sm90aI13__nv_bfloat16Li64ELb1ELi2EEEvNS1_13ForwardParamsE' | head -1)
echo "function: $fun"
cuobjdump -sass -fun "$fun" "$bin/dmascope-cli" | gzip > "$out/forward-d64-sass.txt.gz"
ncu_bin=$(command -v ncu || ls /opt/nvidia/nsight-compute/*/ncu /usr/local/cuda/bin/ncu 2>/dev/null | head -1)
"$ncu_bin" --set full --import-source yes --kernel-name regex:'attention_forward_sm90a' --launch-skip 1 --launch-count 1 \
  -o /tmp/fwd "$bin/dmascope-cli" bench --backend cuda --bias random $shape --repeats 2 --warmup 0 > /tmp/ncu-run.txt 2>&1
echo "ncu exit $?"; tail -3 /tmp/ncu-run.txt
"$ncu_bin" -i /tmp/fwd.ncu-rep --page details > "$out/ncu-forward-details.txt" 2>&1
"$ncu_bin" -i /tmp/fwd.ncu-rep --page source --csv --print-source sass 2>&1 | gzip > "$out/ncu-forward-source.csv.gz"
grep -E "attention_forward|Duration|Issued Warp|No Eligible|Warp Cycles Per Issued" "$out/ncu-forward-details.txt" | head -8
