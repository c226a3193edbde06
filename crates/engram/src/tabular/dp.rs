//! The loop dynamic programming shares (Sutton & Barto chapter 4): sweeps over the model's
//! states, each one "env step" of the run's budget, until no value changes by `theta`; the
//! checkpoint and `values.json` of a state-value table. Each method gives only its backup.

use crate::agent::tabular::TabularAgent;
use crate::error::TrainError;
use crate::runtime::{CheckpointParts, Metric, Session, StopReason};
use crate::tabular::bellman::q_table;
use crate::tabular::values::{agent_params, check_len, saved_state, Values};
use engram_env::Model;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// One sweep: state `s` gets `backup(from, s)`, where `from` is `v` itself (in place,
/// Gauss-Seidel, the book's) or the values before the sweep (`previous`, synchronous).
/// Returns the largest change.
pub fn sweep(
    v: &mut [f64],
    previous: &mut [f64],
    in_place: bool,
    mut backup: impl FnMut(&[f64], usize) -> f64,
) -> f64 {
    previous.copy_from_slice(v);
    let mut delta: f64 = 0.0;
    for s in 0..v.len() {
        let from: &[f64] = if in_place { &*v } else { &*previous };
        let new = backup(from, s);
        delta = delta.max((new - v[s]).abs());
        v[s] = new;
    }
    delta
}

/// `values.json` of a state-value table, with `q` from a one-step lookahead.
pub fn values(model: &Model, v: &[f64], gamma: f64, action_start: i64) -> Values {
    let q = q_table(model, v, gamma);
    Values::new(v.to_vec(), &q, model.n_actions(), action_start)
}

/// What a checkpoint stores of a method that sweeps until converged.
#[derive(Serialize, Deserialize)]
struct SweepState {
    v: Vec<f64>,
    /// The last sweep's largest change (`None` before the first): a run that converged
    /// stays converged when resumed with the same `theta`.
    delta: Option<f64>,
}

/// How a sweeping method is run (its backup aside).
pub struct Sweeps<'a> {
    pub model: &'a Model,
    pub agent: Arc<TabularAgent>,
    pub action_start: i64,
    pub gamma: f64,
    pub theta: f64,
    pub in_place: bool,
}

/// Sweeps `backup` from `v = 0` (or the checkpoint) until a sweep changes no value by
/// `theta` or the budget ends; the agent plays greedily on the one-step lookahead.
pub fn sweep_until_converged(
    mut session: Session,
    run: Sweeps<'_>,
    mut backup: impl FnMut(&[f64], usize) -> f64,
) -> Result<StopReason, TrainError> {
    let Sweeps {
        model,
        agent,
        action_start,
        gamma,
        theta,
        in_place,
    } = run;
    let (n_s, n) = (model.n_states(), model.n_actions());
    let mut v = vec![0.0; n_s];
    let mut last_delta: Option<f64> = None;
    if let Some(saved) = saved_state::<SweepState>(&session)? {
        check_len("V table", saved.v.len(), n_s)?;
        (v, last_delta) = (saved.v, saved.delta);
    }
    session.start(agent, true)?;
    let parts = |v: &[f64], delta: Option<f64>| CheckpointParts {
        params: agent_params(&q_table(model, v, gamma), n),
        collectors: vec![serde_json::to_value(SweepState {
            v: v.to_vec(),
            delta,
        })
        .ok()],
        ..CheckpointParts::default()
    };
    let mut previous = v.clone();
    let result: Result<(), TrainError> = (|| {
        while session.running() && last_delta.is_none_or(|d| d >= theta) {
            let delta = sweep(&mut v, &mut previous, in_place, &mut backup);
            last_delta = Some(delta);
            session.after_update(1, &[Metric::last("delta", delta)], &mut || {
                parts(&v, last_delta)
            })?;
        }
        Ok(())
    })();
    let stop = session.finish(result, || parts(&v, last_delta))?;
    values(model, &v, gamma, action_start).write(&session.run_dir)?;
    Ok(stop)
}
