//! CliffWalking-v1 / CliffWalkingSlippery-v1 (Sutton & Barto, example 6.6), as Gymnasium 1.x's
//! `CliffWalkingEnv`.

use super::{cumulative, sample_cumulative, Transition, TransitionTable};
use crate::builtin::{invalid_action, obs_array, Phase};
use crate::env::{
    ByIndex, Env, EnvError, IndexStep, Info, InfoValue, Render, RenderMode, Step, StepByIndex,
};
use crate::registry::Options;
use crate::rng::EnvRng;
use crate::space::{Action, Space};

const ROWS: usize = 4;
const COLS: usize = 12;
const N_STATES: usize = ROWS * COLS;
/// (3, 0), the bottom-left cell.
const START: usize = 3 * COLS;
/// Moves of actions up, right, down, left (0-3) as (row, col) deltas.
const DELTAS: [(i64, i64); 4] = [(-1, 0), (0, 1), (1, 0), (0, -1)];

fn is_cliff(row: usize, col: usize) -> bool {
    row == 3 && (1..COLS - 1).contains(&col)
}

/// CliffWalking: a 4x12 grid; start bottom-left, goal bottom-right, the cells between them are
/// a cliff (-100 and back to the start). -1 per step. Actions up, right, down, left (0-3); when
/// slippery a move goes in a perpendicular direction with probability 2/3.
#[derive(Clone, Debug)]
pub struct CliffWalking {
    table: TransitionTable,
    initial: Vec<f64>,
    /// `initial`'s running sums (a reset's draw by bisection).
    initial_cumulative: Vec<f64>,
    s: usize,
    last_prob: f64,
    phase: Phase,
    rng: EnvRng,
    observation_space: Space,
    action_space: Space,
}

impl Default for CliffWalking {
    fn default() -> Self {
        Self::new(false)
    }
}

impl CliffWalking {
    pub fn new(is_slippery: bool) -> Self {
        let mut table = TransitionTable::new(N_STATES, 4);
        for s in 0..N_STATES {
            let (row, col) = (s / COLS, s % COLS);
            for a in 0..4 {
                let moves: &[usize] = if is_slippery {
                    &[(a + 3) % 4, a, (a + 1) % 4]
                } else {
                    &[a]
                };
                let prob = 1.0 / moves.len() as f64;
                for &m in moves {
                    let (dr, dc) = DELTAS[m];
                    let r = (row as i64 + dr).clamp(0, ROWS as i64 - 1) as usize;
                    let c = (col as i64 + dc).clamp(0, COLS as i64 - 1) as usize;
                    let t = if is_cliff(r, c) {
                        Transition {
                            prob,
                            next: START as u32,
                            reward: -100.0,
                            terminated: false,
                        }
                    } else {
                        let terminated = (r, c) == (ROWS - 1, COLS - 1);
                        Transition {
                            prob,
                            next: (r * COLS + c) as u32,
                            reward: -1.0,
                            terminated,
                        }
                    };
                    table.push(s, a, t);
                }
            }
        }
        let mut initial = vec![0.0; N_STATES];
        initial[START] = 1.0;
        CliffWalking {
            table,
            initial_cumulative: cumulative(&initial),
            initial,
            s: START,
            last_prob: 1.0,
            phase: Phase::NotReset,
            rng: EnvRng::default(),
            observation_space: Space::discrete(N_STATES as u64),
            action_space: Space::discrete(4),
        }
    }

    /// Registry entry point. Options: `is_slippery` (default false).
    pub fn make(opts: &mut Options) -> Result<Box<dyn Env>, EnvError> {
        let slippery = opts.take_bool("is_slippery", false)?;
        Ok(Box::new(Self::new(slippery)))
    }
}

impl Env for CliffWalking {
    fn observation_space(&self) -> &Space {
        &self.observation_space
    }

    fn action_space(&self) -> &Space {
        &self.action_space
    }

    fn reset(&mut self, seed: Option<u64>, obs: &mut [f32]) -> Result<(), EnvError> {
        let obs = obs_array::<1>(obs)?;
        if let Some(seed) = seed {
            self.rng.seed(seed);
        }
        self.s = sample_cumulative(&self.initial_cumulative, &mut self.rng);
        self.last_prob = 1.0;
        self.phase = Phase::Running;
        obs[0] = self.s as f32;
        Ok(())
    }

    #[inline]
    fn step(&mut self, action: Action<'_>, obs: &mut [f32]) -> Result<Step, EnvError> {
        self.phase.check_step()?;
        let a = match action {
            Action::Discrete(a @ 0..=3) => a as usize,
            _ => return Err(invalid_action(action, &self.action_space)),
        };
        let obs = obs_array::<1>(obs)?;
        let t = self.step_index(a);
        obs[0] = t.next as f32;
        Ok(Step {
            reward: t.reward,
            terminated: t.terminated,
            truncated: false,
        })
    }

    fn info(&self) -> Info {
        vec![("prob", InfoValue::Float(self.last_prob))]
    }

    fn render(&self, mode: RenderMode) -> Result<Render, EnvError> {
        if mode != RenderMode::Text {
            return Err(EnvError::Unsupported(format!(
                "render mode {mode:?} for CliffWalking (use Text)"
            )));
        }
        let mut out = String::new();
        for s in 0..N_STATES {
            let (row, col) = (s / COLS, s % COLS);
            let mut cell = if self.s == s {
                " x "
            } else if (row, col) == (3, 11) {
                " T "
            } else if is_cliff(row, col) {
                " C "
            } else {
                " o "
            }
            .to_string();
            if col == 0 {
                cell = cell.trim_start().to_string();
            }
            if col == COLS - 1 {
                cell = cell.trim_end().to_string();
                cell.push('\n');
            }
            out.push_str(&cell);
        }
        out.push('\n');
        Ok(Render::Text(out))
    }

    fn state(&self) -> Option<Vec<f64>> {
        Some(vec![self.s as f64])
    }

    fn set_state(&mut self, state: &[f64]) -> Result<(), EnvError> {
        match state {
            [s] if *s >= 0.0 && s.fract() == 0.0 && (*s as usize) < N_STATES => {
                self.s = *s as usize;
                self.phase = Phase::Running;
                Ok(())
            }
            _ => Err(EnvError::Other(format!(
                "CliffWalking state is one cell index in [0, 48), got {state:?}"
            ))),
        }
    }

    /// Gymnasium's `P`.
    fn model(&self) -> Option<std::sync::Arc<crate::model::Model>> {
        Some(self.table.to_model(&self.initial))
    }

    fn rng_mut(&mut self) -> Option<&mut EnvRng> {
        Some(&mut self.rng)
    }

    fn by_index(&mut self) -> Option<ByIndex<'_>> {
        Some(ByIndex::CliffWalking(self))
    }
}

impl StepByIndex for CliffWalking {
    fn state_index(&self) -> usize {
        self.s
    }

    #[inline]
    fn step_index(&mut self, action: usize) -> IndexStep {
        let t = self.table.sample(self.s, action, &mut self.rng);
        self.s = t.next as usize;
        self.last_prob = t.prob;
        if t.terminated {
            self.phase = Phase::Done;
        }
        IndexStep {
            next: self.s,
            reward: t.reward,
            terminated: t.terminated,
        }
    }
}
