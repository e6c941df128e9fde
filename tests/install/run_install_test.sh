#!/usr/bin/env bash
# The install test (ctest Install.FindPackageConsumer): `cmake --install` the build into a temp
# prefix, move it (the package must be relocatable), check what it exports, then configure,
# build and run tests/install/consumer against that prefix alone.
# Usage: run_install_test.sh BUILD_DIR DATA_DIR C_COMPILER SANITIZE(ON|OFF)
set -euo pipefail
build=$1 data=$2 cc=$3 sanitize=${4:-OFF}
here="$(cd "$(dirname "$0")" && pwd)"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

cmake --install "$build" --prefix "$tmp/staged" >/dev/null
mv "$tmp/staged" "$tmp/prefix"
prefix="$tmp/prefix"

# Only the C header is installed, and the library exports only the C API.
headers="$(cd "$prefix/include" && find . -type f | sort)"
[ "$headers" = "./dcllm/dcllm.h" ] || { echo "unexpected headers: $headers"; exit 1; }
lib="$(find "$prefix" -name 'libdcllm.so.*.*.*' -type f | head -n1)"
[ -n "$lib" ] || { echo "libdcllm.so not installed"; exit 1; }
[ -f "$prefix/bin/dcllm" ] || { echo "the dcllm CLI is not installed"; exit 1; }
exported="$(nm -D --defined-only "$lib" | awk '{print $3}' | grep -v '^dcllm_' || true)"
[ -z "$exported" ] || { echo "libdcllm.so exports more than dcllm_*:"; echo "$exported" | head; exit 1; }

flags=()
if [ "$sanitize" = ON ]; then
  flags=(-DCMAKE_C_FLAGS="-fsanitize=address,undefined" -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=address,undefined")
fi
# CMAKE_PREFIX_PATH is the only way the consumer can find dcllm; no source or build path leaks in.
cmake -S "$here/consumer" -B "$tmp/consumer" -DCMAKE_C_COMPILER="$cc" -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_PREFIX_PATH="$prefix" "${flags[@]}" >/dev/null
cmake --build "$tmp/consumer" >/dev/null
out="$(env -u LD_LIBRARY_PATH "$tmp/consumer/consumer" "$data/stories260K.bin" "$data/tok512.bin")"
echo "$out"
grep -q "^text: Once upon a time, there was a little girl named Lily" <<<"$out" ||
  { echo "unexpected generated text"; exit 1; }
echo "install test: ok ($(basename "$lib"))"
