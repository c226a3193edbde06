"""engram across machines: A3C, PPO and A2C with their workers as Ray actors.

The Rust core stays the worker and the learner; Ray only places, connects and restarts them.
The learner runs in this (the driver's) process and owns the run exactly as a local run does:
the run directory, the global parameters, the optimizer statistics, metrics, evaluations and
checkpoints (``engram train --resume DIR`` or ``resume=DIR`` continues it). Each worker is a
Ray actor with its own environment and RNG stream: it receives the parameters (a version-
stamped float32 array: Ray inlines a small one in the call and keeps a large one in its
object store, where workers on that node read it without a copy), collects ``t_max`` steps, computes the clipped gradient with engram's A3C loss and
returns it as one float32 array. The learner applies gradients in the order they arrive with
the run's optimizer (the A3C paper's global network, with network latency in between) and
sends the worker the newest parameters. A gradient computed on parameters ``k`` versions old
has staleness ``k``; ``max_staleness=K`` drops gradients older than ``K`` versions.

PPO and A2C (``config["algo"] = "ppo"`` or ``"a2c"``) are data-parallel the other way: the
workers are remote collectors, not gradient computers. The run's ``n_envs`` environments are
split evenly over the workers (``n_envs / num_workers`` each, so ``n_envs`` must be a
multiple of ``num_workers``). Each update the learner sends every worker the current
parameters (version-stamped; one ``ray.put`` per version when they are over Ray's inline
limit), each collects ``t_max`` steps and returns the rollout as one float32 array
(observations, actions, log-probabilities, values, rewards, terminated/truncated flags,
bootstrap values and the recurrent states at the segment starts); the learner places the
rollouts side by side, computes GAE and runs PPO's epochs or A2C's step exactly as a local
run with that many environments. Collection is synchronous, so no rollout is stale: every
one was collected with the version the learner sent (a rollout stamped otherwise is dropped
and asked for again). One worker with all ``n_envs`` environments is the local run bit for
bit.

A worker that dies (killed process, lost node) is restarted by Ray (``max_restarts``) and
continues with a fresh environment; the learner is unaffected (PPO/A2C ask the restarted
worker for the same rollout again).

    import engram.distributed
    summary = engram.distributed.train(
        {"env": "CartPole-v1", "total_steps": 50_000}, num_workers=2, ray_address="auto")

From the command line: ``engram train --env CartPole-v1 --ray auto --ray-workers 2`` (A3C),
``engram train --algo ppo --env CartPole-v1 --n-envs 8 --ray auto --ray-workers 4`` (which
run ``python -m engram.distributed``).
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import socket
import statistics
import sys
import time
from typing import Any, Dict, Iterable, List, Optional

from . import _engram, _toml

__all__ = ["train", "RAY_MISSING"]

RAY_MISSING = (
    "engram.distributed needs Ray, which is not installed in this Python ({python}): "
    "install it with `{python} -m pip install 'ray[default]'`"
)

# A worker that keeps failing this long without one gradient in between (its actor cannot
# even start, or it keeps crashing) ends the run; a restart takes seconds on a busy machine.
RESTART_TIMEOUT_S = 120.0


def _import_ray():
    try:
        import ray  # noqa: F401
    except ImportError as e:
        raise ImportError(RAY_MISSING.format(python=sys.executable)) from e
    return ray


def _host_port(address: str):
    host, sep, port = address.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise ValueError(
            f"ray_address {address!r}: give host:port (the head's `ray start --head --port`), "
            "'auto' (the cluster this machine belongs to) or None (a local Ray instance)"
        )
    return host, port


def _check_reachable(address: str, timeout: float) -> None:
    """Fails fast with a clear message when nothing listens at ``host:port``, instead of
    Ray's long reconnect loop."""
    host, port = _host_port(address)
    try:
        with socket.create_connection((host, int(port)), timeout=timeout):
            pass
    except OSError as e:
        raise ConnectionError(
            f"cannot reach a Ray cluster at {address} within {timeout:g} s ({e}): start one with "
            f"`ray start --head --port {port}` on {host}, or check the address"
        ) from None


