#!/usr/bin/env bash
# A fuzzing campaign outside CI: every libFuzzer target for RUNS executions (or SECONDS_EACH seconds,
# whichever ends first) under ASan+UBSan; prints one markdown row per target for docs/reliability.md.
# Usage: RUNS=10000000 SECONDS_EACH=7200 JOBS=2 [BUILD=build-asan] bash scripts/fuzz-campaign.sh [target ...]
# BUILD names an existing ASan+UBSan+fuzzer tree (CI's build-asan) to use as is; by default the
# script configures and builds build-fuzz. JOBS targets run at once, longest first.
set -euo pipefail
cd "$(dirname "$0")/.."
export RUNS="${RUNS:-10000000}" SECONDS_EACH="${SECONDS_EACH:-3600}"
jobs="${JOBS:-1}"
export BUILD="${BUILD:-build-fuzz}"
if [ "$BUILD" = build-fuzz ]; then
  launcher=()
  command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_C_COMPILER_LAUNCHER=ccache)
  CC=clang CXX=clang++ cmake -S . -B build-fuzz "${launcher[@]}" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DDCLLM_SANITIZE=ON -DDCLLM_BUILD_FUZZ=ON -DDCLLM_BUILD_TESTS=OFF -DDCLLM_BUILD_BENCH=OFF >/dev/null
  cmake --build build-fuzz -j"$(nproc)" >/dev/null
fi
targets=("$@")
# Slowest targets first (measured executions/s under ASan), so JOBS lanes end close together.
order="rans_roundtrip gguf_reader hf_tokenizer_json dcllm_model_reader tokenizer rans_decoder unicode_nfc"
if [ ${#targets[@]} -eq 0 ]; then
  all=$(ls "$BUILD/fuzz/" | grep '_fuzz$')
  for o in $order; do echo "$all" | grep -qx "${o}_fuzz" && targets+=("${o}_fuzz"); done
  for t in $all; do [[ " ${targets[*]} " == *" $t "* ]] || targets+=("$t"); done
fi

one() {  # one target: run it, print its row
  local name=$1 corpus="$BUILD/corpus/$1" seeds="fuzz/seeds/$1" log="$BUILD/$1.campaign.log"
  mkdir -p "$corpus"
  local start rc secs execs last cov ft files crashes
  start=$(date +%s)
  set +e
  "$BUILD/fuzz/$name" "$corpus" $([ -d "$seeds" ] && echo "$seeds") -runs="$RUNS" \
    -max_total_time="$SECONDS_EACH" -timeout=30 -rss_limit_mb=2048 -artifact_prefix="$BUILD/" \
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
}
export -f one
echo "| target | executions | seconds | crashes | corpus files | coverage (edges) | features |"
echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"
printf '%s\n' "${targets[@]}" | xargs -P "$jobs" -I{} bash -c 'one {}'
