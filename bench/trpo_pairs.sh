#!/bin/bash
# TRPO at rl-zoo's recipes, engram beside sb3-contrib in the same conditions (BENCHMARKS.md
# §14, "TRPO third pass"): for each seed, engram, then sb3-contrib, then engram again, back to
# back, each under /usr/bin/time (CPU = user + sys) with the 1-minute load average before and
# after; every final policy is played for 100 greedy episodes from the same starts (evaluation
# seed 0: `engram eval --latest --seed 0`, `bench/sb3_zoo.py --eval-seed 0`).
#   bash bench/trpo_pairs.sh Pendulum-v1 0 1 2 3 4 >> trpo.log
#   SB3=0 bash bench/trpo_pairs.sh CartPole-v1 0 1 2 3 4   # engram only
# Needs a release build and the peer venv (/tmp/oracle-venv: sb3-contrib 2.9.2, torch).
set -u
cd "$(dirname "$0")/.."
env=$1; shift
B=${B:-target/release/engram}
PY=${PY:-/tmp/oracle-venv/bin/python}
runs=${RUNS:-$(mktemp -d)}
load() { cut -d' ' -f1-3 /proc/loadavg; }
for s in "$@"; do
  for pass in a sb3 b; do
    if [ "$pass" != a ] && [ "${SB3:-1}" = 0 ]; then continue; fi
    if [ "$pass" = sb3 ]; then
      echo "RUN sb3 $env s$s start $(date -u +%T) load $(load)"
      OMP_NUM_THREADS=1 nice -n 5 /usr/bin/time -f "TIME user %U sys %S wall %e" "$PY" bench/sb3_zoo.py \
        --algo trpo --env "$env" --seed "$s" --episodes 100 --eval-seed 0 2>&1
    else
      out=$runs/${env}_s${s}_$pass; rm -rf "$out"
      echo "RUN engram $env s$s $pass start $(date -u +%T) load $(load)"
      nice -n 5 /usr/bin/time -f "TIME user %U sys %S wall %e" "$B" train --env "$env" --algo trpo \
        --seed "$s" --out "$out" --set eval_interval=10000 --set tensorboard=false \
        --set curve_png=false -q 2>&1
      echo "LASTEVAL $(tail -1 "$out/evals.csv")"
      "$B" eval "$out" --latest --episodes 100 --seed 0 --json | grep -o '"mean_return":[-0-9.e]*'
    fi
    echo "END $(date -u +%T) load $(load)"
  done
done