def _remote(address: Optional[str]) -> bool:
    """Whether `address` names a cluster by host:port (checked before Ray is asked)."""
    return address not in (None, "auto") and not address.startswith("ray://")


def _connect(ray, address: Optional[str], timeout: float) -> None:
    if ray.is_initialized():
        # This process is connected already (e.g. the caller ran ray.init): use that.
        return
    if _remote(address):
        _check_reachable(address, timeout)
    import logging

    ray.init(
        # None: a new local Ray instance, never a stale address from an earlier cluster.
        address="local" if address is None else address,
        logging_level=logging.WARNING,
        log_to_driver=False,
        ignore_reinit_error=True,
    )


def _settings(config: Dict[str, Any]) -> List[str]:
    return [
        f"{key}={value if isinstance(value, _Raw) else _toml(value)}"
        for key, value in config.items()
    ]


class _WorkerBase:
    """What both kinds of remote worker share: a random stream of their own (a restarted
    worker must not replay its predecessor's), where they run, and their CPU time."""

    def __init__(self, index: int, stream: int, num_workers: int):
        import ray

        if ray.get_runtime_context().was_current_actor_reconstructed:
            stream += num_workers * (1 + os.getpid())
        self.index = index
        self.stream = stream

    def where(self):
        import ray

        return os.getpid(), ray.get_runtime_context().get_node_id()

    def cpu_seconds(self):
        t = os.times()
        return t.user + t.system


def _worker_class(ray):
    @ray.remote
    class EngramA3cWorker(_WorkerBase):
        """One A3C worker: engram's Rust worker with its own environment."""

        def __init__(self, config_toml: str, index: int, stream: int, num_workers: int):
            from engram import _engram as native

            super().__init__(index, stream, num_workers)
            self.worker = native.A3cWorker(config_toml, self.stream)

        def echo(self, array):
            """The array as this worker received it (transfer tests)."""
            return array.copy()

        def step(self, version: int, params):
            start = time.perf_counter()
            grads, stats, steps, episodes = self.worker.compute_gradients(params)
            return version, grads, stats, steps, episodes, time.perf_counter() - start

    return EngramA3cWorker


def _rollout_worker_class(ray):
    @ray.remote
    class EngramRolloutWorker(_WorkerBase):
        """One PPO/A2C collector: engram's Rust collector with n_envs / num_workers envs."""

        def __init__(self, config_toml: str, index: int, stream: int, num_workers: int):
            from engram import _engram as native

            super().__init__(index, stream, num_workers)
            self.worker = native.RolloutWorker(config_toml, num_workers, self.stream)

        def collect(self, version: int, params):
            start = time.perf_counter()
            rollout, episodes, steps = self.worker.collect(params)
            return version, rollout, episodes, steps, time.perf_counter() - start

    return EngramRolloutWorker


# Ray inlines call arguments up to max_direct_call_object_size (100 kB by default); larger
# parameters are put in the object store once per version and sent by reference.
INLINE_BYTES = 100 * 1024


def _median_us(values: Iterable[float]) -> Optional[float]:
    values = list(values)
    return round(statistics.median(values) * 1e6, 1) if values else None


