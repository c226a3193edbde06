"""engram from Python: fast deep reinforcement learning for agents with memory.

Environments (Gymnasium's API, stepped in Rust)::

    import engram
    env = engram.make("CartPole-v1")                 # a gymnasium.Env
    envs = engram.make_vec("CartPole-v1", 64)        # a gymnasium.vector.VectorEnv
    env = gymnasium.make("engram/CartPole-v1")       # registered with Gymnasium too

Agents (Stable-Baselines3's API, one class per algorithm of engram's registry)::

    model = engram.PPO("MlpPolicy", "CartPole-v1", seed=0, learning_rate=3e-4)
    model.learn(total_timesteps=100_000)
    action, state = model.predict(obs, deterministic=True)
    model.save("runs/ppo_cartpole")                  # a run directory, as the CLI writes
    model = engram.PPO.load("runs/ppo_cartpole")     # or `engram train --resume` it

Hyper-parameters are engram's keys (`engram.PPO.options()` lists them with their defaults
and documentation); errors are ``ValueError`` with the same messages as the CLI.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import tempfile
import weakref
from typing import Any, Optional

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from . import _engram

__version__ = _engram.__version__
ENV_IDS: list = list(_engram.ENV_IDS)

__all__ = ["make", "make_vec", "EngramEnv", "EngramVecEnv", "ENV_IDS", "algorithms", "load"]

# ---------------------------------------------------------------------------------------------
# Spaces and the flat encoding engram steps with


def _space(d: dict) -> spaces.Space:
    kind = d["kind"]
    if kind == "discrete":
        return spaces.Discrete(d["n"], start=d["start"])
    if kind == "box":
        shape = tuple(d["shape"])
        low = np.asarray(d["low"], dtype=np.float32).reshape(shape)
        high = np.asarray(d["high"], dtype=np.float32).reshape(shape)
        return spaces.Box(low, high, shape=shape, dtype=np.float32)
    if kind == "multi_discrete":
        return spaces.MultiDiscrete(np.asarray(d["nvec"], dtype=np.int64))
    if kind == "tuple":
        return spaces.Tuple([_space(s) for s in d["spaces"]])
    raise ValueError(f"unknown space kind {kind!r}")


def _flat_dim(space: spaces.Space) -> int:
    if isinstance(space, spaces.Discrete):
        return 1
    if isinstance(space, spaces.Box):
        return int(np.prod(space.shape, dtype=np.int64))
    if isinstance(space, spaces.MultiDiscrete):
        return int(space.nvec.size)
    if isinstance(space, spaces.Tuple):
        return sum(_flat_dim(s) for s in space.spaces)
    raise ValueError(f"engram does not encode {space}")


def _check_discrete(space: spaces.Space, x: Any) -> None:
    """Refuses a discrete observation outside its space (engram would encode it silently)."""
    if isinstance(space, (spaces.Discrete, spaces.MultiDiscrete)):
        a = np.asarray(x, dtype=np.float64)
        ok = (
            a.size == _flat_dim(space)
            and np.all(np.isfinite(a))
            and np.all(a == np.floor(a))
            and space.contains(a.astype(np.int64).reshape(()) if isinstance(space, spaces.Discrete) else a.astype(np.int64).reshape(space.shape))
        )
        if not ok:
            raise ValueError(f"observation {x!r} is outside the observation space {space}")
    elif isinstance(space, spaces.Tuple):
        if not isinstance(x, (tuple, list)) or len(x) != len(space.spaces):
            raise ValueError(f"observation {x!r} does not match {space}")
        for sub, part in zip(space.spaces, x):
            _check_discrete(sub, part)


def _unflatten_batch(space: spaces.Space, flat: np.ndarray) -> Any:
    """`[n, flat_dim]` rows as a batch of the space's elements (Gymnasium's batched layout)."""
    n = flat.shape[0]
    if isinstance(space, spaces.Discrete):
        return flat[:, 0].astype(np.int64)
    if isinstance(space, spaces.Box):
        return flat.astype(np.float32).reshape((n,) + space.shape)
    if isinstance(space, spaces.MultiDiscrete):
        return flat.astype(np.int64).reshape((n,) + space.shape)
    if isinstance(space, spaces.Tuple):
        parts, at = [], 0
        for s in space.spaces:
            d = _flat_dim(s)
            parts.append(_unflatten_batch(s, flat[:, at : at + d]))
            at += d
        return tuple(parts)
    raise ValueError(f"engram does not encode {space}")


def _flatten(space: spaces.Space, x: Any) -> np.ndarray:
    """An element of the space (an action or observation) as engram's flat floats."""
    if x is None or isinstance(x, (str, bytes)):
        raise ValueError(f"{x!r} is not an element of {space}")
    if isinstance(space, spaces.Discrete):
        a = np.asarray(x)
        if a.size != 1 or not (np.issubdtype(a.dtype, np.number) or a.dtype == np.bool_):
            raise ValueError(f"{x!r} is not one integer of {space}")
        return np.asarray([a.reshape(()).item()], dtype=np.float32)
    if isinstance(space, (spaces.Box, spaces.MultiDiscrete)):
        a = np.asarray(x, dtype=np.float32)
        if a.size != _flat_dim(space):
            raise ValueError(f"{x!r} has {a.size} numbers, {space} takes {_flat_dim(space)}")
        return a.reshape(-1)
    if isinstance(space, spaces.Tuple):
        return np.concatenate([_flatten(s, v) for s, v in zip(space.spaces, x)])
    raise ValueError(f"engram does not encode {space}")


