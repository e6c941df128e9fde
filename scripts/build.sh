#!/usr/bin/env bash
# Configures and builds the Release tree in build/ (library, CLI, tests, benches).
set -euo pipefail
cd "$(dirname "$0")/.."
# ccache makes rebuilds and extra build trees (sanitizers, fuzzing) cheap.
launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_C_COMPILER_LAUNCHER=ccache)
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release "${launcher[@]}" >/dev/null
cmake --build build -j"$(nproc)"
