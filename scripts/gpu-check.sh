#!/usr/bin/env bash
# The one GPU run of issue 14 (docs/gpu.md): on a machine with a CUDA device, build with
# -DDCLLM_CUDA=ON (or use a prebuilt bundle), run the GPU tests and `dcllm bench gpu --json`, and
# write every log and figure into OUTDIR ($OUT, else ./gpu-check-out). Budget: < 8 minutes.
#
#   bash scripts/gpu-check.sh [OUTDIR]     on the GPU machine
#   bash scripts/gpu-check.sh --bundle     on a build machine: build-gpu-cuda -> build-gpu-bundle/
#                                          (the two binaries and their non-system libraries, for
#                                          a GPU machine without compilers or -dev packages)
# Exit status: 0 when the tests pass and the bench ran with every result exact; else non-zero
# (summary.txt says which step failed).
set -uo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
export PATH="/usr/local/cuda/bin:$PATH"
bundle="${DCLLM_GPU_BUNDLE:-$root/build-gpu-bundle}"

if [ "${1:-}" = "--bundle" ]; then
  set -e
  build="${DCLLM_GPU_BUILD:-$root/build-gpu-cuda}"
  cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DDCLLM_CUDA=ON -DDCLLM_BUILD_BENCH=OFF \
    >/dev/null
  cmake --build "$build" -j"${DCLLM_JOBS:-2}" --target dcllm dcllm_gpu_tests
  rm -rf "$bundle"
  mkdir -p "$bundle/lib"
  cp "$build/dcllm" "$build/tests/gpu/dcllm_gpu_tests" "$bundle/"
  strip "$bundle/dcllm" "$bundle/dcllm_gpu_tests"
  # Shared libraries outside glibc and the CUDA driver (which the GPU machine has).
  for bin in "$bundle/dcllm" "$bundle/dcllm_gpu_tests"; do
    ldd "$bin" | awk '/=> \// {print $3}' | while read -r lib; do
      case "$(basename "$lib")" in
        libc.so*|libm.so*|libdl.so*|libpthread.so*|librt.so*|ld-linux*|libcuda.so*) ;;
        *) cp -L "$lib" "$bundle/lib/" ;;
      esac
    done
  done
  git -C "$root" rev-parse HEAD >"$bundle/commit.txt" 2>/dev/null || true
  du -sh "$bundle"
  exit 0
fi

out="${1:-${OUT:-$root/gpu-check-out}}"
mkdir -p "$out"
start=$(date +%s)
status=0
log() { echo "[gpu-check $(($(date +%s) - start))s] $*" | tee -a "$out/summary.txt"; }
fail() { log "FAILED: $*"; status=1; }

{
  date -u
  uname -a
  nproc
  nvidia-smi || true
  nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm,clocks.max.mem \
    --format=csv || true
  nvcc --version || true
  cmake --version || true
} >"$out/machine.txt" 2>&1
log "machine: $(nvidia-smi --query-gpu=name,driver_version --format=csv,noheader 2>/dev/null | head -1)"

if [ -x "$bundle/dcllm" ] && [ -x "$bundle/dcllm_gpu_tests" ]; then
  log "using the prebuilt bundle $bundle ($(cat "$bundle/commit.txt" 2>/dev/null || echo '?'))"
  export LD_LIBRARY_PATH="$bundle/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  cli="$bundle/dcllm"
  tests="$bundle/dcllm_gpu_tests"
else
  build="${DCLLM_GPU_BUILD:-$root/build-gpu-check}"
  log "building $build (-DDCLLM_CUDA=ON, $(nproc) jobs)"
  launcher=()
  command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache
    -DCMAKE_C_COMPILER_LAUNCHER=ccache -DCMAKE_CUDA_COMPILER_LAUNCHER=ccache)
  if ! timeout 120 cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DDCLLM_CUDA=ON \
    -DDCLLM_BUILD_BENCH=OFF -DDCLLM_BUILD_SHARED=OFF "${launcher[@]}" >"$out/configure.log" 2>&1; then
    fail "configure (see configure.log; the build needs cmake, nvcc and the -dev packages of
    scripts/install-deps.sh, or a bundle from 'scripts/gpu-check.sh --bundle')"
    tail -20 "$out/configure.log" | tee -a "$out/summary.txt"
    exit 2
  fi
  if ! timeout 330 cmake --build "$build" -j"$(nproc)" --target dcllm dcllm_gpu_tests \
    >"$out/build.log" 2>&1; then
    fail "build (see build.log)"
    tail -30 "$out/build.log" | tee -a "$out/summary.txt"
    exit 2
  fi
  cli="$build/dcllm"
  tests="$build/tests/gpu/dcllm_gpu_tests"
fi
ldd "$cli" >"$out/ldd.txt" 2>&1
log "build ready"

# GPU tests: kernels against the CPU decoder and the CPU INT8 GEMV, bit for bit.
timeout 150 "$tests" --gtest_output="json:$out/gpu_tests.json" >"$out/gpu_tests.log" 2>&1
rc=$?
grep -E "^\[  (PASSED|FAILED|SKIPPED) |^no device|^device:" "$out/gpu_tests.log" | tee -a "$out/summary.txt"
if [ $rc -ne 0 ]; then fail "gpu tests (rc $rc, see gpu_tests.log)"; fi
if grep -q "SKIPPED" "$out/gpu_tests.log"; then log "note: some GPU tests were skipped (see gpu_tests.log)"; fi

# The figures: one JSON object.
timeout 240 "$cli" bench gpu --json >"$out/bench_gpu.json" 2>"$out/bench_gpu.err"
rc=$?
if [ $rc -ne 0 ]; then
  fail "dcllm bench gpu (rc $rc): $(head -c 600 "$out/bench_gpu.err")"
else
  log "bench gpu written to bench_gpu.json"
fi
log "done in $(($(date +%s) - start))s, status $status"
exit $status