# ---------------------------------------------------------------------------------------------
# Environments


def _plain(value: Any) -> Any:
    """numpy scalars and arrays as the Python values engram's options take."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.ndarray):
        return _plain(value.tolist())
    if isinstance(value, np.generic):
        return value.item()
    return value


class EngramEnv(gym.Env):
    """One of engram's built-in environments as a ``gymnasium.Env`` (stepped in Rust)."""

    metadata = {"render_modes": ["rgb_array", "ansi"], "render_fps": 30}

    def __init__(self, env_id: str, render_mode: Optional[str] = None, **options: Any):
        options = _plain(options)
        self._raw = _engram.RawEnv(env_id, options)
        self.env_id = env_id
        self.options = options
        self.observation_space = _space(self._raw.observation_space())
        self.action_space = _space(self._raw.action_space())
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(
                f"render_mode={render_mode!r}: engram renders 'rgb_array' and 'ansi'"
            )
        self.render_mode = render_mode

    def __reduce__(self):
        # Copies and pickles are fresh environments of the same id and options (the Rust
        # state is not serialised): what each worker of a Python-stepped run needs.
        return (_make_env, (self.env_id, self.render_mode, self.options))

    def __deepcopy__(self, memo):
        return _make_env(self.env_id, self.render_mode, self.options)

    def reset(self, *, seed: Optional[int] = None, options: Optional[dict] = None):
        super().reset(seed=seed)
        return self._raw.reset(seed)

    def step(self, action):
        # The usual action types are converted in Rust; others take the general path.
        done = self._raw.step_native(action)
        if done is not None:
            return done
        return self._raw.step(_flatten(self.action_space, action))

    def render(self):
        if self.render_mode is None:
            gym.logger.warn("render() without a render_mode: make(id, render_mode='rgb_array')")
            return None
        return self._raw.render(self.render_mode)


def _make_env(env_id: str, render_mode: Optional[str], options: dict) -> "EngramEnv":
    return EngramEnv(env_id, render_mode=render_mode, **options)


def make(env_id: str, render_mode: Optional[str] = None, **options: Any) -> EngramEnv:
    """An engram environment (``engram.ENV_IDS`` lists them) with its options, e.g.
    ``make("FrozenLake-v1", is_slippery=False)``."""
    return EngramEnv(env_id, render_mode=render_mode, **options)


