#!/usr/bin/env python3
"""Recurrent DQN (r2d2 with an LSTM, a GRU, and the same agent without memory) against
engram's PPO-LSTM on memory tasks at one env-step budget: MMER (max 100-episode mean return),
final 100-episode mean, wall seconds, steps/s, and the first env step at which each agent's
100-episode mean reached PPO-LSTM's final mean.

    python3 bench/r2d2_memory.py --steps 100000 --seeds 0 --out /tmp/r2d2runs -- --set sequence_length=40

Run directories stay under --out (metrics.csv has the curves). Needs a release build.
"""

import argparse
import csv
import json
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ENVS = [
    "popgym-RepeatPreviousEasy-v0",
    "popgym-PositionOnlyCartPoleEasy-v0",
    "CartPoleFlicker-v1",
    "CartPoleNoVel-v1",
    "TMaze-v0",
]
AGENTS = [("ppo", "lstm"), ("r2d2", "lstm"), ("r2d2", "gru"), ("r2d2", "mlp")]


def run(binary, algo, policy, env, seed, steps, extra, out):
    d = out / f"{env}_{algo}_{policy}_s{seed}"
    summary = d / "summary.json"
    # An interrupted run (Ctrl-C, a kill) is run again; only a finished budget counts.
    if not summary.exists() or json.loads(summary.read_text()).get("stop_reason") != "budget":
        shutil.rmtree(d, ignore_errors=True)
        cmd = [binary, "train", "--quiet", "--algo", algo, "--env", env, "--policy", policy,
               "--seed", str(seed), "--steps", str(steps), "--out", str(d), "--set", "eval_interval=0"]
        if algo == "r2d2":
            cmd += extra
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)}: {r.stderr.strip()}")
    return d, json.loads((d / "summary.json").read_text())


def steps_to(d, level):
    with open(d / "metrics.csv") as f:
        for row in csv.DictReader(f):
            try:
                if float(row["mean_return"]) >= level:
                    return int(float(row["env_steps"]))
            except (ValueError, KeyError):
                pass
    return None


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--envs", nargs="+", default=ENVS)
    p.add_argument("--seeds", type=int, nargs="+", default=[0])
    p.add_argument("--steps", type=int, default=100_000)
    p.add_argument("--out", default="/tmp/r2d2runs")
    p.add_argument("--agents", nargs="+", default=[f"{a}-{b}" for a, b in AGENTS])
    p.add_argument("--binary", default=str(ROOT / "target" / "release" / "engram"))
    p.add_argument("extra", nargs=argparse.REMAINDER, help="-- then r2d2 options (--set k=v)")
    a = p.parse_args()
    extra = [x for x in a.extra if x != "--"]
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    agents = [tuple(x.split("-", 1)) for x in a.agents]
    print(f"steps {a.steps}, seeds {a.seeds}, r2d2 options: {' '.join(extra)}\n")
    print("| env | agent | MMER | final | steps to PPO-LSTM's final | wall s | steps/s |")
    print("|---|---|---|---|---|---|---|")
    for env in a.envs:
        ppo_final = {}
        for algo, policy in agents:
            for seed in a.seeds:
                d, s = run(a.binary, algo, policy, env, seed, a.steps, extra, out)
                if (algo, policy) == ("ppo", "lstm"):
                    ppo_final[seed] = s["final_train_mean_return"]
                level = ppo_final.get(seed)
                reach = steps_to(d, level) if level is not None else None
                fmt = lambda v: "-" if v is None else f"{v:.3f}"
                print(f"| {env} | {algo}-{policy} s{seed} | {fmt(s['max_train_mean_return'])} | "
                      f"{fmt(s['final_train_mean_return'])} | {'-' if reach is None else f'{reach:,}'} | "
                      f"{s['wall_seconds']:.1f} | {s['steps_per_second']:,.0f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
