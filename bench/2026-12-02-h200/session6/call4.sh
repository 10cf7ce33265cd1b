#!/bin/bash
# Session 6, device call 4: the forward's row max and row sum as pairwise trees (the chains of 16 dependent
# instructions per row were the "wait" stalls), three K/V stages again; the mask build's sort with 9-bit digits where
# that saves a pass (β = exp(N(0, 1)): 26-bit key range, 3 passes instead of 4). GPU tests, compute-sanitizer, the
# mask-build trace, same-run timings against call 3's dmascope-cli-3stage, and the forward's profile.
set -u
bin=.carry/lead
out=${OUT:-/tmp}
mkdir -p build/app && cp "$bin/dmascope-cli" build/app/
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm --format=csv,noheader
"$bin/dmascope_tests" --gtest_filter='*Cuda*:*Gpu*:*CliBench*' --gtest_brief=1 > "$out/tests.log" 2>&1; echo "tests exit $?"; tail -2 "$out/tests.log"
for heads in 1 2; do
  DMASCOPE_HEADS_PER_CTA=$heads "$bin/dmascope_tests" --gtest_filter='*GpuForward*auto*:*GpuMaskBuildLists*' --gtest_brief=1 >> "$out/tests.log" 2>&1
  echo "forward tests, at most $heads heads per CTA: exit $?"
done
filter='Small/GpuMaskBuildLists.*:Small/GpuChunked*:*GpuForward*B1_H2x1_Lq1023*auto:*GpuForward*B1_H8x2_Lq500*auto:*GpuForward*B1_H4x4_Lq257*auto:*GpuForward*B2_H4x1_Lq65*auto:*GpuForward*H8x1*auto'
for tool in memcheck racecheck; do
  compute-sanitizer --tool $tool --error-exitcode 3 "$bin/dmascope_tests" --gtest_filter="$filter" --gtest_brief=1 > "$out/sanitizer-$tool.log" 2>&1
  echo "compute-sanitizer $tool: exit $?"; tail -1 "$out/sanitizer-$tool.log"
done
bench() {  # label, cli binary, shape args
  local label=$1 cli=$2; shift 2
  "$bin/$cli" bench --backend cuda --bias random --repeats 50 --warmup 10 --json "$@" | python3 -c "
import json,sys
r=json.load(sys.stdin); r=r[0] if isinstance(r,list) else r
print(f\"{'$label':>7} L={r['len']:>6} w={r['window']:>5} H={r['q_heads']}/{r['kv_heads']} d={r['dim']}  mask {r['mask_build_ms']*1e3:6.1f}  dma(graph) {r['dma_ms']*1e3:8.1f} us  dense {r['dense_ms']*1e3:8.1f} us\")
with open('$out/bench.jsonl', 'a') as f: r['label']='$label'; f.write(json.dumps(r) + '\n')
"
}
for shape in "--len 32768 --window 1024 --heads 2/1 --dim 64" "--len 32768 --window 2048 --heads 32/8 --dim 128" "--len 16384 --window 16384 --heads 32/8 --dim 128" "--len 32768 --window 32768 --heads 2/1 --dim 64"; do
  for round in 1 2 3; do
    bench before dmascope-cli-before $shape
    bench after dmascope-cli $shape
  done
done
DMASCOPE_CHUNKED_TRACE=1 "$bin/dmascope-cli" bench --backend cuda --bias random --repeats 1 --warmup 0 --len 32768 --window 1024 --heads 2/1 --dim 64 > /dev/null 2> "$out/mask-trace.txt"
tail -4 "$out/mask-trace.txt"
ncu_bin=$(command -v ncu || ls /opt/nvidia/nsight-compute/*/ncu /usr/local/cuda/bin/ncu 2>/dev/null | head -1)
"$ncu_bin" --set full --import-source yes --clock-control none --kernel-name regex:'attention_forward_sm90a' --launch-skip 2 --launch-count 1 \
  -o /tmp/fwd "$bin/dmascope-cli" bench --backend cuda --bias random --len 32768 --window 1024 --heads 2/1 --dim 64 --repeats 2 --warmup 0 > /tmp/ncu-run.txt 2>&1
echo "ncu exit $?"
"$ncu_bin" -i /tmp/fwd.ncu-rep --page details > "$out/ncu-forward-details.txt" 2>&1
"$ncu_bin" -i /tmp/fwd.ncu-rep --page source --csv --print-source sass 2>&1 | gzip > "$out/ncu-forward-source.csv.gz"
grep -E "attention_forward|Duration|Issued Warp|No Eligible|Executed Instructions  " "$out/ncu-forward-details.txt" | head -6
