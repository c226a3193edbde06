#!/usr/bin/env python3
"""Prints the MinAtar 5M-frame table of bench/minatar_table.sh: ROOT/{algo}/{game}_s{seed}."""
import json, os, re, statistics, glob
import sys
ROOT = sys.argv[1] if len(sys.argv) > 1 else "runs/minatar"
DQN_PAPER = {"Asterix": 17, "Breakout": 10, "Freeway": 50, "Seaquest": 20, "SpaceInvaders": 43}
GAMES = ["Asterix", "Breakout", "Freeway", "Seaquest", "SpaceInvaders"]
def cpu(path):
    try:
        t = open(path).read()
    except OSError:
        return None
    u = sum(float(x) for x in re.findall(r"User time \(seconds\): ([0-9.]+)", t))
    s = sum(float(x) for x in re.findall(r"System time \(seconds\): ([0-9.]+)", t))
    return u + s
print("| game | agent | seeds done | final 100-episode mean per seed | mean | MMER mean | DQN (paper, 5M) | CPU s per run | wall s per run |")
print("|---|---|---|---|---|---|---|---|---|")
for g in GAMES:
    for algo in ["a3c", "ppo", "dqn"]:
        rows = []
        for d in sorted(glob.glob(f"{ROOT}/{algo}/{g}_s*")):
            if not os.path.isdir(d): continue
            try:
                s = json.load(open(f"{d}/summary.json"))
            except (OSError, ValueError):
                continue
            if s.get("stop_reason") != "budget": continue
            rows.append((s["seed"], s["final_train_mean_return"], s["max_train_mean_return"], cpu(d + ".time"), s["wall_seconds"]))
        if not rows: continue
        fin = [r[1] for r in rows]
        print(f"| {g} | {algo} | {len(rows)} | {', '.join(f'{x:.1f}' for x in fin)} | **{statistics.mean(fin):.1f}** | {statistics.mean(r[2] for r in rows):.1f} | {DQN_PAPER[g]} | {', '.join(f'{r[3]:.0f}' for r in rows if r[3])} | {', '.join(f'{r[4]:.0f}' for r in rows)} |")
