"""pycma on 10-D sphere and Rosenbrock, the setup of crates/nn/examples/cmaes_bench.rs:
x0 = 0.1 * ones (sphere) / zeros (Rosenbrock), sigma0 = 0.5, stop at f < 1e-8 or 100k
evaluations. Prints the same CSV. `python3 bench/cmaes_pycma.py [SEEDS] [--active]`
(default: CMA_active=False, the positive-weights algorithm engram implements)."""
import sys
import time

import cma
import numpy as np


def sphere(x):
    return float(np.sum(np.asarray(x) ** 2))


def main():
    seeds = int(sys.argv[1]) if len(sys.argv) > 1 and sys.argv[1].isdigit() else 20
    active = "--active" in sys.argv
    print("function,seed,evaluations,reached,final_f,seconds")
    for name, f, x0 in [("sphere10", sphere, 0.1), ("rosenbrock10", cma.ff.rosen, 0.0)]:
        for seed in range(seeds):
            opts = {"ftarget": 1e-8, "maxfevals": 100_000, "seed": seed + 1,
                    "CMA_active": active, "verbose": -9, "tolfun": 0, "tolfunhist": 0,
                    "tolflatfitness": 1000, "tolstagnation": 10**9}
            start = time.perf_counter()
            es = cma.CMAEvolutionStrategy(10 * [x0], 0.5, opts)
            es.optimize(f)
            elapsed = time.perf_counter() - start
            best = es.result.fbest
            print(f"{name},{seed},{es.result.evaluations},{best < 1e-8},{best:e},{elapsed:.6f}")


if __name__ == "__main__":
    main()
