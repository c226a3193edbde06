#!/usr/bin/env python3
"""Sutton & Barto Example 6.2 (TD vs constant-alpha MC on the 5-state random walk) with
`engram train` (BENCHMARKS.md, "Tabular RL and dynamic programming"). Each curve is one
command (printed); `rms_error` is the metric td0 and mc prediction log after every episode:
the RMS error of V against the exact v_pi (a linear solve of RandomWalk-v0's model) over the
five states.

    python3 bench/random_walk_figure.py [--engram ./target/release/engram] [--runs 100]
                                        [--out /dev/shm/random_walk_figure]

Left panel: TD(0)'s values (alpha 0.1, seed 0) after 0, 1, 10 and 100 episodes. Right panel:
the RMS error averaged over `--runs` runs, per episode, for TD alpha 0.05/0.1/0.15 and MC
alpha 0.01/0.02/0.03/0.04 (every-visit, the book's equation 6.1), all from V = 0.5.
"""

import argparse
import csv
import json
import math
import os
import resource
import shutil
import subprocess
import sys
import time

TRUE_V = [k / 6 for k in range(1, 6)]
# At V = 0.5 everywhere (episode 0): sqrt(mean((0.5 - k/6)^2)) = sqrt(1/18).
RMS_AT_0 = math.sqrt(sum((0.5 - v) ** 2 for v in TRUE_V) / 5)
CURVES = [("td0", a) for a in (0.05, 0.1, 0.15)] + [("mc", a) for a in (0.01, 0.02, 0.03, 0.04)]
# Read off the book's Figure (Example 6.2, right), +-0.01.
BOOK_AT_100 = {("td0", 0.05): 0.06, ("td0", 0.1): 0.07, ("td0", 0.15): 0.09,
               ("mc", 0.01): 0.12, ("mc", 0.02): 0.10, ("mc", 0.03): 0.11, ("mc", 0.04): 0.12}


def engram_cmd(engram, algo, alpha, episodes, out, seeds=None):
    cmd = [engram, "train", "--algo", algo, "--env", "RandomWalk-v0",
           "--episodes", str(episodes), "--steps", "1000000", "--out", out, "--quiet",
           "--set", f"alpha={alpha}", "--set", "v_init=0.5", "--set", "log_interval=1",
           "--set", "eval_interval=0", "--set", "checkpoint_interval=1000000"]
    if algo == "mc":
        # Every-visit: the book's constant-alpha MC (equation 6.1 "every-visit").
        cmd += ["--set", 'mode="prediction"', "--set", "first_visit=false"]
    if seeds:
        cmd += ["--seeds", seeds]
    return cmd


def timed(cmd):
    print("$ engram " + " ".join(cmd[1:]), file=sys.stderr)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.time()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return time.time() - t0, cpu


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--engram", default="./target/release/engram")
    p.add_argument("--out", default="/dev/shm/random_walk_figure")
    p.add_argument("--runs", type=int, default=100)
    a = p.parse_args()
    os.makedirs(a.out, exist_ok=True)

    print("Left panel: TD(0) alpha 0.1, seed 0; V(A..E)")
    print(f"  {'episodes':>8}  " + "  ".join(f"{s:>6}" for s in "ABCDE"))
    print(f"  {0:>8}  " + "  ".join(f"{0.5:6.3f}" for _ in range(5)))
    for episodes in (1, 10, 100):
        d = os.path.join(a.out, f"left_{episodes}")
        shutil.rmtree(d, ignore_errors=True)
        timed(engram_cmd(a.engram, "td0", 0.1, episodes, d) + ["--seed", "0"])
        with open(os.path.join(d, "values.json")) as f:
            v = json.load(f)["v"][1:6]
        print(f"  {episodes:>8}  " + "  ".join(f"{x:6.3f}" for x in v))
    print(f"  {'true':>8}  " + "  ".join(f"{x:6.3f}" for x in TRUE_V))

    print(f"\nRight panel: RMS error over A-E averaged over {a.runs} runs "
          f"(episode 0: {RMS_AT_0:.3f} for all)")
    print(f"  {'method':<16} {'ep 1':>6} {'ep 10':>6} {'ep 25':>6} {'ep 50':>6} {'ep 100':>7}"
          f" {'+-se':>6} {'book@100':>8} {'wall s':>7} {'cpu s':>6}")
    for algo, alpha in CURVES:
        d = os.path.join(a.out, f"{algo}_{alpha}")
        shutil.rmtree(d, ignore_errors=True)
        wall, cpu = timed(engram_cmd(a.engram, algo, alpha, 100, d, f"0-{a.runs - 1}"))
        with open(os.path.join(d, "curves.csv")) as f:
            rows = {int(r["episode"]): r for r in csv.DictReader(f)}
        at = lambda k: float(rows[k]["rms_error_mean"])
        se = float(rows[100]["rms_error_stderr"] or "nan")
        name = f"{'TD' if algo == 'td0' else 'MC'} alpha {alpha}"
        print(f"  {name:<16} {at(1):6.3f} {at(10):6.3f} {at(25):6.3f} {at(50):6.3f} {at(100):7.3f}"
              f" {se:6.3f} {BOOK_AT_100[(algo, alpha)]:8.2f} {wall:7.1f} {cpu:6.1f}")


if __name__ == "__main__":
    main()
