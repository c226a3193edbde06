//! Evolution strategies as in Salimans, Ho, Chen, Sidor & Sutskever 2017 ("Evolution
//! Strategies as a Scalable Alternative to Reinforcement Learning"): a Gaussian-smoothed
//! gradient of the return, estimated from perturbed copies of the policy.
//!
//! Each generation draws `population / 2` noise seeds (`antithetic`, the paper's mirrored
//! sampling: each seed is played as `theta + sigma eps` and `theta - sigma eps`; without it,
//! `population` seeds, each played once). A worker receives only the seed and the sign and
//! rebuilds `eps` from the seed itself (the paper's seeds-only communication, which is what
//! lets the search spread over many machines later); the learner rebuilds the same `eps` for
//! the update. Returns are replaced by their centred ranks in `[-0.5, 0.5]` (fitness shaping),
//! and the gradient estimate is
//! `g = 1 / (population * sigma) * sum_j (F_j+ - F_j-) eps_j` (antithetic) or
//! `1 / (population * sigma) * sum_k F_k eps_k`; the optimizer (Adam in the paper and in the
//! tuned defaults) ascends `g - weight_decay * theta` over the searched coordinates.
//!
//! Observation normalisation (on by default, as in the paper): observations are normalised
//! by running statistics that stay fixed during a generation and are then updated with every
//! observation the generation played (the paper samples 1% of its rollouts for them; a
//! single machine can afford all). The evaluator plays with the same statistics.
//!
//! Candidates run on `workers` threads; the result does not depend on how many.

use super::RunConfig;
use crate::config::{check, invalid, ConfigError};
use crate::error::TrainError;
use crate::runtime::metrics::Metric;
use crate::runtime::{CheckpointParts, LocalStore, ParamStore, Session, StopReason};
use crate::search::{
    account, centered_ranks, check_saved, episode_seeds, fitness_metrics, saved_search_state,
    search_rng, FitnessPool, PolicySearch, RngState, SearchOptions, SearchSpace,
    EPISODES_PER_CANDIDATE,
};
use engram_env::wrappers::RunningMeanStd;
use engram_nn::dist::standard_normal_f64;
use engram_nn::optim::clip_grad_norm;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

pub const NAME: &str = "es";
pub const DESCRIPTION: &str =
    "Evolution strategies (Salimans et al. 2017): antithetic noise, centred ranks, Adam, all cores";
pub const ACTOR_CRITIC: bool = true;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub population: usize,
    pub sigma: f64,
    pub antithetic: bool,
    pub weight_decay: f64,
    pub episodes_per_candidate: usize,
    pub normalize_observations: bool,
    pub workers: usize,
}

impl Default for Config {
    fn default() -> Self {
        // The paper's MuJoCo settings where they apply to one machine: sigma 0.02, L2
        // coefficient 0.005, observation normalisation.
        Config {
            population: 50,
            sigma: 0.02,
            antithetic: true,
            weight_decay: 0.005,
            episodes_per_candidate: EPISODES_PER_CANDIDATE,
            normalize_observations: true,
            workers: super::available_cores(),
        }
    }
}

impl Config {
    pub fn validate(&self, _rc: &RunConfig) -> Result<(), ConfigError> {
        self.search_options().validate()?;
        if self.antithetic && !self.population.is_multiple_of(2) {
            return Err(invalid(
                "population",
                format!(
                    "must be even with antithetic sampling (pairs theta + sigma eps, theta - sigma eps), got {}",
                    self.population
                ),
            ));
        }
        check::non_negative("weight_decay", self.weight_decay)
    }

    /// Noise seeds per generation.
    fn directions(&self) -> usize {
        if self.antithetic {
            self.population / 2
        } else {
            self.population
        }
    }
}

impl PolicySearch for Config {
    const GRADIENT: bool = true;

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

/// `eps` of a noise seed: one standard normal per searched coordinate. Workers and the
/// learner call it with the same seed and get the same vector.
pub fn noise(seed: u64, dim: usize) -> Vec<f64> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..dim).map(|_| standard_normal_f64(&mut rng)).collect()
}

/// The ES gradient estimate `1 / (evaluations * sigma) * sum_j weights_j eps_j`, where
/// `weights_j` is `F_j+ - F_j-` (antithetic) or `F_j` for direction `j`'s noise `eps_j`.
pub fn gradient_estimate(
    weights: &[f64],
    noises: impl Fn(usize) -> Vec<f64>,
    dim: usize,
    evaluations: usize,
    sigma: f64,
) -> Vec<f64> {
    let mut g = vec![0.0; dim];
    for (j, w) in weights.iter().enumerate() {
        if *w == 0.0 {
            continue;
        }
        for (gi, e) in g.iter_mut().zip(noises(j)) {
            *gi += w * e;
        }
    }
    let scale = 1.0 / (evaluations as f64 * sigma);
    g.iter_mut().for_each(|v| *v *= scale);
    g
}

/// The search's state between generations (parameters and Adam are the checkpoint's own).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct State {
    rng: RngState,
    generation: u64,
    obs_stats: Option<RunningMeanStd>,
}

