//! The machinery of gradient-free policy search (CEM, ES, CMA-ES): the searched coordinates
//! of a policy's flat parameter vector, candidates played as whole greedy episodes on all
//! cores, fitness shaping, and the search state a checkpoint carries.
//!
//! A candidate is a parameter vector; its fitness is the mean return of
//! `episodes_per_candidate` greedy episodes, reset with seeds drawn once per generation and
//! shared by every candidate of the generation (common random numbers: candidates are ranked
//! on the same starts). Greedy play is what the evaluator and `engram eval` do, so the score a
//! search optimises is the score it reports. Workers receive what makes a candidate (a row of
//! numbers, or for ES a noise seed and a sign) and return returns, lengths and, when
//! observations are normalised, the raw observations: nothing depends on which worker played
//! which candidate, so a run gives the same bytes on 1 core or 16.
//!
//! A search's own state (distribution, RNG position, generation) travels in the checkpoint's
//! JSON metadata as exact f64 values (`collectors[0]`); the distribution's mean is also the
//! checkpoint's parameters, the policy the evaluator plays.

pub mod fitness;
pub mod generation;

pub use fitness::{
    centered_ranks, saved_search_state, Candidate, FitnessPool, Outcome, SearchSpace,
};
pub use generation::{
    account, check_saved, episode_seeds, fitness_metrics, search_rng, PolicySearch, RngState,
    SearchOptions, EPISODES_PER_CANDIDATE,
};
