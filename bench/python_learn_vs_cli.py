#!/usr/bin/env python3
"""engram.PPO/A2C(...).learn() against `engram train` on the same config: wall time and final training return (3 repeats).

    cargo build --release -p engram-cli && target/pyvenv/bin/python bench/python_learn_vs_cli.py
"""
import json, subprocess, sys, time, tempfile, os, engram
CLI = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "target", "release", "engram")
rows = []
for rep in range(3):
    for algo, steps in [("ppo", 100_000), ("a2c", 200_000)]:
        d = tempfile.mkdtemp()
        t = time.perf_counter()
        subprocess.run([CLI, "train", "--algo", algo, "--env", "CartPole-v1", "--steps", str(steps), "--seed", "0", "--quiet", "--out", d + "/cli", "--policy", "mlp"], check=True)
        cli = time.perf_counter() - t
        cli_s = json.load(open(d + "/cli/summary.json"))
        t = time.perf_counter()
        m = getattr(engram, algo.upper())("MlpPolicy", "CartPole-v1", seed=0, run_dir=d + "/py")
        m.learn(steps)
        py = time.perf_counter() - t
        rows.append((algo, rep, cli, py, cli_s["final_train_mean_return"], m.summary["final_train_mean_return"]))
        print(algo, rep, f"cli {cli:.2f}s py {py:.2f}s ratio {py/cli:.3f}", cli_s["final_train_mean_return"], m.summary["final_train_mean_return"], flush=True)
