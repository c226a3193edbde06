"""ONNX export: onnxruntime's outputs equal engram's own forward pass to 1e-5 over whole
episodes, the recurrent state carried by each side on its own. The bound is absolute for
numbers within [-1, 1] and relative beyond (|diff| <= 1e-5 * max(1, |x|)): a float32 of
magnitude 128 is only resolved to 1.5e-5, so values (Pendulum's returns) and an LSTM's cell
state (|c| ~ 40) cannot be held to an absolute 1e-5 by any two implementations."""

import os

import numpy as np
import pytest

import engram
from engram import _engram

ort = pytest.importorskip("onnxruntime")

TOLERANCE = 1e-5

CASES = [
    # (id, algorithm, policy, env, env options, hyper-parameters, steps)
    ("a3c-lstm-cartpole", engram.A3C, "LstmPolicy", "CartPole-v1", {}, {"workers": 1}, 3000),
    (
        "ppo-gru-pendulum-normalized",
        engram.PPO,
        "GruPolicy",
        "Pendulum-v1",
        {},
        {"normalize_observations": True, "n_steps": 64, "batch_size": 64},
        1024,
    ),
    (
        "ppo-lstm-separate-critic-sde",
        engram.PPO,
        "LstmPolicy",
        "Pendulum-v1",
        {},
        {"separate_critic": True, "use_sde": True, "n_steps": 64, "batch_size": 64},
        512,
    ),
    (
        "a2c-mlp-frozenlake-onehot",
        engram.A2C,
        "MlpPolicy",
        "FrozenLake-v1",
        {"is_slippery": True},
        {},
        2000,
    ),
    (
        "a2c-gru-taxi-embedding",
        engram.A2C,
        "GruPolicy",
        "Taxi-v3",
        {},
        {"discrete_encoding": "embedding", "embedding_dim": 8},
        2000,
    ),
    ("dqn-dueling-cartpole", engram.DQN, "MlpPolicy", "CartPole-v1", {}, {"dueling": True, "learning_starts": 500}, 2000),
    ("dqn-acrobot", engram.DQN, "MlpPolicy", "Acrobot-v1", {}, {"learning_starts": 500}, 1500),
    # Conv2d encoders (channels-last in engram, NCHW in ONNX's Conv: the export transposes).
    ("a2c-conv-minatar-breakout", engram.A2C, "MlpPolicy", "MinAtar/Breakout-v1", {}, {"encoder": "conv"}, 600),
    (
        "a3c-conv-lstm-minatar-spaceinvaders",
        engram.A3C,
        "LstmPolicy",
        "MinAtar/SpaceInvaders-v1",
        {},
        {"encoder": "conv", "workers": 1},
        600,
    ),
    (
        "dqn-conv-minatar-asterix",
        engram.DQN,
        "MlpPolicy",
        "MinAtar/Asterix-v1",
        {},
        {"encoder": "conv", "learning_starts": 200},
        500,
    ),
    # The off-policy actors (SAC's squashed Gaussian, gSDE's clipped mean, TD3's and DDPG's
    # deterministic actor, discrete SAC's logits), rescaled to the Box bounds.
    (
        "sac-pendulum",
        engram.SAC,
        "MlpPolicy",
        "Pendulum-v1",
        {},
        {"learning_starts": 100, "batch_size": 32, "policy_kwargs": {"net_arch": [32, 32]}},
        400,
    ),
    (
        "sac-sde-mountaincar",
        engram.SAC,
        "MlpPolicy",
        "MountainCarContinuous-v0",
        {},
        {"learning_starts": 100, "batch_size": 32, "use_sde": True, "use_expln": True,
         "policy_kwargs": {"net_arch": [16]}},
        400,
    ),
    (
        "td3-pendulum",
        engram.TD3,
        "MlpPolicy",
        "Pendulum-v1",
        {},
        {"learning_starts": 100, "batch_size": 32, "policy_kwargs": {"net_arch": [32]}},
        400,
    ),
    (
        "ddpg-pendulum",
        engram.DDPG,
        "MlpPolicy",
        "Pendulum-v1",
        {},
        {"learning_starts": 100, "batch_size": 32, "policy_kwargs": {"net_arch": [32]}},
        400,
    ),
    (
        "sac-discrete-cartpole",
        engram.SAC,
        "MlpPolicy",
        "CartPole-v1",
        {},
        {"learning_starts": 100, "batch_size": 32, "policy_kwargs": {"net_arch": [32]}},
        400,
    ),
]


def scaled_diff(got: np.ndarray, want: np.ndarray) -> float:
    return float(np.max(np.abs(got - want) / np.maximum(1.0, np.abs(want))))


