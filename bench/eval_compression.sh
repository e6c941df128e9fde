#!/usr/bin/env bash
# The paper's comparison on one model: each row a compression setting, with cr_vs_int8,
# bits_per_weight and perplexity on TinyStories and WikiText (same ctx and windows throughout).
# Usage: bench/eval_compression.sh MODEL [TOKENIZER] [CHUNKS]   (prints a Markdown table)
# Env: CALIB_TOKENS (default 8192); PER_CHANNEL=1 prints only the per-channel-weight rows (scaled
# and pruned), the setting outlier-heavy models need. The codecs are lossless, so a zstd-19 row decodes to the very
# weights of the rans row above it: its perplexity is measured only with ALL_PPL=1.
set -euo pipefail
cd "$(dirname "$0")/.."
model=$1
tok=${2:-}
chunks=${3:-20}
data=../shared/data
cli=./build/dcllm
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
tokargs=()
[ -n "$tok" ] && tokargs=(--tokenizer "$tok")

ppl() {  # MODEL TEXT -> ppl
  "$cli" ppl "$1" "${tokargs[@]}" --text "$2" --ctx 256 --chunks "$chunks" --json |
    python3 -c 'import json,sys; print("%.3f" % json.load(sys.stdin)["ppl"])'
}

echo "| setting | codec | cr_vs_int8 | bits_per_weight | ppl TinyStories | ppl WikiText |"
echo "| --- | --- | --- | --- | --- | --- |"
echo "| FP32 | – | – | 32 | $(ppl "$model" $data/tinystories_valid_head.txt) | $(ppl "$model" $data/wikitext2_raw_test.txt) |"
row() {  # LABEL CODEC compress-options...
  local label=$1 codec=$2
  shift 2
  "$cli" compress "$model" "${tokargs[@]}" -o "$tmp/m.dcllm" --calib $data/tinystories_valid_head.txt \
    --calib-tokens "${CALIB_TOKENS:-8192}" --codec "$codec" "$@" --json > "$tmp/r.json"
  read -r cr bpw < <(python3 -c 'import json,sys; t=json.load(open(sys.argv[1]))["totals"]; print("%.3f %.3f" % (t["cr_vs_int8"], t["bits_per_weight"]))' "$tmp/r.json")
  if [ "$codec" = rans ] || [ "${ALL_PPL:-0}" = 1 ]; then
    echo "| $label | $codec | $cr | $bpw | $(ppl "$tmp/m.dcllm" $data/tinystories_valid_head.txt) | $(ppl "$tmp/m.dcllm" $data/wikitext2_raw_test.txt) |"
  else
    echo "| $label | $codec | $cr | $bpw | (as rans) | (as rans) |"
  fi
}
if [ "${PER_CHANNEL:-0}" = 1 ]; then
  row "SmoothQuant a=0.5, per-channel" rans --scale smoothquant --alpha 0.5 --wquant per-channel
  for a in 0.5 0.7 0.9 1.0; do row "DC a=$a, per-channel" rans --alpha $a --wquant per-channel; done
  for p in dc wanda magnitude; do
    for s in 0.2 0.4; do
      row "DC a=0.5, per-channel + $p prune $s" rans --alpha 0.5 --wquant per-channel --prune $p --sparsity $s
    done
  done
  exit 0
fi
for codec in rans zstd-19; do
  row "INT8 per-tensor, no scaling" $codec --scale none
  row "INT8 per-channel, no scaling" $codec --scale none --wquant per-channel
  row "INT8 group:128, no scaling" $codec --scale none --wquant group:128
  row "SmoothQuant a=0.5" $codec --scale smoothquant --alpha 0.5
  for a in 0.5 0.7 0.9 1.0; do row "DC a=$a" $codec --alpha $a; done
  for p in dc wanda magnitude; do
    for s in 0.2 0.4; do row "DC a=0.9 + $p prune $s" $codec --alpha 0.9 --prune $p --sparsity $s; done
  done
done
