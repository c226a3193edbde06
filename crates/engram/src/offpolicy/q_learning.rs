//! What the DQN family (`dqn`, `r2d2`) shares around its replay: the epsilon-greedy schedule
//! and its checks, the epsilon-greedy draw, the target network's clock, and the checkpoint
//! plumbing of a replay with optional priorities (the run state in `collectors`, the arrays as
//! `replay.<name>` tensors).

use super::prioritized::{PrioritizedSampler, PrioritizedState};
use crate::config::{check, ConfigError};
use crate::error::TrainError;
use crate::runtime::checkpoint::Checkpoint;
use crate::runtime::Tensor;
use engram_nn::optim::Schedule;
use rand::Rng;
use serde::de::DeserializeOwned;
use std::path::Path;

/// The tensor prefix of a saved replay (`replay.<array>`, `replay.priorities`).
pub const REPLAY: &str = "replay";

/// SB3's exploration schedule: linear from `initial` to `final_eps` over the first `fraction`
/// of the run, then constant.
pub fn epsilon_schedule(initial: f64, final_eps: f64, fraction: f64) -> Schedule {
    Schedule::LinearThenConstant {
        start: initial,
        end: final_eps,
        fraction,
    }
}

/// The checks of `exploration_fraction`, `exploration_initial_eps`, `exploration_final_eps`.
pub fn check_exploration(fraction: f64, initial: f64, final_eps: f64) -> Result<(), ConfigError> {
    check::unit("exploration_fraction", fraction, true)?;
    check::unit("exploration_initial_eps", initial, false)?;
    check::unit("exploration_final_eps", final_eps, false)
}

/// Epsilon-greedy actions of `n` discrete choices into `actions`: with `greedy` `None` (the
/// random warm-up) one uniform draw per environment; else each environment's coin (`rate`)
/// picks a uniform draw or its greedy action. The RNG draws are the same in number and order
/// for every caller, so runs replay exactly.
pub fn epsilon_greedy(
    greedy: Option<&[usize]>,
    n: usize,
    rate: f64,
    rng: &mut impl Rng,
    actions: &mut [f32],
) {
    match greedy {
        None => {
            for a in actions.iter_mut() {
                *a = rng.gen_range(0..n) as f32;
            }
        }
        Some(greedy) => {
            for (a, &g) in actions.iter_mut().zip(greedy) {
                *a = if rng.gen::<f64>() < rate {
                    rng.gen_range(0..n) as f32
                } else {
                    g as f32
                };
            }
        }
    }
}

/// When the target network is updated: every `target_update_interval / n_envs` lockstep steps
/// (at least every step), counted by SB3's `_n_calls`.
#[derive(Clone, Copy, Debug)]
pub struct TargetClock {
    every: u64,
}

impl TargetClock {
    pub fn new(target_update_interval: u64, n_envs: usize) -> TargetClock {
        TargetClock {
            every: (target_update_interval / n_envs as u64).max(1),
        }
    }

    /// Whether lockstep step `n_calls` (counted from 1) updates the target.
    pub fn due(&self, n_calls: u64) -> bool {
        n_calls.is_multiple_of(self.every)
    }
}

/// The algorithm's run state a checkpoint keeps in its first collector slot; `what` names it
/// in errors ("DQN", "R2D2").
pub fn saved_state<T: DeserializeOwned>(
    collectors: &[Option<serde_json::Value>],
    path: &Path,
    what: &str,
) -> Result<T, TrainError> {
    collectors
        .first()
        .cloned()
        .flatten()
        .map(serde_json::from_value)
        .transpose()
        .map_err(|e| {
            TrainError::Usage(format!("{}: unreadable {what} state: {e}", path.display()))
        })?
        .ok_or_else(|| TrainError::Usage(format!("{} holds no {what} state", path.display())))
}

/// The checkpoint's `replay.<name>` tensors, by name without the prefix.
pub fn saved_replay_arrays(ckpt: &Checkpoint) -> Vec<(String, Vec<f32>)> {
    let prefix = format!("{REPLAY}.");
    ckpt.tensors
        .iter()
        .filter_map(|t| {
            t.name
                .strip_prefix(&prefix)
                .map(|n| (n.to_string(), t.data.clone()))
        })
        .collect()
}

/// Rebuilds the prioritized sampler `per` (when the run has one and the checkpoint saved it)
/// from the saved state and the `priorities` array among `arrays`.
pub fn restore_priorities(
    per: &mut Option<PrioritizedSampler>,
    saved: &Option<PrioritizedState>,
    arrays: &[(String, Vec<f32>)],
) -> Result<(), TrainError> {
    if let (Some(p), Some(state)) = (per, saved) {
        let priorities = arrays
            .iter()
            .find(|(n, _)| n == "priorities")
            .map(|(_, v)| v.as_slice())
            .unwrap_or_default();
        *p = PrioritizedSampler::restore(state.clone(), priorities).map_err(TrainError::Usage)?;
    }
    Ok(())
}

/// A replay's arrays and, with `per`, its priorities as `replay.<name>` tensors.
pub fn replay_tensors<'a, D: AsRef<[f32]> + 'a>(
    arrays: impl IntoIterator<Item = (&'static str, D)>,
    per: &Option<PrioritizedSampler>,
) -> Vec<Tensor> {
    let mut out: Vec<Tensor> = arrays
        .into_iter()
        .map(|(name, data)| {
            let data = data.as_ref().to_vec();
            Tensor {
                name: format!("{REPLAY}.{name}"),
                shape: vec![data.len()],
                data,
            }
        })
        .collect();
    if let Some(p) = per {
        let data = p.priorities();
        out.push(Tensor {
            name: format!("{REPLAY}.priorities"),
            shape: vec![data.len()],
            data,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn target_clock_counts_lockstep_steps() {
        let clock = TargetClock::new(10, 4);
        let due: Vec<u64> = (1..=12).filter(|&s| clock.due(s)).collect();
        assert_eq!(due, vec![2, 4, 6, 8, 10, 12]);
        // An interval below n_envs updates every step.
        assert!((1..5).all(|s| TargetClock::new(1, 8).due(s)));
    }

    #[test]
    fn epsilon_greedy_draws_as_documented() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let mut actions = [9.0f32; 3];
        // Rate 0: greedy, one coin per environment.
        epsilon_greedy(Some(&[2, 0, 1]), 4, 0.0, &mut rng, &mut actions);
        assert_eq!(actions, [2.0, 0.0, 1.0]);
        let mut expect = ChaCha8Rng::seed_from_u64(1);
        for _ in 0..3 {
            let _: f64 = expect.gen();
        }
        assert_eq!(rng.gen::<u64>(), expect.gen::<u64>());
        // Warm-up: one uniform draw per environment, no coins.
        let (mut a, mut b) = (ChaCha8Rng::seed_from_u64(5), ChaCha8Rng::seed_from_u64(5));
        epsilon_greedy(None, 4, 1.0, &mut a, &mut actions);
        let by_hand: Vec<f32> = (0..3).map(|_| b.gen_range(0..4usize) as f32).collect();
        assert_eq!(actions.to_vec(), by_hand);
    }
}
