//! Throughput measurements that `engram bench` reports (`env_cartpole_single`,
//! `env_cartpole_vec8`), as library functions so that the CLI and the criterion bench agree.

use crate::registry::{make, Options};
use crate::vector::{to_action, ActionKind, AutoresetMode, SyncVectorEnv, VectorEnv};
use crate::{Env, EnvError};
use rand::SeedableRng;
use std::time::{Duration, Instant};

/// Steps between two looks at the clock.
const CHUNK: u64 = 4096;
/// Precomputed random actions, cycled through (drawing actions is not what is measured).
const ACTION_TABLE: usize = 1024;

fn action_table(space: &crate::Space) -> Vec<f32> {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
    (0..ACTION_TABLE)
        .flat_map(|_| space.sample(&mut rng))
        .collect()
}

/// Steps per second of one environment stepped with random actions for about `seconds`
/// (reset whenever an episode ends; resets are part of the cost, as in Gymnasium's measure).
pub fn env_steps_per_second<E: Env>(env: &mut E, seconds: f64) -> Result<f64, EnvError> {
    let space = env.action_space().clone();
    let kind = ActionKind::of(&space)?;
    let ad = space.flat_dim();
    let actions = action_table(&space);
    let mut scratch = vec![0i64; ad];
    let mut obs = vec![0.0f32; env.observation_space().flat_dim()];
    env.reset(Some(0), &mut obs)?;
    let budget = Duration::from_secs_f64(seconds.max(0.0));
    let start = Instant::now();
    let mut steps = 0u64;
    let mut k = 0;
    loop {
        for _ in 0..CHUNK {
            let action = to_action(kind, &space, &actions[k * ad..(k + 1) * ad], &mut scratch)?;
            k = (k + 1) % ACTION_TABLE;
            if env.step(action, &mut obs)?.done() {
                env.reset(None, &mut obs)?;
            }
        }
        steps += CHUNK;
        let elapsed = start.elapsed();
        if elapsed >= budget {
            return Ok(steps as f64 / elapsed.as_secs_f64());
        }
    }
}

/// Sub-env steps per second of a vector env (`num_envs` per `step`) with random actions.
pub fn vector_steps_per_second<V: VectorEnv>(venv: &mut V, seconds: f64) -> Result<f64, EnvError> {
    let n = venv.num_envs();
    let ad = venv.action_dim();
    let table = action_table(venv.single_action_space());
    // Batches of n actions taken from the table in turn.
    let batches = ACTION_TABLE / n.max(1);
    if batches == 0 {
        return Err(EnvError::Other(format!(
            "benchmarks support at most {ACTION_TABLE} sub-environments, got {n}"
        )));
    }
    venv.reset(Some(0))?;
    let budget = Duration::from_secs_f64(seconds.max(0.0));
    let start = Instant::now();
    let mut steps = 0u64;
    let mut b = 0;
    let vec_steps_per_look = (CHUNK / n as u64).max(1);
    loop {
        for _ in 0..vec_steps_per_look {
            venv.step(&table[b * n * ad..(b + 1) * n * ad])?;
            b = (b + 1) % batches;
        }
        steps += vec_steps_per_look * n as u64;
        let elapsed = start.elapsed();
        if elapsed >= budget {
            return Ok(steps as f64 / elapsed.as_secs_f64());
        }
    }
}

/// Steps per second of `make(id)` on the calling thread: a single env when `num_envs == 1`,
/// otherwise a [`SyncVectorEnv`] of `num_envs` copies (same-step autoreset), counting every
/// sub-env step.
pub fn steps_per_second(id: &str, num_envs: usize, seconds: f64) -> Result<f64, EnvError> {
    let options = Options::new();
    match num_envs {
        0 => Err(EnvError::Other("num_envs must be at least 1".into())),
        1 => env_steps_per_second(&mut make(id, &options)?, seconds),
        n => {
            let mut venv = SyncVectorEnv::make(id, &options, n, AutoresetMode::SameStep)?;
            vector_steps_per_second(&mut venv, seconds)
        }
    }
}

/// `engram bench`'s `env_cartpole_single` (`num_envs = 1`) and `env_cartpole_vec8`
/// (`num_envs = 8`): CartPole-v1 as `make` builds it (TimeLimit and checks included).
pub fn cartpole_steps_per_second(num_envs: usize, seconds: f64) -> Result<f64, EnvError> {
    steps_per_second("CartPole-v1", num_envs, seconds)
}
