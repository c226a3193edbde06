//! Machinery of the tabular methods (Sutton & Barto, 2nd ed.): one environment stepped with
//! exact resume ([`runner`]), exploration strategies shared by MDP methods and bandits
//! ([`explore`]), Bellman backups over an environment's model ([`bellman`]) and the sweeps of
//! dynamic programming ([`dp`]), the loop of TD control ([`control`]), and what a tabular
//! run writes: its parameters for the evaluator and `values.json` ([`values`]).
//!
//! Values and returns are `f64` throughout; the agent's `f32` table is only what plays.

pub mod bellman;
pub mod control;
pub mod dp;
pub mod explore;
pub mod nstep;
pub mod runner;
pub mod values;

use crate::agent::tabular::TabularAgent;
use crate::error::TrainError;
use engram_env::Env;
use std::sync::Arc;

/// Steps a sampling method takes between two accounts to the session (it also accounts at
/// every episode's end, so that episode budgets stop on time): a lock-free inner loop.
pub const CHUNK: u64 = 1024;

/// The table agent of a tabular run on `probe`'s spaces.
pub fn table_agent(env_id: &str, probe: &dyn Env) -> Result<Arc<TabularAgent>, TrainError> {
    Ok(Arc::new(TabularAgent::new(
        probe.observation_space(),
        probe.action_space(),
        env_id,
    )?))
}

/// Steps to the next multiple of [`CHUNK`] env steps, or to the step budget if nearer.
/// Chunks end at the same step counts however the run was split by resumes, so a resumed
/// run accounts to the session exactly as an uninterrupted one.
pub fn chunk_len(session: &crate::runtime::Session) -> u64 {
    let now = session.monitor.env_steps();
    let left = session.common.total_steps.saturating_sub(now);
    left.min(CHUNK - now % CHUNK).max(1)
}
