//! Steps per second of CartPole-v1 on one core (no time limit, reset on termination).
//!
//!     cargo run --release -p engram-env --example cartpole_speed
use engram_env::classic_control::CartPole;
use engram_env::{Action, Env};
use std::time::Instant;

fn main() {
    let mut env = CartPole::default();
    let mut obs = [0.0f32; 4];
    env.reset(Some(0), &mut obs).unwrap();
    let n: u64 = 50_000_000;
    let mut x: u64 = 0x5EED;
    let mut checksum = 0.0f64;
    let t = Instant::now();
    for _ in 0..n {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let step = env
            .step(Action::Discrete((x >> 63) as i64), &mut obs)
            .unwrap();
        checksum += obs[0] as f64;
        if step.terminated {
            env.reset(None, &mut obs).unwrap();
        }
    }
    let secs = t.elapsed().as_secs_f64();
    println!("CartPole-v1 concrete type: {:.1} M steps/s ({n} steps in {secs:.2} s, checksum {checksum:.3})", n as f64 / secs / 1e6);

    let mut env: Box<dyn Env> = Box::new(CartPole::default());
    env.reset(Some(0), &mut obs).unwrap();
    let t = Instant::now();
    for _ in 0..n {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let step = env
            .step(Action::Discrete((x >> 63) as i64), &mut obs)
            .unwrap();
        checksum += obs[0] as f64;
        if step.terminated {
            env.reset(None, &mut obs).unwrap();
        }
    }
    let secs = t.elapsed().as_secs_f64();
    println!("CartPole-v1 Box<dyn Env>:  {:.1} M steps/s ({n} steps in {secs:.2} s, checksum {checksum:.3})", n as f64 / secs / 1e6);
}
