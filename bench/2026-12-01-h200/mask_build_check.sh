#!/bin/bash
# One device call for the mask-build work of issue #3: GPU tests, compute-sanitizer on the new chunked path, and
# before/after timings in the same run (the general path forced by DMASCOPE_MASK_BUILD=sort DMASCOPE_GATHER_LISTS=scan).
# Usage (on the GPU machine, from the repository root): bench/2026-12-01-h200/mask_build_check.sh BIN_DIR [tests|sanitize|time]...
# BIN_DIR holds dmascope_tests and dmascope-cli. Logs go to $OUT when set.
set -u
bin=$1; shift
out=${OUT:-/tmp}
export DMASCOPE_FIXTURES_DIR=${DMASCOPE_FIXTURES_DIR:-$PWD/tests/fixtures/data}
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm --format=csv,noheader
bench() {  # label, env, shape args
  local label=$1 envs=$2; shift 2
  env $envs "$bin/dmascope-cli" bench --backend cuda --bias random --dim 64 --repeats 50 --warmup 10 --json "$@" |
    python3 -c "
import json,sys
r=json.load(sys.stdin); r=r[0] if isinstance(r,list) else r
print(f\"{'$label':>7} L={r['len']:>6} w={r['window']:>5} H={r['q_heads']}/{r['kv_heads']}  mask {r['mask_build_ms']*1e3:7.1f} us  mask+gather {r['mask_and_gather_ms']*1e3:7.1f} us  dma(graph) {r['dma_ms']*1e3:7.1f} us  dma(launched) {r['dma_launched_ms']*1e3:7.1f} us  dense {r['dense_ms']*1e3:7.1f} us\")
json.dump(r, open('$out/bench-$label-' + str(r['len']) + '-' + str(r['window']) + '-' + str(r['kv_heads']) + '.json', 'w'))
"
}
for step in "$@"; do
  case $step in
    tests)
      "$bin/dmascope_tests" --gtest_filter='*Cuda*:*Gpu*' --gtest_brief=1 2>&1 | tee "$out/tests.log" | tail -25 ;;
    sanitize)
      filter='Small/GpuChunked*:GpuChunkedMaskBuild.Special*'
      for tool in memcheck racecheck; do
        compute-sanitizer --tool $tool --error-exitcode 3 "$bin/dmascope_tests" --gtest_filter="$filter" --gtest_brief=1 \
          > "$out/sanitizer-$tool.log" 2>&1
        echo "compute-sanitizer $tool: exit $?"; tail -4 "$out/sanitizer-$tool.log"
      done ;;
    time)
      for shape in "--len 32768 --window 1024 --heads 2/1" "--len 32768 --window 2048 --heads 32/8" \
                   "--len 65536 --window 1024 --heads 2/1" "--len 16384 --window 4096 --heads 2/1"; do
        for round in 1 2; do
          bench before "DMASCOPE_MASK_BUILD=sort DMASCOPE_GATHER_LISTS=scan" $shape
          bench after "DMASCOPE_UNUSED=1" $shape
        done
      done ;;
  esac
done
