#!/bin/bash
# Where the chunked mask build's time goes, without and with hardware counters:
#   1. the kernel's stage prefixes (DMASCOPE_CHUNKED_STOP_AFTER=n returns after stage n) timed by `bench`'s mask_build_ms;
#   2. Nsight Compute: durations of every mask-build and gather-list kernel of both paths (one bench repeat each), and
#      the chunked kernel's warp-state statistics.
# Usage (GPU machine, repository root): bench/2026-12-01-h200/mask_build_profile.sh BIN_DIR [L] [w]
set -u
bin=$1; L=${2:-32768}; w=${3:-1024}
out=${OUT:-/tmp}
shape="--len $L --window $w --heads 2/1 --dim 64 --bias random"
mask_us() {
  env "$@" "$bin/dmascope-cli" bench --backend cuda $shape --repeats 50 --warmup 10 --json |
    python3 -c "import json,sys; r=json.load(sys.stdin); r=r[0] if isinstance(r,list) else r; print(f\"{r['mask_build_ms']*1e3:7.1f} us\")"
}
echo "L=$L w=$w: mask_build_ms of the chunked kernel stopped after stage n (-1: whole kernel)"
for stage in 0 1 2 3 4 5 6 -1; do echo "  stage $stage: $(mask_us DMASCOPE_CHUNKED_STOP_AFTER=$stage)"; done
ncu_bin=$(command -v ncu || ls /opt/nvidia/nsight-compute/*/ncu 2>/dev/null | head -1)
[ -z "$ncu_bin" ] && { echo "no ncu"; exit 0; }
kernels='regex:death_by_chunks|gather_lists|DeviceRadixSort|Onesweep|Histogram|death_from|rank_block|prefix_over|scatter_ranks|make_sort_keys'
for variant in after before; do
  envs="DMASCOPE_UNUSED=1"; [ $variant = before ] && envs="DMASCOPE_MASK_BUILD=sort DMASCOPE_GATHER_LISTS=scan"
  env $envs "$ncu_bin" --clock-control none --kernel-name "$kernels" --metrics gpu__time_duration.sum --csv \
    "$bin/dmascope-cli" bench --backend cuda $shape --repeats 1 --warmup 0 --json > "$out/ncu-$variant.csv" 2> "$out/ncu-$variant.err"
  echo "ncu $variant (first launch of each kernel, microseconds):"
  python3 - "$out/ncu-$variant.csv" <<'PY'
import csv, sys
rows = [r for r in csv.reader(open(sys.argv[1])) if len(r) > 10]
if not rows: print("  (no rows)"); sys.exit()
head = rows[0]; k = head.index("Kernel Name"); v = head.index("Metric Value"); u = head.index("Metric Unit"); i = head.index("ID")
seen = {}
for r in rows[1:]:
    name = r[k].split("(")[0].split("<")[0][-40:]
    value = float(r[v].replace(",", "")) / (1000.0 if r[u] == "nsecond" or r[u] == "ns" else 1.0)
    seen.setdefault(name, []).append(value)
for name, values in seen.items(): print(f"  {name:>40}: {values[0]:8.2f}  (launches: {len(values)}, min {min(values):.2f})")
PY
done
"$ncu_bin" --clock-control none --kernel-name regex:death_by_chunks --launch-count 1 \
  --section SpeedOfLight --section WarpStateStats --section LaunchStats --section Occupancy \
  "$bin/dmascope-cli" bench --backend cuda $shape --repeats 1 --warmup 0 --json > "$out/ncu-chunked-details.txt" 2>&1
grep -E "Duration|Warp Cycles Per Issued|Stall|Issued Warp|Registers|Shared Memory Config|Achieved Occupancy|Block Size|Grid Size|Compute \(SM\) Throughput|Memory Throughput" "$out/ncu-chunked-details.txt" | head -30
