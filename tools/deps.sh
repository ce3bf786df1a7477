#!/bin/sh
# deps.sh: installs the Debian packages annlua needs to build and test,
# only those missing.  Run by `make deps`; works as root (no sudo needed)
# or as a user with sudo, non-interactively.
set -eu

# g++ and pkg-config: spec/install_spec.lua builds a C++ program against
# the installed library through pkg-config
# python3-numpy: spec/io_spec.lua round-trips .npy files through NumPy
PKGS="gcc g++ libc6-dev make pkg-config lua5.4 liblua5.4-dev libopenblas-dev
lua-busted luarocks zlib1g-dev libreadline-dev libpng-dev libfann-dev
python3-numpy"

installed() {
  dpkg -s "$1" 2>/dev/null | grep -q '^Status: install ok installed'
}

if ! command -v dpkg >/dev/null 2>&1; then
  echo "deps: this is not a Debian system (no dpkg); install by hand:" >&2
  echo "  $PKGS" | tr '\n' ' ' >&2; echo >&2
  exit 1
fi

missing=""
for p in $PKGS; do
  installed "$p" || missing="$missing $p"
done
if [ -z "$missing" ]; then
  echo "deps: all required Debian packages are installed"
  exit 0
fi

if [ "$(id -u)" -eq 0 ]; then
  SUDO=""
elif command -v sudo >/dev/null 2>&1; then
  SUDO="sudo"
else
  echo "deps: missing packages:$missing" >&2
  echo "deps: run 'make deps' as root, or install them with apt-get" >&2
  exit 1
fi

export DEBIAN_FRONTEND=noninteractive
echo "deps: missing:$missing"
echo "deps: running ${SUDO:+$SUDO }apt-get update"
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -q
echo "deps: running ${SUDO:+$SUDO }apt-get install -y$missing"
# shellcheck disable=SC2086
$SUDO env DEBIAN_FRONTEND=noninteractive \
  apt-get install -y -q $missing
echo "deps: done"
