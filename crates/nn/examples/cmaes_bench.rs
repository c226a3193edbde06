//! CMA-ES on 10-D sphere and Rosenbrock: evaluations and wall time to f < 1e-8, per seed.
//! `cargo run --release -p engram-nn --example cmaes_bench -- [SEEDS] [--active-free]`;
//! `bench/cmaes_pycma.py` runs pycma on the same setup (BENCHMARKS.md, "CMA-ES against pycma").

use engram_nn::cmaes::{minimize, CmaOptions, Stop};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::time::Instant;

fn sphere(x: &[f64]) -> f64 {
    x.iter().map(|v| v * v).sum()
}

fn rosenbrock(x: &[f64]) -> f64 {
    x.windows(2)
        .map(|w| 100.0 * (w[1] - w[0] * w[0]).powi(2) + (1.0 - w[0]).powi(2))
        .sum()
}

fn main() {
    let seeds: u64 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(20);
    let stop = Stop {
        target: 1e-8,
        max_evaluations: 100_000,
        ..Stop::default()
    };
    println!("function,seed,evaluations,reached,final_f,seconds");
    for (name, f, x0) in [
        ("sphere10", sphere as fn(&[f64]) -> f64, 0.1),
        ("rosenbrock10", rosenbrock, 0.0),
    ] {
        for seed in 0..seeds {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            let start = Instant::now();
            let m = minimize(f, &[x0; 10], 0.5, &CmaOptions::default(), &stop, &mut rng)
                .expect("valid options");
            println!(
                "{name},{seed},{},{},{:e},{:.6}",
                m.evaluations,
                m.value < 1e-8,
                m.value,
                start.elapsed().as_secs_f64()
            );
        }
    }
}
