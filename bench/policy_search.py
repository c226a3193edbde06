#!/usr/bin/env python3
"""Policy search (BENCHMARKS.md, "Policy search: CEM, ES, CMA-ES"): for each algorithm and
seed, env steps and wall seconds until (a) the first greedy evaluation of the search
distribution's mean scores `--target` over 10 episodes (evaluations every `--eval-interval`
steps; CartPole: 500) and (b) the 100-episode training mean (the candidates' own episodes)
reaches the environment's threshold (CartPole 475; none for Pendulum and Acrobot).

    python3 bench/policy_search.py --algos cem es cmaes --seeds 0 1 2 3 4
    python3 bench/policy_search.py --env Acrobot-v1 --target -82.9 --steps 1000000 --no-stop
    python3 bench/policy_search.py --env Pendulum-v1 --target -212.5 --steps 3000000 --no-stop
    python3 bench/policy_search.py --algos es --seeds 0 1 2 --set workers=1   # core scaling

Everything after `--set` pairs is passed to `engram train --set`. Needs a release build.
"""
import argparse
import csv
import json
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--algos", nargs="+", default=["cem", "es", "cmaes"])
    ap.add_argument("--env", default="CartPole-v1")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    ap.add_argument("--binary", default=str(ROOT / "target" / "release" / "engram"))
    ap.add_argument("--set", action="append", default=[], help="key=value for engram train")
    ap.add_argument("--steps", type=int, default=3_000_000)
    ap.add_argument("--target", type=float, default=500.0, help="greedy evaluation score to reach")
    ap.add_argument("--eval-interval", type=int, default=2000)
    ap.add_argument("--no-stop", action="store_true",
                    help="run the whole --steps budget (no stop at the training threshold)")
    args = ap.parse_args()
    t = f"{args.target:g}"
    print(f"{args.env}: | algo | seed | steps to eval {t} | s to eval {t} | steps to train threshold "
          f"| s to threshold | CPU s | best eval |")
    print("|---|---|---|---|---|---|---|")
    for algo in args.algos:
        rows = []
        for seed in args.seeds:
            with tempfile.TemporaryDirectory() as tmp:
                out = Path(tmp) / "run"
                cmd = [args.binary, "train", "--env", args.env, "--algo", algo, "--seed", str(seed),
                       "--out", str(out), "--steps", str(args.steps), "--set", f"stop_at_threshold={str(not args.no_stop).lower()}",
                       "--set", f"eval_interval={args.eval_interval}", "--set", "eval_episodes=10"]
                for s in args.set:
                    cmd += ["--set", s]
                before = time_children()
                subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                cpu = time_children() - before
                summary = json.loads((out / "summary.json").read_text())
                first, best = None, float("-inf")
                with open(out / "evals.csv") as f:
                    for row in csv.DictReader(f):
                        best = max(best, float(row["mean_return"]))
                        if first is None and float(row["mean_return"]) >= args.target:
                            first = (int(row["env_steps"]), float(row["wall_seconds"]))
                rows.append((first, summary.get("steps_to_threshold"), summary.get("seconds_to_threshold"), cpu))
                f_steps, f_secs = first if first else ("-", "-")
                print(f"| {algo} | {seed} | {f_steps} | {fmt(f_secs)} | {summary.get('steps_to_threshold') or '-'} "
                      f"| {fmt(summary.get('seconds_to_threshold'))} | {cpu:.2f} | {best:.1f} |", flush=True)
        firsts = [r[0][0] for r in rows if r[0]]
        thresholds = [r[1] for r in rows if r[1]]
        print(f"| {algo} | median | {med(firsts)} | {med([r[0][1] for r in rows if r[0]], True)} "
              f"| {med(thresholds)} | {med([r[2] for r in rows if r[2]], True)} | {med([r[3] for r in rows], True)} | {len(firsts)}/{len(rows)} reached |")


def time_children():
    import resource
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def fmt(v):
    return "-" if v in (None, "-") else f"{float(v):.2f}"


def med(values, seconds=False):
    if not values:
        return "-"
    m = statistics.median(values)
    return f"{m:.2f}" if seconds else f"{int(m)}"


if __name__ == "__main__":
    main()