class EngramVecEnv(gym.vector.VectorEnv):
    """``num_envs`` engram environments stepped in one Rust call, with Gymnasium's next-step
    autoreset; seeds ``seed + i`` for sub-environment ``i``, as Gymnasium's vector envs."""

    def __init__(self, env_id: str, num_envs: int, **options: Any):
        if isinstance(num_envs, bool) or not isinstance(num_envs, (int, np.integer)) or num_envs < 1:
            raise ValueError(f"num_envs = {num_envs!r}: give a positive number of environments")
        options = _plain(options)
        self._raw = _engram.RawVecEnv(env_id, int(num_envs), options)
        self.env_id = env_id
        self.options = options
        self.num_envs = num_envs
        self.single_observation_space = _space(self._raw.observation_space())
        self.single_action_space = _space(self._raw.action_space())
        self.observation_space = gym.vector.utils.batch_space(
            self.single_observation_space, num_envs
        )
        self.action_space = gym.vector.utils.batch_space(self.single_action_space, num_envs)
        self.metadata = {"autoreset_mode": gym.vector.AutoresetMode.NEXT_STEP}
        self._action_dim = _flat_dim(self.single_action_space)

    def reset(self, *, seed: Optional[int] = None, options: Optional[dict] = None):
        if seed is not None and not isinstance(seed, int):
            raise ValueError("engram's vector envs take one integer seed (env i gets seed + i)")
        flat = self._raw.reset(seed)
        return _unflatten_batch(self.single_observation_space, flat), {}

    def step(self, actions):
        a = np.asarray(actions, dtype=np.float32).reshape(self.num_envs, self._action_dim)
        flat, rewards, terminated, truncated = self._raw.step(np.ascontiguousarray(a))
        return (
            _unflatten_batch(self.single_observation_space, flat),
            rewards,
            terminated,
            truncated,
            {},
        )


def make_vec(env_id: str, num_envs: int = 1, **options: Any) -> EngramVecEnv:
    """``num_envs`` copies of ``make(env_id, **options)`` as one vector environment."""
    return EngramVecEnv(env_id, num_envs, **options)


def _gym_id(env_id: str) -> str:
    """engram's id under Gymnasium's `engram/` namespace. Gymnasium allows one `/` in an id, so
    a namespaced id such as `MinAtar/Breakout-v1` becomes `engram/MinAtar_Breakout-v1`."""
    return "engram/" + env_id.replace("/", "_")


for _id in ENV_IDS:
    if _gym_id(_id) not in gym.registry:
        gym.register(id=_gym_id(_id), entry_point="engram:EngramEnv", kwargs={"env_id": _id})

# ---------------------------------------------------------------------------------------------
# Agents


def _toml(value: Any) -> str:
    """A Python hyper-parameter value as a TOML value for ``key=value``."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        v = float(value)
        if math.isnan(v):
            return "nan"
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return repr(v)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {_toml(v)}" for k, v in value.items()) + " }"
    raise ValueError(f"hyper-parameter value {value!r} is not a bool, number, string or list")


_POLICIES = {"MlpPolicy": "mlp", "LstmPolicy": "lstm", "GruPolicy": "gru"}

# SB3's names for keys engram spells otherwise (its rollout length is A3C's `t_max`).
_SB3_NAMES = {"n_steps": "t_max"}


def _space_dict(space: spaces.Space) -> dict:
    """A Gymnasium space in the format engram's Rust side reads (the inverse of `_space`)."""
    if isinstance(space, spaces.Discrete):
        return {"kind": "discrete", "n": int(space.n), "start": int(space.start)}
    if isinstance(space, spaces.Box):
        low = np.broadcast_to(space.low, space.shape).astype(np.float32).reshape(-1)
        high = np.broadcast_to(space.high, space.shape).astype(np.float32).reshape(-1)
        return {"kind": "box", "low": low.tolist(), "high": high.tolist(), "shape": list(space.shape)}
    if isinstance(space, spaces.MultiDiscrete):
        start = getattr(space, "start", None)
        if start is not None and np.any(np.asarray(start) != 0):
            raise ValueError(f"engram takes MultiDiscrete spaces starting at 0, not {space}")
        return {"kind": "multi_discrete", "nvec": [int(n) for n in np.asarray(space.nvec).reshape(-1)]}
    if isinstance(space, spaces.Tuple):
        return {"kind": "tuple", "spaces": [_space_dict(s) for s in space.spaces]}
    raise ValueError(
        f"engram cannot train on {type(space).__name__} spaces ({space}): it takes Discrete, "
        "Box, MultiDiscrete and Tuple of those"
    )


