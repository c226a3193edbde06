#!/usr/bin/env python3
"""Sutton & Barto's bandit figures 2.2-2.6 with `engram train --seeds` (BENCHMARKS.md,
"Tabular RL and dynamic programming"): each curve is one command (printed), whose curves.csv
holds the mean over runs of every pull's `reward` and `optimal_action`.

    python3 bench/bandit_figures.py [--engram ./target/release/engram] [--runs 2000]
                                    [--out /dev/shm/bandit_figures] [--figures 2.3,2.4,2.5,2.6]

Prints, per curve, the mean reward and % optimal action at a few pulls and over pulls 1-1000
(Figure 2.6's measure), and the wall and CPU seconds of the command.
"""

import argparse
import csv
import os
import resource
import shutil
import subprocess
import sys
import time

# Figure 2.6's parameter grids (powers of two), as in the book.
FIG_2_6 = {
    "epsilon-greedy (epsilon)": (range(-7, -1), lambda p: ["--set", f"epsilon={p}"]),
    "gradient bandit (alpha)": (range(-5, 2), lambda p: [
        "--set", "exploration=\"gradient\"", "--set", f"alpha={p}"]),
    "UCB (c)": (range(-4, 3), lambda p: [
        "--set", "exploration=\"ucb\"", "--set", f"ucb_c={p}", "--set", "epsilon=0"]),
    "greedy, optimistic, alpha 0.1 (Q_1)": (range(-2, 3), lambda p: [
        "--set", "epsilon=0", "--set", f"q_init={p}", "--set", "alpha=0.1"]),
}

CURVES = {
    "2.2": [
        ("greedy, sample averages", ["--set", "epsilon=0"]),
        ("epsilon 0.01, sample averages", ["--set", "epsilon=0.01"]),
        ("epsilon 0.1, sample averages", ["--set", "epsilon=0.1"]),
    ],
    "2.3": [
        ("optimistic, greedy: Q_1 = 5, epsilon 0, alpha 0.1",
         ["--set", "q_init=5", "--set", "epsilon=0", "--set", "alpha=0.1"]),
        ("realistic, epsilon-greedy: Q_1 = 0, epsilon 0.1, alpha 0.1",
         ["--set", "epsilon=0.1", "--set", "alpha=0.1"]),
    ],
    "2.4": [
        ("UCB c = 2 (sample averages)",
         ["--set", "exploration=\"ucb\"", "--set", "ucb_c=2", "--set", "epsilon=0"]),
        ("epsilon-greedy epsilon = 0.1 (sample averages)", ["--set", "epsilon=0.1"]),
    ],
    "2.5": [
        (f"gradient, alpha {a}, {'with' if b else 'without'} baseline (q* mean 4)",
         ["--set", "exploration=\"gradient\"", "--set", f"alpha={a}",
          "--set", f"gradient_baseline={'true' if b else 'false'}",
          "--set", "env_options.mean_offset=4"])
        for a in (0.1, 0.4) for b in (True, False)
    ],
}


def run(engram, out, name, args, runs):
    d = os.path.join(out, name)
    shutil.rmtree(d, ignore_errors=True)
    cmd = [engram, "train", "--algo", "bandit", "--env", "Bandit-v0", "--steps", "1000",
           "--seeds", f"0-{runs - 1}", "--out", d, "--quiet"] + args
    print("$ engram " + " ".join(cmd[1:]), file=sys.stderr)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.time()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    wall = time.time() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    with open(os.path.join(d, "curves.csv")) as f:
        rows = list(csv.DictReader(f))
    reward = [float(r["reward_mean"]) for r in rows]
    optimal = [float(r["optimal_action_mean"]) for r in rows]
    return reward, optimal, wall, cpu


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--engram", default="./target/release/engram")
    p.add_argument("--out", default="/dev/shm/bandit_figures")
    p.add_argument("--runs", type=int, default=2000)
    p.add_argument("--figures", default="2.2,2.3,2.4,2.5,2.6")
    p.add_argument("--families", default="",
                   help="Figure 2.6: only the curves whose label contains one of these (comma-separated)")
    a = p.parse_args()
    os.makedirs(a.out, exist_ok=True)
    wanted = a.figures.split(",")
    for fig, curves in CURVES.items():
        if fig not in wanted:
            continue
        print(f"\nFigure {fig} ({a.runs} runs of 1000 pulls)")
        print(f"{'curve':62s} {'pull':>5s} {'reward':>7s} {'optimal':>8s}")
        for i, (label, args) in enumerate(curves):
            reward, optimal, wall, cpu = run(a.engram, a.out, f"fig{fig}_{i}", args, a.runs)
            for t in (1, 10, 11, 100, 1000):
                print(f"{label if t == 1 else '':62s} {t:5d} {reward[t - 1]:7.3f} {100 * optimal[t - 1]:7.1f}%")
            print(f"{'':62s} 1-1000 {sum(reward) / len(reward):6.3f} "
                  f"{100 * sum(optimal) / len(optimal):7.1f}%   ({wall:.1f} s wall, {cpu:.1f} s CPU)")
    if "2.6" in wanted:
        print(f"\nFigure 2.6: mean reward over pulls 1-1000 ({a.runs} runs each)")
        for label, (powers, make) in FIG_2_6.items():
            if a.families and not any(f in label for f in a.families.split(",")):
                continue
            cells = []
            for k in powers:
                try:
                    reward, _, _, _ = run(a.engram, a.out, "fig2.6", make(2.0 ** k), a.runs)
                except subprocess.CalledProcessError:
                    # engram refuses alpha > 1 (the tabular step size's range) for now.
                    cells.append(f"2^{k}: refused")
                    continue
                cells.append(f"2^{k}: {sum(reward) / len(reward):.3f}")
            print(f"  {label}: " + ", ".join(cells))


if __name__ == "__main__":
    main()
