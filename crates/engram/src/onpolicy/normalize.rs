//! SB3 `VecNormalize`-style observation and reward normalisation for a collector's
//! environments.

use crate::runtime::evaluator::{NORMALIZE_CLIP, NORMALIZE_EPS};
use engram_env::wrappers::RunningMeanStd;
use serde::{Deserialize, Serialize};

/// SB3 `VecNormalize`-style normalisation of what a collector hands the learner, with one set
/// of statistics for all of its environments (Gymnasium's wrappers keep one per env):
/// observations shifted and scaled by their running mean and variance, rewards scaled by the
/// running standard deviation of the discounted return; both clipped to `±10`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Normalizer {
    pub obs: Option<RunningMeanStd>,
    pub returns: Option<RunningMeanStd>,
    /// Running discounted return of each environment's episode.
    discounted: Vec<f64>,
    gamma: f64,
}

impl Normalizer {
    /// `None` when neither is asked for.
    pub fn new(
        obs_dim: usize,
        n_envs: usize,
        obs: bool,
        rewards: bool,
        gamma: f64,
    ) -> Option<Normalizer> {
        (obs || rewards).then(|| Normalizer {
            obs: obs.then(|| RunningMeanStd::new(obs_dim)),
            returns: rewards.then(|| RunningMeanStd::new(1)),
            discounted: vec![0.0; n_envs],
            gamma,
        })
    }

    /// Adds a raw observation to the statistics and normalises it in place.
    pub(super) fn observe(&mut self, row: &mut [f32]) {
        if let Some(stats) = &mut self.obs {
            stats.update_one(row);
            stats.normalize_clipped(row, NORMALIZE_EPS, NORMALIZE_CLIP);
        }
    }

    /// The reward to learn from for environment `e`'s step.
    pub(super) fn reward(&mut self, e: usize, reward: f64, done: bool) -> f64 {
        let Some(stats) = &mut self.returns else {
            return reward;
        };
        self.discounted[e] = self.discounted[e] * self.gamma + reward;
        stats.update_scalar(self.discounted[e]);
        if done {
            self.discounted[e] = 0.0;
        }
        let clip = NORMALIZE_CLIP as f64;
        (reward / (stats.var[0] + NORMALIZE_EPS).sqrt()).clamp(-clip, clip)
    }
}
