//! Gymnasium's `NormalizeObservation` and `NormalizeReward`, with their running statistics
//! serialisable so that a checkpoint can save and restore them.

use super::{bad_argument, inner_access};
use crate::{Action, Env, EnvError, Space, Step};
use serde::{Deserialize, Serialize};

/// Running mean and variance (Chan et al.'s parallel algorithm, as Gymnasium's
/// `RunningMeanStd`): starts at mean 0, variance 1 and a pseudo-count of `1e-4`.
///
/// Kept in `f64` (Gymnasium keeps observation statistics in the observation dtype, `f32`):
/// the normalised values agree with Gymnasium's to about `f32` precision, not bit for bit.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunningMeanStd {
    pub mean: Vec<f64>,
    pub var: Vec<f64>,
    pub count: f64,
}

impl RunningMeanStd {
    /// Gymnasium's initial pseudo-count.
    pub const INITIAL_COUNT: f64 = 1e-4;

    pub fn new(dim: usize) -> Self {
        RunningMeanStd {
            mean: vec![0.0; dim],
            var: vec![1.0; dim],
            count: Self::INITIAL_COUNT,
        }
    }

    pub fn dim(&self) -> usize {
        self.mean.len()
    }

    /// `(x - mean) / sqrt(var + epsilon)` clipped to `±clip`, in place, without updating the
    /// statistics (SB3's `VecNormalize` uses epsilon 1e-8 and clip 10).
    pub fn normalize_clipped(&self, row: &mut [f32], epsilon: f64, clip: f32) {
        for ((x, m), v) in row.iter_mut().zip(&self.mean).zip(&self.var) {
            let z = (*x as f64 - m) / (v + epsilon).sqrt();
            *x = (z as f32).clamp(-clip, clip);
        }
    }

    /// Adds one sample.
    #[inline]
    pub fn update_one(&mut self, x: &[f32]) {
        debug_assert_eq!(x.len(), self.dim());
        // A batch of one: batch mean = x, batch variance = 0, batch count = 1.
        let total = self.count + 1.0;
        let weight = self.count / total;
        for ((m, v), &x) in self.mean.iter_mut().zip(&mut self.var).zip(x) {
            let delta = x as f64 - *m;
            *m += delta / total;
            *v = (*v * self.count + delta * delta * weight) / total;
        }
        self.count = total;
    }

    /// Adds one sample of a 1-dimensional statistic, in full `f64`.
    #[inline]
    pub fn update_scalar(&mut self, x: f64) {
        debug_assert_eq!(self.dim(), 1);
        let total = self.count + 1.0;
        let delta = x - self.mean[0];
        self.mean[0] += delta / total;
        self.var[0] = (self.var[0] * self.count + delta * delta * self.count / total) / total;
        self.count = total;
    }

    /// Adds a batch of `xs.len() / dim` samples stored one after another (e.g. a vector env's
    /// observation buffer).
    pub fn update_batch(&mut self, xs: &[f32]) {
        let dim = self.dim();
        if dim == 0 || xs.is_empty() {
            return;
        }
        debug_assert_eq!(xs.len() % dim, 0);
        let n = (xs.len() / dim) as f64;
        let total = self.count + n;
        for j in 0..dim {
            let column = xs.iter().skip(j).step_by(dim).map(|&x| x as f64);
            let batch_mean = column.clone().sum::<f64>() / n;
            let batch_var = column.map(|x| (x - batch_mean).powi(2)).sum::<f64>() / n;
            let delta = batch_mean - self.mean[j];
            let m2 =
                self.var[j] * self.count + batch_var * n + delta * delta * self.count * n / total;
            self.mean[j] += delta * n / total;
            self.var[j] = m2 / total;
        }
        self.count = total;
    }
}

/// Normalises observations to zero mean and unit variance with running statistics:
/// `(obs - mean) / sqrt(var + epsilon)`, updated with every observation (reset and step) while
/// [`NormalizeObservation::update_running_mean`] is on. Turn it off for evaluation.
#[derive(Clone, Debug)]
pub struct NormalizeObservation<E> {
    inner: E,
    observation_space: Space,
    obs_rms: RunningMeanStd,
    epsilon: f64,
    update_running_mean: bool,
}

impl<E: Env> NormalizeObservation<E> {
    /// Gymnasium's default `epsilon = 1e-8`.
    pub fn new(inner: E) -> Result<Self, EnvError> {
        Self::with_epsilon(inner, 1e-8)
    }

    pub fn with_epsilon(inner: E, epsilon: f64) -> Result<Self, EnvError> {
        let shape = match inner.observation_space() {
            Space::Box { shape, .. } => shape.clone(),
            other => {
                return Err(bad_argument(
                    "NormalizeObservation",
                    format!("needs a Box observation space, got {other}: apply OneHot first"),
                ))
            }
        };
        if epsilon.is_nan() || epsilon < 0.0 {
            return Err(bad_argument("NormalizeObservation", "epsilon must be >= 0"));
        }
        let dim = shape.iter().product();
        Ok(NormalizeObservation {
            observation_space: Space::uniform_box(f32::NEG_INFINITY, f32::INFINITY, &shape),
            obs_rms: RunningMeanStd::new(dim),
            inner,
            epsilon,
            update_running_mean: true,
        })
    }

    pub fn update_running_mean(&self) -> bool {
        self.update_running_mean
    }

    /// Freezes (`false`, for evaluation) or resumes (`true`) the statistics.
    pub fn set_update_running_mean(&mut self, update: bool) {
        self.update_running_mean = update;
    }