def train(
    config: Optional[Dict[str, Any]] = None,
    num_workers: int = 2,
    ray_address: Optional[str] = None,
    *,
    out: Optional[str] = None,
    resume: Optional[str] = None,
    max_staleness: Optional[int] = None,
    max_restarts: int = -1,
    connect_timeout: float = 10.0,
    step_timeout: float = 300.0,
    kill_worker_every: Optional[float] = None,
    quiet: bool = True,
) -> Dict[str, Any]:
    """Trains A3C (default), PPO or A2C with ``num_workers`` Ray actors as workers; returns
    ``summary.json``'s contents with a ``distributed`` entry (staleness distribution, drops,
    restarts, transfer sizes and times).

    ``config``: engram settings for a new run, with ``env`` and optionally ``algo`` (``"a3c"``,
    ``"ppo"`` or ``"a2c"``; e.g. ``{"algo": "ppo", "env": "CartPole-v1", "n_envs": 8,
    "total_steps": 50000, "seed": 1}``: PPO's and A2C's ``n_envs`` is the run's total, split
    evenly over the workers); with ``resume=DIR`` the overrides for the resumed
    run (e.g. a larger ``total_steps``). ``ray_address``: None (start a local Ray), ``"auto"``
    or ``"host:port"`` of a running cluster's head; an unreachable one fails within
    ``connect_timeout`` seconds. ``max_staleness`` (A3C): drop gradients computed on parameters more
    than this many versions old. ``max_restarts``: how often Ray restarts a dead worker (-1:
    always). ``kill_worker_every``: chaos test, kill one worker's process every that many
    seconds (Ray restarts it)."""
    config = dict(config or {})
    if num_workers < 1 or num_workers > 1024:
        raise ValueError(f"num_workers = {num_workers}: give 1 to 1024 workers")
    if max_staleness is not None and max_staleness < 0:
        raise ValueError(f"max_staleness = {max_staleness}: give a number of versions >= 0")
    if _remote(ray_address):
        _host_port(ray_address)
    ray = _import_ray()
    algo = config.pop("algo", None)
    if resume is not None:
        if config.pop("env", None) is not None:
            raise ValueError("resume continues a run with its own environment: leave env out")
        run_algo = _engram.Learner.algo_of(os.fspath(resume))
        if algo is not None and algo != run_algo:
            raise ValueError(f"resume: the run in {resume} is {run_algo}, not {algo}")
        algo = run_algo
    algo = "a3c" if algo is None else str(algo)
    if algo not in ("a3c", "ppo", "a2c"):
        raise ValueError(f"algo {algo!r}: training across machines runs a3c, ppo or a2c")
    rollouts = algo != "a3c"
    if rollouts and max_staleness is not None:
        raise ValueError("max_staleness is A3C's: PPO and A2C collect synchronously, "
                         "no rollout is stale")
    if resume is not None:
        overrides = _settings(config)
        # Connected first: an unreachable cluster leaves the run untouched.
        _connect(ray, ray_address, connect_timeout)
        learner = _engram.Learner.resume(os.fspath(resume), overrides, quiet)
    else:
        env = config.pop("env", None)
        if env is None:
            raise ValueError("config needs the environment: {'env': 'CartPole-v1', ...}")
        if out is None:
            raise ValueError("out: give the run directory")
        # Checked before connecting: a bad setting fails at once.
        if not rollouts:
            config.setdefault("workers", num_workers)
        _engram.Learner.check(algo, env, _settings(config), num_workers)
        _connect(ray, ray_address, connect_timeout)
        learner = _engram.Learner.train(algo, env, _settings(config), os.fspath(out), quiet)
    try:
        if rollouts:
            stats = _drive_rollouts(ray, learner, num_workers, max_restarts, step_timeout,
                                    kill_worker_every)
        else:
            stats = _drive(ray, learner, num_workers, max_staleness, max_restarts,
                           step_timeout, kill_worker_every)
    except BaseException as e:
        # Interrupted or failed: the run keeps its last good checkpoint and says why.
        try:
            learner.fail(f"the distributed run stopped: {type(e).__name__}: {e}")
            learner.finish()
        except Exception:
            pass
        raise
    stats["algo"] = algo
    run_dir = os.fspath(learner.run_dir())
    summary = json.loads(learner.finish())
    summary["distributed"] = stats
    with open(os.path.join(run_dir, "distributed.json"), "w") as f:
        json.dump(stats, f, indent=2)
    return summary


def _start_workers(ray, worker_class, learner, num_workers, max_restarts, step_timeout):
    config_toml = learner.config_toml()
    start_steps = learner.env_steps()
    workers = []
    for i in range(num_workers):
        # Fresh runs use streams seed + i (one worker: the local run's collector); a resumed
        # run new ones.
        stream = i if start_steps == 0 else i + num_workers * start_steps
        workers.append(
            worker_class.options(
                max_restarts=max_restarts, max_task_retries=0, num_cpus=1,
                scheduling_strategy="SPREAD",
            ).remote(config_toml, i, stream, num_workers)
        )
    from ray.exceptions import GetTimeoutError

    # Every worker is up before the first parameters go out.
    try:
        placed = ray.get([w.where.remote() for w in workers], timeout=step_timeout)
    except GetTimeoutError:
        raise TimeoutError(
            f"the {num_workers} workers did not start within {step_timeout:g} s: does the "
            "cluster have a free CPU for each (`ray status`)?"
        ) from None
    return workers, len({node for _, node in placed})


