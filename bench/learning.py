#!/usr/bin/env python3
"""Learning benchmarks: trains engram on an environment for several seeds and prints a
markdown table of the summaries (wall time and steps to the reward threshold, throughput,
final 100-episode training mean, best greedy evaluation).

    python3 bench/learning.py --algo a3c --env CartPole-v1 --seeds 0 1 2 3 4 -- --set stop_at_threshold=true
    python3 bench/learning.py --algo ppo --env Pendulum-v1 --final-eval 50 --goal -172.2

`--final-eval N` also plays N greedy episodes with each run's final parameters
(`engram eval RUN --latest --episodes N`: the same initial states for every run, and the same
as `bench/sb3_zoo.py --episodes N`), and `--goal` counts the runs whose mean reached it (the
rl-zoo score to match). `--checkpoint best` plays the best checkpoint of the run's periodic
evaluations instead; give it `--eval-seed` other than the training seeds' so that the
episodes it is judged on are not the ones it was selected on.

Everything after `--` is passed to `engram train`. Needs a release build
(`cargo build --release -p engram-cli`); uses only the Python standard library.
"""

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--algo", default="a3c")
    parser.add_argument("--env", default="CartPole-v1")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--binary", default=str(ROOT / "target" / "release" / "engram"))
    parser.add_argument("--label", default=None, help="name of the row group (default: algo/env)")
    parser.add_argument("--final-eval", type=int, default=0, metavar="N",
                        help="greedy episodes with the final parameters after each run")
    parser.add_argument("--goal", type=float, default=None, help="final-eval mean to reach")
    parser.add_argument("--checkpoint", choices=["latest", "best"], default="latest",
                        help="which checkpoint --final-eval plays: the final parameters, or the "
                             "best of the periodic evaluations")
    parser.add_argument("--eval-seed", type=int, default=0,
                        help="base seed of --final-eval's initial states (engram eval --seed)")
    parser.add_argument("extra", nargs=argparse.REMAINDER, help="-- followed by engram train options")
    args = parser.parse_args()
    extra = [a for a in args.extra if a != "--"]
    label = args.label or f"{args.algo} {args.env}"
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for seed in args.seeds:
            out = Path(tmp) / f"s{seed}"
            cmd = [args.binary, "train", "--quiet", "--algo", args.algo, "--env", args.env,
                   "--seed", str(seed), "--out", str(out), *extra]
            result = subprocess.run(cmd, capture_output=True, text=True)
            if result.returncode != 0:
                print(f"seed {seed} failed: {result.stderr.strip()}", file=sys.stderr)
                continue
            row = json.loads((out / "summary.json").read_text())
            row["final_eval"] = None
            if args.final_eval > 0:
                which = ["--latest"] if args.checkpoint == "latest" else []
                ev = subprocess.run([args.binary, "eval", str(out), *which, "--episodes",
                                     str(args.final_eval), "--seed", str(args.eval_seed), "--json"],
                                    capture_output=True, text=True)
                if ev.returncode != 0:
                    print(f"seed {seed} eval failed: {ev.stderr.strip()}", file=sys.stderr)
                else:
                    row["final_eval"] = json.loads(ev.stdout)["mean_return"]
            rows.append(row)
    if not rows:
        return 1

    def fmt(v, spec):
        return "-" if v is None else format(v, spec)

    print(f"\n{label}: `engram train --algo {args.algo} --env {args.env} --seed S {' '.join(extra)}`\n")
    final = f" {args.checkpoint} eval ({args.final_eval} eps) |" if args.final_eval else ""
    print("| seed | solved | seconds to threshold | steps to threshold | env steps | wall s | steps/s "
          f"| train mean(100) | best eval |{final}")
    print("|---|---|---|---|---|---|---|---|---|" + ("---|" if final else ""))
    for r in rows:
        final_cell = f" {fmt(r['final_eval'], '.1f')} |" if final else ""
        print(f"| {r['seed']} | {'yes' if r['solved'] else 'no'} | {fmt(r['seconds_to_threshold'], '.2f')} "
              f"| {fmt(r['steps_to_threshold'], ',')} | {r['env_steps']:,} | {r['wall_seconds']:.2f} "
              f"| {r['steps_per_second']:,.0f} | {fmt(r['final_train_mean_return'], '.1f')} "
              f"| {fmt(r['best_eval_mean'], '.1f')} |{final_cell}")
    solved = [r for r in rows if r["solved"]]
    sps = [r["steps_per_second"] for r in rows]
    print(f"\nsolved {len(solved)}/{len(rows)}", end="")
    if solved:
        print(f"; median seconds to threshold {statistics.median(r['seconds_to_threshold'] for r in solved):.2f}"
              f", median steps {statistics.median(r['steps_to_threshold'] for r in solved):,.0f}", end="")
    print(f"; median steps/s {statistics.median(sps):,.0f}", end="")
    print(f"; median wall s {statistics.median(r['wall_seconds'] for r in rows):.2f}", end="")
    finals = [r["final_eval"] for r in rows if r["final_eval"] is not None]
    if finals:
        print(f"; final eval median {statistics.median(finals):.1f}, mean {statistics.mean(finals):.1f}", end="")
        if args.goal is not None:
            print(f", {sum(f >= args.goal for f in finals)}/{len(finals)} reached {args.goal}", end="")
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
