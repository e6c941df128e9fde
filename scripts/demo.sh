#!/usr/bin/env bash
# The README's main command: install dependencies, build, then the main job on the bundled model
# (../shared/data/stories260K.bin): compress it (calibrate, scale, INT8, rANS), run the compressed
# model, compare its perplexity with float32, and show the codec comparison on its weights.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh
data=../shared/data
model="$data/stories260K.bin"
tok="$data/tok512.bin"
mkdir -p out
set -x
./build/dcllm compress "$model" --tokenizer "$tok" -o out/stories260K.dcllm \
  --calib "$data/tinystories_valid_head.txt" --alpha 0.5
./build/dcllm verify out/stories260K.dcllm
./build/dcllm run out/stories260K.dcllm -p "Once upon a time" -n 60 --temp 0
./build/dcllm ppl "$model" --tokenizer "$tok" --text "$data/tinystories_valid_head.txt" --ctx 256 --chunks 20
./build/dcllm ppl out/stories260K.dcllm --text "$data/tinystories_valid_head.txt" --ctx 256 --chunks 20
./build/dcllm bench codecs --model "$model"