class _Faults:
    """Worker deaths as both drivers handle them: a call that finds its worker's process dead
    is asked again (Ray restarts the actor) unless the worker stays down RESTART_TIMEOUT_S; a
    worker that raises stops the run; ``kill_worker_every`` (chaos) kills one worker at a
    time, the next in turn, never while a killed one is not back yet."""

    def __init__(self, ray, workers, max_restarts, step_timeout, kill_worker_every):
        self.ray = ray
        self.workers = workers
        self.max_restarts = max_restarts
        self.step_timeout = step_timeout
        self.kill_worker_every = kill_worker_every
        self.failing_since = [0.0] * len(workers)
        self.restarts = self.kills = 0
        self.next_kill = (time.perf_counter() + kill_worker_every) if kill_worker_every else None

    def wait(self, pending, what: str):
        """The next finished call among ``pending``; None (call again) while chaos waits."""
        if self.next_kill is not None and time.perf_counter() >= self.next_kill:
            if not any(self.failing_since):
                victim = self.kills % len(self.workers)
                self.ray.kill(self.workers[victim], no_restart=False)
                self.failing_since[victim] = time.perf_counter()
                self.kills += 1
            self.next_kill = time.perf_counter() + self.kill_worker_every
        timeout = self.step_timeout if self.next_kill is None else 0.5
        ready, _ = self.ray.wait(list(pending), num_returns=1, timeout=timeout)
        if ready:
            return ready[0]
        if self.next_kill is not None:
            return None
        raise TimeoutError(f"no worker returned {what} within {self.step_timeout:g} s")

    def get(self, ref, i: int):
        """Worker ``i``'s result, or None when its process died (then ask it again)."""
        from ray.exceptions import GetTimeoutError, RayActorError, RayTaskError

        try:
            result = self.ray.get(ref, timeout=self.step_timeout)
        except RayActorError as e:
            self.restarts += 1
            now = time.perf_counter()
            self.failing_since[i] = self.failing_since[i] or now
            if now - self.failing_since[i] > RESTART_TIMEOUT_S:
                raise RuntimeError(
                    f"worker {i} has failed for {now - self.failing_since[i]:.0f} s without "
                    f"being restarted (max_restarts={self.max_restarts}); the last error: {e}"
                ) from None
            time.sleep(0.2)
            return None
        except RayTaskError as e:
            # The worker raised (bad configuration, non-finite parameters): the run stops.
            raise RuntimeError(
                f"worker {i} failed: {e.cause if hasattr(e, 'cause') else e}") from None
        except GetTimeoutError:
            raise TimeoutError(f"worker {i} returned nothing within {self.step_timeout:g} s") \
                from None
        self.failing_since[i] = 0.0
        return result

    def stop(self) -> Optional[float]:
        """Stops the workers; returns their CPU seconds (None when they could not say)."""
        try:
            cpu = sum(self.ray.get([w.cpu_seconds.remote() for w in self.workers], timeout=30))
        except Exception:
            cpu = None
        for w in self.workers:
            self.ray.kill(w, no_restart=True)
        return cpu


