#!/usr/bin/env bash
# Builds dmascope and runs it on the bundled default model. Until the desktop app exists this is the CLI: the model's
# summary, a tokenized text, and the DMA mask statistics and tile map of its forward pass over that text.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/install-deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j "$(nproc)" --target dmascope-cli
model=assets/models/doge-tiny-random
text="dmascope shows which keys each query keeps: the quick brown fox jumps over the lazy dog, again and again."
build/app/dmascope-cli info "$model"
echo
build/app/dmascope-cli tokenize "$model" "$text" | head -n 12
echo "..."
echo
build/app/dmascope-cli forward --model "$model" --text "$text" --window 16 --tile 4 --map
