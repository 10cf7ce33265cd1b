#!/bin/bash
# One device call for the wgmma forward kernel (kernels/attention_fwd_sm90a.cu, issue #3): GPU tests (every forward
# shape with the wgmma kernel and with mma.sync forced), compute-sanitizer on small forward shapes, same-run timings of
# the two kernels (DMASCOPE_FORWARD_KERNEL=mma forces mma.sync), and the peer table (tools/bench_peers.py --quick).
# Usage (on the GPU machine, from the repository root): bench/2026-12-01-h200/wgmma/wgmma_check.sh BIN_DIR [tests|sanitize|time|peers]...
# BIN_DIR holds dmascope_tests and dmascope-cli. Logs go to $OUT when set.
set -u
bin=$1; shift
out=${OUT:-/tmp}
export DMASCOPE_FIXTURES_DIR=${DMASCOPE_FIXTURES_DIR:-$PWD/tests/fixtures/data}
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm --format=csv,noheader
cli=dmascope-cli
bench() {  # label, env, shape args (the CLI binary: $bin/$cli)
  local label=$1 envs=$2; shift 2
  env $envs "$bin/$cli" bench --backend cuda --bias random --repeats 50 --warmup 10 --json "$@" |
    python3 -c "
import json,sys
r=json.load(sys.stdin); r=r[0] if isinstance(r,list) else r
fwd=r['dma_ms']-r['mask_and_gather_ms']
print(f\"{'$label':>6} L={r['len']:>6} w={r['window']:>5} H={r['q_heads']}/{r['kv_heads']} d={r.get('head_dim', r.get('dim'))}  mask+gather {r['mask_and_gather_ms']*1e3:7.1f} us  dma(graph) {r['dma_ms']*1e3:8.1f} us  forward(dma-mask) {fwd*1e3:8.1f} us  dense {r['dense_ms']*1e3:8.1f} us\")
with open('$out/bench-$label.jsonl', 'a') as f: f.write(json.dumps(r) + '\n')
"
}
for step in "$@"; do
  case $step in
    tests)
      "$bin/dmascope_tests" --gtest_filter='*Cuda*:*Gpu*' --gtest_brief=1 2>&1 | tee "$out/tests.log" | tail -12
      DMASCOPE_HEADS_PER_CTA=1 "$bin/dmascope_tests" --gtest_filter='*GpuForward*auto*' --gtest_brief=1 2>&1 |
        tee "$out/tests-one-head.log" | tail -3 | sed "s/^/[one head per CTA] /"
      DMASCOPE_HEADS_PER_CTA=2 "$bin/dmascope_tests" --gtest_filter='*GpuForward*auto*' --gtest_brief=1 2>&1 |
        tee "$out/tests-two-heads.log" | tail -3 | sed "s/^/[at most two heads per CTA] /" ;;
    sanitize)
      filter='*GpuForward*B1_H2x1_Lq1023*auto:*GpuForward*B1_H8x2_Lq500*auto:*GpuForward*B1_H4x4_Lq257*auto:*GpuForward*B2_H4x1_Lq65*auto:*GpuForward*B1_H2x1_Lq300*auto'
      for tool in memcheck racecheck; do
        compute-sanitizer --tool $tool --error-exitcode 3 "$bin/dmascope_tests" --gtest_filter="$filter" --gtest_brief=1 \
          > "$out/sanitizer-$tool.log" 2>&1
        echo "compute-sanitizer $tool: exit $?"; tail -3 "$out/sanitizer-$tool.log"
      done ;;
    time)
      for shape in "--len 32768 --window 1024 --heads 2/1 --dim 64" "--len 32768 --window 2048 --heads 32/8 --dim 128" \
                   "--len 32768 --window 32768 --heads 2/1 --dim 64" "--len 16384 --window 16384 --heads 32/8 --dim 128"; do
        for round in 1 2; do
          bench mma "DMASCOPE_FORWARD_KERNEL=mma" $shape
          bench wgmma "DMASCOPE_FORWARD_KERNEL=auto" $shape
          case "$shape" in *32/8*) bench wgmma-h2 "DMASCOPE_HEADS_PER_CTA=2" $shape ;;
                           *) bench wgmma-h1 "DMASCOPE_HEADS_PER_CTA=1" $shape ;; esac
        done
      done ;;
    ab)  # earlier builds against this one, alternating, same shapes: AB="label:binary ..." (default: before/after)
      for shape in "--len 32768 --window 1024 --heads 2/1 --dim 64" "--len 32768 --window 2048 --heads 32/8 --dim 128" \
                   "--len 16384 --window 16384 --heads 32/8 --dim 128"; do
        for round in 1 2; do
          for pair in ${AB:-before:dmascope-cli-before after:dmascope-cli}; do
            cli=${pair#*:} bench ${pair%%:*} "DMASCOPE_UNUSED=1" $shape
          done
        done
      done ;;
    profile)  # Nsight Compute on one forward launch per shape: throughput, stall reasons, instruction mix
      ncu_bin=$(command -v ncu || ls /opt/nvidia/nsight-compute/*/ncu /usr/local/cuda/bin/ncu 2>/dev/null | head -1)
      [ -z "$ncu_bin" ] && { echo "no ncu"; continue; }
      for shape in "--len 32768 --window 2048 --heads 32/8 --dim 128" "--len 32768 --window 1024 --heads 2/1 --dim 64"; do
        name=$(echo $shape | tr -d ' -' | tr '/' 'x')
        "$ncu_bin" --clock-control none --kernel-name regex:attention_forward_sm90a --launch-count 2 \
          --section SpeedOfLight --section WarpStateStats --section SchedulerStats --section ComputeWorkloadAnalysis \
          --section InstructionStats --section Occupancy --section LaunchStats --section MemoryWorkloadAnalysis \
          "$bin/dmascope-cli" bench --backend cuda --bias random $shape --repeats 1 --warmup 0 > "$out/ncu-$name.txt" 2>&1
        echo "ncu $shape: exit $?"; grep -E "Duration|Compute \(SM\) Throughput|Memory Throughput|Issue Slots Busy|No Eligible|Warp Cycles Per Issued|Stall|Achieved Occupancy|Registers Per" "$out/ncu-$name.txt" | head -30
      done ;;
    peers)
      python3 tools/bench_peers.py --cli "$bin/dmascope-cli" --quick --out "$out/peers.json" 2>&1 | tee "$out/peers.txt" ;;
  esac
done
