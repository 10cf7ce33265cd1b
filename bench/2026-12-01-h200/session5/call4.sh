#!/bin/bash
# Session 5, device call 4: the wgmma forward without a CTA barrier per key block (stages tracked by mbarriers, each
# refilled by the warpgroup that releases it last, so warpgroups drift apart). GPU tests (forward shapes with 1, 2 and
# 4 heads per CTA), compute-sanitizer, same-run timings against b8f972a, and, if the tests pass, the peer table.
set -u
bin=.carry/lead
out=${OUT:-/tmp}
mkdir -p build/app && cp "$bin/dmascope-cli" build/app/
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm --format=csv,noheader
"$bin/dmascope_tests" --gtest_filter='*Cuda*:*Gpu*:*CliBench*' --gtest_brief=1 > "$out/tests.log" 2>&1; tests_rc=$?; echo "tests exit $tests_rc"; tail -3 "$out/tests.log"
for heads in 1 2; do
  DMASCOPE_HEADS_PER_CTA=$heads "$bin/dmascope_tests" --gtest_filter='*GpuForward*auto*' --gtest_brief=1 > "$out/tests-heads$heads.log" 2>&1
  rc=$?; echo "forward tests, at most $heads heads per CTA: exit $rc"; tail -1 "$out/tests-heads$heads.log"; [ $rc = 0 ] || tests_rc=$rc
done
filter='*GpuForward*B1_H2x1_Lq1023*auto:*GpuForward*B1_H8x2_Lq500*auto:*GpuForward*B1_H4x4_Lq257*auto:*GpuForward*B2_H4x1_Lq65*auto:*GpuForward*B1_H2x1_Lq300*auto:*GpuForward*H8x1*auto'
for tool in memcheck racecheck synccheck; do
  compute-sanitizer --tool $tool --error-exitcode 3 "$bin/dmascope_tests" --gtest_filter="$filter" --gtest_brief=1 > "$out/sanitizer-$tool.log" 2>&1
  echo "compute-sanitizer $tool: exit $?"; tail -2 "$out/sanitizer-$tool.log"
done
bench() {  # label, cli binary, env, shape args
  local label=$1 cli=$2 envs=$3; shift 3
  env $envs "$bin/$cli" bench --backend cuda --bias random --repeats 50 --warmup 10 --json "$@" | python3 -c "
import json,sys
r=json.load(sys.stdin); r=r[0] if isinstance(r,list) else r
print(f\"{'$label':>9} L={r['len']:>6} w={r['window']:>5} H={r['q_heads']}/{r['kv_heads']} d={r['dim']}  mask+lists {r['mask_and_gather_ms']*1e3:6.1f}  dma(graph) {r['dma_ms']*1e3:8.1f} us  dense {r['dense_ms']*1e3:8.1f} us\")
with open('$out/bench.jsonl', 'a') as f: r['label']='$label'; f.write(json.dumps(r) + '\n')
"
}
for shape in "--len 32768 --window 1024 --heads 2/1 --dim 64" "--len 32768 --window 2048 --heads 32/8 --dim 128" "--len 16384 --window 16384 --heads 32/8 --dim 128"; do
  for round in 1 2; do
    bench before dmascope-cli-before DMASCOPE_UNUSED=1 $shape
    bench after dmascope-cli DMASCOPE_UNUSED=1 $shape
  done
done
if [ "$tests_rc" = 0 ]; then
  python3 tools/bench_peers.py --cli "$bin/dmascope-cli" --quick --out "$out/peers.json" > "$out/peers.txt" 2>&1; echo "peers exit $?"
  cat "$out/peers.txt"
fi
