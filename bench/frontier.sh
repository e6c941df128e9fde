#!/usr/bin/env bash
# The size/accuracy frontier on one GGUF model (issue 12): dcllm's settings against the baselines
# (unscaled per-tensor, per-channel, group:128, SmoothQuant a=0.5) and llama.cpp's Q8_0, Q6_K,
# Q5_K_M, Q4_K_M made from the same file, every row by the same protocol: `dcllm ppl` on
# WikiText-2 at ctx 256 over the first CHUNKS windows; bits per weight over all quantized tensors
# with everything counted (dcllm: coded chunks + scales; GGUF: the 2-D tensors' bytes as stored).
# Usage: bench/frontier.sh MODEL.gguf [CHUNKS] > frontier.json    (default CHUNKS 10)
# Env: DCLLM (binary, default build/dcllm), THREADS (default 2), CALIB_TOKENS (default: compress's
# own default), ROWS (space-separated row names to run, default all; see `rows` below),
# PEER (default bench/peer_llamacpp.sh), KEEP (a folder to keep the models in).
# Progress goes to stderr; stdout is one JSON object: {"model", "protocol", "rows": [{"name",
# "kind", "command", "bits_per_weight", "ppl", "file_bytes"}]}. scripts/plot_frontier.py plots it.
set -euo pipefail
cd "$(dirname "$0")/.."
model=$1
chunks=${2:-10}
cli=${DCLLM:-./build/dcllm}
threads=${THREADS:-2}
peer=${PEER:-bench/peer_llamacpp.sh}
data=../shared/data
text=$data/wikitext2_raw_test.txt
calib=$data/tinystories_valid_head.txt
work=${KEEP:-$(mktemp -d)}
mkdir -p "$work"
[ -n "${KEEP:-}" ] || trap 'rm -rf "$work"' EXIT
calibargs=()
[ -n "${CALIB_TOKENS:-}" ] && calibargs=(--calib-tokens "$CALIB_TOKENS")

ppl() {  # MODEL -> ppl
  "$cli" ppl "$1" --text "$text" --ctx 256 --chunks "$chunks" --threads "$threads" --json |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["ppl"])'
}

# bits per weight of a GGUF's 2-D tensors (the ones a quantizer touches), from their stored bytes.
gguf_bits() {
  "$cli" inspect "$1" --json | python3 -c '
import json, sys
t = [x for x in json.load(sys.stdin)["tensors"] if len(x["shape"]) == 2]
n = sum(x["shape"][0] * x["shape"][1] for x in t)
print(8.0 * sum(x["bytes"] for x in t) / n)'
}

rows_json=()
emit() {  # NAME KIND COMMAND BITS PPL FILE_BYTES
  rows_json+=("$(python3 -c 'import json,sys; n,k,c,b,p,f=sys.argv[1:]; print(json.dumps({"name":n,"kind":k,"command":c,"bits_per_weight":float(b),"ppl":float(p),"file_bytes":int(f)}))' "$@")")
  echo "frontier: $1: $4 bits/weight, ppl $5" >&2
}

wanted() { [ -z "${ROWS:-}" ] || [[ " $ROWS " == *" $1 "* ]]; }

dcllm_row() {  # NAME KIND compress-options...
  local name=$1 kind=$2
  shift 2
  wanted "$name" || return 0
  local out="$work/$name.dcllm"
  "$cli" compress "$model" -o "$out" --calib "$calib" "${calibargs[@]}" --threads "$threads" "$@" \
    --json > "$work/$name.json"
  local bits
  bits=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["totals"]["bits_per_weight"])' "$work/$name.json")
  emit "$name" "$kind" "dcllm compress MODEL --calib $calib $* ${calibargs[*]}" "$bits" "$(ppl "$out")" "$(stat -c %s "$out")"
  [ -n "${KEEP:-}" ] || rm -f "$out"
}

llama_row() {  # TYPE
  local name="llama.cpp-$1"
  wanted "$name" || return 0
  local out="$work/$name.gguf"
  [ -f "$out" ] || "$peer" quantize "$model" "$1" "$out"
  emit "$name" llama.cpp "llama-quantize --allow-requantize MODEL OUT $1" "$(gguf_bits "$out")" \
    "$(ppl "$out")" "$(stat -c %s "$out")"
}

if wanted source; then
  emit source source "(the input GGUF, dequantized to float32)" "$(gguf_bits "$model")" \
    "$(ppl "$model")" "$(stat -c %s "$model")"
fi
for t in Q8_0 Q6_K Q5_K_M Q4_K_M; do llama_row "$t"; done
dcllm_row per-tensor baseline --scale none --wquant per-tensor --aquant per-token
dcllm_row per-channel baseline --scale none --wquant per-channel --aquant per-token
dcllm_row group128 baseline --scale none --wquant group:128 --aquant per-token
dcllm_row smoothquant-0.5 baseline --scale smoothquant --alpha 0.5 --wquant per-channel --aquant per-token
dcllm_row default dcllm
dcllm_row small dcllm --preset small
for extra in ${EXTRA_ROWS:-}; do :; done  # reserved: extra dcllm rows are given as ROWS_ARGS

(IFS=,; python3 -c 'import json,sys; print(json.dumps({"model": sys.argv[1], "protocol": {"text": sys.argv[2], "ctx": 256, "chunks": int(sys.argv[3]), "calib": sys.argv[4]}, "rows": [json.loads(r) for r in sys.argv[5:]]}, indent=1))' \
  "$model" "$text" "$chunks" "$calib" "${rows_json[@]}")
