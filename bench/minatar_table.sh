#!/bin/bash
# The MinAtar 5M-frame table (BENCHMARKS §16): one run at a time, resumable.
# usage: bench/minatar_table.sh [ROOT]   (ENGRAM=path/to/engram; run it again to continue)
# (a run directory with checkpoints is continued with --resume; a finished one is skipped).
BIN=${ENGRAM:-./target/release/engram}
ROOT=${1:-runs/minatar}
GAMES="Breakout SpaceInvaders Asterix Freeway Seaquest"
# Waits for an earlier queue's run to end: one run at a time.
while pgrep -f "$BIN train" >/dev/null; do sleep 10; done
run_one() { # algo seed game extra...
  local algo=$1 seed=$2 game=$3; shift 3
  local dir=$ROOT/$algo/${game}_s$seed
  if [ -f $dir/summary.json ] && grep -q '"stop_reason": "budget"' $dir/summary.json; then return; fi
  mkdir -p $ROOT/$algo
  if [ -f $dir/config.toml ] && [ -n "$(ls -A $dir/checkpoints 2>/dev/null)" ]; then
    echo "$(date -u +%T) resume $algo $game s$seed" >> $ROOT/queue.log
    /usr/bin/time -v -a -o $dir.time $BIN train --resume $dir --quiet >> $dir.log 2>&1
  else
    rm -rf $dir
    echo "$(date -u +%T) start $algo $game s$seed" >> $ROOT/queue.log
    /usr/bin/time -v -o $dir.time $BIN train --env MinAtar/$game-v1 --algo $algo --seed $seed --out $dir --set eval_interval=0 --quiet "$@" > $dir.log 2>&1
  fi
  echo "$(date -u +%T) exit $? $algo $game s$seed" >> $ROOT/queue.log
}
for g in $GAMES; do run_one a3c 0 $g --workers 2; done
for g in $GAMES; do run_one ppo 0 $g; done
for seed in 1 2; do for g in $GAMES; do run_one a3c $seed $g --workers 2; done; done
for seed in 1 2; do for g in $GAMES; do run_one ppo $seed $g; done; done
for seed in 0 1 2; do for g in $GAMES; do run_one dqn $seed $g; done; done
