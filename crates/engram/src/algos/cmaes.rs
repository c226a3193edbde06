//! CMA-ES over a policy's flat parameters: [`engram_nn::cmaes::CmaEs`] (Hansen's algorithm
//! with pycma's constants; sep-CMA, a diagonal covariance, above
//! [`engram_nn::cmaes::SEPARABLE_ABOVE`] searched coordinates unless `separable` says
//! otherwise) minimising minus the mean greedy return of each candidate.
//!
//! Each generation asks the optimizer for `population` candidates (unset: `4 + floor(3 ln N)`
//! for N searched coordinates), plays each for `episodes_per_candidate` greedy episodes (all
//! on the same starts, on `workers` threads) and tells it the returns. The distribution's mean
//! is the policy the run evaluates and saves; the whole optimizer state (mean, step size,
//! evolution paths, covariance and its eigendecomposition, exact f64) and the RNG position
//! travel in the checkpoint's metadata, so a resumed run continues bit for bit.
//!
//! CMA-ES learns an N x N covariance from about `lambda` samples a generation: it shines on
//! small policies (a linear CartPole policy has 10 searched numbers); a network of thousands
//! of parameters takes the diagonal path, which is CEM with a much better step-size rule.

use super::RunConfig;
use crate::config::ConfigError;
use crate::error::TrainError;
use crate::runtime::metrics::Metric;
use crate::runtime::{CheckpointParts, Session, StopReason};
use crate::search::{
    account, check_saved, episode_seeds, fitness_metrics, saved_search_state, search_rng,
    FitnessPool, PolicySearch, RngState, SearchOptions, SearchSpace, EPISODES_PER_CANDIDATE,
};
use engram_env::wrappers::RunningMeanStd;
use engram_nn::cmaes::{CmaEs, CmaOptions, CmaState};
use serde::{Deserialize, Serialize};

pub const NAME: &str = "cmaes";
pub const DESCRIPTION: &str =
    "CMA-ES (Hansen; pycma's constants) over the policy's parameters; sep-CMA for large networks";
pub const ACTOR_CRITIC: bool = true;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub population: Option<usize>,
    pub sigma: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub separable: Option<bool>,
    pub episodes_per_candidate: usize,
    pub normalize_observations: bool,
    pub workers: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            population: None,
            sigma: 0.1,
            separable: None,
            episodes_per_candidate: EPISODES_PER_CANDIDATE,
            normalize_observations: false,
            workers: super::available_cores(),
        }
    }
}

impl Config {
    pub fn validate(&self, _rc: &RunConfig) -> Result<(), ConfigError> {
        self.search_options().validate()
    }

    fn options(&self) -> CmaOptions {
        CmaOptions {
            population: self.population,
            separable: self.separable,
        }
    }
}

impl PolicySearch for Config {
    fn search_options(&self) -> SearchOptions {
        SearchOptions {
            // Unset, the population is CMA-ES's own (at least 4).
            population: self.population.unwrap_or(4),
            sigma: self.sigma,
            episodes_per_candidate: self.episodes_per_candidate,
            normalize_observations: self.normalize_observations,
            workers: self.workers,
        }
    }
}

/// [`CmaState`] as the checkpoint's JSON holds it (f64 round-trips exactly).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct SavedCma {
    generation: u64,
    evaluations: u64,
    mean: Vec<f64>,
    sigma: f64,
    p_sigma: Vec<f64>,
    p_c: Vec<f64>,
    cov: Vec<f64>,
    eigenvectors: Vec<f64>,
    scales: Vec<f64>,
    eigen_generation: u64,
}

impl From<&CmaState> for SavedCma {
    fn from(s: &CmaState) -> SavedCma {
        SavedCma {
            generation: s.generation,
            evaluations: s.evaluations,
            mean: s.mean.clone(),
            sigma: s.sigma,
            p_sigma: s.p_sigma.clone(),
            p_c: s.p_c.clone(),
            cov: s.cov.clone(),
            eigenvectors: s.eigenvectors.clone(),
            scales: s.scales.clone(),
            eigen_generation: s.eigen_generation,
        }
    }
}

