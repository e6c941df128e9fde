#!/usr/bin/env bash
# The README's main command: install dependencies, build, and run the main job on the bundled
# model (../shared/data/stories260K.bin): the codec comparison on its per-tensor INT8 weights.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh
data=../shared/data
./build/dcllm bench codecs --input "$data/stories260K.bin" --dtype f32 --offset 28 \
  --quantize per-tensor
