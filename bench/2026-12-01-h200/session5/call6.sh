#!/bin/bash
# Session 5, device call 6: the wgmma forward with stages tracked by "full" and "empty" mbarriers, every thread
# loading its share and refilling a stage once all threads are done with it (no CTA barrier per key block; call 4's
# version had one warpgroup load whole blocks). GPU tests (1, 2, 4 heads per CTA), compute-sanitizer, same-run timings
# against b8f972a (the kernel of 2040639), then the peer table with the flash-sparse-attn Triton kernel (carried in
# .peer/flash-dmattn, not part of dmascope), run with whichever CLI passed and was faster at the d128 target.
set -u
bin=.carry/lead
out=${OUT:-/tmp}
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm --format=csv,noheader
"$bin/dmascope_tests" --gtest_filter='*Cuda*:*Gpu*' --gtest_brief=1 > "$out/tests.log" 2>&1; tests_rc=$?; echo "tests exit $tests_rc"; tail -2 "$out/tests.log"
for heads in 1 2; do
  DMASCOPE_HEADS_PER_CTA=$heads "$bin/dmascope_tests" --gtest_filter='*GpuForward*auto*' --gtest_brief=1 >> "$out/tests.log" 2>&1
  rc=$?; echo "forward tests, at most $heads heads per CTA: exit $rc"; [ $rc = 0 ] || tests_rc=$rc
done
filter='*GpuForward*B1_H2x1_Lq1023*auto:*GpuForward*B1_H8x2_Lq500*auto:*GpuForward*B1_H4x4_Lq257*auto:*GpuForward*B2_H4x1_Lq65*auto:*GpuForward*B1_H2x1_Lq300*auto:*GpuForward*H8x1*auto'
for tool in memcheck racecheck; do
  compute-sanitizer --tool $tool --error-exitcode 3 "$bin/dmascope_tests" --gtest_filter="$filter" --gtest_brief=1 > "$out/sanitizer-$tool.log" 2>&1
  rc=$?; echo "compute-sanitizer $tool: exit $rc"; tail -1 "$out/sanitizer-$tool.log"; [ $rc = 0 ] || tests_rc=$rc
done
bench() {  # label, cli binary, shape args
  local label=$1 cli=$2; shift 2
  "$bin/$cli" bench --backend cuda --bias random --repeats 50 --warmup 10 --json "$@" | python3 -c "
import json,sys
r=json.load(sys.stdin); r=r[0] if isinstance(r,list) else r
print(f\"{'$label':>9} L={r['len']:>6} w={r['window']:>5} H={r['q_heads']}/{r['kv_heads']} d={r['dim']}  mask+lists {r['mask_and_gather_ms']*1e3:6.1f}  dma(graph) {r['dma_ms']*1e3:8.1f} us  dense {r['dense_ms']*1e3:8.1f} us\")
with open('$out/bench.jsonl', 'a') as f: r['label']='$label'; f.write(json.dumps(r) + '\n')
"
}
for shape in "--len 32768 --window 1024 --heads 2/1 --dim 64" "--len 32768 --window 2048 --heads 32/8 --dim 128" "--len 16384 --window 16384 --heads 32/8 --dim 128" "--len 32768 --window 32768 --heads 2/1 --dim 64"; do
  for round in 1 2; do
    bench before dmascope-cli-before $shape
    bench after dmascope-cli $shape
  done
done
cli=dmascope-cli-before
if [ "$tests_rc" = 0 ] && python3 -c "
import json,statistics as st
rows=[json.loads(l) for l in open('$out/bench.jsonl')]
m=lambda lab: st.median(r['dma_ms'] for r in rows if r['label']==lab and r['q_heads']==32 and r['window']==2048)
raise SystemExit(0 if m('after') < m('before') else 1)"; then cli=dmascope-cli; fi
echo "peer table with $cli"
python3 tools/bench_peers.py --cli "$bin/$cli" --quick --fsa .peer/flash-dmattn --out "$out/peers.json" > "$out/peers.txt" 2>&1; echo "peers exit $?"
cat "$out/peers.txt"