class _PythonEnv:
    """What engram's Rust side steps: a Gymnasium env with flat float32 observations and
    actions (see crates/py/src/pyenv.rs)."""

    def __init__(self, env: gym.Env):
        self.env = env
        self.observation_space = env.observation_space
        self.action_space = env.action_space

    def engram_spaces(self):
        return _space_dict(self.observation_space), _space_dict(self.action_space)

    def _flat_obs(self, obs):
        space = self.observation_space
        if isinstance(space, (spaces.Discrete, spaces.MultiDiscrete, spaces.Tuple)) and not space.contains(obs):
            raise ValueError(f"the environment returned {obs!r}, outside its observation space {space}")
        flat = np.ascontiguousarray(_flatten(space, obs), dtype=np.float32)
        if not np.all(np.isfinite(flat)):
            raise ValueError(f"the environment returned a non-finite observation {obs!r}")
        return flat

    def reset(self, seed):
        obs, _ = self.env.reset(seed=seed)
        return self._flat_obs(obs)

    def step(self, flat):
        space = self.action_space
        if isinstance(space, spaces.Discrete):
            action = int(flat[0])
        elif isinstance(space, spaces.MultiDiscrete):
            action = flat.astype(np.int64).reshape(space.shape)
        else:
            action = flat.reshape(space.shape).astype(space.dtype)
        obs, reward, terminated, truncated, _ = self.env.step(action)
        reward = float(reward)
        if not math.isfinite(reward):
            raise ValueError(f"the environment returned a non-finite reward ({reward})")
        return self._flat_obs(obs), reward, bool(terminated), bool(truncated)


_python_envs = {"count": 0}


def _register_python_env(env: Any, env_id: Optional[str] = None) -> str:
    """Registers a Gymnasium env (an instance, a vector env of them, or a function returning
    one) under an engram id; every worker makes its own copy: ``gymnasium.make`` of its spec
    when it has one, a deep copy otherwise, or a call of the function."""
    import copy

    template = env
    if isinstance(env, gym.vector.VectorEnv):
        envs = getattr(env, "envs", None)
        if not envs:
            raise NotImplementedError(
                "engram trains on a Gymnasium vector env through its sub-environments "
                "(SyncVectorEnv.envs): give one env or a function that makes one"
            )
        template = envs[0]
    if callable(template) and not isinstance(template, gym.Env):
        make_one = template
        template = make_one()
    else:
        spec = getattr(template, "spec", None)
        if spec is not None and spec.id in gym.registry:
            make_one = lambda: gym.make(spec)  # noqa: E731
        else:
            make_one = lambda: copy.deepcopy(template)  # noqa: E731
    if not isinstance(template, gym.Env):
        raise ValueError(f"{template!r} is not a Gymnasium environment")
    _space_dict(template.observation_space)
    _space_dict(template.action_space)
    spec = getattr(template, "spec", None)
    if env_id is None:
        _python_envs["count"] += 1
        base = spec.id if spec is not None else f"{type(template.unwrapped).__name__}-v0"
        env_id = f"python/{base}#{_python_envs['count']}"
    threshold = getattr(spec, "reward_threshold", None) if spec is not None else None
    _engram.register_python_env(env_id, lambda: _PythonEnv(make_one()), threshold)
    return env_id


_PASSIVE_WRAPPERS = tuple(
    w
    for w in (
        getattr(gym.wrappers, "OrderEnforcing", None),
        getattr(gym.wrappers, "PassiveEnvChecker", None),
    )
    if w is not None
)


def _env_id(env: Any) -> tuple:
    """`(engram id, env options)` of what an agent was given: an id, an engram env (stepped
    in Rust with its options), or any other Gymnasium env, engram's wrapped in Gymnasium
    wrappers included (stepped in Python, so that the wrappers apply)."""
    if isinstance(env, str):
        return env, {}
    if isinstance(env, (EngramEnv, EngramVecEnv)):
        return env.env_id, dict(env.options)
    inner = env
    while isinstance(inner, gym.Wrapper) and isinstance(inner, _PASSIVE_WRAPPERS):
        inner = inner.env
    if isinstance(inner, EngramEnv):
        # gymnasium.make("engram/...") without other wrappers (a time limit is one).
        return inner.env_id, dict(inner.options)
    return _register_python_env(env), {}


