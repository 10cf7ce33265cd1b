#!/bin/bash
# One device call for the forward-kernel step of issue #3: GPU tests, compute-sanitizer on small forward shapes, and
# before/after timings in the same run: "before" is the earlier kernel (DMASCOPE_FORWARD_KEYS=sync), "after" the
# AsyncKeys kernel (the default since 2026-12-01; DMASCOPE_FORWARD_KEYS=async names it explicitly).
# Usage (on the GPU machine, from the repository root): bench/2026-12-01-h200/forward_kernel_check.sh BIN_DIR [tests|sanitize|time]...
# BIN_DIR holds dmascope_tests and dmascope-cli. Logs go to $OUT when set.
set -u
bin=$1; shift
out=${OUT:-/tmp}
export DMASCOPE_FIXTURES_DIR=${DMASCOPE_FIXTURES_DIR:-$PWD/tests/fixtures/data}
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm --format=csv,noheader
bench() {  # label, env, shape args
  local label=$1 envs=$2; shift 2
  env $envs "$bin/dmascope-cli" bench --backend cuda --bias random --repeats 50 --warmup 10 --json "$@" |
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
      DMASCOPE_FORWARD_KEYS=sync "$bin/dmascope_tests" --gtest_filter='*Cuda*:*Gpu*' --gtest_brief=1 2>&1 | tee "$out/tests.log" | tail -8
      DMASCOPE_FORWARD_KEYS=async "$bin/dmascope_tests" --gtest_filter='*Cuda*:*Gpu*' --gtest_brief=1 2>&1 |
        tee "$out/tests-async.log" | tail -3 | sed "s/^/[async] /"
      for envs in "DMASCOPE_FORWARD_KEYS=async DMASCOPE_HEADS_PER_CTA=1"; do
        env $envs "$bin/dmascope_tests" --gtest_filter='*GpuForward*' --gtest_brief=1 2>&1 | tail -3 | sed "s/^/[$envs] /"
      done ;;
    sanitize)
      filter='*GpuForward*B1_H2x1_Lq1023*:*GpuForward*B1_H8x2_Lq500*:*GpuForward*B1_H4x4_Lq257*:*GpuForward*B2_H4x1_Lq65*:*GpuForward*B1_H2x1_Lq300*'
      for tool in memcheck racecheck; do
        DMASCOPE_FORWARD_KEYS=async compute-sanitizer --tool $tool --error-exitcode 3 "$bin/dmascope_tests" --gtest_filter="$filter" --gtest_brief=1 \
          > "$out/sanitizer-$tool.log" 2>&1
        echo "compute-sanitizer $tool: exit $?"; tail -3 "$out/sanitizer-$tool.log"
      done ;;
    time)
      for shape in "--len 32768 --window 1024 --heads 2/1 --dim 64" "--len 32768 --window 2048 --heads 32/8 --dim 128"; do
        for round in 1 2; do
          bench before "DMASCOPE_FORWARD_KEYS=sync" $shape
          bench after "DMASCOPE_FORWARD_KEYS=async" $shape
        done
      done ;;
  esac
done
