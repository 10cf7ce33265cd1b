#!/bin/bash
# Session 6, device call 6: the output tile staged through shared memory (16-byte stores) and the programmatic
# dependent launch on by default. All GPU tests (with and without PDL), the app's GPU tests, compute-sanitizer,
# same-run timings against f0433ca (call 5's code, with DMASCOPE_PDL=1), then the peer table with the
# flash-sparse-attn Triton kernel (carried in .peer/flash-dmattn, not part of dmascope).
set -u
bin=.carry/lead
out=${OUT:-/tmp}
mkdir -p build/app && cp "$bin/dmascope-cli" build/app/
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm --format=csv,noheader
"$bin/dmascope_tests" --gtest_filter='*Cuda*:*Gpu*:*CliBench*' --gtest_brief=1 > "$out/tests.log" 2>&1; rc=$?; echo "tests exit $rc"; tail -1 "$out/tests.log"
DMASCOPE_PDL=0 "$bin/dmascope_tests" --gtest_filter='*Cuda*:*Gpu*' --gtest_brief=1 >> "$out/tests.log" 2>&1; echo "tests without PDL exit $?"; tail -1 "$out/tests.log"
for heads in 1 2; do
  DMASCOPE_HEADS_PER_CTA=$heads "$bin/dmascope_tests" --gtest_filter='*GpuForward*auto*:*GpuMaskBuildLists*' --gtest_brief=1 >> "$out/tests.log" 2>&1
  echo "forward tests, at most $heads heads per CTA: exit $?"
done
"$bin/dmascope_gui_tests" --gtest_filter='AppGpuForward*:AppTiming*:GuiToyAnswers*' > "$out/gui-gpu-tests.txt" 2>&1; echo "gui tests exit $?"; tail -1 "$out/gui-gpu-tests.txt"
filter='Small/GpuMaskBuildLists.*:Small/GpuChunked*:*GpuForward*B1_H2x1_Lq1023*auto:*GpuForward*B1_H8x2_Lq500*auto:*GpuForward*B1_H4x4_Lq257*auto:*GpuForward*B2_H4x1_Lq65*auto:*GpuForward*H8x1*auto'
for tool in memcheck racecheck; do
  compute-sanitizer --tool $tool --error-exitcode 3 "$bin/dmascope_tests" --gtest_filter="$filter" --gtest_brief=1 > "$out/sanitizer-$tool.log" 2>&1
  echo "compute-sanitizer $tool: exit $?"; tail -1 "$out/sanitizer-$tool.log"
done
bench() {  # label, cli binary, env, shape args
  local label=$1 cli=$2 envs=$3; shift 3
  env $envs "$bin/$cli" bench --backend cuda --bias random --repeats 50 --warmup 10 --json "$@" | python3 -c "
import json,sys
r=json.load(sys.stdin); r=r[0] if isinstance(r,list) else r
print(f\"{'$label':>7} L={r['len']:>6} w={r['window']:>5} H={r['q_heads']}/{r['kv_heads']} d={r['dim']}  mask {r['mask_build_ms']*1e3:6.1f}  dma(graph) {r['dma_ms']*1e3:8.1f} us  dense {r['dense_ms']*1e3:8.1f} us\")
with open('$out/bench.jsonl', 'a') as f: r['label']='$label'; f.write(json.dumps(r) + '\n')
"
}
for shape in "--len 32768 --window 1024 --heads 2/1 --dim 64" "--len 32768 --window 2048 --heads 32/8 --dim 128" "--len 16384 --window 16384 --heads 32/8 --dim 128"; do
  for round in 1 2; do
    bench before dmascope-cli-before DMASCOPE_PDL=1 $shape
    bench after dmascope-cli DMASCOPE_UNUSED=1 $shape
  done
done
if [ "$rc" = 0 ]; then
  python3 tools/bench_peers.py --cli "$bin/dmascope-cli" --quick --fsa .peer/flash-dmattn --out "$out/peers.json" > "$out/peers.txt" 2>&1; echo "peers exit $?"
  cat "$out/peers.txt"
fi
