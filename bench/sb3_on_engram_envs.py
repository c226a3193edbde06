#!/usr/bin/env python3
"""Stable-Baselines3's PPO trained on engram's environments against Gymnasium's own: same
recipe (rl-zoo's CartPole-v1 PPO: 8 envs, n_steps 32, batch 256, 20 epochs, lambda 0.8,
gamma 0.98, lr and clip linear), same seeds, one torch thread. Three backends: Gymnasium's
CartPole in SB3's DummyVecEnv, `engram.make` in the same DummyVecEnv, and `engram.sb3.make_vec`
(all eight environments in one Rust call). This measures what swapping the environment
backend gives an SB3 user. Needs SB3 and the engram package in one environment (the peers' venv, with engram's wheel:
`maturin build --profile pyext -o /tmp/wheels && /tmp/oracle-venv/bin/pip install --no-deps /tmp/wheels/engram_rl-*.whl`).

    /tmp/oracle-venv/bin/python bench/sb3_on_engram_envs.py --steps 100000 --seeds 0 1 2
"""

import argparse
import time

import gymnasium as gym
import numpy as np
import torch
from stable_baselines3 import PPO
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.evaluation import evaluate_policy

import engram
import engram.sb3


def run(backend, seed, steps):
    if backend == "engram-vec":
        venv = engram.sb3.make_vec("CartPole-v1", n_envs=8, seed=seed)
    else:
        make = (lambda: engram.make("CartPole-v1")) if backend == "engram" else (lambda: gym.make("CartPole-v1"))
        venv = make_vec_env(make, n_envs=8, seed=seed)
    lin = lambda v: (lambda p: p * v)  # noqa: E731
    model = PPO("MlpPolicy", venv, n_steps=32, batch_size=256, gae_lambda=0.8, gamma=0.98,
                n_epochs=20, ent_coef=0.0, learning_rate=lin(0.001), clip_range=lin(0.2),
                seed=seed, device="cpu", verbose=0)
    start = time.perf_counter()
    model.learn(steps)
    wall = time.perf_counter() - start
    mean, _ = evaluate_policy(model, gym.make("CartPole-v1"), n_eval_episodes=10, deterministic=True)
    return wall, mean


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, default=100_000)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    args = parser.parse_args()
    torch.set_num_threads(1)
    print("| seed | Gymnasium envs: wall s, eval | engram.make: wall s, eval | engram.sb3.make_vec: wall s, eval | wall ratios |")
    print("|---|---|---|---|---|")
    for seed in args.seeds:
        g_wall, g_mean = run("gymnasium", seed, args.steps)
        e_wall, e_mean = run("engram", seed, args.steps)
        v_wall, v_mean = run("engram-vec", seed, args.steps)
        print(f"| {seed} | {g_wall:.1f}, {g_mean:.1f} | {e_wall:.1f}, {e_mean:.1f} | {v_wall:.1f}, {v_mean:.1f} "
              f"| {g_wall / e_wall:.2f}x, {g_wall / v_wall:.2f}x |", flush=True)


if __name__ == "__main__":
    main()
