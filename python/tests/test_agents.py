"""engram's agents with Stable-Baselines3's API: one class per algorithm of the registry,
learn / predict / save / load, recurrent state, and errors."""

import os

import numpy as np
import pytest

import engram

TINY = {
    "A3C": dict(workers=1, hidden_size=16),
    "A2C": dict(n_envs=2, hidden_size=16),
    "PPO": dict(n_envs=2, n_steps=32, batch_size=32, hidden_size=16),
    "REINFORCE": dict(hidden_size=16),
    "DQN": dict(learning_starts=100, buffer_size=1000, policy_kwargs=dict(net_arch=[32])),
    # SAC on CartPole is discrete SAC; TD3 and DDPG need Box actions (Pendulum, below).
    "SAC": dict(learning_starts=100, buffer_size=1000, batch_size=32,
                policy_kwargs=dict(net_arch=dict(pi=[32], qf=[16]))),
    "TD3": dict(learning_starts=100, buffer_size=1000, batch_size=32, policy_kwargs=dict(net_arch=[32])),
    "DDPG": dict(learning_starts=100, buffer_size=1000, batch_size=32, action_noise="normal",
                 policy_kwargs=dict(net_arch=[32])),
    "TRPO": dict(n_envs=2, batch_size=64, n_critic_updates=2, policy_kwargs=dict(net_arch=[16])),
    "R2D2": dict(learning_starts=200, buffer_size=100, batch_size=4, sequence_length=16,
                 burn_in=4, hidden_size=16, policy_kwargs=dict(net_arch=[16])),
    # Gradient-free policy search: no learning_rate (see GRADIENT_FREE).
    "CEM": dict(population=6, workers=1, policy_kwargs=dict(net_arch=[8])),
    "ES": dict(population=6, workers=1, policy_kwargs=dict(net_arch=[8])),
    "CMAES": dict(workers=1, policy_kwargs=dict(net_arch=[8])),
    # Tabular methods (no network: the policy argument is SB3's and ignored), each on its
    # example environment; dynamic programming counts sweeps and stops once converged.
    "POLICY_EVALUATION": dict(),
    "VALUE_ITERATION": dict(),
    "POLICY_ITERATION": dict(eval_sweeps=3),
    "MC": dict(epsilon=0.2),
    "TD0": dict(n_step=2),
    "SARSA": dict(alpha=0.5),
    "EXPECTED_SARSA": dict(alpha=0.5),
    "Q_LEARNING": dict(n_step=2),
    "DOUBLE_Q_LEARNING": dict(),
    "DYNA_Q": dict(planning_steps=5),
    "BANDIT": dict(exploration="ucb"),
}

# Where each algorithm runs as it is (CartPole-v1 unless named).
ENV = {
    "TD3": "Pendulum-v1",
    "DDPG": "Pendulum-v1",
    "POLICY_EVALUATION": "GridWorld4x4-v0",
    "VALUE_ITERATION": "GridWorld4x4-v0",
    "POLICY_ITERATION": "GridWorld4x4-v0",
    "MC": "FrozenLake-v1",
    "TD0": "RandomWalk-v0",
    "SARSA": "CliffWalking-v1",
    "EXPECTED_SARSA": "CliffWalking-v1",
    "Q_LEARNING": "FrozenLake-v1",
    "DOUBLE_Q_LEARNING": "FrozenLake-v1",
    "DYNA_Q": "DynaMaze-v0",
    "BANDIT": "Bandit-v0",
}
DYNAMIC_PROGRAMMING = {"POLICY_EVALUATION", "VALUE_ITERATION", "POLICY_ITERATION"}
GRADIENT_FREE = {"CEM", "CMAES"}


def test_every_registered_algorithm_has_a_class():
    names = set(engram.algorithms())
    # A new algorithm needs its tiny settings here, so the round trip below covers it.
    assert names == set(TINY), f"add {sorted(names - set(TINY))} to TINY"
    for name in names:
        cls = getattr(engram, name)
        assert issubclass(cls, engram._Agent)
        options = cls.options(ENV.get(name, "CartPole-v1"))
        assert "learning_rate" in options or name in ENV or name in GRADIENT_FREE, name
        assert "total_steps" in options


@pytest.mark.parametrize("name", sorted(TINY))
def test_learn_predict_save_load_round_trip(name, tmp_path):
    cls = getattr(engram, name)
    env_id = ENV.get(name, "CartPole-v1")
    model = cls("MlpPolicy", env_id, seed=1, **TINY[name])
    model.learn(1500)
    # Dynamic programming stops at convergence: its steps are sweeps.
    assert model.num_timesteps >= (1 if name in DYNAMIC_PROGRAMMING else 1500)
    env = engram.make(env_id)
    obs, _ = env.reset(seed=0)
    action, state = model.predict(obs, deterministic=True)
    assert env.action_space.contains(action)
    assert state is None
    if name in ENV:
        batch = np.stack([obs, obs, np.zeros_like(obs)])
    else:
        batch = np.stack([obs, obs * 0.5, obs * 0.0])
    actions, _ = model.predict(batch, deterministic=True)
    assert actions.shape == (3,) + env.action_space.shape
    model.save(tmp_path / "run")
    loaded = engram.load(tmp_path / "run")
    assert type(loaded) is cls and loaded.num_timesteps == model.num_timesteps
    again, _ = loaded.predict(batch, deterministic=True)
    np.testing.assert_array_equal(actions, again)
    # Learning again continues the run where it stopped.
    loaded.learn(500)
    # A converged dynamic-programming run stays converged: nothing left to sweep.
    more = 0 if name in DYNAMIC_PROGRAMMING else 500
    assert loaded.num_timesteps >= model.num_timesteps + more
    assert os.path.exists(tmp_path / "run" / "checkpoints" / "latest.safetensors")