pub fn run(mut session: Session, rc: &RunConfig, c: &Config) -> Result<StopReason, TrainError> {
    let policy = super::actor_critic(rc, &*rc.common.make_env()?)?;
    let space = SearchSpace::of(&policy);
    let mut store = session.local_store(&policy.layout, &rc.optim)?;
    let mut state = match saved_search_state::<State>(&session, 0)? {
        Some(saved) => saved,
        None => State {
            rng: RngState::of(&search_rng(rc.common.seed)),
            generation: 0,
            obs_stats: c
                .normalize_observations
                .then(|| RunningMeanStd::new(policy.obs_dim())),
        },
    };
    check_saved(
        "parameters",
        space.dim(),
        space.dim(),
        state.obs_stats.as_ref(),
        policy.obs_dim(),
    )?;
    let mut rng = state.rng.restore();
    let mut pool = FitnessPool::new(policy.clone(), c.workers, || Ok(rc.common.make_env()?))?;
    session.start(policy.clone(), true)?;
    let parts = |store: &LocalStore, state: &State| CheckpointParts {
        params: store.snapshot(),
        optimizers: store.optimizer_states(),
        collectors: vec![serde_json::to_value(state).ok()],
        obs_stats: state.obs_stats.clone(),
        ..CheckpointParts::default()
    };
    let lr_schedule = rc.optim.lr();
    let (n, directions) = (space.dim(), c.directions());
    let mut grads = policy.layout.zeros();
    let result: Result<(), TrainError> = (|| {
        while session.running() {
            let episode = episode_seeds(&mut rng, c.episodes_per_candidate);
            let noise_seeds = episode_seeds(&mut rng, directions);
            let sigma = c.sigma;
            let antithetic = c.antithetic;
            // Seeds only: the worker rebuilds its candidate's noise.
            let fill = |k: usize, p: &mut [f32]| {
                let (j, sign) = if antithetic {
                    (k / 2, if k.is_multiple_of(2) { 1.0 } else { -1.0 })
                } else {
                    (k, 1.0)
                };
                let eps = noise(noise_seeds[j], n);
                space.for_each_mut(p, |i, v| *v = (*v as f64 + sign * sigma * eps[i]) as f32);
            };
            let outcomes = pool.evaluate(
                &store.params,
                c.population,
                &fill,
                &episode,
                state.obs_stats.as_ref(),
                c.normalize_observations,
            )?;
            let steps = account(&session, &outcomes, state.obs_stats.as_mut());
            let fitness: Vec<f64> = outcomes.iter().map(|o| o.fitness).collect();
            let ranks = centered_ranks(&fitness);
            let weights: Vec<f64> = if antithetic {
                ranks.chunks(2).map(|p| p[0] - p[1]).collect()
            } else {
                ranks
            };
            let g = gradient_estimate(
                &weights,
                |j| noise(noise_seeds[j], n),
                n,
                c.population,
                sigma,
            );
            // The optimizer descends: minus the ascent direction, plus the L2 pull.
            grads.fill(0.0);
            let theta = space.gather(&store.params);
            space.for_each_mut(&mut grads, |i, d| {
                *d = (-g[i] + c.weight_decay * theta[i]) as f32;
            });
            let grad_norm = clip_grad_norm(&mut grads, rc.optim.max_grad_norm as f32) as f64;
            if !session.update_is_finite(fitness.iter().sum(), grad_norm) {
                break;
            }
            let lr = lr_schedule.value(session.monitor.progress_fraction());
            store.apply(&grads, lr as f32);
            if !session.params_are_finite(&store.params) {
                break;
            }
            state.generation = state.generation.saturating_add(1);
            state.rng = RngState::of(&rng);
            let [f_mean, f_best] = fitness_metrics(&outcomes);
            let metrics = [
                f_mean,
                f_best,
                Metric::mean("grad_norm", grad_norm),
                Metric::last("learning_rate", lr),
            ];
            session.after_update(steps, &metrics, &mut || parts(&store, &state))?;
        }
        Ok(())
    })();
    session.finish(result, || parts(&store, &state))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn antithetic_estimate_is_unbiased_on_a_quadratic() {
        // F(x) = -sum_i d_i (x_i - a_i)^2 / 2: the Gaussian-smoothed gradient at theta equals
        // the true one, -d_i (theta_i - a_i).
        let d = [1.0, 3.0, 0.5, 2.0];
        let a = [0.5, -1.0, 2.0, 0.0];
        let theta = [0.0, 0.0, 1.0, 1.0];
        let f = |x: &[f64]| -> f64 {
            x.iter()
                .zip(&d)
                .zip(&a)
                .map(|((x, d), a)| d * (x - a).powi(2))
                .sum::<f64>()
                / -2.0
        };
        let (sigma, pairs, dim) = (0.1, 20_000usize, 4);
        let weights: Vec<f64> = (0..pairs)
            .map(|j| {
                let eps = noise(j as u64, dim);
                let plus: Vec<f64> = theta.iter().zip(&eps).map(|(t, e)| t + sigma * e).collect();
                let minus: Vec<f64> = theta.iter().zip(&eps).map(|(t, e)| t - sigma * e).collect();
                f(&plus) - f(&minus)
            })
            .collect();
        let g = gradient_estimate(&weights, |j| noise(j as u64, dim), dim, 2 * pairs, sigma);
        for i in 0..dim {
            let truth = -d[i] * (theta[i] - a[i]);
            // Antithetic pairs cancel the quadratic term: the estimate's error is the Monte
            // Carlo error of E[eps eps^T] = I over 20k draws (about 1%).
            assert!(
                (g[i] - truth).abs() < 0.03 * (1.0 + truth.abs()),
                "{i}: {} vs {truth}",
                g[i]
            );
        }
    }
}