impl From<SavedCma> for CmaState {
    fn from(s: SavedCma) -> CmaState {
        CmaState {
            generation: s.generation,
            evaluations: s.evaluations,
            mean: s.mean,
            sigma: s.sigma,
            p_sigma: s.p_sigma,
            p_c: s.p_c,
            cov: s.cov,
            eigenvectors: s.eigenvectors,
            scales: s.scales,
            eigen_generation: s.eigen_generation,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct State {
    rng: RngState,
    cma: SavedCma,
    obs_stats: Option<RunningMeanStd>,
}

fn cma_error(e: engram_nn::NnError) -> TrainError {
    TrainError::Usage(format!("CMA-ES: {e}"))
}

pub fn run(mut session: Session, rc: &RunConfig, c: &Config) -> Result<StopReason, TrainError> {
    let policy = super::actor_critic(rc, &*rc.common.make_env()?)?;
    let space = SearchSpace::of(&policy);
    let mut params = session.initial_params(&policy.layout)?;
    let options = c.options();
    let (mut es, mut rng, mut obs_stats) = match saved_search_state::<State>(&session, 0)? {
        Some(saved) => (
            CmaEs::from_state(saved.cma.into(), &options).map_err(cma_error)?,
            saved.rng.restore(),
            saved.obs_stats,
        ),
        None => (
            CmaEs::new(&space.gather(&params), c.sigma, &options).map_err(cma_error)?,
            search_rng(rc.common.seed),
            c.normalize_observations
                .then(|| RunningMeanStd::new(policy.obs_dim())),
        ),
    };
    check_saved(
        "CMA-ES mean",
        es.dim(),
        space.dim(),
        obs_stats.as_ref(),
        policy.obs_dim(),
    )?;
    let mut pool = FitnessPool::new(policy.clone(), c.workers, || Ok(rc.common.make_env()?))?;
    session.start(policy.clone(), true)?;
    let parts = |params: &[f32], es: &CmaEs, rng: &RngState, obs: &Option<RunningMeanStd>| {
        let state = State {
            rng: rng.clone(),
            cma: es.state().into(),
            obs_stats: obs.clone(),
        };
        CheckpointParts {
            params: params.to_vec(),
            collectors: vec![serde_json::to_value(&state).ok()],
            obs_stats: obs.clone(),
            ..CheckpointParts::default()
        }
    };
    let (n, lambda) = (space.dim(), es.population());
    let mut rng_state = RngState::of(&rng);
    let result: Result<(), TrainError> = (|| {
        while session.running() {
            let seeds = episode_seeds(&mut rng, c.episodes_per_candidate);
            let samples = es.ask(&mut rng).to_vec();
            let fill = |k: usize, p: &mut [f32]| space.scatter(&samples[k * n..(k + 1) * n], p);
            let outcomes = pool.evaluate(
                &params,
                lambda,
                &fill,
                &seeds,
                obs_stats.as_ref(),
                c.normalize_observations,
            )?;
            let steps = account(&session, &outcomes, obs_stats.as_mut());
            let costs: Vec<f64> = outcomes.iter().map(|o| -o.fitness).collect();
            es.tell(&costs).map_err(cma_error)?;
            space.scatter(es.mean(), &mut params);
            rng_state = RngState::of(&rng);
            let [f_mean, f_best] = fitness_metrics(&outcomes);
            let metrics = [
                f_mean,
                f_best,
                Metric::last("sigma", es.sigma()),
                Metric::last("axis_ratio", es.axis_ratio()),
            ];
            session.after_update(steps, &metrics, &mut || {
                parts(&params, &es, &rng_state, &obs_stats)
            })?;
        }
        Ok(())
    })();
    session.finish(result, || parts(&params, &es, &rng_state, &obs_stats))
}
