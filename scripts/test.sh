#!/usr/bin/env bash
# The README's test command: install dependencies, build, run the whole GoogleTest suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh
cd build && ctest --output-on-failure -j"$(nproc)"
