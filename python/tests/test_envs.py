"""engram's environments from Python: Gymnasium's checker, parity with Gymnasium's own
environments step for step, vector environments, registration, and errors."""

import warnings

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import engram


@pytest.mark.parametrize("env_id", engram.ENV_IDS)
def test_every_builtin_env_passes_gymnasiums_checker(env_id):
    with warnings.catch_warnings():
        # Gymnasium warns about infinite Box bounds, which its own CartPole has too.
        warnings.simplefilter("ignore")
        check_env(engram.make(env_id), skip_render_check=True)


def _same(a, b):
    if isinstance(a, tuple):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            _same(x, y)
    else:
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


@pytest.mark.parametrize(
    "env_id, gym_id",
    [
        ("CartPole-v1", "CartPole-v1"),
        ("Acrobot-v1", "Acrobot-v1"),
        ("Pendulum-v1", "Pendulum-v1"),
        ("MountainCar-v0", "MountainCar-v0"),
        ("FrozenLake-v1", "FrozenLake-v1"),
        ("Taxi-v4", "Taxi-v4"),
        ("Blackjack-v1", "Blackjack-v1"),
    ],
)
@pytest.mark.parametrize("seed", [0, 1, 42])
def test_step_for_step_identical_to_gymnasium(env_id, gym_id, seed):
    ours, theirs = engram.make(env_id), gym.make(gym_id)
    ours.action_space.seed(seed)
    o1, _ = ours.reset(seed=seed)
    o2, _ = theirs.reset(seed=seed)
    _same(o1, o2)
    for _ in range(300):
        action = ours.action_space.sample()
        r1 = ours.step(action)
        r2 = theirs.step(action)
        _same(r1[0], r2[0])
        assert r1[1:4] == tuple(r2[1:4]), (r1[1:4], r2[1:4])
        if r1[2] or r1[3]:
            o1, _ = ours.reset()
            o2, _ = theirs.reset()
            _same(o1, o2)


def test_vector_env_matches_gymnasiums_sync_vector_env_with_next_step_autoreset():
    n = 8
    ours = engram.make_vec("CartPole-v1", n)
    theirs = gym.vector.SyncVectorEnv([lambda: gym.make("CartPole-v1") for _ in range(n)])
    o1, _ = ours.reset(seed=3)
    o2, _ = theirs.reset(seed=3)
    np.testing.assert_array_equal(o1, o2)
    rng = np.random.default_rng(0)
    done_seen = 0
    for _ in range(400):
        actions = rng.integers(0, 2, size=n)
        r1 = ours.step(actions)
        r2 = theirs.step(actions)
        for a, b in zip(r1[:4], r2[:4]):
            np.testing.assert_array_equal(a, b)
        done_seen += int(np.sum(r1[2] | r1[3]))
    assert done_seen > 0
    assert ours.observation_space == theirs.observation_space
    assert ours.action_space == theirs.action_space


def test_registered_with_gymnasium_and_renders():
    env = gym.make("engram/CartPole-v1", render_mode="rgb_array")
    env.reset(seed=0)
    frame = env.render()
    assert frame.dtype == np.uint8 and frame.ndim == 3 and frame.shape[2] == 3
    text_env = engram.make("FrozenLake-v1", render_mode="ansi")
    text_env.reset(seed=0)
    assert "S" in text_env.render()


def test_options_reach_the_environment():
    env = engram.make("FrozenLake-v1", is_slippery=False)
    env.reset(seed=0)
    # Not slippery: action 2 (right) always moves right from the start.
    obs, *_ = env.step(2)
    assert obs == 1


def test_bad_input_raises_value_errors_with_the_clis_messages():
    with pytest.raises(ValueError, match="did you mean `CartPole-v1`"):
        engram.make("CartPol-v1")
    with pytest.raises(ValueError, match="is_slippery"):
        engram.make("FrozenLake-v1", is_slippery="yes")
    env = engram.make("CartPole-v1")
    with pytest.raises(ValueError, match="call reset"):
        env.step(0)
    env.reset(seed=0)
    with pytest.raises(ValueError, match="not one integer"):
        env.step([0, 1])
    with pytest.raises(ValueError, match="outside the action space"):
        env.step(7)
    with pytest.raises(ValueError, match="num_envs"):
        engram.make_vec("CartPole-v1", 0)


