#!/usr/bin/env python3
"""engram's environments from Python against Gymnasium's own, in the same process.

    target/pyvenv/bin/python bench/python_envs.py [--steps N]

Prints steps/s of `engram.make_vec(id, 64)` and `gymnasium.vector.SyncVectorEnv` of 64
`gymnasium.make(id)` (random actions drawn beforehand, next-step autoreset in both), and the
per-step time of one environment (`engram.make` vs `gymnasium.make`). Needs the package built
(`scripts/test.sh` does it, or `maturin develop --release`).
"""

import argparse
import time

import gymnasium as gym
import numpy as np

import engram


def vector_steps_per_second(envs, n, steps, seed=0):
    rng = np.random.default_rng(seed)
    actions = [envs.action_space.sample() for _ in range(64)]
    envs.reset(seed=seed)
    start = time.perf_counter()
    for i in range(steps):
        envs.step(actions[i % 64])
    return steps * n / (time.perf_counter() - start)


def single_step_us(env, steps, seed=0):
    env.action_space.seed(seed)
    actions = [env.action_space.sample() for _ in range(256)]
    env.reset(seed=seed)
    start = time.perf_counter()
    for i in range(steps):
        _, _, terminated, truncated, _ = env.step(actions[i % 256])
        if terminated or truncated:
            env.reset()
    return (time.perf_counter() - start) / steps * 1e6


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--num-envs", type=int, default=64)
    args = parser.parse_args()
    n = args.num_envs
    print("| env | engram.make_vec steps/s | gymnasium SyncVectorEnv steps/s | ratio | engram.make step us | gymnasium.make step us | ratio |")
    print("|---|---|---|---|---|---|---|")
    for env_id in ["CartPole-v1", "Acrobot-v1", "Pendulum-v1", "FrozenLake-v1"]:
        ours = vector_steps_per_second(engram.make_vec(env_id, n), n, args.steps)
        theirs = vector_steps_per_second(
            gym.vector.SyncVectorEnv([lambda: gym.make(env_id) for _ in range(n)]), n, args.steps
        )
        one_ours = single_step_us(engram.make(env_id), args.steps * 10)
        one_theirs = single_step_us(gym.make(env_id), args.steps * 10)
        print(
            f"| {env_id} | {ours:,.0f} | {theirs:,.0f} | {ours / theirs:.1f}x | "
            f"{one_ours:.2f} | {one_theirs:.2f} | {one_theirs / one_ours:.1f}x |"
        )


if __name__ == "__main__":
    main()
