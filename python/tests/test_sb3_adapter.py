"""engram.sb3: engram's vector envs as Stable-Baselines3 VecEnvs. Runs where stable_baselines3
is installed (it needs PyTorch, which the CI's virtual environment does not carry)."""

import numpy as np
import pytest

sb3 = pytest.importorskip("stable_baselines3")

import engram.sb3  # noqa: E402
from stable_baselines3.common.env_checker import check_env  # noqa: E402
from stable_baselines3.common.vec_env import DummyVecEnv  # noqa: E402

import engram  # noqa: E402


def test_matches_dummy_vec_env_of_engram_envs_step_for_step():
    ours = engram.sb3.make_vec("CartPole-v1", n_envs=4, seed=3, monitor=False)
    theirs = DummyVecEnv([lambda: engram.make("CartPole-v1") for _ in range(4)])
    theirs.seed(3)
    a, b = ours.reset(), theirs.reset()
    np.testing.assert_array_equal(a, b)
    rng = np.random.default_rng(0)
    ended = 0
    for _ in range(300):
        actions = rng.integers(0, 2, size=4)
        oa, ra, da, ia = ours.step(actions)
        ob, rb, db, ib = theirs.step(actions)
        np.testing.assert_array_equal(oa, ob)
        np.testing.assert_array_equal(ra, rb)
        np.testing.assert_array_equal(da, db)
        for x, y, done in zip(ia, ib, da):
            if done:
                ended += 1
                np.testing.assert_array_equal(x["terminal_observation"], y["terminal_observation"])
                assert x["TimeLimit.truncated"] == y["TimeLimit.truncated"]
    assert ended > 0


def test_sb3_ppo_trains_on_it_with_episode_logs():
    venv = engram.sb3.make_vec("CartPole-v1", n_envs=4, seed=0)
    model = sb3.PPO("MlpPolicy", venv, n_steps=128, seed=0, device="cpu").learn(4096)
    assert len(model.ep_info_buffer) > 0
    check_env(engram.make("Pendulum-v1"))
