#!/usr/bin/env bash
# A fuzzing campaign outside CI: every libFuzzer target for RUNS executions (or SECONDS each,
# whichever ends first) under ASan+UBSan; prints one markdown row per target for docs/reliability.md.
# Usage: RUNS=10000000 SECONDS_EACH=3600 bash scripts/fuzz-campaign.sh [target ...]
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${RUNS:-10000000}"
seconds="${SECONDS_EACH:-3600}"
launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_C_COMPILER_LAUNCHER=ccache)
CC=clang CXX=clang++ cmake -S . -B build-fuzz "${launcher[@]}" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DDCLLM_BUILD_FUZZ=ON -DDCLLM_BUILD_TESTS=OFF -DDCLLM_BUILD_BENCH=OFF >/dev/null
cmake --build build-fuzz -j"$(nproc)" >/dev/null
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=($(ls build-fuzz/fuzz/ | grep '_fuzz$'))
echo "| target | executions | seconds | crashes | corpus files | coverage (edges) | features |"
echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"
for name in "${targets[@]}"; do
  corpus="build-fuzz/corpus/$name"
  seeds="fuzz/seeds/$name"
  mkdir -p "$corpus"
  log="build-fuzz/$name.campaign.log"
  start=$(date +%s)
  set +e
  "build-fuzz/fuzz/$name" "$corpus" $([ -d "$seeds" ] && echo "$seeds") -runs="$runs" \
    -max_total_time="$seconds" -rss_limit_mb=2048 -artifact_prefix=build-fuzz/ \
    -print_final_stats=1 >"$log" 2>&1
  rc=$?
  set -e
  secs=$(($(date +%s) - start))
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo 0)
  last=$(grep -E '^#[0-9]+' "$log" | tail -n 1)
  cov=$(echo "$last" | grep -o 'cov: [0-9]*' | grep -o '[0-9]*' || echo "?")
  ft=$(echo "$last" | grep -o 'ft: [0-9]*' | grep -o '[0-9]*' || echo "?")
  files=$(ls "$corpus" | wc -l)
  crashes=$([ $rc -eq 0 ] && echo 0 || echo "rc=$rc, see $log")
  echo "| $name | $execs | $secs | $crashes | $files | $cov | $ft |"
done
