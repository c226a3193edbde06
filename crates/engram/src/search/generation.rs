//! What every generation of a search shares: its RNG (saved exactly), the episode seeds of
//! the generation, the checks of the shared options, and the accounting of the episodes
//! played.

use super::fitness::Outcome;
use crate::config::{check, invalid, ConfigError};
use crate::runtime::metrics::Metric;
use crate::runtime::Session;
use engram_env::wrappers::RunningMeanStd;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// The most candidates of one generation.
pub const MAX_POPULATION: usize = 100_000;
/// The most episodes one candidate plays.
pub const MAX_EPISODES_PER_CANDIDATE: usize = 10_000;
/// The most worker threads.
pub const MAX_WORKERS: usize = 1024;

/// A ChaCha8 stream's exact position.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RngState {
    pub seed: [u8; 32],
    pub word_pos: u128,
}

impl RngState {
    pub fn of(rng: &ChaCha8Rng) -> RngState {
        RngState {
            seed: rng.get_seed(),
            word_pos: rng.get_word_pos(),
        }
    }

    pub fn restore(&self) -> ChaCha8Rng {
        let mut rng = ChaCha8Rng::from_seed(self.seed);
        rng.set_word_pos(self.word_pos);
        rng
    }
}

/// The search's RNG of a fresh run.
pub fn search_rng(seed: u64) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(seed ^ 0x5EA2_C4ED)
}

/// The reset seeds of one generation's episodes (the same for every candidate).
pub fn episode_seeds(rng: &mut ChaCha8Rng, episodes: usize) -> Vec<u64> {
    (0..episodes).map(|_| rng.gen::<u64>() >> 1).collect()
}

/// The options every search has (CEM, ES, CMA-ES), as each `Config` holds them: their checks
/// live here once, and `algos` answers the registry's questions (optimizer keys, threads,
/// observation normalisation, the spaces' check) for every [`PolicySearch`] at once.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SearchOptions {
    pub population: usize,
    pub sigma: f64,
    pub episodes_per_candidate: usize,
    pub normalize_observations: bool,
    pub workers: usize,
}

/// Defaults every search shares: one greedy episode per candidate.
pub const EPISODES_PER_CANDIDATE: usize = 1;

/// A policy search's `Config`.
pub trait PolicySearch {
    /// It steps an optimizer (ES) and takes the optimizer keys; CEM and CMA-ES do not.
    const GRADIENT: bool = false;

    /// Its shared options.
    fn search_options(&self) -> SearchOptions;
}

impl SearchOptions {
    /// The checks every search shares; each error names the key.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let population = self.population;
        if population < 2 {
            return Err(invalid(
                "population",
                format!("must be at least 2 (a search ranks candidates against each other), got {population}"),
            ));
        }
        check::count(
            "population",
            population,
            MAX_POPULATION,
            "candidates per generation",
        )?;
        check::positive("sigma", self.sigma)?;
        check::count(
            "episodes_per_candidate",
            self.episodes_per_candidate,
            MAX_EPISODES_PER_CANDIDATE,
            "episodes per candidate and generation",
        )?;
        check::count("workers", self.workers, MAX_WORKERS, "threads")
    }
}

/// Records every episode of the generation in candidate order (episodes.csv, the training
/// window), adds the recorded observations to `obs_stats`, and returns the env steps played.
pub fn account(
    session: &Session,
    outcomes: &[Outcome],
    obs_stats: Option<&mut RunningMeanStd>,
) -> u64 {
    for o in outcomes {
        for &(ret, len) in &o.episodes {
            session.monitor.episode_done(ret, len);
        }
    }
    if let Some(stats) = obs_stats {
        for o in outcomes.iter().filter(|o| !o.observations.is_empty()) {
            stats.update_batch(&o.observations);
        }
    }
    outcomes.iter().map(|o| o.steps).sum()
}

/// `fitness_mean` and `fitness_best` of a generation.
pub fn fitness_metrics(outcomes: &[Outcome]) -> [Metric; 2] {
    let n = outcomes.len().max(1) as f64;
    let mean = outcomes.iter().map(|o| o.fitness).sum::<f64>() / n;
    let best = outcomes
        .iter()
        .map(|o| o.fitness)
        .fold(f64::NEG_INFINITY, f64::max);
    [
        Metric::mean("fitness_mean", mean),
        Metric::mean("fitness_best", best),
    ]
}

/// Refuses a saved search state that does not fit this run: `what` holds `len` numbers where
/// `expected` are needed, or observation statistics of another width.
pub fn check_saved(
    what: &str,
    len: usize,
    expected: usize,
    obs_stats: Option<&RunningMeanStd>,
    obs_dim: usize,
) -> Result<(), crate::error::TrainError> {
    if len != expected {
        return Err(crate::error::TrainError::Usage(format!(
            "the checkpoint's {what} has {len} numbers; this network searches {expected} \
             parameters: it was written by another configuration"
        )));
    }
    if let Some(stats) = obs_stats {
        if stats.dim() != obs_dim || stats.var.len() != obs_dim {
            return Err(crate::error::TrainError::Usage(format!(
                "the checkpoint's observation statistics have {} dimensions; the environment has {obs_dim}",
                stats.dim()
            )));
        }
    }
    Ok(())
}