def _drive_rollouts(ray, learner, num_workers, max_restarts, step_timeout,
                    kill_worker_every) -> Dict[str, Any]:
    """PPO/A2C: each update, every worker collects with the current parameters; the learner
    learns from all their rollouts."""
    workers, nodes = _start_workers(ray, _rollout_worker_class(ray), learner, num_workers,
                                    max_restarts, step_timeout)
    faults = _Faults(ray, workers, max_restarts, step_timeout, kill_worker_every)
    dropped = updates = 0
    overhead, compute, learn_s, read_s, put_s = [], [], [], [], []
    rollout_bytes = param_bytes = 0
    submitted = {}
    started = time.perf_counter()
    driver_cpu = time.process_time()
    while learner.running():
        t = time.perf_counter()
        version, params = learner.params()
        read_s.append(time.perf_counter() - t)
        param_bytes = params.nbytes
        if params.nbytes > INLINE_BYTES:
            t = time.perf_counter()
            params = ray.put(params)
            put_s.append(time.perf_counter() - t)
        pending = {}

        def submit(i):
            pending[workers[i].collect.remote(version, params)] = i
            submitted[i] = time.perf_counter()

        for i in range(num_workers):
            submit(i)
        results: List[Any] = [None] * num_workers
        while pending:
            # Each update waits for every worker: a killed one only stalls it until Ray
            # has restarted it.
            ref = faults.wait(pending, "a rollout")
            if ref is None:
                continue
            i = pending.pop(ref)
            got = faults.get(ref, i)
            if got is None:
                submit(i)
                continue
            got_version, rollout, episodes, steps, compute_s = got
            if got_version != version:
                # Cannot happen with synchronous collection; never learn from it.
                dropped += 1
                submit(i)
                continue
            overhead.append(time.perf_counter() - submitted[i] - compute_s)
            compute.append(compute_s)
            rollout_bytes = rollout.nbytes
            results[i] = (rollout, episodes)
        t = time.perf_counter()
        learner.learn([r for r, _ in results], [e for _, es in results for e in es])
        learn_s.append(time.perf_counter() - t)
        updates += 1
    wall = time.perf_counter() - started
    driver_cpu = time.process_time() - driver_cpu
    worker_cpu = faults.stop()
    return {
        "workers": num_workers,
        "nodes": nodes,
        "updates": updates,
        "rollouts": updates * num_workers,
        # Synchronous collection: every rollout learned was collected with the parameters
        # of the update it went into.
        "staleness": {"0": updates * num_workers},
        "dropped": dropped,
        "worker_failures": faults.restarts,
        "workers_killed": faults.kills,
        "param_bytes": param_bytes,
        "rollout_bytes": rollout_bytes,
        # Per rollout, driver side: submit to result, less the worker's collection time.
        "transfer_overhead_us_median": _median_us(overhead),
        "worker_collect_us_median": _median_us(compute),
        "learner_update_us_median": _median_us(learn_s),
        "param_read_us_median": _median_us(read_s),
        "param_put_us_median": _median_us(put_s),
        "wall_seconds": round(wall, 3),
        "driver_cpu_seconds": round(driver_cpu, 3),
        "worker_cpu_seconds": None if worker_cpu is None else round(worker_cpu, 3),
    }