def test_recurrent_predict_carries_state_and_episode_start_resets_it():
    model = engram.A3C("LstmPolicy", "CartPole-v1", workers=1, hidden_size=16)
    model.learn(1000)
    obs, _ = engram.make("CartPole-v1").reset(seed=0)
    batch = np.stack([obs, obs])
    _, s1 = model.predict(batch, deterministic=True)
    assert s1.shape == (2, 32)  # h and c of 16 units
    _, s2 = model.predict(batch, state=s1, episode_start=np.array([False, True]), deterministic=True)
    # Row 0 continued from s1; row 1 started over, as the first call did.
    assert not np.allclose(s2[0], s1[0])
    np.testing.assert_allclose(s2[1], s1[1])


def test_continuous_actions_are_clipped_to_the_box():
    model = engram.PPO("MlpPolicy", "Pendulum-v1", n_steps=64, batch_size=64)
    model.learn(256)
    env = engram.make("Pendulum-v1")
    obs, _ = env.reset(seed=0)
    for _ in range(20):
        action, _ = model.predict(obs)
        assert env.action_space.contains(action)


def test_a_short_run_learns():
    # PPO's tuned CartPole recipe, 30k steps: clearly above a random policy's ~22.
    model = engram.PPO("MlpPolicy", "CartPole-v1", seed=0)
    model.learn(30_000)
    mean, _ = model.evaluate(10)
    assert mean > 100, mean


def test_errors_are_value_errors_with_the_clis_messages():
    with pytest.raises(ValueError, match="clip_range"):
        engram.PPO("MlpPolicy", "CartPole-v1", clip_range=-1)
    with pytest.raises(ValueError, match="clip_range is an option of ppo|option of ppo"):
        engram.DQN("MlpPolicy", "CartPole-v1", clip_range=0.2)
    with pytest.raises(ValueError, match="did you mean"):
        engram.PPO("MlpPolicy", "CartPole-v1", learning_rat=1e-3)
    with pytest.raises(ValueError, match="CartPol"):
        engram.PPO("MlpPolicy", "CartPol-v1")
    with pytest.raises(ValueError, match="policy"):
        engram.PPO("CnnPolicy", "CartPole-v1")
    with pytest.raises(ValueError, match="Box|discrete|sac"):
        engram.DQN("MlpPolicy", "Pendulum-v1")
    with pytest.raises(RuntimeError, match="learn"):
        engram.PPO("MlpPolicy", "CartPole-v1").predict(np.zeros(4))
    with pytest.raises(ValueError, match="not a Gymnasium environment"):
        engram.PPO("MlpPolicy", object())


def test_an_engram_env_object_keeps_its_options_and_wrappers_apply():
    model = engram.PPO("MlpPolicy", engram.make("FrozenLake-v1", map_name="8x8"), n_steps=64, batch_size=64)
    model.learn(256)
    model.predict(0)
    assert model.observation_space.n == 64
    import gymnasium as gym

    wrapped = gym.wrappers.TransformReward(engram.make("CartPole-v1"), lambda r: -100.0)
    model = engram.A2C("MlpPolicy", wrapped, n_envs=2)
    model.learn(500)
    assert model.summary["final_train_mean_return"] < -100


def test_a_run_dir_holding_a_run_is_refused(tmp_path):
    first = engram.A2C("MlpPolicy", "CartPole-v1", run_dir=str(tmp_path / "r"))
    first.learn(200)
    with pytest.raises(ValueError, match="already holds a run"):
        engram.PPO("MlpPolicy", "CartPole-v1", run_dir=str(tmp_path / "r"))


def test_observations_outside_a_discrete_space_are_refused():
    model = engram.PPO("MlpPolicy", "FrozenLake-v1", n_steps=64, batch_size=64)
    model.learn(128)
    model.predict(3)
    for bad in (99, -1, 2.5, float("nan")):
        with pytest.raises(ValueError, match="outside the observation space"):
            model.predict(bad)


def test_tuple_observation_batches_from_a_vector_env():
    model = engram.PPO("MlpPolicy", "Blackjack-v1", n_steps=64, batch_size=64)
    model.learn(128)
    obs, _ = engram.make_vec("Blackjack-v1", 3).reset(seed=0)
    actions, _ = model.predict(obs)
    assert actions.shape == (3,)
    one, _ = model.predict((14, 3, 0))
    assert one in (0, 1)


def test_options_are_checked_and_numpy_scalars_accepted():
    with pytest.raises(ValueError, match="not a finite number"):
        engram.make("Pendulum-v1", g=float("nan"))
    env = engram.make("FrozenLake-v1", is_slippery=np.bool_(False))
    env.reset(seed=0)
    assert env.step(2)[0] == 1
    with pytest.raises(ValueError, match="total_timesteps"):
        engram.PPO("MlpPolicy", "CartPole-v1").learn(-5)
    with pytest.raises(ValueError, match="learn"):
        engram.PPO("MlpPolicy", "CartPole-v1", total_steps=5)


def test_a_temporary_run_is_removed_with_its_model_and_get_env():
    import gc

    model = engram.A2C("MlpPolicy", engram.make("FrozenLake-v1", is_slippery=False))
    model.learn(200)
    run_dir = model.run_dir
    assert os.path.isdir(run_dir)
    env = model.get_env()
    assert env.options == {"is_slippery": False}
    del model
    gc.collect()
    assert not os.path.exists(run_dir)
    kept = engram.A2C("MlpPolicy", "CartPole-v1")
    assert kept.get_env().env_id == "CartPole-v1"
