#!/bin/bash
# Session 5, device call 1: GPU tests (the forward-kernel name of a7ec86e; the gather lists written by the chunked
# mask build, with the forward launched as its programmatic dependent), the app's GPU tests, compute-sanitizer, same-run
# timings (separate gather launch / fused lists / fused + PDL / the ping-pong patch), and Nsight Compute per kernel.
set -u
bin=.carry/lead
out=${OUT:-/tmp}
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm --format=csv,noheader
"$bin/dmascope_tests" --gtest_filter='*Cuda*:*Gpu*:*CliBench*' --gtest_brief=1 > "$out/tests.log" 2>&1; echo "tests exit $?"; tail -4 "$out/tests.log"
"$bin/dmascope_gui_tests" --gtest_filter='AppGpuForward*:AppTiming*:GuiToyAnswers*' > "$out/gui-gpu-tests.txt" 2>&1; echo "gui tests exit $?"; tail -3 "$out/gui-gpu-tests.txt"
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
    bench separate dmascope-cli DMASCOPE_FUSED_LISTS=0 $shape
    bench fused dmascope-cli DMASCOPE_PDL=0 $shape
    bench fused+pdl dmascope-cli DMASCOPE_UNUSED=1 $shape
    bench pingpong dmascope-cli-pingpong DMASCOPE_UNUSED=1 $shape
  done
done
ncu_bin=$(command -v ncu || ls /opt/nvidia/nsight-compute/*/ncu /usr/local/cuda/bin/ncu 2>/dev/null | head -1)
for shape in "--len 32768 --window 1024 --heads 2/1 --dim 64" "--len 32768 --window 2048 --heads 32/8 --dim 128"; do
  name=$(echo $shape | tr -d ' -' | tr '/' 'x')
  "$ncu_bin" --clock-control none --launch-count 8 --section SpeedOfLight --section WarpStateStats --section SchedulerStats \
    --section LaunchStats --section Occupancy \
    "$bin/dmascope-cli" bench --backend cuda --bias random $shape --repeats 1 --warmup 0 > "$out/ncu-$name.txt" 2>&1
  echo "ncu $shape: exit $?"
  grep -E "^  [a-zA-Z_].*\(|Duration|Issue Slots Busy|No Eligible|Registers Per|Grid Size" "$out/ncu-$name.txt" | head -48
done
