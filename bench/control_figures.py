#!/usr/bin/env python3
"""Sutton & Barto Figure 6.4 (cliff walking: Sarsa vs Q-learning online return) and Figure 8.2
(Dyna maze: steps per episode for n = 0, 5, 50 planning steps) with `engram train --seeds`
(BENCHMARKS.md, "Tabular RL and dynamic programming"). Each curve is one command (printed);
with an episode budget curves.csv has one row per episode: `return_mean`, `length_mean`.

    python3 bench/control_figures.py [--engram ./target/release/engram] [--runs 100]
                                     [--out /dev/shm/control_figures]
"""

import argparse
import csv
import os
import resource
import shutil
import subprocess
import sys
import time


def curve(engram, out, name, algo, env, episodes, runs, sets):
    d = os.path.join(out, name)
    shutil.rmtree(d, ignore_errors=True)
    cmd = [engram, "train", "--algo", algo, "--env", env, "--episodes", str(episodes),
           "--steps", "100000000", "--seeds", f"0-{runs - 1}", "--out", d, "--quiet",
           "--set", "log_interval=1", "--set", "eval_interval=0",
           "--set", "checkpoint_interval=100000000"]
    for s in sets:
        cmd += ["--set", s]
    print("$ engram " + " ".join(cmd[1:]), file=sys.stderr)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.time()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    with open(os.path.join(d, "curves.csv")) as f:
        rows = {int(r["episode"]): r for r in csv.DictReader(f)}
    return rows, time.time() - t0, cpu


def mean(rows, column, lo, hi):
    xs = [float(rows[k][column]) for k in range(lo, hi + 1)]
    return sum(xs) / len(xs)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--engram", default="./target/release/engram")
    p.add_argument("--out", default="/dev/shm/control_figures")
    p.add_argument("--runs", type=int, default=100)
    a = p.parse_args()
    os.makedirs(a.out, exist_ok=True)

    print(f"Figure 6.4: cliff walking, alpha 0.5, epsilon 0.1, {a.runs} runs; "
          "mean sum of rewards per episode")
    print(f"  {'method':<11} {'ep 1-10':>8} {'11-50':>7} {'51-100':>7} {'101-500':>8} "
          f"{'451-500':>8} {'wall s':>7} {'cpu s':>6}")
    for algo in ("sarsa", "q-learning"):
        rows, wall, cpu = curve(a.engram, a.out, f"fig6_4_{algo}", algo, "CliffWalking-v1",
                                500, a.runs, ["alpha=0.5", "epsilon=0.1", "gamma=1.0"])
        print(f"  {algo:<11} {mean(rows, 'return_mean', 1, 10):8.1f} "
              f"{mean(rows, 'return_mean', 11, 50):7.1f} {mean(rows, 'return_mean', 51, 100):7.1f} "
              f"{mean(rows, 'return_mean', 101, 500):8.1f} {mean(rows, 'return_mean', 451, 500):8.1f} "
              f"{wall:7.1f} {cpu:6.1f}")

    runs = min(a.runs, 30)
    print(f"\nFigure 8.2: Dyna maze, alpha 0.1, epsilon 0.1, gamma 0.95, {runs} runs; "
          "steps per episode")
    eps = (1, 2, 3, 5, 10, 20, 30, 50)
    print(f"  {'n':>3} " + " ".join(f"{'ep ' + str(k):>7}" for k in eps) + f" {'wall s':>7} {'cpu s':>6}")
    for n in (0, 5, 50):
        rows, wall, cpu = curve(a.engram, a.out, f"fig8_2_n{n}", "dyna-q", "DynaMaze-v0", 50,
                                runs, [f"planning_steps={n}", "alpha=0.1", "epsilon=0.1",
                                       "gamma=0.95", "kappa=0"])
        print(f"  {n:>3} " + " ".join(f"{float(rows[k]['length_mean']):7.1f}" for k in eps)
              + f" {wall:7.1f} {cpu:6.1f}")


if __name__ == "__main__":
    main()
