#!/usr/bin/env bash
# Installs what dmascope needs to build and test on Debian 12, from Debian's packages only. Run as root (or with sudo).
# The CUDA toolkit is optional and not installed here: with one on the PATH the kernels are built too.
set -euo pipefail
packages=(
  build-essential cmake ninja-build pkg-config git
  libfmt-dev nlohmann-json3-dev libpcre2-dev libgtest-dev libgmock-dev
  libcli11-dev   # the command lines of dmascope-cli and the app
  clang libclang-rt-14-dev   # libFuzzer + ASan/UBSan for the parser fuzz targets
  # The desktop app: Dear ImGui 1.86 (its GLFW + OpenGL3 back ends are compiled into libimgui.a), GLFW 3.3, libepoxy
  # (GL loader), stb (PNG files), DejaVu fonts (token display marks), and Xvfb + Mesa for headless screenshots and
  # the gui.* tests.
  libimgui-dev libglfw3-dev libepoxy-dev libstb-dev fonts-dejavu-core
  xvfb xauth libgl1-mesa-dri mesa-utils
)
if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
missing=()
for p in "${packages[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
