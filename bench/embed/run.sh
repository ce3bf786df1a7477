#!/bin/sh
# bench/embed/run.sh: annlua's C inference side by side with FANN's, in one
# run (issue 10's targets).  Run by `make bench` (or `sh bench/embed/run.sh`
# after `make` and `make B=build-none BLAS=none`).  For each of the OpenBLAS
# build ($B) and the BLAS=none build ($BN):
#   - one-sample inference of a 32-64-64-8 tanh network from C, us/call
#     (examples/embed/game against bench/embed/fann_host, 1M calls each)
#   - time from main to the first inference result
#   - the stripped size of the inference host (game, static libannlua)
# Needs libfann-dev (make deps installs it); without it, annlua alone.
set -eu
cd "$(dirname "$0")/../.."
B=${B:-build}
BN=${BN:-build-none}
CALLS=${CALLS:-1000000}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM

fann=
if cc -O2 -o "$tmp/fann_host" bench/embed/fann_host.c -lfloatfann -lm \
     2>/dev/null; then
  fann="$tmp/fann_host"
  "$fann" make "$tmp/net.fann"
else
  echo "   (no FANN: apt-get install libfann-dev to compare)"
fi

size() { strip -o "$tmp/stripped" "$1"; wc -c <"$tmp/stripped"; }

for b in "$B" "$BN"; do
  echo "== $b: $($b/bin/annlua -v | sed -n 2p)"
  # the model and its check files from this build's Lua forward: builds
  # with other kernels sum in other orders
  $b/bin/annlua examples/embed/train_model.lua "$tmp/policy.ann" >/dev/null
  for r in 1 2 3; do
    $b/examples/embed/game "$tmp/policy.ann" "$CALLS" | sed "s/^/   annlua: /"
    [ -z "$fann" ] || "$fann" run "$tmp/net.fann" "$CALLS" | sed "s/^/   /"
  done
  echo "   annlua game, stripped: $(size $b/examples/embed/game) bytes"
done
[ -z "$fann" ] || echo "   fann_host, stripped: $(size "$fann") bytes, plus" \
  "$(wc -c < "$(readlink -f /usr/lib/$(cc -print-multiarch)/libfloatfann.so.2)") bytes of libfloatfann.so.2"
