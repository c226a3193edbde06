#!/bin/bash
# ES from 1 to 2 cores (issue 18, BENCHMARKS.md §14): the same ES run with workers=1 and
# workers=2, alternating, REPS times each; prints wall and CPU (user + sys) per run and a
# hash of the episodes each wrote (returns and lengths: identical for any worker count).
# Meant for an idle machine: it refuses to start above a 1-minute load average of 0.5
# unless FORCE=1.
#   bash bench/es_scaling.sh                   # CartPole-v1, 2M steps, population 40, 3 reps
#   ENV=Pendulum-v1 STEPS=3000000 bash bench/es_scaling.sh   # Pendulum's tuned ES entry
set -euo pipefail
cd "$(dirname "$0")/.."
B=${B:-target/release/engram}
ENV=${ENV:-CartPole-v1}
STEPS=${STEPS:-2000000}
REPS=${REPS:-3}
# More --set pairs for `engram train` (default: CartPole's earlier measurement, population 40).
if [ -z "${EXTRA+x}" ]; then
    if [ "$ENV" = CartPole-v1 ]; then EXTRA="--set population=40"; else EXTRA=""; fi
fi
load=$(cut -d' ' -f1 /proc/loadavg)
if [ "${FORCE:-0}" != 1 ] && awk "BEGIN{exit !($load > 0.5)}"; then
    echo "load average $load > 0.5: not an idle machine (FORCE=1 to run anyway)" >&2
    exit 1
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "$(date -u +%FT%TZ) $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "| workers | rep | wall s | CPU s (user+sys) | load before | episodes hash |"
echo "|---|---|---|---|---|---|"
for rep in $(seq 1 "$REPS"); do
    for w in 1 2; do
        out=$tmp/w${w}_r$rep
        before=$(cut -d' ' -f1 /proc/loadavg)
        /usr/bin/time -f "%e %U %S" -o "$tmp/time" "$B" train --env "$ENV" --algo es --seed 0 \
            --steps "$STEPS" --out "$out" --set workers=$w --set eval_interval=0 \
            --set tensorboard=false --set curve_png=false $EXTRA -q > /dev/null
        read -r wall user sys < "$tmp/time"
        hash=$(cut -d, -f1,3,4 "$out/episodes.csv" | sha256sum | cut -c1-12)
        cpu=$(awk "BEGIN{print $user + $sys}")
        echo "| $w | $rep | $wall | $cpu | $before | $hash |"
    done
done
