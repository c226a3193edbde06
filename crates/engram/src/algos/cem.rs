//! The cross-entropy method (Rubinstein 1999; for policies, Szita & Lőrincz 2006, "Learning
//! Tetris Using the Noisy Cross-Entropy Method"): a diagonal Gaussian over the policy's flat
//! parameters (the coordinates that shape the greedy action, see [`SearchSpace`]).
//!
//! Each generation samples `population` candidates `x = mean + std * z`, plays each for
//! `episodes_per_candidate` greedy episodes (all candidates on the same starts, on `workers`
//! threads), keeps the best `ceil(elite_frac * population)` and refits the Gaussian to them:
//! `mean` = their mean, `std^2` = their per-coordinate variance plus the extra noise
//! `extra_noise * max(0, 1 - g / extra_noise_generations)` at generation `g` (Szita & Lőrincz's
//! decreasing noise, which keeps the variance from collapsing before the elites are good).
//! The mean is the policy the run evaluates and saves. Any policy network works (MLP, LSTM,
//! GRU): the search sees a vector.

use super::RunConfig;
use crate::config::{check, invalid, ConfigError};
use crate::error::TrainError;
use crate::runtime::metrics::Metric;
use crate::runtime::{CheckpointParts, Session, StopReason};
use crate::search::{
    account, check_saved, episode_seeds, fitness_metrics, saved_search_state, search_rng,
    FitnessPool, PolicySearch, RngState, SearchOptions, SearchSpace, EPISODES_PER_CANDIDATE,
};
use engram_env::wrappers::RunningMeanStd;
use engram_nn::dist::standard_normal_f64;
use serde::{Deserialize, Serialize};

pub const NAME: &str = "cem";
pub const DESCRIPTION: &str =
    "Cross-entropy method: diagonal Gaussian over the policy's parameters, elite refit, extra noise";
pub const ACTOR_CRITIC: bool = true;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub population: usize,
    pub elite_frac: f64,
    pub sigma: f64,
    pub extra_noise: f64,
    pub extra_noise_generations: u64,
    pub episodes_per_candidate: usize,
    pub normalize_observations: bool,
    pub workers: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            population: 50,
            elite_frac: 0.2,
            sigma: 0.1,
            extra_noise: 0.0,
            extra_noise_generations: 100,
            episodes_per_candidate: EPISODES_PER_CANDIDATE,
            normalize_observations: false,
            workers: super::available_cores(),
        }
    }
}

impl Config {
    pub fn validate(&self, _rc: &RunConfig) -> Result<(), ConfigError> {
        self.search_options().validate()?;
        if !(self.elite_frac > 0.0 && self.elite_frac < 1.0) {
            return Err(invalid(
                "elite_frac",
                format!(
                    "must be in (0, 1) (the fraction of the population kept), got {}",
                    self.elite_frac
                ),
            ));
        }
        check::non_negative("extra_noise", self.extra_noise)
    }

    /// Candidates kept: `ceil(elite_frac * population)`, at least 1.
    pub fn elites(&self) -> usize {
        ((self.elite_frac * self.population as f64).ceil() as usize).clamp(1, self.population)
    }
}

impl PolicySearch for Config {
    fn search_options(&self) -> SearchOptions {
        SearchOptions {
            population: self.population,
            sigma: self.sigma,
            episodes_per_candidate: self.episodes_per_candidate,
            normalize_observations: self.normalize_observations,
            workers: self.workers,
        }
    }
}

/// The search's state between generations.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct State {
    rng: RngState,
    generation: u64,
    mean: Vec<f64>,
    std: Vec<f64>,
    obs_stats: Option<RunningMeanStd>,
}

pub fn run(mut session: Session, rc: &RunConfig, c: &Config) -> Result<StopReason, TrainError> {
    let policy = super::actor_critic(rc, &*rc.common.make_env()?)?;
    let space = SearchSpace::of(&policy);
    let mut params = session.initial_params(&policy.layout)?;
    let mut state = match saved_search_state::<State>(&session, 0)? {
        Some(saved) => saved,
        None => State {
            rng: RngState::of(&search_rng(rc.common.seed)),
            generation: 0,
            mean: space.gather(&params),
            std: vec![c.sigma; space.dim()],
            obs_stats: c
                .normalize_observations
                .then(|| RunningMeanStd::new(policy.obs_dim())),
        },
    };
    check_saved(
        "mean",
        state.mean.len(),
        space.dim(),
        state.obs_stats.as_ref(),
        policy.obs_dim(),
    )?;
    check_saved("std", state.std.len(), space.dim(), None, 0)?;
    let mut rng = state.rng.restore();
    let mut pool = FitnessPool::new(policy.clone(), c.workers, || Ok(rc.common.make_env()?))?;
    session.start(policy.clone(), true)?;
    let parts = |params: &[f32], state: &State| CheckpointParts {
        params: params.to_vec(),
        collectors: vec![serde_json::to_value(state).ok()],
        obs_stats: state.obs_stats.clone(),
        ..CheckpointParts::default()
    };
    let (n, elites) = (space.dim(), c.elites());
    let result: Result<(), TrainError> = (|| {
        while session.running() {
            let seeds = episode_seeds(&mut rng, c.episodes_per_candidate);
            let mut samples = vec![0.0; c.population * n];
            for row in samples.chunks_mut(n) {
                for ((x, m), s) in row.iter_mut().zip(&state.mean).zip(&state.std) {
                    *x = m + s * standard_normal_f64(&mut rng);
                }
            }
            let fill = |k: usize, p: &mut [f32]| space.scatter(&samples[k * n..(k + 1) * n], p);
            let outcomes = pool.evaluate(
                &params,
                c.population,
                &fill,
                &seeds,
                state.obs_stats.as_ref(),
                c.normalize_observations,
            )?;
            let steps = account(&session, &outcomes, state.obs_stats.as_mut());
            // The elites: best fitness first, ties in sampling order.
            let mut order: Vec<usize> = (0..c.population).collect();
            order.sort_by(|&a, &b| outcomes[b].fitness.total_cmp(&outcomes[a].fitness));
            let elite = &order[..elites];
            let fade = 1.0 - state.generation as f64 / c.extra_noise_generations.max(1) as f64;
            let extra = c.extra_noise * fade.max(0.0);
            for i in 0..n {
                let mean = elite.iter().map(|&k| samples[k * n + i]).sum::<f64>() / elites as f64;
                let var = elite
                    .iter()
                    .map(|&k| (samples[k * n + i] - mean).powi(2))
                    .sum::<f64>()
                    / elites as f64;
                state.mean[i] = mean;
                state.std[i] = (var + extra).sqrt();
            }
            state.generation = state.generation.saturating_add(1);
            state.rng = RngState::of(&rng);
            space.scatter(&state.mean, &mut params);
            let elite_fitness =
                elite.iter().map(|&k| outcomes[k].fitness).sum::<f64>() / elites as f64;
            let mean_std = state.std.iter().sum::<f64>() / n.max(1) as f64;
            let [f_mean, f_best] = fitness_metrics(&outcomes);
            let metrics = [
                f_mean,
                f_best,
                Metric::mean("fitness_elite", elite_fitness),
                Metric::last("std_mean", mean_std),
            ];
            session.after_update(steps, &metrics, &mut || parts(&params, &state))?;
        }
        Ok(())
    })();
    session.finish(result, || parts(&params, &state))
}
