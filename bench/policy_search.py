#!/usr/bin/env python3
"""Policy search on CartPole-v1 (BENCHMARKS.md, "Policy search: CEM, ES, CMA-ES"): for each
algorithm and seed, env steps and wall seconds until (a) the first greedy evaluation of the
search distribution's mean scores 500 over 10 episodes (evaluations every 2,000 steps) and
(b) the 100-episode training mean (the candidates' own episodes) reaches the threshold 475.

    python3 bench/policy_search.py --algos cem es cmaes --seeds 0 1 2 3 4
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
    args = ap.parse_args()
    print("| algo | seed | steps to eval 500 | s to eval 500 | steps to train mean 475 | s to 475 | CPU s |")
    print("|---|---|---|---|---|---|---|")
    for algo in args.algos:
        rows = []
        for seed in args.seeds:
            with tempfile.TemporaryDirectory() as tmp:
                out = Path(tmp) / "run"
                cmd = [args.binary, "train", "--env", args.env, "--algo", algo, "--seed", str(seed),
                       "--out", str(out), "--steps", str(args.steps), "--set", "stop_at_threshold=true",
                       "--set", "eval_interval=2000", "--set", "eval_episodes=10"]
                for s in args.set:
                    cmd += ["--set", s]
                before = time_children()
                subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                cpu = time_children() - before
                summary = json.loads((out / "summary.json").read_text())
                first = None
                with open(out / "evals.csv") as f:
                    for row in csv.DictReader(f):
                        if float(row["mean_return"]) >= 500.0:
                            first = (int(row["env_steps"]), float(row["wall_seconds"]))
                            break
                rows.append((first, summary.get("steps_to_threshold"), summary.get("seconds_to_threshold"), cpu))
                f_steps, f_secs = first if first else ("-", "-")
                print(f"| {algo} | {seed} | {f_steps} | {fmt(f_secs)} | {summary.get('steps_to_threshold') or '-'} "
                      f"| {fmt(summary.get('seconds_to_threshold'))} | {cpu:.2f} |", flush=True)
        firsts = [r[0][0] for r in rows if r[0]]
        thresholds = [r[1] for r in rows if r[1]]
        print(f"| {algo} | median | {med(firsts)} | {med([r[0][1] for r in rows if r[0]], True)} "
              f"| {med(thresholds)} | {med([r[2] for r in rows if r[2]], True)} | {med([r[3] for r in rows], True)} |")


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
