#!/usr/bin/env python3
"""Memory suite: A3C with an LSTM, a GRU and no memory (MLP) on the same tasks and budget,
reporting POPGym's MMER (maximum over training of the 100-episode mean return).

    python3 bench/memory.py --steps 200000 --seeds 0 1

Needs a release build (`cargo build --release -p engram-cli`); Python standard library only.
"""

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ENVS = [
    "popgym-RepeatPreviousEasy-v0",
    "popgym-RepeatFirstEasy-v0",
    "popgym-CountRecallEasy-v0",
    "popgym-AutoencodeEasy-v0",
    "popgym-PositionOnlyCartPoleEasy-v0",
    "CartPoleFlicker-v1",
    "CartPoleNoVel-v1",
    "TMaze-v0",
]


def run(binary, algo, env, policy, seed, steps, extra, tmp):
    out = Path(tmp) / f"{env}_{policy}_{seed}"
    cmd = [binary, "train", "--quiet", "--algo", algo, "--env", env, "--policy", policy, "--seed", str(seed),
           "--steps", str(steps), "--out", str(out), "--set", "eval_interval=0", *extra]
    result = subprocess.run(cmd, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)}: {result.stderr.strip()}")
    return json.loads((out / "summary.json").read_text())


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--algo", default="a3c")
    p.add_argument("--envs", nargs="+", default=ENVS)
    p.add_argument("--policies", nargs="+", default=["lstm", "gru", "mlp"])
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    p.add_argument("--steps", type=int, default=200_000)
    p.add_argument("--binary", default=str(ROOT / "target" / "release" / "engram"))
    p.add_argument("extra", nargs=argparse.REMAINDER, help="-- followed by engram train options")
    args = p.parse_args()
    extra = [a for a in args.extra if a != "--"]
    print(f"`engram train --algo {args.algo} --env ENV --policy P --seed S --steps {args.steps} "
          f"--set eval_interval=0 {' '.join(extra)}`, seeds {args.seeds}\n")
    cols = " | ".join(f"{pol} MMER" for pol in args.policies)
    print(f"| env | {cols} | " + " | ".join(f"{pol} final" for pol in args.policies)
          + " | " + " | ".join(f"{pol} s" for pol in args.policies) + " | " + " | ".join(f"{pol} steps/s" for pol in args.policies) + " |")
    print("|---" * (1 + 4 * len(args.policies)) + "|")
    with tempfile.TemporaryDirectory() as tmp:
        for env in args.envs:
            cells = {k: [] for k in ("mmer", "final", "wall", "sps")}
            for pol in args.policies:
                runs = [run(args.binary, args.algo, env, pol, s, args.steps, extra, tmp) for s in args.seeds]
                fmt = lambda key: " / ".join("-" if r[key] is None else f"{r[key]:.3f}" for r in runs)
                cells["mmer"].append(fmt("max_train_mean_return"))
                cells["final"].append(fmt("final_train_mean_return"))
                cells["wall"].append(f"{statistics.median(r['wall_seconds'] for r in runs):.1f}")
                cells["sps"].append(f"{statistics.median(r['steps_per_second'] for r in runs):,.0f}")
            print(f"| {env} | " + " | ".join(cells["mmer"]) + " | " + " | ".join(cells["final"]) + " | "
                  + " | ".join(cells["wall"]) + " | " + " | ".join(cells["sps"]) + " |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
