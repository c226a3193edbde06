#!/usr/bin/env bash
# The cost of a run's logs on A3C CartPole throughput (BENCHMARKS.md section 10): runs
# `engram train --env CartPole-v1 --algo a3c --workers 1 --steps 200000` with a baseline binary,
# with NEW_BIN's defaults (monitor.csv + TensorBoard) and with NEW_BIN and tensorboard=false,
# interleaved REPEATS times, and prints median / best / sd of summary.json's steps_per_second.
# Usage: bench/logging_cost.sh BASE_BIN NEW_BIN [REPEATS]
set -euo pipefail
base=$1 new=$2 repeats=${3:-10}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
for i in $(seq 1 "$repeats"); do
    for v in base on off; do
        case $v in
            base) bin=$base extra=() ;;
            on) bin=$new extra=() ;;
            off) bin=$new extra=(--set tensorboard=false) ;;
        esac
        "$bin" train --env CartPole-v1 --algo a3c --workers 1 --steps 200000 -q \
            --out "$dir/$v$i" "${extra[@]}" >/dev/null 2>&1
        python3 -c "import json,sys; print('$v', json.load(open(sys.argv[1]))['steps_per_second'])" \
            "$dir/$v$i/summary.json"
    done
done | python3 -c '
import statistics as s, sys
d = {}
for line in sys.stdin:
    v, x = line.split()
    d.setdefault(v, []).append(float(x))
for v, xs in d.items():
    print(f"{v:5} n={len(xs)} median {s.median(xs):,.0f} best {max(xs):,.0f} sd {s.stdev(xs):,.0f}")
'
