#!/usr/bin/env bash
# Installs everything dcllm needs to build, test and fuzz, from Debian 12 packages only.
# Safe to re-run: it skips apt entirely when every package is already installed.
set -euo pipefail

packages=(
  build-essential cmake pkg-config ccache clang libclang-rt-14-dev
  libzstd-dev liblz4-dev libsnappy-dev libdeflate-dev libhtscodecs-dev libxxhash-dev
  nlohmann-json3-dev libcli11-dev libfmt-dev libcpp-httplib-dev libgtest-dev libgmock-dev libbenchmark-dev libhwy-dev
  python3 python3-dev python3-pytest python3-numpy python3-matplotlib pybind11-dev
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "install-deps: installing ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi
