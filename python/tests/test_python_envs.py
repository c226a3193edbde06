"""engram's agents training on Python (Gymnasium) environments, and Ctrl-C during learn()."""

import os
import signal
import subprocess
import sys
import textwrap
import time

import gymnasium as gym
import numpy as np
import pytest
from gymnasium import spaces

import engram


class Corridor(gym.Env):
    """Walk right to the end of a corridor: -0.01 a step, +1 at the end, 50 steps at most.
    Optimal return 0.94; a random walk rarely gets there (about -0.4)."""

    def __init__(self, length=8):
        self.length = length
        self.observation_space = spaces.Box(0.0, 1.0, (length,), np.float32)
        self.action_space = spaces.Discrete(2)

    def _obs(self):
        o = np.zeros(self.length, np.float32)
        o[self.pos] = 1.0
        return o

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.pos, self.t = 0, 0
        return self._obs(), {}

    def step(self, action):
        self.pos = max(0, min(self.length - 1, self.pos + (1 if action == 1 else -1)))
        self.t += 1
        done = self.pos == self.length - 1
        return self._obs(), (1.0 if done else -0.01), done, self.t >= 50, {}


@pytest.mark.parametrize("learning_rate, learns", [(3e-4, True), (1e-12, False)])
def test_ppo_learns_a_pure_python_env(learning_rate, learns):
    model = engram.PPO(
        "MlpPolicy", Corridor(), seed=0, n_steps=64, batch_size=64, learning_rate=learning_rate
    )
    model.learn(5000)
    mean, _ = model.evaluate(5)
    # With learning disabled the greedy policy of the initial network walks into a wall.
    assert (mean > 0.9) == learns, mean


def test_a_gymnasium_env_trains_saves_and_loads_with_env(tmp_path):
    model = engram.A2C("MlpPolicy", gym.make("CartPole-v1"), n_envs=2, seed=3)
    model.learn(3000)
    model.save(tmp_path / "run")
    with pytest.raises(ValueError, match="load it with env="):
        engram.load(tmp_path / "run")
    loaded = engram.load(tmp_path / "run", env=gym.make("CartPole-v1"))
    obs, _ = gym.make("CartPole-v1").reset(seed=0)
    np.testing.assert_array_equal(
        model.predict(obs, deterministic=True)[0], loaded.predict(obs, deterministic=True)[0]
    )
    loaded.learn(1000)
    assert loaded.num_timesteps >= 4000


def test_unsupported_spaces_are_refused_clearly():
    class TextEnv(Corridor):
        def __init__(self):
            super().__init__()
            self.observation_space = spaces.Text(5)

    with pytest.raises(ValueError, match="cannot train on Text"):
        engram.PPO("MlpPolicy", TextEnv())


def test_ctrl_c_saves_a_checkpoint_then_raises_keyboard_interrupt(tmp_path):
    run = tmp_path / "run"
    script = textwrap.dedent(
        f"""
        import signal
        import engram, numpy as np
        # A child started from a background job inherits SIGINT as ignored, and Python then
        # installs no KeyboardInterrupt handler: restore it so that the test does not depend
        # on how the test runner was started.
        signal.signal(signal.SIGINT, signal.default_int_handler)
        model = engram.PPO("MlpPolicy", "CartPole-v1", run_dir={str(run)!r})
        print("training", flush=True)
        try:
            model.learn(100_000_000)
        except KeyboardInterrupt:
            # The model stays usable: it acts, and learns on from its checkpoint.
            done = model.num_timesteps
            model.predict(np.zeros(4, dtype=np.float32))
            model.learn(500)
            assert model.num_timesteps >= done + 500, (done, model.num_timesteps)
            print("continued", flush=True)
            raise
        """
    )
    child = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert child.stdout.readline().strip() == "training"
    time.sleep(1.5)
    child.send_signal(signal.SIGINT)
    out, err = child.communicate(timeout=60)
    assert child.returncode != 0
    assert "KeyboardInterrupt" in err, err
    assert "continued" in out, err
    assert os.path.exists(run / "checkpoints" / "latest.safetensors")
    # The interrupted run continues.
    model = engram.load(run)
    assert 0 < model.num_timesteps < 100_000_000


def test_a_non_finite_reward_is_named_as_the_environments():
    class NanReward(Corridor):
        def step(self, action):
            obs, _, terminated, truncated, info = super().step(action)
            return obs, float("nan"), terminated, truncated, info

    with pytest.raises(RuntimeError, match="non-finite reward"):
        engram.A2C("MlpPolicy", NanReward(), n_envs=1).learn(200)

