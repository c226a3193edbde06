"""engram's vector environments as Stable-Baselines3 ``VecEnv``s: all environments stepped in one
Rust call, with SB3's same-step autoreset (``infos[i]["terminal_observation"]``,
``infos[i]["TimeLimit.truncated"]``).

    import engram.sb3
    from stable_baselines3 import PPO

    venv = engram.sb3.make_vec("CartPole-v1", n_envs=8, seed=0)
    PPO("MlpPolicy", venv).learn(100_000)

Importing this module needs ``stable_baselines3``; ``import engram`` does not.
"""

from typing import Any, List, Optional, Sequence

import numpy as np
from stable_baselines3.common.vec_env import VecEnv, VecMonitor

from . import _engram, _flat_dim, _plain, _space, _unflatten_batch


class EngramVecEnv(VecEnv):
    """``n_envs`` engram environments of one id as an SB3 ``VecEnv``. Sub-environment ``i``
    is seeded ``seed + i`` (SB3's convention, set with ``seed()`` before ``reset()``)."""

    def __init__(self, env_id: str, n_envs: int, **options: Any):
        if isinstance(n_envs, bool) or not isinstance(n_envs, (int, np.integer)) or n_envs < 1:
            raise ValueError(f"n_envs = {n_envs!r}: give a positive number of environments")
        if "render_mode" in options:
            raise ValueError(
                "engram.sb3 vector envs do not render: record an engram.make(id, "
                "render_mode='rgb_array') environment instead"
            )
        options = _plain(options)
        self._raw = _engram.RawVecEnv(env_id, int(n_envs), options, "same_step")
        self.env_id = env_id
        self.options = options
        single_obs = _space(self._raw.observation_space())
        single_action = _space(self._raw.action_space())
        self.render_mode = None
        super().__init__(int(n_envs), single_obs, single_action)
        self._action_dim = _flat_dim(single_action)
        self._actions: Optional[np.ndarray] = None

    def reset(self):
        seed = self._seeds[0] if self._seeds and self._seeds[0] is not None else None
        if seed is not None and not 0 <= int(seed) < 2**64 - self.num_envs:
            raise ValueError(f"seed = {seed}: engram seeds are integers from 0 to 2^64 - n_envs")
        if any(self._options):
            raise NotImplementedError("engram's environments take no reset options")
        flat = self._raw.reset(None if seed is None else int(seed))
        self._reset_seeds()
        self.reset_infos = [{} for _ in range(self.num_envs)]
        return _unflatten_batch(self.observation_space, flat)

    def step_async(self, actions: np.ndarray) -> None:
        self._actions = np.ascontiguousarray(
            np.asarray(actions, dtype=np.float32).reshape(self.num_envs, self._action_dim)
        )

    def step_wait(self):
        if self._actions is None:
            raise RuntimeError("step_wait() without step_async(actions)")
        flat, rewards, terminated, truncated = self._raw.step(self._actions)
        self._actions = None
        dones = terminated | truncated
        infos: List[dict] = [{} for _ in range(self.num_envs)]
        if dones.any():
            finals, has_final = self._raw.final_observations()
            final_obs = _unflatten_batch(self.observation_space, finals)
            for i in np.flatnonzero(dones):
                infos[i]["terminal_observation"] = (
                    tuple(part[i] for part in final_obs)
                    if isinstance(final_obs, tuple)
                    else final_obs[i]
                )
                infos[i]["TimeLimit.truncated"] = bool(truncated[i] and not terminated[i])
        obs = _unflatten_batch(self.observation_space, flat)
        return obs, rewards.astype(np.float32), dones, infos

    def close(self) -> None:
        pass

    def get_images(self) -> Sequence[Optional[np.ndarray]]:
        raise NotImplementedError(
            "engram.sb3 vector envs do not render: record an engram.make(id, "
            "render_mode='rgb_array') environment instead"
        )

    def get_attr(self, attr_name: str, indices: Any = None) -> List[Any]:
        value = getattr(self, attr_name)
        return [value for _ in self._get_indices(indices)]

    def set_attr(self, attr_name: str, value: Any, indices: Any = None) -> None:
        raise NotImplementedError(
            f"set_attr({attr_name!r}): engram's environments live in Rust; make a new vector env "
            "with the options you need"
        )

    def env_method(self, method_name: str, *args: Any, indices: Any = None, **kwargs: Any) -> List[Any]:
        raise NotImplementedError(
            f"env_method({method_name!r}): engram's environments live in Rust and have no Python "
            "methods to call"
        )

    def env_is_wrapped(self, wrapper_class: type, indices: Any = None) -> List[bool]:
        return [False for _ in self._get_indices(indices)]

    def _get_indices(self, indices: Any) -> Sequence[int]:
        if indices is None:
            return range(self.num_envs)
        chosen = [indices] if isinstance(indices, (int, np.integer)) else list(indices)
        for i in chosen:
            if not -self.num_envs <= int(i) < self.num_envs:
                raise IndexError(f"environment index {i}: this vector env has {self.num_envs}")
        return chosen


def make_vec(
    env_id: str, n_envs: int = 1, seed: Optional[int] = None, monitor: bool = True, **options: Any
) -> VecEnv:
    """SB3's ``make_vec_env`` for an engram id: ``n_envs`` environments in one Rust call,
    wrapped in ``VecMonitor`` (episode returns for SB3's logs) unless ``monitor=False``."""
    venv: VecEnv = EngramVecEnv(env_id, n_envs, **options)
    if seed is not None:
        venv.seed(seed)
    return VecMonitor(venv) if monitor else venv
