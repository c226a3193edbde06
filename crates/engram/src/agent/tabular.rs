//! The tabular agent: a table of action values `Q(s, a)` over the states of a discrete
//! observation space, acting greedily. Its parameters are that table in `f32` (one matrix
//! `q`, `[n_states, n_actions]`), which is what checkpoints, the evaluator and `engram eval`
//! play; the learning methods keep their own `f64` tables beside it.

use super::action::ActionKind;
use super::{Act, Player};
use crate::error::TrainError;
use engram_env::Space;
use engram_nn::{Init, ParamLayout};
use rand_chacha::ChaCha8Rng;

/// The most states times actions a table may hold (8 bytes each in the learners' tables).
pub const MAX_TABLE: usize = 50_000_000;

/// Numbers the states of a discrete observation space: a Discrete value, or the mixed-radix
/// number of a MultiDiscrete or a Tuple of Discretes (Blackjack's `(sum, card, ace)`).
#[derive(Clone, Debug, PartialEq)]
pub struct StateIndex {
    /// `(start, n)` of each component, most significant first.
    parts: Vec<(i64, usize)>,
    n_states: usize,
}

impl StateIndex {
    /// The states of `space`, or an error for spaces a table cannot hold.
    pub fn new(space: &Space, env: &str) -> Result<StateIndex, TrainError> {
        let mut parts = Vec::new();
        collect(space, &mut parts).map_err(|_| {
            TrainError::Usage(format!(
                "tabular methods need a discrete observation space (one table row per state), and \
                 {env} observes {space}: use a deep algorithm (dqn, ppo, a2c) for it, or wrap it in \
                 an environment that discretises the observation (tile or bin it) into a Discrete \
                 space"
            ))
        })?;
        let n_states = parts
            .iter()
            .try_fold(1usize, |acc, &(_, n)| acc.checked_mul(n))
            .filter(|&n| n > 0 && n <= MAX_TABLE)
            .ok_or_else(|| {
                TrainError::Usage(format!(
                    "{env}'s observation space {space} has too many states for a table (at most \
                     {MAX_TABLE}): use a deep algorithm such as dqn"
                ))
            })?;
        Ok(StateIndex { parts, n_states })
    }

    pub fn n_states(&self) -> usize {
        self.n_states
    }

    /// The state number of a flat observation (values outside the space are clamped).
    #[inline]
    pub fn index(&self, obs: &[f32]) -> usize {
        if let ([(start, n)], [x]) = (&self.parts[..], obs) {
            // One Discrete (the toy-text grids): no mixed radix.
            return (*x as i64 - start).clamp(0, *n as i64 - 1) as usize;
        }
        let mut s = 0usize;
        for (&(start, n), &x) in self.parts.iter().zip(obs) {
            let v = (x as i64 - start).clamp(0, n as i64 - 1) as usize;
            s = s * n + v;
        }
        s
    }
}

fn collect(space: &Space, parts: &mut Vec<(i64, usize)>) -> Result<(), ()> {
    match space {
        Space::Discrete { n, start } => parts.push((*start, *n as usize)),
        Space::MultiDiscrete { nvec } => parts.extend(nvec.iter().map(|&n| (0, n as usize))),
        Space::Tuple(items) => {
            for item in items {
                collect(item, parts)?;
            }
        }
        Space::Box { .. } => return Err(()),
    }
    Ok(())
}

/// The actions of a Discrete action space, or an error.
pub fn discrete_actions(space: &Space, env: &str) -> Result<(usize, i64), TrainError> {
    match space {
        Space::Discrete { n, start } if *n >= 1 => Ok((*n as usize, *start)),
        _ => Err(TrainError::Usage(format!(
            "tabular methods need a Discrete action space, and {env} acts in {space}: use ppo, a2c \
             or a3c for it"
        ))),
    }
}

/// The first action whose value is within `1e-9` (relative) of the row's maximum: the
/// greedy action with ties broken towards the lowest action, robust to rounding.
pub fn greedy(row: &[f64]) -> usize {
    let best = row.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let tol = 1e-9 * best.abs().max(1.0);
    row.iter().position(|&q| q >= best - tol).unwrap_or(0)
}

pub struct TabularAgent {
    layout: ParamLayout,
    states: StateIndex,
    n_actions: usize,
    action_kind: ActionKind,
}

impl TabularAgent {
    pub fn new(obs: &Space, actions: &Space, env: &str) -> Result<TabularAgent, TrainError> {
        let states = StateIndex::new(obs, env)?;
        let (n_actions, _) = discrete_actions(actions, env)?;
        if states.n_states().saturating_mul(n_actions) > MAX_TABLE {
            return Err(TrainError::Usage(format!(
                "{env} has {} states and {n_actions} actions, more than a table holds \
                 ({MAX_TABLE} values): use a deep algorithm such as dqn",
                states.n_states()
            )));
        }
        let mut layout = ParamLayout::new();
        layout.matrix("q", states.n_states(), n_actions, Init::Constant(0.0));
        let action_kind = ActionKind::of(actions)
            .ok_or_else(|| TrainError::Usage(format!("action space {actions} is not supported")))?;
        Ok(TabularAgent {
            layout,
            states,
            n_actions,
            action_kind,
        })
    }

    pub fn states(&self) -> &StateIndex {
        &self.states
    }

    pub fn n_actions(&self) -> usize {
        self.n_actions
    }
}

impl Act for TabularAgent {
    fn layout(&self) -> &ParamLayout {
        &self.layout
    }

    fn obs_dim(&self) -> usize {
        self.states.parts.len()
    }

    fn action_kind(&self) -> &ActionKind {
        &self.action_kind
    }

    fn player<'a>(&'a self, params: &'a [f32]) -> Box<dyn Player + 'a> {
        Box::new(TablePlayer {
            agent: self,
            params,
        })
    }
}

struct TablePlayer<'a> {
    agent: &'a TabularAgent,
    params: &'a [f32],
}

impl Player for TablePlayer<'_> {
    fn reset(&mut self) {}

    /// The greedy action (also when sampling: a table's policy is its greedy one).
    fn act(&mut self, obs: &[f32], _rng: Option<&mut ChaCha8Rng>, action: &mut [f32]) {
        let n = self.agent.n_actions;
        let s = self.agent.states.index(obs);
        let row: Vec<f64> = self
            .params
            .get(s * n..(s + 1) * n)
            .map(|r| r.iter().map(|&q| q as f64).collect())
            .unwrap_or_else(|| vec![0.0; n]);
        let start = match self.agent.action_kind {
            ActionKind::Categorical { start, .. } => start,
            _ => 0,
        };
        action[0] = (greedy(&row) as i64 + start) as f32;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_of_tuples_are_mixed_radix_and_boxes_are_refused() {
        let blackjack = Space::Tuple(vec![
            Space::discrete(32),
            Space::discrete(11),
            Space::discrete(2),
        ]);
        let idx = StateIndex::new(&blackjack, "Blackjack-v1").unwrap();
        assert_eq!(idx.n_states(), 704);
        assert_eq!(idx.index(&[14.0, 10.0, 1.0]), (14 * 11 + 10) * 2 + 1);
        let cartpole = Space::uniform_box(-1.0, 1.0, &[4]);
        let err = StateIndex::new(&cartpole, "CartPole-v1")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("deep algorithm") && err.contains("discretises"),
            "{err}"
        );
    }

    #[test]
    fn greedy_breaks_near_ties_towards_the_lowest_action() {
        assert_eq!(greedy(&[1.0, 3.0, 3.0 + 1e-12, 2.0]), 1);
        assert_eq!(greedy(&[-5.0, -4.0]), 1);
    }
}
