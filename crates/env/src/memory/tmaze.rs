//! The T-maze (Bakker, NIPS 2002): the agent starts at the foot of a corridor of `length`
//! squares and sees a cue (goal up or goal down) only there. Walking the corridor it sees
//! "corridor"; at the junction it sees "junction" and must turn the way the cue said.
//! A memoryless policy can do no better than chance at the junction.
//!
//! Observation `Discrete(4)`: 0 = cue "up", 1 = cue "down" (start square only), 2 = corridor,
//! 3 = junction. Actions `Discrete(4)`: 0 = forward (east), 1 = back (west), 2 = up, 3 = down.
//! Reward +1 for turning the right way, -1 for the wrong way (both end the episode), 0
//! otherwise; the episode is truncated after `max_steps` steps.

use crate::env::{Env, EnvError, Step};
use crate::popgym::{check_action, check_obs, discrete, Phase};
use crate::registry::Options;
use crate::rng::EnvRng;
use crate::space::{Action, Space};
use serde_json::Value;

const CUE_UP: f32 = 0.0;
const CUE_DOWN: f32 = 1.0;
const CORRIDOR: f32 = 2.0;
const JUNCTION: f32 = 3.0;

#[derive(Clone, Debug)]
pub struct TMaze {
    /// Squares from the start to the junction (the junction is square `length`).
    length: usize,
    max_steps: usize,
    position: usize,
    goal_up: bool,
    steps: usize,
    space: Space,
    rng: EnvRng,
    phase: Phase,
}

impl TMaze {
    pub const DEFAULT_LENGTH: usize = 10;

    /// A corridor of `length >= 1` squares; episodes are cut after `max_steps` steps
    /// (at least `length + 1`, the optimal episode).
    pub fn new(length: usize, max_steps: usize) -> Result<Self, EnvError> {
        let bad = |message: String| EnvError::BadOption {
            id: "TMaze-v0".into(),
            message,
        };
        if length == 0 {
            return Err(bad(
                "`length` must be at least 1 (squares between the cue and the junction)".into(),
            ));
        }
        if max_steps <= length {
            return Err(bad(format!(
                "`max_steps` ({max_steps}) must exceed `length` ({length}): the shortest episode takes length + 1 steps"
            )));
        }
        Ok(TMaze {
            length,
            max_steps,
            position: 0,
            goal_up: false,
            steps: 0,
            space: Space::discrete(4),
            rng: EnvRng::default(),
            phase: Phase::NotReset,
        })
    }

    /// Registry entry point. Options: `length` (default 10), `max_steps` (default
    /// `4 * (length + 1)`).
    pub fn make(opts: &mut Options) -> Result<Box<dyn Env>, EnvError> {
        let length = take_count(opts, "length")?.unwrap_or(Self::DEFAULT_LENGTH);
        let max_steps = take_count(opts, "max_steps")?.unwrap_or(4 * (length + 1));
        Ok(Box::new(Self::new(length, max_steps)?))
    }

    pub fn length(&self) -> usize {
        self.length
    }

    pub fn max_steps(&self) -> usize {
        self.max_steps
    }

    fn observation(&self) -> f32 {
        if self.position == 0 {
            if self.goal_up {
                CUE_UP
            } else {
                CUE_DOWN
            }
        } else if self.position == self.length {
            JUNCTION
        } else {
            CORRIDOR
        }
    }
}

fn take_count(opts: &mut Options, key: &str) -> Result<Option<usize>, EnvError> {
    match opts.take_json(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v
            .as_u64()
            .map(|n| Some(n as usize))
            .ok_or_else(|| EnvError::BadOption {
                id: "TMaze-v0".into(),
                message: format!("option `{key}` must be a non-negative integer, got {v}"),
            }),
    }
}

impl Env for TMaze {
    fn observation_space(&self) -> &Space {
        &self.space
    }

    fn action_space(&self) -> &Space {
        &self.space
    }

    fn reset(&mut self, seed: Option<u64>, obs: &mut [f32]) -> Result<(), EnvError> {
        check_obs(obs, &self.space)?;
        if let Some(seed) = seed {
            self.rng.seed(seed);
        }
        self.goal_up = self.rng.random() < 0.5;
        self.position = 0;
        self.steps = 0;
        obs[0] = self.observation();
        self.phase = Phase::Running;
        Ok(())
    }

    fn step(&mut self, action: Action<'_>, obs: &mut [f32]) -> Result<Step, EnvError> {
        self.phase.check_step()?;
        check_action(&action, &self.space)?;
        check_obs(obs, &self.space)?;
        let mut reward = 0.0;
        let mut terminated = false;
        match discrete(action) {
            0 => self.position = (self.position + 1).min(self.length),
            1 => self.position = self.position.saturating_sub(1),
            turn if self.position == self.length => {
                terminated = true;
                reward = if (turn == 2) == self.goal_up {
                    1.0
                } else {
                    -1.0
                };
            }
            _ => {} // up/down into the corridor's walls: stay
        }
        self.steps += 1;
        let truncated = !terminated && self.steps >= self.max_steps;
        obs[0] = self.observation();
        self.phase = Phase::after(terminated || truncated);
        Ok(Step {
            reward,
            terminated,
            truncated,
        })
    }

    fn rng_mut(&mut self) -> Option<&mut EnvRng> {
        Some(&mut self.rng)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cue_is_shown_only_at_the_start_and_the_right_turn_pays() {
        let mut env = TMaze::new(3, 20).unwrap();
        let mut obs = [0f32];
        for seed in 0..10 {
            env.reset(Some(seed), &mut obs).unwrap();
            let up = obs[0] == CUE_UP;
            assert!(obs[0] == CUE_UP || obs[0] == CUE_DOWN);
            for expected in [CORRIDOR, CORRIDOR, JUNCTION] {
                let s = env.step(Action::Discrete(0), &mut obs).unwrap();
                assert_eq!((obs[0], s.reward, s.done()), (expected, 0.0, false));
            }
            let s = env
                .step(Action::Discrete(if up { 2 } else { 3 }), &mut obs)
                .unwrap();
            assert_eq!((s.reward, s.terminated), (1.0, true));
            assert_eq!(
                env.step(Action::Discrete(0), &mut obs),
                Err(EnvError::NeedsReset)
            );
        }
    }

    #[test]
    fn wrong_turn_costs_and_options_are_checked() {
        let mut env = TMaze::new(1, 5).unwrap();
        let mut obs = [0f32];
        env.reset(Some(1), &mut obs).unwrap();
        let wrong = if obs[0] == CUE_UP { 3 } else { 2 };
        env.step(Action::Discrete(0), &mut obs).unwrap();
        assert_eq!(
            env.step(Action::Discrete(wrong), &mut obs).unwrap().reward,
            -1.0
        );
        assert!(TMaze::new(0, 5).is_err());
        assert!(TMaze::new(5, 5).is_err());
        let mut opts = Options::default();
        opts.values
            .insert("length".into(), serde_json::json!("long"));
        assert!(matches!(
            TMaze::make(&mut opts),
            Err(EnvError::BadOption { .. })
        ));
    }

    #[test]
    fn episodes_are_truncated_at_max_steps() {
        let mut env = TMaze::new(4, 6).unwrap();
        let mut obs = [0f32];
        env.reset(Some(0), &mut obs).unwrap();
        for i in 1..=6 {
            let s = env.step(Action::Discrete(1), &mut obs).unwrap();
            assert_eq!(s.truncated, i == 6);
        }
    }
}
