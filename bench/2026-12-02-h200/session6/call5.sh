#!/bin/bash
# Session 6, device call 5: the forward's row max/sum chains back (call 4's trees cost our dense d64 3 %), its
# chunk-key filter at 8 entries per thread (one round for w ≤ 1024), and, behind DMASCOPE_PDL=1, the forward launched
# as the chunked mask build's programmatic dependent (the mask build lets dependents launch at its start; forward CTAs
# initialize and load Q on the free SMs, then griddepcontrol.wait). GPU tests (with and without PDL),
# compute-sanitizer, same-run timings against call 3's dmascope-cli-3stage.
set -u
bin=.carry/lead
out=${OUT:-/tmp}
mkdir -p build/app && cp "$bin/dmascope-cli" build/app/
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm --format=csv,noheader
"$bin/dmascope_tests" --gtest_filter='*Cuda*:*Gpu*:*CliBench*' --gtest_brief=1 > "$out/tests.log" 2>&1; echo "tests exit $?"; tail -2 "$out/tests.log"
DMASCOPE_PDL=1 "$bin/dmascope_tests" --gtest_filter='*Cuda*:*Gpu*:*CliBench*' --gtest_brief=1 >> "$out/tests.log" 2>&1; echo "tests with PDL exit $?"; tail -1 "$out/tests.log"
for heads in 1 2; do
  DMASCOPE_HEADS_PER_CTA=$heads "$bin/dmascope_tests" --gtest_filter='*GpuForward*auto*:*GpuMaskBuildLists*' --gtest_brief=1 >> "$out/tests.log" 2>&1
  echo "forward tests, at most $heads heads per CTA: exit $?"
done
filter='Small/GpuMaskBuildLists.*:Small/GpuChunked*:*GpuForward*B1_H2x1_Lq1023*auto:*GpuForward*B1_H8x2_Lq500*auto:*GpuForward*B1_H4x4_Lq257*auto:*GpuForward*B2_H4x1_Lq65*auto:*GpuForward*H8x1*auto'
for tool in memcheck racecheck; do
  DMASCOPE_PDL=1 compute-sanitizer --tool $tool --error-exitcode 3 "$bin/dmascope_tests" --gtest_filter="$filter" --gtest_brief=1 > "$out/sanitizer-$tool.log" 2>&1
  echo "compute-sanitizer $tool (PDL): exit $?"; tail -1 "$out/sanitizer-$tool.log"
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
for shape in "--len 32768 --window 1024 --heads 2/1 --dim 64" "--len 32768 --window 2048 --heads 32/8 --dim 128" "--len 16384 --window 16384 --heads 32/8 --dim 128" "--len 32768 --window 32768 --heads 2/1 --dim 64"; do
  for round in 1 2 3; do
    bench before dmascope-cli-before DMASCOPE_PDL=0 $shape
    bench after dmascope-cli DMASCOPE_PDL=0 $shape
    bench pdl dmascope-cli DMASCOPE_PDL=1 $shape
  done
done
