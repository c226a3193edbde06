//! `Bandit-v0`, the k-armed testbed of Sutton & Barto chapter 2 (Figures 2.1-2.6).
//!
//! Each arm's true value q*(a) is drawn once per environment instance, at its first seeded
//! reset, from N(`mean_offset`, 1) (Figure 2.5 uses `mean_offset = 4`); a pull of arm `a`
//! pays N(q*(a), 1). Every episode is one pull (one step, terminated), with a single
//! observation, 0. With `nonstationary` (Exercise 2.5) all q*(a) start at `mean_offset` and
//! take independent random walks, N(0, `walk_std` = 0.01) per pull.
//!
//! `info` names the optimal arm at the last pull (`optimal_arm`) and its value
//! (`optimal_value`), so that agents can log how often they chose it. Later seeded resets
//! only reseed the reward noise: the arm values are the instance's (`state()` holds them, and
//! `set_state` restores them).

use crate::builtin::{invalid_action, obs_array, Phase};
use crate::env::{Env, EnvError, Info, InfoValue, Step};
use crate::registry::Options;
use crate::rng::EnvRng;
use crate::space::{Action, Space};

#[derive(Clone, Debug)]
pub struct Bandit {
    means: Vec<f64>,
    drawn: bool,
    nonstationary: bool,
    mean_offset: f64,
    walk_std: f64,
    optimal: usize,
    phase: Phase,
    rng: EnvRng,
    observation_space: Space,
    action_space: Space,
}

fn argmax(v: &[f64]) -> usize {
    let mut best = 0;
    for (i, x) in v.iter().enumerate() {
        if *x > v[best] {
            best = i;
        }
    }
    best
}

impl Bandit {
    pub fn make(opts: &mut Options) -> Result<Box<dyn Env>, EnvError> {
        let k = opts.take_usize("k", 10)?;
        let bad = |message: String| EnvError::BadOption {
            id: "Bandit-v0".into(),
            message,
        };
        if !(2..=10_000).contains(&k) {
            return Err(bad(format!("k (arms) must be in 2..=10000, got {k}")));
        }
        let walk_std = opts.take_f64("walk_std", 0.01)?;
        if walk_std < 0.0 {
            return Err(bad(format!("walk_std must be >= 0, got {walk_std}")));
        }
        Ok(Box::new(Bandit {
            means: vec![0.0; k],
            drawn: false,
            nonstationary: opts.take_bool("nonstationary", false)?,
            mean_offset: opts.take_f64("mean_offset", 0.0)?,
            walk_std,
            optimal: 0,
            phase: Phase::NotReset,
            rng: EnvRng::default(),
            observation_space: Space::discrete(1),
            action_space: Space::discrete(k as u64),
        }))
    }
}

impl Env for Bandit {
    fn observation_space(&self) -> &Space {
        &self.observation_space
    }

    fn action_space(&self) -> &Space {
        &self.action_space
    }

    fn reset(&mut self, seed: Option<u64>, obs: &mut [f32]) -> Result<(), EnvError> {
        let obs = obs_array::<1>(obs)?;
        if let Some(seed) = seed {
            if !self.drawn {
                // Its own stream, so that the noise stream is the same whether or not this
                // reset drew the arm values (a resumed run replays from a later reset).
                let mut draw = EnvRng::new(seed ^ 0x005e_edba_4d17);
                let offset = self.mean_offset;
                let stationary = !self.nonstationary;
                for m in &mut self.means {
                    *m = offset
                        + if stationary {
                            draw.normal(0.0, 1.0)
                        } else {
                            0.0
                        };
                }
                self.drawn = true;
            }
            self.rng.seed(seed);
        }
        self.optimal = argmax(&self.means);
        self.phase = Phase::Running;
        obs[0] = 0.0;
        Ok(())
    }

    fn step(&mut self, action: Action<'_>, obs: &mut [f32]) -> Result<Step, EnvError> {
        self.phase.check_step()?;
        let k = self.means.len() as i64;
        let a = match action {
            Action::Discrete(a) if (0..k).contains(&a) => a as usize,
            _ => return Err(invalid_action(action, &self.action_space)),
        };
        let obs = obs_array::<1>(obs)?;
        self.optimal = argmax(&self.means);
        let reward = self.rng.normal(self.means[a], 1.0);
        if self.nonstationary {
            for m in &mut self.means {
                *m += self.rng.normal(0.0, self.walk_std);
            }
        }
        self.phase = Phase::Done;
        obs[0] = 0.0;
        Ok(Step {
            reward,
            terminated: true,
            truncated: false,
        })
    }

    fn info(&self) -> Info {
        vec![
            ("optimal_arm", InfoValue::Int(self.optimal as i64)),
            ("optimal_value", InfoValue::Float(self.means[self.optimal])),
        ]
    }

    /// The arm values, then 1 if they were drawn.
    fn state(&self) -> Option<Vec<f64>> {
        let mut s = self.means.clone();
        s.push(self.drawn as u8 as f64);
        Some(s)
    }

    fn set_state(&mut self, state: &[f64]) -> Result<(), EnvError> {
        if state.len() != self.means.len() + 1 || state.iter().any(|x| !x.is_finite()) {
            return Err(EnvError::Other(format!(
                "Bandit state is the {} arm values then the drawn flag, got {} numbers",
                self.means.len(),
                state.len()
            )));
        }
        let k = self.means.len();
        self.means.copy_from_slice(&state[..k]);
        self.drawn = state[k] != 0.0;
        self.optimal = argmax(&self.means);
        self.phase = Phase::Running;
        Ok(())
    }

    fn rng_mut(&mut self) -> Option<&mut EnvRng> {
        Some(&mut self.rng)
    }
}
