#!/bin/bash
# Session 6, device call 3: (a) the chunked mask build's radix sort runs only the 8-bit passes the range of the
# collected rank keys needs (three instead of four for the usual β); (b) the forward's chunk-key filter loads its
# first entries before the chunk's count arrives; (c) four K/V stages, a stage refilled two blocks after its release
# (dmascope-cli-3stage: the same code with three). GPU tests, compute-sanitizer, mask-build trace, same-run timings
# against 3f0f4f8 (call 2's code).
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
  for round in 1 2; do
    bench before dmascope-cli-before $shape
    bench 3stage dmascope-cli-3stage $shape
    bench after dmascope-cli $shape
  done
done
DMASCOPE_CHUNKED_TRACE=1 "$bin/dmascope-cli" bench --backend cuda --bias random --repeats 1 --warmup 0 --len 32768 --window 1024 --heads 2/1 --dim 64 > /dev/null 2> "$out/mask-trace.txt"
tail -8 "$out/mask-trace.txt"