    /// The statistics, to save in a checkpoint.
    pub fn statistics(&self) -> &RunningMeanStd {
        &self.obs_rms
    }

    /// Restores statistics saved by [`NormalizeObservation::statistics`].
    pub fn set_statistics(&mut self, statistics: RunningMeanStd) -> Result<(), EnvError> {
        if statistics.dim() != self.obs_rms.dim() || statistics.var.len() != statistics.dim() {
            return Err(bad_argument(
                "NormalizeObservation",
                format!(
                    "statistics of dimension {} do not fit observations of dimension {}",
                    statistics.dim(),
                    self.obs_rms.dim()
                ),
            ));
        }
        self.obs_rms = statistics;
        Ok(())
    }

    #[inline]
    fn normalize(&mut self, obs: &mut [f32]) {
        if self.update_running_mean {
            self.obs_rms.update_one(obs);
        }
        for ((o, m), v) in obs
            .iter_mut()
            .zip(&self.obs_rms.mean)
            .zip(&self.obs_rms.var)
        {
            *o = ((*o as f64 - m) / (v + self.epsilon).sqrt()) as f32;
        }
    }
}

inner_access!(NormalizeObservation);

impl<E: Env> Env for NormalizeObservation<E> {
    crate::forward_env!(inner: action_space, info, action_mask, render, state, set_state, rng_mut);

    fn observation_space(&self) -> &Space {
        &self.observation_space
    }

    fn reset(&mut self, seed: Option<u64>, obs: &mut [f32]) -> Result<(), EnvError> {
        self.inner.reset(seed, obs)?;
        self.normalize(obs);
        Ok(())
    }

    fn step(&mut self, action: Action<'_>, obs: &mut [f32]) -> Result<Step, EnvError> {
        let step = self.inner.step(action, obs)?;
        self.normalize(obs);
        Ok(step)
    }
}

/// What [`NormalizeReward`] learns, to save in a checkpoint.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ReturnStatistics {
    /// Statistics of the discounted return (dimension 1).
    pub return_rms: RunningMeanStd,
    /// The running discounted return `G <- gamma * G * (1 - terminated) + r`.
    pub discounted_return: f64,
}

/// Scales rewards so that the discounted return has roughly unit variance: Gymnasium 1.x's
/// algorithm exactly: `G <- G * gamma * (1 - terminated) + r`, the running variance of `G` is
/// updated with each `G` (while updating is on), and the reward returned is
/// `r / sqrt(var + epsilon)`. The mean is not subtracted (openai/baselines#538), and, as in
/// Gymnasium, `terminated` is the flag of the current step (a terminal step restarts `G` from
/// its own reward), and neither truncation nor reset clears `G`.
#[derive(Clone, Debug)]
pub struct NormalizeReward<E> {
    inner: E,
    statistics: ReturnStatistics,
    gamma: f64,
    epsilon: f64,
    update_running_mean: bool,
}

impl<E: Env> NormalizeReward<E> {
    /// Gymnasium's defaults: `gamma = 0.99`, `epsilon = 1e-8`.
    pub fn new(inner: E) -> Result<Self, EnvError> {
        Self::with_params(inner, 0.99, 1e-8)
    }

    pub fn with_params(inner: E, gamma: f64, epsilon: f64) -> Result<Self, EnvError> {
        if !(0.0..=1.0).contains(&gamma) {
            return Err(bad_argument(
                "NormalizeReward",
                format!("gamma must be in [0, 1], got {gamma}"),
            ));
        }
        if epsilon.is_nan() || epsilon < 0.0 {
            return Err(bad_argument("NormalizeReward", "epsilon must be >= 0"));
        }
        Ok(NormalizeReward {
            inner,
            statistics: ReturnStatistics {
                return_rms: RunningMeanStd::new(1),
                discounted_return: 0.0,
            },
            gamma,
            epsilon,
            update_running_mean: true,
        })
    }

    pub fn update_running_mean(&self) -> bool {
        self.update_running_mean
    }

    /// Freezes (`false`, for evaluation) or resumes (`true`) the statistics.
    pub fn set_update_running_mean(&mut self, update: bool) {
        self.update_running_mean = update;
    }

    pub fn statistics(&self) -> &ReturnStatistics {
        &self.statistics
    }

    pub fn set_statistics(&mut self, statistics: ReturnStatistics) -> Result<(), EnvError> {
        if statistics.return_rms.dim() != 1 || statistics.return_rms.var.len() != 1 {
            return Err(bad_argument(
                "NormalizeReward",
                "return statistics must have dimension 1",
            ));
        }
        self.statistics = statistics;
        Ok(())
    }
}

inner_access!(NormalizeReward);

impl<E: Env> Env for NormalizeReward<E> {
    crate::forward_env!(inner: observation_space, action_space, reset, info, action_mask, render,
                        state, set_state, rng_mut);

    fn step(&mut self, action: Action<'_>, obs: &mut [f32]) -> Result<Step, EnvError> {
        let mut step = self.inner.step(action, obs)?;
        let keep = if step.terminated { 0.0 } else { 1.0 };
        let g = self.statistics.discounted_return * self.gamma * keep + step.reward;
        self.statistics.discounted_return = g;
        if self.update_running_mean {
            self.statistics.return_rms.update_scalar(g);
        }
        step.reward /= (self.statistics.return_rms.var[0] + self.epsilon).sqrt();
        Ok(step)
    }
}
