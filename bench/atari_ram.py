"""A3C-LSTM on an Atari game through ale-py, for a fixed wall-clock time (issue 17's 30-minute
run): engram's workers step Gymnasium's own ALE environment through the Python binding.

    target/pyvenv/bin/pip install ale-py
    target/pyvenv/bin/python bench/atari_ram.py --game ALE/Pong-v5 --minutes 30 --out /tmp/pong

RAM observations (128 bytes) with running observation normalisation and the MLP encoder + LSTM;
pixels wait for the convolutional encoder. Ctrl-C (or the time limit) stops the run with a
checkpoint; the learning curve is the run's metrics.csv, summarised at the end.
"""

import argparse
import csv
import os
import signal
import time

import ale_py
import gymnasium as gym

import engram


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--game", default="ALE/Pong-v5")
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", default="/tmp/engram-atari")
    args = parser.parse_args()

    gym.register_envs(ale_py)
    env = gym.make(args.game, obs_type="ram")
    model = engram.A3C(
        "LstmPolicy",
        env,
        seed=0,
        run_dir=args.out,
        workers=args.workers,
        hidden_size=256,
        encoder_layers=[256],
        activation="relu",
        learning_rate=1e-4,
        t_max=20,
        gamma=0.99,
        ent_coef=0.01,
        reward_scale=1.0,
        max_grad_norm=40.0,
        normalize_observations=True,
        eval_interval=0,
        log_interval=20_000,
        checkpoint_interval=100_000,
    )

    def out_of_time(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGALRM, out_of_time)
    signal.alarm(int(args.minutes * 60))
    started = time.perf_counter()
    try:
        model.learn(100_000_000)
    except KeyboardInterrupt:
        pass
    wall = time.perf_counter() - started
    print(f"{args.game}: {model.num_timesteps} env steps in {wall:.0f} s "
          f"= {model.num_timesteps / wall:.0f} steps/s ({args.workers} workers)")
    with open(os.path.join(args.out, "metrics.csv")) as f:
        rows = list(csv.DictReader(f))
    print("env_steps,wall_seconds,episodes,mean_return(last 100)")
    for row in rows:
        print(f"{row['env_steps']},{row.get('wall_seconds', '')},{row.get('episodes', '')},"
              f"{row.get('mean_return', '')}")


if __name__ == "__main__":
    main()