class _Agent:
    """An engram algorithm with Stable-Baselines3's API. Subclasses are generated from the
    registry; ``algo`` is the registry name."""

    algo: str = ""

    def __init__(
        self,
        policy: str,
        env: Any,
        seed: Optional[int] = 0,
        run_dir: Optional[str] = None,
        verbose: int = 0,
        policy_kwargs: Optional[dict] = None,
        **hyperparameters: Any,
    ):
        if policy not in _POLICIES:
            raise ValueError(
                f"policy {policy!r}: engram's policies are {', '.join(_POLICIES)}"
            )
        if "total_steps" in hyperparameters:
            raise ValueError("total_steps: give the budget to learn(total_timesteps)")
        if run_dir is not None and os.path.exists(os.path.join(os.fspath(run_dir), "config.toml")):
            held = _read_config(os.fspath(run_dir))
            raise ValueError(
                f"{run_dir} already holds a run ({held.get('algo')} on {held.get('env')}): "
                "continue it with engram.load(run_dir), or choose another run_dir"
            )
        self.env_id, env_options = _env_id(env)
        self._given_env = None if isinstance(env, str) else env
        self._options_given = env_options
        if seed is None:
            seed = int(np.random.randint(0, 2**31 - 1))
        self.seed = seed
        self.verbose = verbose
        settings = [f"seed={int(seed)}"]
        if env_options:
            settings.append(f"env_options={_toml(env_options)}")
        tuned = {k: d for k, d, _ in _engram.options(self.algo, self.env_id)}
        # Tabular methods have no network: the policy argument (SB3's API) names none.
        if "policy" in tuned and not (self.algo == "dqn" and policy == "MlpPolicy"):
            settings.append(f'policy="{_POLICIES[policy]}"')
        hyper = dict(hyperparameters)
        for key, value in (policy_kwargs or {}).items():
            if key == "net_arch" and isinstance(value, dict):
                # SB3's off-policy form dict(pi=[...], qf=[...]): actor and critics apart.
                for part, engram_key in (("pi", "actor_layers"), ("qf", "critic_layers")):
                    if part in value:
                        hyper.setdefault(engram_key, list(value[part]))
            elif key == "net_arch":
                hyper.setdefault("encoder_layers", list(value))
            else:
                raise ValueError(
                    f"policy_kwargs {key!r}: engram takes net_arch there; other network "
                    f"settings are hyper-parameters (see {type(self).__name__}.options())"
                )
        networked = "policy" in tuned
        if networked and policy == "MlpPolicy" and "encoder_layers" not in hyper and self.algo != "dqn":
            # Without a recurrent core the encoder is the whole network: SB3's default.
            if tuned.get("encoder_layers", "[]") == "[]":
                hyper["encoder_layers"] = [64, 64]
        for sb3_name, engram_name in _SB3_NAMES.items():
            if sb3_name in hyper and sb3_name not in tuned and engram_name in tuned:
                hyper[engram_name] = hyper.pop(sb3_name)
        settings += [f"{key}={_toml(value)}" for key, value in hyper.items()]
        _engram.check_config(self.algo, self.env_id, settings)
        self._settings = settings
        if run_dir is None:
            # A temporary run, removed with the model (save() copies it; run_dir= keeps it).
            run_dir = tempfile.mkdtemp(prefix=f"engram-{self.algo}-")
            weakref.finalize(self, shutil.rmtree, run_dir, True)
        self.run_dir = os.fspath(run_dir)
        self.num_timesteps = 0
        self._started = os.path.exists(os.path.join(self.run_dir, "checkpoints", "latest.safetensors"))
        self._policy = None
        self.summary: Optional[dict] = None

    # -- training ------------------------------------------------------------------------------

    def learn(
        self,
        total_timesteps: int,
        callback: Any = None,
        log_interval: Any = None,
        tb_log_name: Any = None,
        reset_num_timesteps: bool = True,
        progress_bar: bool = False,
    ):
        """Trains ``total_timesteps`` more environment steps: a first call starts the run,
        later calls continue it exactly as ``engram train --resume`` does (``num_timesteps``
        keeps counting; ``reset_num_timesteps`` is accepted for SB3 code and changes nothing).
        Ctrl-C saves a checkpoint and raises KeyboardInterrupt; the model stays usable."""
        if callback is not None:
            raise NotImplementedError("engram's learn() takes no callbacks yet")
        if isinstance(total_timesteps, float) and total_timesteps.is_integer():
            total_timesteps = int(total_timesteps)
        if not isinstance(total_timesteps, (int, np.integer)) or total_timesteps <= 0:
            raise ValueError(f"total_timesteps = {total_timesteps!r}: give a positive integer")
        if total_timesteps >= 2**62:
            raise ValueError(f"total_timesteps = {total_timesteps}: at most 2^62 steps")
        quiet = not (progress_bar or self.verbose > 0)
        try:
            if self._started:
                target = self.num_timesteps + int(total_timesteps)
                text = _engram.resume(self.run_dir, [f"total_steps={target}"], quiet)
            else:
                settings = self._settings + [f"total_steps={int(total_timesteps)}"]
                text = _engram.train(self.algo, self.env_id, settings, self.run_dir, quiet)
        finally:
            # Interrupted or failed, the run keeps its last checkpoint: continue from there.
            self._policy = None
            self._refresh_from_checkpoint()
        self.summary = json.loads(text)
        self.num_timesteps = int(self.summary["env_steps"])
        return self

    def _refresh_from_checkpoint(self) -> None:
        latest = os.path.join(self.run_dir, "checkpoints", "latest.json")
        if os.path.exists(latest):
            self._started = True
            with open(latest) as f:
                self.num_timesteps = int(json.load(f)["state"]["monitor"]["counters"]["env_steps"])

    # -- acting --------------------------------------------------------------------------------

    def _loaded(self) -> "_engram.Policy":
        if self._policy is None:
            if not self._started:
                raise RuntimeError("the model has not been trained yet: call learn() first")
            self._policy = _engram.Policy(self.run_dir, True)
            raw = _engram.RawEnv(self.env_id, self._env_options())
            self.observation_space = _space(raw.observation_space())
            self.action_space = _space(raw.action_space())
        return self._policy

    def _env_options(self) -> dict:
        if not os.path.exists(os.path.join(self.run_dir, "config.toml")):
            return dict(getattr(self, "_options_given", {}))
        options = _read_config(self.run_dir).get("env_options", {})
        return options if isinstance(options, dict) else {}

    def predict(
        self,
        observation: Any,
        state: Optional[np.ndarray] = None,
        episode_start: Optional[np.ndarray] = None,
        deterministic: bool = False,
    ):
        """SB3's ``predict``: one observation or a batch (one row per environment); returns
        ``(action, state)``, the recurrent state to pass back next step (``None`` for
        policies without one); rows with ``episode_start`` set start from a zero state."""
        policy = self._loaded()
        obs_space = self.observation_space
        single_shape = obs_space.shape if isinstance(obs_space, (spaces.Box, spaces.MultiDiscrete)) else ()
        arr = np.asarray(observation) if not isinstance(obs_space, spaces.Tuple) else None
        if arr is not None and arr.shape == tuple(single_shape):
            rows, vectorized = [observation], False
        elif arr is not None and arr.shape[1:] == tuple(single_shape):
            rows, vectorized = list(arr), True
        elif isinstance(obs_space, spaces.Tuple) and isinstance(observation, tuple) and all(
            np.ndim(part) >= 1 for part in observation
        ):
            # A vector env's batch: one array per component.
            rows, vectorized = list(zip(*observation)), True
        elif isinstance(obs_space, spaces.Tuple) and isinstance(observation, tuple):
            rows, vectorized = [observation], False
        elif isinstance(obs_space, spaces.Tuple):
            rows, vectorized = [tuple(o) for o in observation], True
        else:
            raise ValueError(
                f"observation of shape {np.shape(observation)} does not match {obs_space}"
            )
        if len(rows) == 0:
            raise ValueError("predict() got an empty batch of observations")
        for o in rows:
            _check_discrete(obs_space, o)
        flat = np.stack([_flatten(obs_space, o) for o in rows]).astype(np.float32)
        n, state_dim = flat.shape[0], policy.state_dim()
        if state is None:
            states = np.zeros((n, state_dim), dtype=np.float32)
            starts = np.ones(n, dtype=bool)
        else:
            states = np.ascontiguousarray(np.asarray(state, dtype=np.float32).reshape(n, state_dim))
            starts = (
                np.zeros(n, dtype=bool)
                if episode_start is None
                else np.asarray(episode_start, dtype=bool).reshape(n)
            )
        seed = None if deterministic else int(np.random.randint(0, 2**31 - 1))
        actions, next_states = policy.predict(flat, states, starts, deterministic, seed)
        out = [self._action(a) for a in actions]
        action = np.stack(out) if vectorized else out[0]
        return action, (next_states if state_dim > 0 else None)

    @property
    def policy(self) -> "_engram.Policy":
        """The trained network of the latest checkpoint (engram's own, not a torch module):
        ``policy.forward(obs, state, episode_start)`` on flat float32 rows returns ``(action,
        next_state, outputs)``, ``outputs`` the ONNX export's (``logits`` or ``mean``, ``value``
        or ``q_values``)."""
        return self._loaded()

    def get_env(self) -> Any:
        """The environment the model was given (SB3's ``get_env``, not vectorised), or for an
        id a fresh ``engram.make`` of it with the run's options."""
        given = getattr(self, "_given_env", None)
        if given is not None:
            return given
        return _make_env(self.env_id, None, self._env_options())

    def _action(self, flat: np.ndarray):
        space = self.action_space
        if isinstance(space, spaces.Discrete):
            return np.int64(int(flat[0]) + int(space.start))
        if isinstance(space, spaces.Box):
            return np.clip(flat.reshape(space.shape), space.low, space.high).astype(np.float32)
        if isinstance(space, spaces.MultiDiscrete):
            return flat.astype(np.int64).reshape(space.shape)
        raise ValueError(f"engram does not act in {space}")

    def evaluate(self, n_eval_episodes: int = 10, seed: Optional[int] = None, deterministic: bool = True):
        """``(mean, std)`` of the return over episodes played as ``engram eval`` does (the
        run's seed's evaluation starts by default)."""
        if not isinstance(n_eval_episodes, (int, np.integer)) or n_eval_episodes < 1:
            raise ValueError(f"n_eval_episodes = {n_eval_episodes!r}: give a positive integer")
        returns, _ = self._loaded().evaluate(
            int(n_eval_episodes), self.seed if seed is None else int(seed), deterministic
        )
        return float(np.mean(returns)), float(np.std(returns))

    # -- saving --------------------------------------------------------------------------------

    def save(self, path: str) -> None:
        """Writes the run directory (config.toml, checkpoints/, metrics) to ``path``: what the
        CLI writes, so ``engram eval PATH`` and ``engram train --resume PATH`` take it too."""
        if not self._started:
            raise RuntimeError("the model has not been trained yet: call learn() first")
        path = os.fspath(path)
        if os.path.abspath(path) == os.path.abspath(self.run_dir):
            return
        shutil.copytree(
            self.run_dir, path, dirs_exist_ok=True, ignore=shutil.ignore_patterns("*.tmp")
        )

    def export_onnx(self, path: str, best: bool = False) -> dict:
        """Writes the greedy policy of the latest checkpoint (the model ``predict`` uses; with
        ``best=True`` the best evaluated one) as an ONNX model, as ``engram export RUN --onnx
        FILE --latest`` (without ``--latest``) does. Inputs: ``obs`` ``[batch, obs_dim]`` float32 (the flat
        observation: a Box observation reshaped to one row, a discrete one as its value) and,
        for recurrent policies, ``state_in`` ``[batch, state_size]`` (zeros at an episode's
        start). Outputs: ``action`` (a discrete action's index without the space's start, or a
        Box action's mean, unclipped), ``logits`` or ``mean`` (and ``log_std``), ``value`` or
        ``q_values``, and ``state_out``. Returns ``{"inputs": [...], "outputs": [...]}``."""
        if not self._started:
            raise RuntimeError("the model has not been trained yet: call learn() first")
        inputs, outputs = _engram.export_onnx(self.run_dir, os.fspath(path), not best)
        return {"inputs": list(inputs), "outputs": list(outputs)}

    @classmethod
    def load(cls, path: str, env: Any = None, device: Any = "auto", custom_objects: Any = None):
        """A model from a run directory written by ``save`` or by ``engram train``; further
        ``learn`` calls continue that run in place. A run on a Python environment needs it
        again as ``env`` (any copy: the run's id is re-registered for it)."""
        return _load(os.fspath(path), expected=cls, env=env)

    @classmethod
    def options(cls, env: str = "CartPole-v1") -> dict:
        """``{key: (default, documentation)}``: the hyper-parameters, tuned for ``env``."""
        return {k: (d, doc) for k, d, doc in _engram.options(cls.algo, env)}

    def __repr__(self) -> str:
        return f"{type(self).__name__}(env={self.env_id!r}, run_dir={self.run_dir!r}, num_timesteps={self.num_timesteps})"


