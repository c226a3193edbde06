"""A3C, PPO and A2C across machines (engram.distributed) against the same algorithm run
locally, on a two-node Ray cluster started on loopback (`ray start --head` + `ray start
--address`, `--cpus-per-node` CPUs each), as BENCHMARKS.md reports it. Prints one JSON
object per line.

    python bench/ray_a3c.py learn --env CartPole-v1 --steps 100000 --seeds 0 1 2
    python bench/ray_a3c.py learn --algo ppo --workers 2 4 --cpus-per-node 2 --set n_envs=8
    python bench/ray_a3c.py overhead
    python bench/ray_a3c.py kill --steps 300000 --every 10
    python bench/ray_a3c.py kill --algo ppo --steps 300000 --every 10 --set n_envs=8

`--inline-kb K` starts the cluster with Ray's `max_direct_call_object_size` at K kB (Ray's
default 100 kB), so call arguments and results up to that size travel inline with the call
instead of through the object store.

Needs the engram package and Ray (`pip install 'ray[default]'`) in this Python.
"""

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time

import numpy as np

os.environ.setdefault("RAY_AUTH_MODE", "disabled")

import ray  # noqa: E402

from engram import _engram  # noqa: E402
import engram.distributed as dist  # noqa: E402


def start_cluster(nodes=2, cpus=1, inline_kb=None):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    ray_bin = os.path.join(os.path.dirname(sys.executable), "ray")
    common = ["--block", "--num-cpus", str(cpus), "--disable-usage-stats", "--node-ip-address",
              "127.0.0.1", "--object-store-memory", str(200 * 2**20)]
    head = ["--include-dashboard=false"]
    if inline_kb:
        head.append("--system-config=" + json.dumps(
            {"max_direct_call_object_size": inline_kb * 1024}))
    procs = [subprocess.Popen([ray_bin, "start", "--head", "--port", str(port)] + head + common,
                              start_new_session=True,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            time.sleep(0.5)
    for _ in range(nodes - 1):
        procs.append(subprocess.Popen([ray_bin, "start", "--address", f"127.0.0.1:{port}"]
                                      + common, start_new_session=True,
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    ray.init(address=f"127.0.0.1:{port}", log_to_driver=False)
    while len([n for n in ray.nodes() if n["Alive"]]) < nodes:
        time.sleep(0.5)
    return procs


def stop_cluster(procs):
    ray.shutdown()
    for p in reversed(procs):
        try:
            os.killpg(p.pid, signal.SIGTERM)
            p.wait(timeout=15)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            pass
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def local_run(algo, env, steps, seed, workers, extra):
    out = tempfile.mkdtemp(prefix=f"engram-local-{algo}-")
    settings = [f"total_steps={steps}", f"seed={seed}", "eval_interval=0"] + extra
    if algo == "a3c":
        settings.append(f"workers={workers}")
    wall, cpu = time.perf_counter(), time.process_time()
    summary = json.loads(_engram.train(algo, env, settings, out))
    mode = f"local a3c, {workers} threads" if algo == "a3c" else f"local {algo}"
    return {"mode": mode, "env": env, "seed": seed,
            "env_steps": summary["env_steps"], "wall_s": round(time.perf_counter() - wall, 2),
            "cpu_s": round(time.process_time() - cpu, 2),
            "steps_per_s": round(summary["steps_per_second"]),
            "final_train_mean_return": summary["final_train_mean_return"]}


def ray_run(algo, env, steps, seed, workers, extra, **kw):
    out = tempfile.mkdtemp(prefix=f"engram-ray-{algo}-")
    os.rmdir(out)
    config = {"algo": algo, "env": env, "total_steps": steps, "seed": seed, "eval_interval": 0}
    for item in extra:
        key, _, value = item.partition("=")
        config[key] = dist._Raw(value)
    wall = time.perf_counter()
    summary = dist.train(config, num_workers=workers, out=out, **kw)
    d = summary["distributed"]
    return {"mode": f"ray {algo}, {workers} workers", "env": env, "seed": seed,
            "env_steps": summary["env_steps"], "wall_s": round(time.perf_counter() - wall, 2),
            "cpu_s": round(d["driver_cpu_seconds"] + (d["worker_cpu_seconds"] or 0), 2),
            "steps_per_s": round(summary["steps_per_second"]),
            "final_train_mean_return": summary["final_train_mean_return"],
            "stop_reason": summary["stop_reason"], "distributed": d}


def overhead(repeats=2000):
    """Round trips to a worker on the other node: an empty call, then the parameter array
    out and the same number of bytes back (a pull plus a push)."""
    learner = _engram.A3cLearner.train("CartPole-v1", ["workers=2"],
                                       tempfile.mkdtemp(prefix="engram-ray-ovh-") + "/run")
    _, params = learner.params()
    worker_class = dist._worker_class(ray)
    toml = learner.config_toml()
    workers = [worker_class.options(num_cpus=1, scheduling_strategy="SPREAD")
               .remote(toml, i, i, 2) for i in range(2)]
    here = ray.get_runtime_context().get_node_id()
    placed = ray.get([w.where.remote() for w in workers])
    results = []
    for w, (_, node) in zip(workers, placed):
        where = "head node" if node == here else "second node"
        for label, call in [
            ("empty call", lambda: w.where.remote()),
            ("params out + same bytes back", lambda: w.echo.remote(params)),
            ("ray.put(params) then call", lambda: w.echo.remote(ray.put(params))),
        ]:
            for _ in range(50):
                ray.get(call())
            times = []
            for _ in range(repeats):
                t = time.perf_counter()
                ray.get(call())
                times.append(time.perf_counter() - t)
            results.append({"worker": where, "what": label, "bytes": int(params.nbytes),
                            "median_us": round(float(np.median(times)) * 1e6, 1),
                            "p90_us": round(float(np.percentile(times, 90)) * 1e6, 1)})
    for w in workers:
        ray.kill(w)
    learner.finish()
    return results


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("what", choices=["learn", "overhead", "kill"])
    parser.add_argument("--algo", choices=["a3c", "ppo", "a2c"], default="a3c")
    parser.add_argument("--cpus-per-node", type=int, default=1)
    parser.add_argument("--inline-kb", type=int, default=None)
    parser.add_argument("--no-local", action="store_true", help="skip the local runs")
    parser.add_argument("--env", default="CartPole-v1")
    parser.add_argument("--steps", type=int, default=100_000)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--workers", type=int, nargs="+", default=[2])
    parser.add_argument("--every", type=float, default=10.0)
    parser.add_argument("--set", action="append", default=[])
    args = parser.parse_args()
    procs = start_cluster(cpus=args.cpus_per_node, inline_kb=args.inline_kb)
    try:
        if args.what == "learn":
            for seed in args.seeds:
                for workers in args.workers:
                    if not args.no_local and (args.algo == "a3c" or workers == args.workers[0]):
                        print(json.dumps(local_run(args.algo, args.env, args.steps, seed,
                                                   workers, args.set)), flush=True)
                    print(json.dumps(ray_run(args.algo, args.env, args.steps, seed, workers,
                                             args.set)), flush=True)
        elif args.what == "overhead":
            for row in overhead():
                print(json.dumps(row), flush=True)
        else:
            print(json.dumps(ray_run(args.algo, args.env, args.steps, args.seeds[0],
                                     args.workers[0], args.set, kill_worker_every=args.every)),
                  flush=True)
    finally:
        stop_cluster(procs)


if __name__ == "__main__":
    main()
