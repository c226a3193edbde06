"""A run's TensorBoard files, read back with the real `tensorboard` package's event reader:
every row of metrics.csv and evals.csv is there, under SB3's tags, at step = env steps, with
the same values."""

import csv
import math
import os

import pytest

EventAccumulator = pytest.importorskip(
    "tensorboard.backend.event_processing.event_accumulator"
).EventAccumulator

# metrics.csv / evals.csv column -> (TensorBoard tag, sign); algorithm metrics not listed here
# go under train/<name>. SB3 logs the entropy term as `entropy_loss`, minus the entropy.
METRICS_TAGS = {
    "wall_seconds": ("time/time_elapsed", 1),
    "episodes": ("time/episodes", 1),
    "updates": ("train/n_updates", 1),
    "mean_return": ("rollout/ep_rew_mean", 1),
    "mean_length": ("rollout/ep_len_mean", 1),
    "steps_per_second": ("time/fps", 1),
    "entropy": ("train/entropy_loss", -1),
    "exploration_rate": ("rollout/exploration_rate", 1),
}
EVALS_TAGS = {
    "mean_return": ("eval/mean_reward", 1),
    "std_return": ("eval/std_reward", 1),
    "episodes": ("eval/episodes", 1),
}


def _rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def _expected(run_dir):
    """{tag: [(step, value)]} from the run's CSV files."""
    out = {}
    for file, tags in (("metrics.csv", METRICS_TAGS), ("evals.csv", EVALS_TAGS)):
        path = os.path.join(run_dir, file)
        if not os.path.exists(path):
            continue
        for row in _rows(path):
            step = int(row["env_steps"])
            for column, text in row.items():
                if column == "env_steps" or text == "":
                    continue
                if file == "evals.csv" and column == "wall_seconds":
                    continue  # the event's own wall_time
                tag, sign = tags.get(column, (f"train/{column}", 1))
                out.setdefault(tag, []).append((step, sign * float(text)))
    return out


def check_run(run_dir):
    """Asserts that run_dir/tb holds exactly the rows of metrics.csv and evals.csv."""
    tb = os.path.join(run_dir, "tb")
    files = [f for f in os.listdir(tb) if f.startswith("events.out.tfevents.")]
    assert len(files) == 1, files
    acc = EventAccumulator(tb, size_guidance={"scalars": 0})
    acc.Reload()
    expected = _expected(run_dir)
    tags = set(acc.Tags()["scalars"])
    assert tags == set(expected), (sorted(tags ^ set(expected)))
    for tag, points in expected.items():
        events = acc.Scalars(tag)
        assert [e.step for e in events] == [s for s, _ in points], tag
        for e, (step, value) in zip(events, points):
            # The CSV prints 4-6 decimals (fps none), the event holds a float32.
            tol = {"time/fps": 0.51, "time/time_elapsed": 1e-3}.get(tag, 1e-4)
            assert math.isclose(e.value, value, rel_tol=1e-5, abs_tol=tol), (tag, step, e.value)
            assert e.wall_time > 1.6e9
    return expected


@pytest.mark.parametrize(
    "name, kwargs",
    [
        ("PPO", dict(n_envs=2, n_steps=64, batch_size=64, hidden_size=16)),
        ("DQN", dict(learning_starts=200, buffer_size=1000, policy_kwargs=dict(net_arch=[32]))),
    ],
)
def test_tensorboard_scalars_equal_the_csv_rows(name, kwargs, tmp_path):
    import engram

    run_dir = tmp_path / "run"
    model = getattr(engram, name)(
        "MlpPolicy",
        "CartPole-v1",
        seed=2,
        run_dir=run_dir,
        log_interval=256,
        eval_interval=1024,
        eval_episodes=2,
        **kwargs,
    )
    model.learn(3072)
    expected = check_run(os.fspath(run_dir))
    wanted = ["rollout/ep_rew_mean", "rollout/ep_len_mean", "time/fps", "train/learning_rate"]
    wanted += ["eval/mean_reward"]
    if name == "PPO":
        wanted += ["train/value_loss", "train/policy_loss", "train/entropy_loss"]
        wanted += ["train/approx_kl", "train/clip_fraction"]
    else:
        wanted += ["rollout/exploration_rate", "train/loss"]
    for tag in wanted:
        assert tag in expected, tag
    assert len(expected["rollout/ep_rew_mean"]) >= 10