def _read_config(path: str) -> dict:
    config_path = os.path.join(path, "config.toml")
    if not os.path.exists(config_path):
        raise ValueError(f"{path} is not a run directory (no config.toml)")
    try:
        import tomllib  # Python >= 3.11
    except ModuleNotFoundError:  # pragma: no cover - Python 3.9/3.10
        tomllib = None
    with open(config_path, "rb") as f:
        text = f.read()
    if tomllib is not None:
        return tomllib.loads(text.decode())
    # The keys needed here are plain `key = "value"` / integer lines.
    config = {}
    for line in text.decode().splitlines():
        if "=" in line and not line.lstrip().startswith(("#", "[")):
            key, _, value = line.partition("=")
            config[key.strip()] = json.loads(value.strip()) if value.strip()[:1] in "\"0123456789-" else value.strip()
    return config


def _load(path: str, expected: Optional[type] = None, env: Any = None) -> _Agent:
    config = _read_config(path)
    if str(config.get("env", "")).startswith("python/"):
        if env is None:
            raise ValueError(
                f"{path} was trained on a Python environment ({config['env']}): load it with "
                "env=... (the same environment)"
            )
        _register_python_env(env, config["env"])
    elif env is not None:
        given = _env_id(env)[0] if isinstance(env, (str, EngramEnv, EngramVecEnv)) else None
        if given != config.get("env"):
            raise ValueError(
                f"{path} was trained on {config.get('env')}, not on {given or env!r}: load it "
                f"with that environment, or without env="
            )
    algo = config.get("algo", "")
    cls = _CLASSES.get(algo)
    if cls is None:
        raise ValueError(f"{path}: unknown algorithm {algo!r}")
    if expected is not None and expected is not _Agent and cls is not expected:
        raise ValueError(f"{path} holds a {cls.__name__} run, not a {expected.__name__} one: use engram.{cls.__name__}.load or engram.load")
    model = cls.__new__(cls)
    model._given_env = None if env is None or isinstance(env, str) else env
    model.env_id = config.get("env", "")
    model.seed = int(config.get("seed", 0))
    model.verbose = 0
    model.run_dir = path
    model._settings = []
    model._policy = None
    model._started = True
    summary_path = os.path.join(path, "summary.json")
    model.summary = json.load(open(summary_path)) if os.path.exists(summary_path) else None
    latest = os.path.join(path, "checkpoints", "latest.json")
    steps = 0
    if os.path.exists(latest):
        with open(latest) as f:
            steps = json.load(f)["state"]["monitor"]["counters"]["env_steps"]
    model.num_timesteps = int(steps)
    model._loaded()
    return model


def load(path: str, env: Any = None) -> _Agent:
    """Whatever model a run directory holds (its class is read from its config); ``env``:
    the Python environment of a run trained on one."""
    return _load(os.fspath(path), env=env)


def algorithms() -> dict:
    """``{class name: description}`` of engram's algorithms."""
    return {_class_name(name): description for name, description in _engram.algorithms()}


def _class_name(algo: str) -> str:
    """The class of a registry name: ``ppo`` -> ``PPO``, ``q-learning`` -> ``Q_LEARNING``."""
    return algo.upper().replace("-", "_")


_CLASSES: dict = {}
for _name, _description in _engram.algorithms():
    _cls = type(
        _class_name(_name),
        (_Agent,),
        {
            "algo": _name,
            "__doc__": f"{_description}\n\nengram's `{_name}` with Stable-Baselines3's API: "
            f"{_class_name(_name)}(policy, env, seed=0, run_dir=None, **hyperparameters); "
            f"{_class_name(_name)}.options() lists the hyper-parameters.",
            "__module__": __name__,
        },
    )
    _CLASSES[_name] = _cls
    globals()[_class_name(_name)] = _cls
    __all__.append(_class_name(_name))
