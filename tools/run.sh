#!/usr/bin/env bash
# Builds dmascope and runs it on the bundled toy model trained with DMA (assets/models/doge-toy-mix) and sequences of
# its task: first the CLI's summary of the model and its mask on its sample.txt (an MQAR recall sequence), then the
# desktop app on an MQAR example of the training format, with the model's answers scored. Without a display the app renders its first view headless (Xvfb) into a PNG and says where it is.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/install-deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j "$(nproc)" --target dmascope-cli
model=assets/models/doge-toy-mix
text="$(cat "$model/sample.txt")"
build/app/dmascope-cli info "$model"
echo
build/app/dmascope-cli tokenize "$model" "$text" | head -n 12 || true  # head closes the pipe early
echo "..."
echo
# The model's own window (keep_window_size 64, the budget it was trained with) and 16x16 tiles.
build/app/dmascope-cli forward --model "$model" --text "$text" --tile 16 --map

# The desktop app (built only when its packages are there: see tools/install-deps.sh).
cmake --build build -j "$(nproc)" --target dmascope 2>/dev/null || true
if [ ! -x build/app/dmascope ]; then
  echo "dmascope (desktop app) was not built: its packages are missing (libimgui-dev libglfw3-dev libepoxy-dev libstb-dev)."
  exit 1
fi
echo
if [ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ]; then
  # Without --session and --model the app opens this model on an MQAR task example; F11 starts the guided tour.
  echo "Starting the desktop app on $model and an MQAR example (F1 lists the shortcuts, F11 starts the tour)."
  exec build/app/dmascope
fi
shot="$PWD/build/dmascope-first-launch.png"
echo "No display (DISPLAY is not set): rendering the app's first view headless under Xvfb instead."
xvfb-run -a -s "-screen 0 1920x1200x24" build/app/dmascope --screenshot "$shot"
echo "The screenshot is $shot (open it in any image viewer). Run tools/run.sh from a desktop session for the live app."