def flat(obs) -> np.ndarray:
    return np.asarray(obs, dtype=np.float32).reshape(1, -1)


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_onnx_matches_engram_forward_over_whole_episodes(case, tmp_path):
    _, algo, policy_name, env_id, env_options, hyper, steps = case
    env = engram.make(env_id, **env_options)
    model = algo(policy_name, env, seed=3, run_dir=str(tmp_path / "run"), **hyper).learn(steps)
    path = str(tmp_path / "policy.onnx")
    names = model.export_onnx(path)
    session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_inputs()] == names["inputs"]
    assert [o.name for o in session.get_outputs()] == names["outputs"]
    policy = _engram.Policy(model.run_dir, True)
    model._loaded()  # the model's spaces, for model._action
    state_dim = policy.state_dim()
    assert ("state_in" in names["inputs"]) == (state_dim > 0)

    compared = 0
    for episode in range(2):
        obs, _ = env.reset(seed=100 + episode)
        engram_state = np.zeros((1, state_dim), dtype=np.float32)
        onnx_state = np.zeros((1, state_dim), dtype=np.float32)
        start = True
        for _ in range(300):
            x = flat(obs)
            action, engram_state, outputs = policy.forward(
                x, engram_state, np.array([start], dtype=bool)
            )
            feeds = {"obs": x}
            if state_dim:
                feeds["state_in"] = onnx_state
            got = dict(zip(names["outputs"], session.run(None, feeds)))
            for name, want in outputs.items():
                diff = scaled_diff(got[name].reshape(want.shape), want)
                assert diff <= TOLERANCE, f"{name}: max diff {diff:.3g} at step {compared}"
            if state_dim:
                onnx_state = got["state_out"]
                # h (and a GRU's state) lies in [-1, 1]: absolute; an LSTM's cell, relative.
                diff = scaled_diff(onnx_state, engram_state)
                assert diff <= TOLERANCE, f"state: max diff {diff:.3g} at step {compared}"
            np.testing.assert_allclose(got["action"], action, atol=TOLERANCE, rtol=TOLERANCE)
            compared += 1
            start = False
            obs, _, terminated, truncated, _ = env.step(model._action(action[0]))
            if terminated or truncated:
                break
    assert compared >= 10


def test_onnx_batch_rows_are_independent(tmp_path):
    model = engram.A3C("LstmPolicy", "CartPole-v1", seed=0, workers=1).learn(2000)
    path = str(tmp_path / "p.onnx")
    model.export_onnx(path)
    session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    policy = _engram.Policy(model.run_dir, True)
    rng = np.random.default_rng(0)
    obs = rng.normal(size=(5, 4)).astype(np.float32)
    state = rng.normal(scale=0.5, size=(5, policy.state_dim())).astype(np.float32)
    action, next_state, outputs = policy.forward(obs, state, np.zeros(5, dtype=bool))
    got = dict(zip([o.name for o in session.get_outputs()], session.run(None, {"obs": obs, "state_in": state})))
    assert scaled_diff(got["logits"], outputs["logits"]) <= TOLERANCE
    assert scaled_diff(got["value"], outputs["value"]) <= TOLERANCE
    assert scaled_diff(got["state_out"], next_state) <= TOLERANCE
    np.testing.assert_array_equal(got["action"], action)


def test_export_cli_and_errors(tmp_path):
    untrained = engram.PPO("MlpPolicy", "CartPole-v1")
    with pytest.raises(RuntimeError, match="learn"):
        untrained.export_onnx(str(tmp_path / "x.onnx"))
    model = engram.PPO("MlpPolicy", "CartPole-v1", n_steps=64, batch_size=64).learn(128)
    with pytest.raises(ValueError, match="is a directory"):
        model.export_onnx(str(tmp_path))
    with pytest.raises(ValueError, match="neither a run directory nor a checkpoint"):
        _engram.export_onnx(str(tmp_path / "missing"), str(tmp_path / "y.onnx"), True)
    path = tmp_path / "ok.onnx"
    assert model.export_onnx(str(path)) == {"inputs": ["obs"], "outputs": ["action", "logits", "value"]}
    assert os.path.getsize(path) > 0
    assert not [f for f in os.listdir(tmp_path) if f.endswith(".tmp")]


def test_policy_reads_fortran_ordered_arrays_in_logical_order():
    model = engram.A3C("LstmPolicy", "CartPole-v1", seed=0, workers=1).learn(1000)
    policy = model.policy
    rng = np.random.default_rng(1)
    obs = rng.normal(size=(3, 4)).astype(np.float32)
    state = rng.normal(scale=0.3, size=(3, policy.state_dim())).astype(np.float32)
    starts = np.zeros(3, dtype=bool)
    want = policy.forward(obs, state, starts)
    got = policy.forward(np.asfortranarray(obs), np.asfortranarray(state), starts)
    np.testing.assert_array_equal(got[0], want[0])
    np.testing.assert_array_equal(got[1], want[1])
    np.testing.assert_array_equal(got[2]["logits"], want[2]["logits"])


def test_export_refuses_targets_it_must_not_replace(tmp_path):
    model = engram.PPO("MlpPolicy", "CartPole-v1", n_steps=64, batch_size=64, run_dir=str(tmp_path / "run")).learn(128)
    with pytest.raises(ValueError, match=r"\.onnx extension"):
        model.export_onnx(str(tmp_path / "run" / "checkpoints" / "latest.safetensors"))
    link = tmp_path / "link.onnx"
    os.symlink(tmp_path / "elsewhere.onnx", link)
    with pytest.raises(ValueError, match="not a regular file"):
        model.export_onnx(str(link))
    assert model.learn(64).num_timesteps > 128  # the run is intact
    assert model.export_onnx(str(tmp_path / "best.onnx"), best=True)["inputs"] == ["obs"]
