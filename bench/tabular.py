#!/usr/bin/env python3
"""Sutton & Barto's dynamic-programming figures and the tabular speed figures, from engram's
run directories (BENCHMARKS.md, "Tabular RL and dynamic programming").

    python3 bench/tabular.py [--engram ./target/release/engram] [--out runs/tabular] [--speed]

Each figure is one `engram train` command (printed), read back from its values.json and
summary.json. --speed adds the Q-learning throughput runs (20M steps each) and value
iteration on Jack's car rental.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys


def train(engram, out, name, args):
    run = os.path.join(out, name)
    shutil.rmtree(run, ignore_errors=True)
    cmd = [engram, "train", "--out", run, "--quiet"] + args
    print("$ " + " ".join(cmd[:1] + ["train"] + args), file=sys.stderr)
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    with open(os.path.join(run, "values.json")) as f:
        values = json.load(f)
    with open(os.path.join(run, "summary.json")) as f:
        summary = json.load(f)
    return values, summary


def grid(values, cols, fmt="{:6.1f}"):
    rows = [values[i:i + cols] for i in range(0, len(values), cols)]
    return "\n".join(" ".join(fmt.format(v) for v in r) for r in rows)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--engram", default="./target/release/engram")
    p.add_argument("--out", default="runs/tabular")
    p.add_argument("--speed", action="store_true")
    p.add_argument("--seeds", type=int, default=0,
                   help="also the multi-seed figures (a loop over seeds until `engram train --seeds`)")
    a = p.parse_args()
    os.makedirs(a.out, exist_ok=True)

    v, s = train(a.engram, a.out, "fig4_1", ["--algo", "policy-evaluation", "--env", "GridWorld4x4-v0"])
    print(f"Figure 4.1, v_pi of the random policy ({s['env_steps']} sweeps, {s['wall_seconds']:.3f} s):")
    print(grid(v["v"], 4))

    v, s = train(a.engram, a.out, "fig3_5", ["--algo", "value-iteration", "--env", "GridWorld5x5-v0"])
    print(f"\nFigure 3.5, v* (gamma 0.9; {s['env_steps']} sweeps):")
    print(grid(v["v"], 5))
    arrows = "^>v<"
    print("greedy policy (ties to the lowest action: up, right, down, left):")
    print(grid([arrows[x] for x in v["policy"]], 5, "{}"))

    v, s = train(a.engram, a.out, "fig4_2", ["--algo", "policy-iteration", "--env", "JacksCarRental-v0"])
    print(f"\nFigure 4.2, Jack's final policy (policy iteration, {s['env_steps']} evaluation sweeps, "
          f"{s['wall_seconds']:.2f} s). Rows: cars at the first location 20 (top) .. 0; "
          "columns: cars at the second location 0 .. 20; cars moved from the first to the second:")
    policy = v["policy"]
    for n1 in range(20, -1, -1):
        print(f"{n1:2d} | " + " ".join(f"{policy[n1 * 21 + n2]:2d}" for n2 in range(21)))
    print(f"v(20, 20) = {v['v'][440]:.2f}, v(0, 0) = {v['v'][0]:.2f}, max {max(v['v']):.2f}, min {min(v['v']):.2f}")

    for p_h in ["0.4", "0.25", "0.55"]:
        v, s = train(a.engram, a.out, f"fig4_3_{p_h}", [
            "--algo", "value-iteration", "--env", "GamblersProblem-v0",
            "--set", f"env_options.p_h={p_h}", "--set", "theta=1e-12"])
        print(f"\nFigure 4.3 (p_h = {p_h}; {s['env_steps']} sweeps): v* at capital 1, 25, 50, 75, 99 = "
              + ", ".join(f"{v['v'][c]:.6f}" for c in [1, 25, 50, 75, 99]))
        print("stake by capital 1..99 (ties within 1e-9 to the smallest stake):")
        stakes = v["policy"][1:100]
        print(" ".join(str(x) for x in stakes))

    if a.speed:
        print()
        for env, steps in [("FrozenLake8x8-v1", 20_000_000), ("Taxi-v3", 20_000_000)]:
            _, s = train(a.engram, a.out, f"speed_{env}", [
                "--algo", "q-learning", "--env", env, "--steps", str(steps),
                "--set", "eval_interval=0", "--set", "log_interval=1000000",
                "--set", "checkpoint_interval=100000000"])
            print(f"Q-learning on {env}: {steps} updates in {s['wall_seconds']:.2f} s = "
                  f"{s['steps_per_second'] / 1e6:.1f}M updates/s")
        for algo in ["value-iteration", "policy-iteration"]:
            _, s = train(a.engram, a.out, f"speed_jack_{algo}", [
                "--algo", algo, "--env", "JacksCarRental-v0", "--set", "checkpoint_interval=1000000"])
            print(f"{algo} on JacksCarRental-v0 (theta 1e-10): {s['env_steps']} sweeps, "
                  f"{s['wall_seconds']:.2f} s")

    if a.seeds:
        seeded_figures(a)


def metrics_rows(run):
    with open(os.path.join(run, "metrics.csv")) as f:
        lines = f.read().splitlines()
    header = lines[0].split(",")
    return header, [[float(x) if x else float("nan") for x in l.split(",")] for l in lines[1:]]


def seeded_figures(a):
    n = a.seeds
    mean = lambda xs: sum(xs) / len(xs)
    print(f"\nFigure 2.2 ({n} runs of 1000 pulls, sample averages; mean over runs of pulls 901-1000):")
    for eps in ["0", "0.01", "0.1"]:
        rewards, optimal = [], []
        for seed in range(n):
            train(a.engram, a.out, "bandit", ["--algo", "bandit", "--env", "Bandit-v0", "--seed", str(seed),
                                               "--set", f"epsilon={eps}"])
            header, rows = metrics_rows(os.path.join(a.out, "bandit"))
            r, o = header.index("reward"), header.index("optimal_action")
            rewards.append(mean([row[r] for row in rows[900:]]))
            optimal.append(mean([row[o] for row in rows[900:]]))
        print(f"  epsilon {eps:>4}: average reward {mean(rewards):.3f}, optimal action {100 * mean(optimal):.1f}%")
    print(f"\nFigure 6.4 ({n} runs of 20,000 steps, alpha 0.5, epsilon 0.1; mean return of the last 100 "
          "training episodes, exploration included):")
    for algo in ["sarsa", "q-learning"]:
        finals, episodes = [], []
        for seed in range(n):
            _, s = train(a.engram, a.out, algo, ["--algo", algo, "--env", "CliffWalking-v1", "--seed", str(seed),
                                                 "--steps", "20000", "--set", "alpha=0.5"])
            finals.append(s["final_train_mean_return"])
            episodes.append(s["episodes"])
        print(f"  {algo:>10}: {mean(finals):.1f} (episodes {mean(episodes):.0f})")
    print(f"\nFigure 8.2 ({n} runs of DynaMaze-v0, 3000 steps; episodes finished, more = faster learning):")
    for planning in [0, 5, 50]:
        episodes = []
        for seed in range(n):
            _, s = train(a.engram, a.out, "dyna", ["--algo", "dyna-q", "--env", "DynaMaze-v0", "--seed", str(seed),
                                                   "--steps", "3000", "--set", f"planning_steps={planning}"])
            episodes.append(s["episodes"])
        print(f"  n = {planning:>2}: {mean(episodes):.1f} episodes")


if __name__ == "__main__":
    main()