def test_same_step_autoreset_keeps_the_final_observation():
    """The raw vector env behind engram.sb3: an ended episode's last observation is kept in
    final_observations and the row already holds the next episode's first observation, as
    Gymnasium's next-step env shows them one step apart."""
    from engram import _engram

    same = _engram.RawVecEnv("CartPole-v1", 3, {}, "same_step")
    nxt = _engram.RawVecEnv("CartPole-v1", 3, {}, "next_step")
    same.reset(5)
    nxt.reset(5)
    ended = 0
    pending = np.zeros(3, dtype=bool)
    for _ in range(200):
        actions = np.ones((3, 1), dtype=np.float32)
        obs_s, _, term_s, trunc_s = same.step(actions)
        if pending.any():
            # Next-step mode spends a step resetting the rows that ended; the same-step env
            # already reset them: its observation now equals next-step's reset observation.
            obs_reset, _, _, _ = nxt.step(actions)
            np.testing.assert_array_equal(obs_reset[pending], first[pending])
            break
        obs_n, _, term_n, trunc_n = nxt.step(actions)
        np.testing.assert_array_equal(term_s, term_n)
        done = term_s | trunc_s
        finals, has_final = same.final_observations()
        np.testing.assert_array_equal(has_final, done)
        if done.any():
            ended += int(done.sum())
            np.testing.assert_array_equal(finals[done], obs_n[done])
            assert not np.array_equal(obs_s[done], obs_n[done])
            pending, first = done, obs_s.copy()
        else:
            np.testing.assert_array_equal(obs_s, obs_n)
    assert ended > 0
    with pytest.raises(ValueError, match="same_step"):
        _engram.RawVecEnv("CartPole-v1", 2, {}, "sometimes")


def test_an_action_whose_conversion_steps_the_env_does_not_deadlock():
    """The action is read before the environment's lock is taken: an ``__index__`` that steps
    the same environment (or sleeps while another thread steps it) must not hang."""
    import threading

    env = engram.make("CartPole-v1")
    env.reset(seed=0)

    class SteppingIndex:
        def __index__(self):
            env.step(0)
            return 1

    class SleepingIndex:
        def __index__(self):
            import time

            time.sleep(0.2)
            return 1

    outcomes = []

    def run(fn):
        t = threading.Thread(target=lambda: outcomes.append(fn()))
        t.start()
        return t

    t1 = run(lambda: env.step(SteppingIndex()))
    t1.join(10)
    assert not t1.is_alive(), "re-entrant step hung"
    t2 = run(lambda: env.step(SleepingIndex()))
    t3 = run(lambda: env.step(0))
    t2.join(10)
    t3.join(10)
    assert not t2.is_alive() and not t3.is_alive(), "two threads stepping one env hung"
    assert len(outcomes) == 3


def test_observation_types_do_not_depend_on_the_action_type():
    env = engram.make("FrozenLake-v1")
    env.reset(seed=0)
    for action in [1, np.int64(1), np.array(1), np.array(1.0), np.array([1]), True]:
        obs, *_ = env.step(action)
        assert type(obs) is int, (action, type(obs))
        env.reset(seed=0)
    for bad in ["1", None, b"1"]:
        with pytest.raises(ValueError):
            env.step(bad)


def test_minatar_is_registered_under_a_gymnasium_id_and_renders():
    # Gymnasium allows one `/` in an id: MinAtar/Breakout-v1 is engram/MinAtar_Breakout-v1.
    env = gym.make("engram/MinAtar_Breakout-v1", render_mode="rgb_array")
    obs, _ = env.reset(seed=0)
    assert obs.shape == (10, 10, 4)
    frame = env.render()
    assert frame.dtype == np.uint8 and frame.shape == (160, 160, 3)
