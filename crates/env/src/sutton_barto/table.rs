//! An environment that steps by its own [`Model`]: the start state from the model's initial
//! distribution, each step one outcome of `P[s][a]` (Gymnasium's `categorical_sample`, one
//! `random()` draw). The textbook's finite MDPs are each a model plus this.

use crate::builtin::{invalid_action, obs_array, Phase};
use crate::env::{
    ByIndex, Env, EnvError, IndexStep, Info, InfoValue, Render, RenderMode, Step, StepByIndex,
};
use crate::model::Model;
use crate::rng::EnvRng;
use crate::space::{Action, Space};
use std::sync::Arc;

/// Draws a start state from `initial` (the first index whose cumulative sum exceeds one draw).
pub(crate) fn sample_start(initial: &[f64], rng: &mut EnvRng) -> usize {
    let u = rng.random();
    let mut acc = 0.0;
    for (i, p) in initial.iter().enumerate() {
        acc += p;
        if acc > u {
            return i;
        }
    }
    initial.iter().rposition(|&p| p > 0.0).unwrap_or(0)
}

/// How to draw a state as text: the grid's shape and one character per state.
#[derive(Clone, Debug)]
pub(crate) struct TextGrid {
    pub cols: usize,
    pub cells: Vec<char>,
}

#[derive(Clone, Debug)]
pub struct TableEnv {
    name: &'static str,
    model: Arc<Model>,
    action_start: i64,
    grid: Option<TextGrid>,
    s: usize,
    last_prob: f64,
    phase: Phase,
    rng: EnvRng,
    observation_space: Space,
    action_space: Space,
}

impl TableEnv {
    pub(crate) fn new(
        name: &'static str,
        model: Model,
        action_start: i64,
        grid: Option<TextGrid>,
    ) -> TableEnv {
        TableEnv {
            name,
            observation_space: Space::discrete(model.n_states() as u64),
            action_space: Space::Discrete {
                n: model.n_actions() as u64,
                start: action_start,
            },
            model: Arc::new(model),
            action_start,
            grid,
            s: 0,
            last_prob: 1.0,
            phase: Phase::NotReset,
            rng: EnvRng::default(),
        }
    }
}

impl Env for TableEnv {
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
        self.s = sample_start(&self.model.initial, &mut self.rng);
        self.last_prob = 1.0;
        self.phase = Phase::Running;
        obs[0] = self.s as f32;
        Ok(())
    }

    #[inline]
    fn step(&mut self, action: Action<'_>, obs: &mut [f32]) -> Result<Step, EnvError> {
        self.phase.check_step()?;
        let n = self.model.n_actions() as i64;
        let a = match action {
            Action::Discrete(a) if a >= self.action_start && a < self.action_start + n => {
                (a - self.action_start) as usize
            }
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

    fn action_mask(&self) -> Option<&[bool]> {
        self.model.allowed_row(self.s)
    }

    fn render(&self, mode: RenderMode) -> Result<Render, EnvError> {
        match (&self.grid, mode) {
            (Some(grid), RenderMode::Text) => {
                let mut out = String::new();
                for (i, c) in grid.cells.iter().enumerate() {
                    out.push(if i == self.s { 'x' } else { *c });
                    if (i + 1) % grid.cols == 0 {
                        out.push('\n');
                    }
                }
                Ok(Render::Text(out))
            }
            _ => Err(EnvError::Unsupported(format!(
                "render mode {mode:?} for {}",
                self.name
            ))),
        }
    }

    fn state(&self) -> Option<Vec<f64>> {
        Some(vec![self.s as f64])
    }

    fn set_state(&mut self, state: &[f64]) -> Result<(), EnvError> {
        let n = self.model.n_states();
        match state {
            [s] if *s >= 0.0 && s.fract() == 0.0 && (*s as usize) < n => {
                self.s = *s as usize;
                self.phase = Phase::Running;
                Ok(())
            }
            _ => Err(EnvError::Other(format!(
                "{} state is one index in [0, {n}), got {state:?}",
                self.name
            ))),
        }
    }

    fn rng_mut(&mut self) -> Option<&mut EnvRng> {
        Some(&mut self.rng)
    }

    fn model(&self) -> Option<Arc<Model>> {
        Some(self.model.clone())
    }

    fn by_index(&mut self) -> Option<ByIndex<'_>> {
        Some(ByIndex::Table(self))
    }
}

impl StepByIndex for TableEnv {
    fn state_index(&self) -> usize {
        self.s
    }

    #[inline]
    fn step_index(&mut self, action: usize) -> IndexStep {
        let outcomes = self.model.outcomes(self.s, action);
        let u = self.rng.random();
        let mut acc = 0.0;
        let mut picked = outcomes[0];
        for o in outcomes {
            acc += o.prob;
            if acc > u {
                picked = *o;
                break;
            }
        }
        self.s = picked.next as usize;
        self.last_prob = picked.prob;
        if picked.terminated {
            self.phase = Phase::Done;
        }
        IndexStep {
            next: self.s,
            reward: picked.reward,
            terminated: picked.terminated,
        }
    }
}