def _drive(ray, learner, num_workers, max_staleness, max_restarts, step_timeout,
           kill_worker_every) -> Dict[str, Any]:
    workers, nodes = _start_workers(ray, _worker_class(ray), learner, num_workers,
                                    max_restarts, step_timeout)
    faults = _Faults(ray, workers, max_restarts, step_timeout, kill_worker_every)
    staleness = collections.Counter()
    dropped = 0
    overhead, compute, apply_s, put_s = [], [], [], []
    submitted = {}
    pending = {}
    current = {}

    def publish():
        # The array goes with the call: Ray inlines small arguments and puts large ones in
        # its object store (workers on the node read them without a copy). An explicit
        # ray.put per update measured 2-3x slower for a 71 kB network (BENCHMARKS.md).
        t = time.perf_counter()
        version, params = learner.params()
        current["params"] = params
        current["version"] = version
        current["bytes"] = params.nbytes
        put_s.append(time.perf_counter() - t)

    def submit(i):
        ref = workers[i].step.remote(current["version"], current["params"])
        pending[ref] = i
        submitted[i] = time.perf_counter()

    publish()
    for i in range(num_workers):
        submit(i)
    grad_bytes = 0
    started = time.perf_counter()
    driver_cpu = time.process_time()
    while learner.running():
        ref = faults.wait(pending, "a gradient")
        if ref is None:
            continue
        i = pending.pop(ref)
        got = faults.get(ref, i)
        if got is None:
            submit(i)
            continue
        version, grads, stats, steps, episodes, compute_s = got
        overhead.append(time.perf_counter() - submitted[i] - compute_s)
        compute.append(compute_s)
        grad_bytes = grads.nbytes
        lag = learner.version() - version
        staleness[lag] += 1
        if max_staleness is not None and lag > max_staleness:
            dropped += 1
        else:
            t = time.perf_counter()
            learner.apply_gradients(i, grads, stats, steps, episodes)
            apply_s.append(time.perf_counter() - t)
            if learner.running():
                publish()
        if learner.running():
            submit(i)
    wall = time.perf_counter() - started
    driver_cpu = time.process_time() - driver_cpu
    for ref in pending:
        ray.cancel(ref, force=False)
    worker_cpu = faults.stop()
    updates = sum(staleness.values())
    return {
        "workers": num_workers,
        "nodes": nodes,
        "gradients": updates,
        "applied": updates - dropped,
        "dropped": dropped,
        "max_staleness": max_staleness,
        "staleness": {str(k): v for k, v in sorted(staleness.items())},
        "mean_staleness": (sum(k * v for k, v in staleness.items()) / updates) if updates else None,
        # Calls that found their worker dead (several per kill while Ray restarts it).
        "worker_failures": faults.restarts,
        "workers_killed": faults.kills,
        "param_bytes": current.get("bytes"),
        "grad_bytes": grad_bytes,
        # Per round trip, driver side: submit to result, less the worker's own compute time:
        # the parameter pull, the gradient push and Ray's scheduling together.
        "transfer_overhead_us_median": _median_us(overhead),
        "worker_compute_us_median": _median_us(compute),
        "learner_apply_us_median": _median_us(apply_s),
        "param_read_us_median": _median_us(put_s),
        "wall_seconds": round(wall, 3),
        # CPU time of the driver (learner) and of the workers' current processes (a
        # restarted worker's predecessor is not counted), start-up included.
        "driver_cpu_seconds": round(driver_cpu, 3),
        "worker_cpu_seconds": None if worker_cpu is None else round(worker_cpu, 3),
    }


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m engram.distributed",
        description="A3C, PPO or A2C across machines: engram's workers as Ray actors.",
    )
    parser.add_argument("algo", nargs="?", help="a3c, ppo or a2c")
    parser.add_argument("env", nargs="?", help="environment id, e.g. CartPole-v1")
    parser.add_argument("--ray", dest="ray_address", default=None,
                        help="the cluster: host:port of its head, or auto (default: a local Ray)")
    parser.add_argument("--ray-workers", type=int, default=2, help="remote workers")
    parser.add_argument("--out", help="run directory of a new run")
    parser.add_argument("--resume", metavar="DIR", help="continue the run in DIR")
    parser.add_argument("--steps", type=int, help="total environment steps")
    parser.add_argument("--seed", type=int)
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--max-staleness", type=int, default=None)
    parser.add_argument("--connect-timeout", type=float, default=10.0)
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)
    raw = list(args.set)
    if args.steps is not None:
        raw.append(f"total_steps={args.steps}")
    if args.seed is not None:
        raw.append(f"seed={args.seed}")
    try:
        if args.resume is None:
            if args.algo not in ("a3c", "ppo", "a2c") or not args.env:
                parser.error("give `ALGO ENV` (training across machines runs a3c, ppo or a2c) "
                             "or --resume DIR")
            if not args.out:
                args.out = os.path.join("runs", f"{args.env}_{args.algo}_ray")
        summary = _train_raw(args, raw)
    except (ImportError, ConnectionError, ValueError, RuntimeError, TimeoutError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: the run keeps its last checkpoint", file=sys.stderr)
        return 130
    print(json.dumps(summary, indent=2))
    return 0


def _train_raw(args, raw: List[str]) -> Dict[str, Any]:
    """train() with `key=value` settings as the CLI gives them (values already TOML)."""
    config: Dict[str, Any] = {}
    for item in raw:
        key, sep, value = item.partition("=")
        if not sep:
            raise ValueError(f"--set {item}: give KEY=VALUE")
        config[key.strip()] = _Raw(value.strip())
    if args.resume is None:
        config["env"] = args.env
        config["algo"] = args.algo
    return train(config, num_workers=args.ray_workers, ray_address=args.ray_address,
                 out=args.out, resume=args.resume, max_staleness=args.max_staleness,
                 connect_timeout=args.connect_timeout, quiet=args.quiet)


class _Raw(str):
    """A value already written as TOML (from the command line)."""


if __name__ == "__main__":
    sys.exit(main())
