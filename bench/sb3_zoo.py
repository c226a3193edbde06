#!/usr/bin/env python3
"""Trains Stable-Baselines3 with rl-baselines3-zoo's tuned hyper-parameters on one
environment and seed, then evaluates the deterministic policy: the Python side of the
"reach rl-zoo's published score" rows in BENCHMARKS.md §5.

    /tmp/oracle-venv/bin/python bench/sb3_zoo.py --algo ppo --env MountainCarContinuous-v0 --seed 0
    /tmp/oracle-venv/bin/python bench/sb3_zoo.py --algo dqn --env CartPole-v1 --seed 0
    /tmp/oracle-venv/bin/python bench/sb3_zoo.py --algo trpo --env CartPole-v1 --seed 0   # sb3-contrib
    /tmp/oracle-venv/bin/python bench/sb3_zoo.py --algo sac --env Pendulum-v1 --seed 0
    /tmp/oracle-venv/bin/python bench/sb3_zoo.py --algo td3 --env Pendulum-v1 --seed 0
    /tmp/oracle-venv/bin/python bench/sb3_zoo.py --algo ddpg --env Pendulum-v1 --seed 0
    /tmp/oracle-venv/bin/python bench/sb3_zoo.py --algo sac --env MountainCarContinuous-v0 --seed 0  # gSDE

Prints one JSON line: training wall and CPU time (user + sys of this process), env steps, and the mean/std return of
`--episodes` deterministic episodes (VecNormalize statistics frozen, as rl-zoo evaluates)
from the initial states `engram eval RUN --episodes N` uses.
Build the environment with `bash ../shared/peers/setup.sh` (torch, sb3, rl-zoo3).
"""
import argparse
import importlib.util
import json
import os
import time
import warnings

warnings.filterwarnings("ignore")

import numpy as np  # noqa: E402
import yaml  # noqa: E402


def zoo_entry(algo: str, env_id: str) -> dict:
    # rl-zoo3 is installed without its dependencies: read the yaml, do not import the package.
    pkg = importlib.util.find_spec("rl_zoo3").submodule_search_locations[0]
    with open(os.path.join(pkg, "hyperparams", f"{algo}.yml")) as f:
        return dict(yaml.safe_load(f)[env_id])


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--algo", default="ppo", choices=["ppo", "a2c", "dqn", "trpo", "sac", "td3", "ddpg"])
    ap.add_argument("--env", required=True)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--episodes", type=int, default=20)
    ap.add_argument("--eval-seed", type=int, default=0,
                    help="base of the evaluation starts, as `engram eval --seed`")
    ap.add_argument("--eval-freq", type=int, default=0,
                    help="also keep the best model of an EvalCallback run every this many steps "
                         "(rl-zoo's best_model, with its VecNormalize statistics) and play that")
    ap.add_argument("--eval-episodes", type=int, default=5)
    args = ap.parse_args()

    import torch
    import torch.nn as nn  # noqa: F401  (policy_kwargs strings refer to nn)

    torch.set_num_threads(1)
    from stable_baselines3 import A2C, DDPG, DQN, PPO, SAC, TD3
    from stable_baselines3.common.env_util import make_vec_env
    from stable_baselines3.common.vec_env import VecNormalize

    hp = zoo_entry(args.algo, args.env)
    n_envs = int(hp.pop("n_envs", 1))
    n_timesteps = int(float(hp.pop("n_timesteps")))
    normalize = hp.pop("normalize", False)
    policy = hp.pop("policy")
    for key in ("learning_rate", "clip_range"):
        v = hp.get(key)
        if isinstance(v, str) and v.startswith("lin_"):
            start = float(v[4:])
            hp[key] = lambda progress, start=start: progress * start
    if isinstance(hp.get("policy_kwargs"), str):
        hp["policy_kwargs"] = eval(hp["policy_kwargs"], {"nn": nn, "dict": dict})
    for key in ("normalize_kwargs", "env_wrapper", "frame_stack", "callback"):
        hp.pop(key, None)
    # rl-zoo's action noise (TD3, DDPG): noise_type and noise_std -> an ActionNoise object.
    noise_type = hp.pop("noise_type", None)
    noise_std = float(hp.pop("noise_std", 0.0))
    if noise_type is not None:
        from stable_baselines3.common.noise import NormalActionNoise, OrnsteinUhlenbeckActionNoise

        import gymnasium

        dim = gymnasium.make(args.env).action_space.shape[0]
        noise_cls = {"normal": NormalActionNoise,
                     "ornstein-uhlenbeck": OrnsteinUhlenbeckActionNoise}[noise_type]
        hp["action_noise"] = noise_cls(mean=np.zeros(dim), sigma=noise_std * np.ones(dim))

    env = make_vec_env(args.env, n_envs=n_envs, seed=args.seed)
    if normalize:
        env = VecNormalize(env, gamma=hp.get("gamma", 0.99))
    if args.algo == "trpo":
        from sb3_contrib import TRPO
    else:
        TRPO = None
    cls = {"ppo": PPO, "a2c": A2C, "dqn": DQN, "trpo": TRPO, "sac": SAC, "td3": TD3, "ddpg": DDPG}[args.algo]
    model = cls(policy, env, seed=args.seed, device="cpu", verbose=0, **hp)
    callback = None
    if args.eval_freq > 0:
        import copy

        from stable_baselines3.common.callbacks import BaseCallback, EvalCallback

        class KeepBest(BaseCallback):
            # rl-zoo's SaveVecNormalizeCallback: the statistics that go with the best model.
            def _on_step(self):
                best["params"] = copy.deepcopy(model.policy.state_dict())
                best["obs_rms"] = copy.deepcopy(env.obs_rms) if normalize else None
                return True

        best = {}
        eval_vec = make_vec_env(args.env, n_envs=1, seed=args.seed + 1000)
        if normalize:
            eval_vec = VecNormalize(eval_vec, training=False, norm_reward=False)
        callback = EvalCallback(eval_vec, eval_freq=args.eval_freq, n_eval_episodes=args.eval_episodes,
                                deterministic=True, callback_on_new_best=KeepBest(), verbose=0)
    t0, c0 = time.perf_counter(), time.process_time()
    model.learn(total_timesteps=n_timesteps, callback=callback)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    if args.eval_freq > 0 and best:
        model.policy.load_state_dict(best["params"])
        if normalize:
            env.obs_rms = best["obs_rms"]

    # The same initial states as `engram eval RUN --seed B`: episode i resets with seed
    # B * 1_000_003 + 10_000_000 + i, and engram's environments are bit-exact with Gymnasium's.
    import gymnasium as gym

    eval_env = gym.make(args.env)
    returns = []
    for episode in range(args.episodes):
        obs, _ = eval_env.reset(seed=args.eval_seed * 1_000_003 + 10_000_000 + episode)
        ret, done = 0.0, False
        while not done:
            seen = env.normalize_obs(obs) if normalize else obs
            action, _ = model.predict(seen, deterministic=True)  # clipped to the box
            obs, reward, terminated, truncated, _ = eval_env.step(action)
            ret += float(reward)
            done = terminated or truncated
        returns.append(ret)
    print(json.dumps({
        "algo": args.algo, "env": args.env, "seed": args.seed, "env_steps": n_timesteps,
        "learn_wall_s": round(wall, 2), "learn_cpu_s": round(cpu, 2), "played": "best" if args.eval_freq > 0 else "final", "eval_mean": round(float(np.mean(returns)), 2),
        "eval_std": round(float(np.std(returns)), 2), "episodes": len(returns),
    }))


if __name__ == "__main__":
    main()
