#!/bin/bash
# The MinAtar 5M-frame table (BENCHMARKS §16): resumable runs of A3C-LSTM, PPO and DQN.
# usage: bench/minatar_table.sh [ROOT] [RUNS]
#   RUNS: "algo:seed:Game ..." (e.g. "dqn:0:Breakout dqn:0:Asterix"); default: the whole table
#   in order (A3C and PPO seeds 0-2, then DQN seeds 0-2). Without RUNS, waits for any other
#   run of the same binary to end (one run at a time); with RUNS it starts at once, so two
#   lists can run side by side (DQN and PPO use one core each, A3C two workers).
# ENGRAM=path/to/engram; run it again to continue: a finished run is skipped, one with
# checkpoints is continued with --resume. ROOT/queue.log says what ran, when, and the load.
# `python3 bench/minatar_table_print.py ROOT` prints the table.
BIN=${ENGRAM:-./target/release/engram}
ROOT=${1:-runs/minatar}
GAMES="Breakout SpaceInvaders Asterix Freeway Seaquest"
RUNS=$2
if [ -z "$RUNS" ]; then
  for algo in a3c ppo; do for seed in 0 1 2; do for g in $GAMES; do
    RUNS="$RUNS $algo:$seed:$g"; done; done; done
  for seed in 0 1 2; do for g in $GAMES; do RUNS="$RUNS dqn:$seed:$g"; done; done
  while pgrep -f "$BIN train" >/dev/null; do sleep 10; done
fi
for run in $RUNS; do
  IFS=: read -r algo seed game <<< "$run"
  dir=$ROOT/$algo/${game}_s$seed
  extra=()
  [ "$algo" = a3c ] && extra=(--workers 2)
  if [ -f "$dir/summary.json" ] && grep -q '"stop_reason": "budget"' "$dir/summary.json"; then
    continue
  fi
  mkdir -p "$ROOT/$algo"
  if [ -f "$dir/config.toml" ] && [ -n "$(ls -A "$dir/checkpoints" 2>/dev/null)" ]; then
    echo "$(date -u +%T) resume $algo $game s$seed" >> "$ROOT/queue.log"
    /usr/bin/time -v -a -o "$dir.time" "$BIN" train --resume "$dir" --quiet >> "$dir.log" 2>&1
  else
    rm -rf "$dir"
    echo "$(date -u +%T) start $algo $game s$seed" >> "$ROOT/queue.log"
    /usr/bin/time -v -o "$dir.time" "$BIN" train --env "MinAtar/$game-v1" --algo "$algo" \
      --seed "$seed" --out "$dir" --set eval_interval=0 --quiet "${extra[@]}" > "$dir.log" 2>&1
  fi
  rc=$?
  echo "$(date -u +%T) exit $rc $algo $game s$seed load $(cut -d' ' -f1-3 /proc/loadavg)" >> "$ROOT/queue.log"
done
