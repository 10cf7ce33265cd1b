#!/bin/bash
# Device calls for the second mask-build pass (mask-build-2.md): GPU tests, compute-sanitizer on the chunked build,
# mask_build_ms of several binaries in the same run (alternating, two rounds; dmascope-cli-before holds the previous
# kernel), and the per-CTA stage trace of the chunked kernel (DMASCOPE_CHUNKED_TRACE).
# Usage (GPU machine, repository root): bench/2026-12-01-h200/mask-build-2-check.sh BIN_DIR STEP...
#   tests[:TESTS_BIN]  alltests[:TESTS_BIN]  sanitize[:TESTS_BIN]  trace[:CLI_BIN]  time[:CLI_BIN,CLI_BIN,...]
# (binary names inside BIN_DIR; defaults dmascope_tests, dmascope-cli, dmascope-cli-before,dmascope-cli).
# ALL_SHAPES=1 adds L=64K w=1024 and L=32K w=2048 Hq32/Hkv8 to the timings. Logs go to $OUT when set.
set -u
bin=$1; shift
out=${OUT:-/tmp}
export DMASCOPE_FIXTURES_DIR=${DMASCOPE_FIXTURES_DIR:-$PWD/tests/fixtures/data}
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm --format=csv,noheader
mask_us() {  # cli, shape args: mask_build_ms in µs (median of 50 after 10 warm-up)
  local cli=$1; shift
  "$cli" bench --backend cuda --bias random --dim 64 --repeats 50 --warmup 10 --json "$@" |
    python3 -c "import json,sys; r=json.load(sys.stdin); r=r[0] if isinstance(r,list) else r; print(f\"{r['mask_build_ms']*1e3:.1f}\")"
}
for step in "$@"; do
  what=${step%%:*}; arg=${step#*:}; [ "$arg" = "$step" ] && arg=""
  case $what in
    tests)
      t=${arg:-dmascope_tests}
      echo "== $t mask tests"
      timeout 200 "$bin/$t" --gtest_filter='*Mask*:*Gather*:*Chunked*' --gtest_brief=1 2>&1 | tee "$out/tests-$t.log" | tail -6 ;;
    alltests)
      t=${arg:-dmascope_tests}
      echo "== $t all GPU tests"
      timeout 300 "$bin/$t" --gtest_filter='*Cuda*:*Gpu*' --gtest_brief=1 2>&1 | tee "$out/alltests-$t.log" | tail -12 ;;
    sanitize)
      t=${arg:-dmascope_tests}
      filter='Small/GpuChunked*:GpuChunkedMaskBuild.Special*:GpuChunkedMaskBuild.Monotone*'
      for tool in memcheck racecheck; do
        [ $tool = memcheck ] && f="$filter:GpuChunkedMaskBuild.PivotMiss*" || f=$filter
        timeout 150 compute-sanitizer --tool $tool --error-exitcode 3 "$bin/$t" --gtest_filter="$f" \
          --gtest_brief=1 > "$out/sanitizer-$tool-$t.log" 2>&1
        echo "compute-sanitizer $tool ($t): exit $?"; tail -3 "$out/sanitizer-$tool-$t.log"
      done ;;
    time)
      IFS=, read -ra clis <<< "${arg:-dmascope-cli-before,dmascope-cli}"
      shapes=("--len 32768 --window 1024 --heads 2/1" "--len 16384 --window 4096 --heads 2/1")
      [ "${ALL_SHAPES:-0}" = 1 ] && shapes+=("--len 65536 --window 1024 --heads 2/1" "--len 32768 --window 2048 --heads 32/8")
      for shape in "${shapes[@]}"; do
        line="$shape:"
        for round in 1 2; do
          for cli in "${clis[@]}"; do line="$line  $cli $(mask_us "$bin/$cli" $shape)"; done
        done
        echo "mask_build_us $line" | tee -a "$out/times.txt"
      done ;;
    trace)
      cli=${arg:-dmascope-cli}
      for shape in "--len 32768 --window 1024 --heads 2/1" "--len 16384 --window 4096 --heads 2/1"; do
        echo "trace $cli $shape" >> "$out/trace-$cli.txt"
        DMASCOPE_CHUNKED_TRACE=30 "$bin/$cli" bench --backend cuda --bias random --dim 64 --repeats 50 \
          --warmup 10 --json $shape 2>> "$out/trace-$cli.txt" > /dev/null
      done
      python3 - "$out/trace-$cli.txt" <<'PY'
import sys  # short summary: per shape, the slowest CTA and the mean of each stage over the CTAs
shape = None; rows = []
def flush():
    if not rows: return
    slow = max(rows, key=lambda r: r[3])
    mean = [sum(r[k] for r in rows) / len(rows) for k in range(4, 11)]
    print(f"{shape}\n  slowest CTA: chunk {int(slow[1])} end {slow[3]:.2f} us | " + " ".join(f"{v:.2f}" for v in slow[4:11]))
    print("  mean over CTAs:  pivot collect sort local tables death total = " + " ".join(f"{v:.2f}" for v in mean))
for line in open(sys.argv[1]):
    if line.startswith("trace "): flush(); shape = line.strip(); rows = []; continue
    parts = line.replace("|", " ").split()
    if len(parts) >= 15 and parts[0].isdigit():
        rows.append([float(x) for x in parts[:11]])
flush()
PY
      ;;
  esac
done
