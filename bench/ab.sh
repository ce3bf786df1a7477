#!/bin/sh
# bench/ab.sh OLD NEW SCRIPT METRIC [N]: runs bench SCRIPT with two annlua
# binaries in turn, N times each (7 by default), and prints the median and
# the runs of the line "METRIC: value" for each.  This machine's speed
# drifts by up to 2x within an hour, so two builds compare only in runs
# taken in turn, e.g. before and after a change:
#   git stash; make; cp build/bin/annlua /tmp/old; git stash pop; make
#   bench/ab.sh /tmp/old build/bin/annlua bench/playground.lua playground-fit
set -e
[ $# -ge 4 ] || { echo "usage: $0 OLD NEW SCRIPT METRIC [N]" >&2; exit 2; }
old=$1 new=$2 script=$3 metric=$4 n=${5:-7}
a="" b=""
value() { "$1" "$script" | sed -n "s/^$metric: \([0-9.e+]*\).*/\1/p"; }
i=0
while [ $i -lt "$n" ]; do
  a="$a $(BENCH_RUNS=1 value "$old")"
  b="$b $(BENCH_RUNS=1 value "$new")"
  i=$((i + 1))
done
median() { printf '%s\n' $1 | sort -g | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }
echo "old $metric: $(median "$a")  (runs:$a)"
echo "new $metric: $(median "$b")  (runs:$b)"
