#!/usr/bin/env python3
"""Python MinAtar's stepping speed, for BENCHMARKS.md's MinAtar table (engram's side:
`engram bench env_minatar_breakout_single`).

    python bench/minatar_python_speed.py [--env MinAtar/Breakout-v1] [--seconds 5]

`gymnasium.make` of MinAtar 1.0.15's registration, uniformly random actions (drawn ahead of
time), `env.reset()` at every episode end; prints steps per second.
"""

import argparse
import time

import gymnasium as gym
import numpy as np
from minatar import gym as minatar_gym


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--env", default="MinAtar/Breakout-v1")
    ap.add_argument("--seconds", type=float, default=5.0)
    args = ap.parse_args()
    minatar_gym.register_envs()
    env = gym.make(args.env)
    env.reset(seed=0)
    actions = np.random.default_rng(0).integers(0, env.action_space.n, 1000)
    start, steps = time.perf_counter(), 0
    while time.perf_counter() - start < args.seconds:
        for a in actions:
            _, _, terminated, truncated, _ = env.step(int(a))
            if terminated or truncated:
                env.reset()
        steps += len(actions)
    print(f"{args.env}: {steps / (time.perf_counter() - start):.0f} steps/s")


if __name__ == "__main__":
    main()
