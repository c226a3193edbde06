#!/usr/bin/env python3
"""Learning benchmarks: trains engram on an environment for several seeds and prints a
markdown table of the summaries (wall time and steps to the reward threshold, throughput,
final 100-episode training mean, best greedy evaluation).

    python3 bench/learning.py --algo a3c --env CartPole-v1 --seeds 0 1 2 3 4 -- --set stop_at_threshold=true

Everything after `--` is passed to `engram train`. Needs a release build
(`cargo build --release -p engram`); uses only the Python standard library.
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
            rows.append(json.loads((out / "summary.json").read_text()))
    if not rows:
        return 1

    def fmt(v, spec):
        return "-" if v is None else format(v, spec)

    print(f"\n{label}: `engram train --algo {args.algo} --env {args.env} --seed S {' '.join(extra)}`\n")
    print("| seed | solved | seconds to threshold | steps to threshold | env steps | wall s | steps/s | train mean(100) | best eval |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['seed']} | {'yes' if r['solved'] else 'no'} | {fmt(r['seconds_to_threshold'], '.2f')} "
              f"| {fmt(r['steps_to_threshold'], ',')} | {r['env_steps']:,} | {r['wall_seconds']:.2f} "
              f"| {r['steps_per_second']:,.0f} | {fmt(r['final_train_mean_return'], '.1f')} "
              f"| {fmt(r['best_eval_mean'], '.1f')} |")
    solved = [r for r in rows if r["solved"]]
    sps = [r["steps_per_second"] for r in rows]
    print(f"\nsolved {len(solved)}/{len(rows)}", end="")
    if solved:
        print(f"; median seconds to threshold {statistics.median(r['seconds_to_threshold'] for r in solved):.2f}"
              f", median steps {statistics.median(r['steps_to_threshold'] for r in solved):,.0f}", end="")
    print(f"; median steps/s {statistics.median(sps):,.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
