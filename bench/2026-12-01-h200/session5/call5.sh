#!/bin/bash
# Session 5, device call 5: the final code (b8f972a with the two partition loops' warp-count sums folded into one
# helper, duplicates D7). GPU tests, the app's GPU tests, compute-sanitizer, same-run timings against b8f972a, and, if
# the tests pass, the peer table (tools/bench_peers.py --quick).
set -u
bin=.carry/lead
out=${OUT:-/tmp}
mkdir -p build/app && cp "$bin/dmascope-cli" build/app/  # CliBench runs the CLI from the build tree
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm --format=csv,noheader
"$bin/dmascope_tests" --gtest_filter='*Cuda*:*Gpu*:*CliBench*' --gtest_brief=1 > "$out/tests.log" 2>&1; tests_rc=$?; echo "tests exit $tests_rc"; tail -3 "$out/tests.log"
"$bin/dmascope_gui_tests" --gtest_filter='AppGpuForward*:AppTiming*:GuiToyAnswers*' > "$out/gui-gpu-tests.txt" 2>&1; echo "gui tests exit $?"; tail -1 "$out/gui-gpu-tests.txt"
filter='Small/GpuMaskBuildLists.*:*GpuForward*B1_H2x1_Lq1023*auto:*GpuForward*B1_H8x2_Lq500*auto:*GpuForward*B2_H4x1_Lq65*auto:*GpuForward*B1_H2x1_Lq300*auto'
for tool in memcheck racecheck; do
  compute-sanitizer --tool $tool --error-exitcode 3 "$bin/dmascope_tests" --gtest_filter="$filter" --gtest_brief=1 > "$out/sanitizer-$tool.log" 2>&1
  echo "compute-sanitizer $tool: exit $?"; tail -2 "$out/sanitizer-$tool.log"
done
bench() {  # label, cli binary, env, shape args
  local label=$1 cli=$2 envs=$3; shift 3
  env $envs "$bin/$cli" bench --backend cuda --bias random --repeats 50 --warmup 10 --json "$@" | python3 -c "
import json,sys
r=json.load(sys.stdin); r=r[0] if isinstance(r,list) else r
print(f\"{'$label':>9} L={r['len']:>6} w={r['window']:>5} H={r['q_heads']}/{r['kv_heads']} d={r['dim']}  mask {r['mask_build_ms']*1e3:6.1f}  mask+lists {r['mask_and_gather_ms']*1e3:6.1f}  dma(graph) {r['dma_ms']*1e3:8.1f} us  dense {r['dense_ms']*1e3:8.1f} us  {r.get('forward_kernel','?')}\")
with open('$out/bench.jsonl', 'a') as f: r['label']='$label'; f.write(json.dumps(r) + '\n')
"
}
for shape in "--len 32768 --window 1024 --heads 2/1 --dim 64" "--len 32768 --window 2048 --heads 32/8 --dim 128"; do
  for round in 1 2; do
    bench b8f972a dmascope-cli-before DMASCOPE_UNUSED=1 $shape
    bench final dmascope-cli DMASCOPE_UNUSED=1 $shape
  done
done
if [ "$tests_rc" = 0 ]; then
  python3 tools/bench_peers.py --cli "$bin/dmascope-cli" --quick --out "$out/peers.json" > "$out/peers.txt" 2>&1; echo "peers exit $?"
  cat "$out/peers.txt"
fi
