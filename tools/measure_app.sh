#!/usr/bin/env bash
# Measures the desktop app against its targets: frame times while panning and zooming a head, and the time from a window
# slider move to the first frame showing the new result, for each session in bench/app/measure-*.json. Each run is
# `dmascope --headless --measure` (offscreen OpenGL through EGL, so it needs a GPU driver's EGL; on a desktop, drop
# --headless) plus a screenshot of the view it measured. Prints one line per session; the JSON reports and PNGs go
# to OUTDIR.
# Usage: tools/measure_app.sh DMASCOPE_BINARY OUTDIR [SESSION.json ...]   (default: every bench/app/measure-*.json)
set -euo pipefail
binary=${1:?usage: tools/measure_app.sh DMASCOPE_BINARY OUTDIR [SESSION.json ...]}
out=${2:?usage: tools/measure_app.sh DMASCOPE_BINARY OUTDIR [SESSION.json ...]}
shift 2
cd "$(dirname "$0")/.."
sessions=("$@")
[ ${#sessions[@]} -gt 0 ] || sessions=(bench/app/measure-*.json)
mkdir -p "$out"
# The app keeps its recent-models list and layout under XDG dirs: point them at a scratch folder.
export XDG_CONFIG_HOME="$out/.config"
printf '%-28s %10s %10s %10s %12s %12s\n' session pan_ms pan_fps zoom_ms recompute_ms pipeline_ms
for session in "${sessions[@]}"; do
  name=$(basename "$session" .json)
  "$binary" --headless --session "$session" --measure "$out/$name.json" --screenshot "$out/$name.png" \
    >"$out/$name.log" 2>&1 || { echo "$name: failed (see $out/$name.log)"; tail -5 "$out/$name.log"; continue; }
  python3 - "$out/$name.json" "$name" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
def median(key):
    part = r.get(key)
    return part["median_ms"] if part else float("nan")
pan = r.get("pan") or {}
print(f"{sys.argv[2]:<28} {median('pan'):10.2f} {pan.get('fps_from_median', float('nan')):10.1f} "
      f"{median('zoom'):10.2f} {median('recompute_edit_to_frame'):12.1f} {median('recompute_pipeline'):12.1f}")
EOF
done
