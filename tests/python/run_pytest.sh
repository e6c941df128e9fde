#!/usr/bin/env bash
# ctest Python.Pytest: runs tests/python with pytest on the package sources (python/) over this
# build's libdcllm.so. Exit 77 (ctest: skipped) with a message when no Python has pytest+numpy.
# Usage: run_pytest.sh LIBDCLLM DATA_DIR DCLLM_CLI C_COMPILER SANITIZE(ON|OFF)
set -euo pipefail
lib=$1 data=$2 cli=$3 cc=$4 sanitize=${5:-OFF}
root="$(cd "$(dirname "$0")/../.." && pwd)"

# Debian's python3-pytest/python3-numpy live under /usr/bin/python3, which may not be the first
# python3 on PATH (pyenv, venvs): take the first interpreter that has both.
python=""
for candidate in ${DCLLM_PYTHON:-} python3 /usr/bin/python3; do
  if command -v "$candidate" >/dev/null &&
    "$candidate" -c "import pytest, numpy" >/dev/null 2>&1; then
    python=$candidate
    break
  fi
done
if [ -z "$python" ]; then
  echo "skipped: no Python with pytest and numpy (Debian: apt-get install python3-pytest python3-numpy)"
  exit 77
fi

preload=""
if [ "$sanitize" = ON ]; then
  # An ASan-built libdcllm.so loaded into an uninstrumented python needs the runtime first;
  # CPython's own allocations are not leaks we can fix, so leak checking is off here.
  # libstdc++ too: loaded only later (with libdcllm.so), ASan could not find the real
  # __cxa_throw and aborts on the first C++ exception ("real___cxa_throw != 0").
  preload="$("$cc" -print-file-name=libasan.so) $("$cc" -print-file-name=libstdc++.so)"
  export ASAN_OPTIONS="detect_leaks=0${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
  export ASAN_OPTIONS="${ASAN_OPTIONS//detect_leaks=1/detect_leaks=0}"
fi

export DCLLM_LIBRARY="$lib" DCLLM_SHARED_DATA="$data" DCLLM_CLI="$cli"
export PYTHONPATH="$root/python${PYTHONPATH:+:$PYTHONPATH}"
# Nothing written into the source tree: no __pycache__, no .pytest_cache.
export PYTHONDONTWRITEBYTECODE=1
cd "$root"
LD_PRELOAD="$preload" "$python" -m pytest -q -p no:cacheprovider "$root/tests/python"
