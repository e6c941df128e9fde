#!/usr/bin/env bash
# ctest Python.Pytest: runs tests/python with pytest on the build's package (build/python/dcllm:
# the sources beside the pybind11 extension _core). Exit 77 (ctest: skipped) with a message when
# the extension was not built or its interpreter lacks pytest/numpy.
# Usage: run_pytest.sh PACKAGE_DIR PYTHON DATA_DIR DCLLM_CLI C_COMPILER SANITIZE(ON|OFF)
set -euo pipefail
package=$1 python=$2 data=$3 cli=$4 cc=$5 sanitize=${6:-OFF}
root="$(cd "$(dirname "$0")/../.." && pwd)"

if [ -z "$package" ] || [ ! -d "$package/dcllm" ]; then
  echo "skipped: the Python extension was not built (Debian: apt-get install pybind11-dev python3-dev)"
  exit 77
fi
if ! "$python" -c "import pytest, numpy" >/dev/null 2>&1; then
  echo "skipped: $python has no pytest or numpy (Debian: apt-get install python3-pytest python3-numpy)"
  exit 77
fi

preload=""
if [ "$sanitize" = ON ]; then
  # An ASan-built extension loaded into an uninstrumented python needs the runtime first;
  # CPython's own allocations are not leaks we can fix, so leak checking is off here.
  # libstdc++ too: loaded only later (with libdcllm.so), ASan could not find the real
  # __cxa_throw and aborts on the first C++ exception ("real___cxa_throw != 0").
  preload="$("$cc" -print-file-name=libasan.so) $("$cc" -print-file-name=libstdc++.so)"
  export ASAN_OPTIONS="detect_leaks=0${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
  export ASAN_OPTIONS="${ASAN_OPTIONS//detect_leaks=1/detect_leaks=0}"
fi

export DCLLM_SHARED_DATA="$data" DCLLM_CLI="$cli"
export PYTHONPATH="$package${PYTHONPATH:+:$PYTHONPATH}"
# Nothing written into the source tree: no __pycache__, no .pytest_cache.
export PYTHONDONTWRITEBYTECODE=1
cd "$root"
LD_PRELOAD="$preload" "$python" -m pytest -q -p no:cacheprovider "$root/tests/python"
