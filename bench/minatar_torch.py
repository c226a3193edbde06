#!/usr/bin/env python3
"""The same DQN on MinAtar in PyTorch and in engram, for BENCHMARKS.md's MinAtar section:
frames per second (wall and CPU) over a short budget, one core each.

    python bench/minatar_torch.py [--env MinAtar/Breakout-v1] [--frames 30000] [--engram BIN]

PyTorch side: a CleanRL-style loop written for this comparison with MinAtar's DQN
(examples/dqn.py of MinAtar 1.0.15): Conv 16 3x3 (stride 1, no padding) -> ReLU -> Linear 128
-> ReLU -> Q(s, .), replay of 100k, batch 32, one update per frame after `--learning-starts`,
target copy every 1,000 frames, epsilon 1 -> 0.1 over 100k frames, RMSprop(lr 2.5e-4, alpha
0.95, eps 0.01, centered), Huber loss, gamma 0.99; `torch.set_num_threads(1)`. Observations through
`gymnasium.make` of Python MinAtar. engram side: `engram train --algo dqn` with its tuned
MinAtar entry (the same settings) and `--set learning_starts=...` to match.

Prints one JSON line per side: frames, wall seconds, CPU seconds, frames per CPU second.
"""

import argparse
import json
import os
import resource
import subprocess
import tempfile
import time

import gymnasium as gym
import numpy as np
import torch
import torch.nn as nn
from minatar import gym as minatar_gym


class QNet(nn.Module):
    def __init__(self, channels: int, actions: int):
        super().__init__()
        self.conv = nn.Conv2d(channels, 16, kernel_size=3, stride=1)
        self.hidden = nn.Linear(16 * 8 * 8, 128)
        self.q = nn.Linear(128, actions)

    def forward(self, x):  # x: [B, C, 10, 10]
        x = torch.relu(self.conv(x))
        x = torch.relu(self.hidden(x.flatten(1)))
        return self.q(x)


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def torch_dqn(env_id: str, frames: int, learning_starts: int, seed: int) -> dict:
    torch.set_num_threads(1)
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    minatar_gym.register_envs()
    env = gym.make(env_id)
    obs, _ = env.reset(seed=seed)
    channels, actions = obs.shape[2], env.action_space.n
    online, target = QNet(channels, actions), QNet(channels, actions)
    target.load_state_dict(online.state_dict())
    optim = torch.optim.RMSprop(online.parameters(), lr=2.5e-4, alpha=0.95, eps=0.01, centered=True)
    capacity = 100_000
    store_obs = np.zeros((capacity, channels, 10, 10), dtype=np.float32)
    store_next = np.zeros_like(store_obs)
    store_act = np.zeros(capacity, dtype=np.int64)
    store_rew = np.zeros(capacity, dtype=np.float32)
    store_done = np.zeros(capacity, dtype=np.float32)
    size, at, returns, episode_return = 0, 0, [], 0.0
    wall0, cpu0 = time.perf_counter(), cpu_seconds()
    for frame in range(frames):
        eps = max(0.1, 1.0 - 0.9 * frame / 100_000)
        x = np.transpose(obs, (2, 0, 1)).astype(np.float32)
        if rng.random() < eps:
            action = int(rng.integers(actions))
        else:
            with torch.no_grad():
                action = int(online(torch.from_numpy(x)[None]).argmax(1).item())
        obs, reward, terminated, truncated, _ = env.step(action)
        episode_return += reward
        store_obs[at], store_act[at], store_rew[at] = x, action, reward
        store_next[at] = np.transpose(obs, (2, 0, 1))
        store_done[at] = float(terminated)
        at, size = (at + 1) % capacity, min(size + 1, capacity)
        if terminated or truncated:
            returns.append(episode_return)
            episode_return = 0.0
            obs, _ = env.reset()
        if frame >= learning_starts:
            idx = rng.integers(size, size=32)
            s, s2 = torch.from_numpy(store_obs[idx]), torch.from_numpy(store_next[idx])
            with torch.no_grad():
                best = target(s2).max(1).values
                y = torch.from_numpy(store_rew[idx]) + 0.99 * (1 - torch.from_numpy(store_done[idx])) * best
            q = online(s).gather(1, torch.from_numpy(store_act[idx])[:, None]).squeeze(1)
            loss = nn.functional.smooth_l1_loss(q, y)
            optim.zero_grad()
            loss.backward()
            optim.step()
        if frame % 1000 == 0:
            target.load_state_dict(online.state_dict())
    wall, cpu = time.perf_counter() - wall0, cpu_seconds() - cpu0
    return {
        "side": "pytorch",
        "frames": frames,
        "wall_s": round(wall, 2),
        "cpu_s": round(cpu, 2),
        "frames_per_cpu_s": round(frames / cpu, 1),
        "episodes": len(returns),
    }


def engram_dqn(binary: str, env_id: str, frames: int, learning_starts: int, seed: int) -> dict:
    out = tempfile.mkdtemp(prefix="engram_minatar_")
    args = [
        binary, "train", "--algo", "dqn", "--env", env_id, "--steps", str(frames),
        "--seed", str(seed), "--quiet", "--out", os.path.join(out, "run"),
        "--set", f"learning_starts={learning_starts}", "--set", "eval_interval=0",
    ]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    wall0 = time.perf_counter()
    subprocess.run(args, check=True)
    wall = time.perf_counter() - wall0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {
        "side": "engram",
        "frames": frames,
        "wall_s": round(wall, 2),
        "cpu_s": round(cpu, 2),
        "frames_per_cpu_s": round(frames / cpu, 1),
        "run": os.path.join(out, "run"),
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--env", default="MinAtar/Breakout-v1")
    ap.add_argument("--frames", type=int, default=30_000)
    ap.add_argument("--learning-starts", type=int, default=5_000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--engram", default="target/release/engram")
    ap.add_argument("--side", choices=["both", "engram", "pytorch"], default="both")
    args = ap.parse_args()
    if args.side in ("both", "engram"):
        print(json.dumps(engram_dqn(args.engram, args.env, args.frames, args.learning_starts, args.seed)), flush=True)
    if args.side in ("both", "pytorch"):
        print(json.dumps(torch_dqn(args.env, args.frames, args.learning_starts, args.seed)), flush=True)


if __name__ == "__main__":
    main()
