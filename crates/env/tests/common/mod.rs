//! Small private environments for the infrastructure tests: seeded, stochastic, with every kind
//! of space, and deliberately *without* their own order checks (the wrappers add them).
#![allow(dead_code)]

use engram_env::{Action, Env, EnvError, Space, Step};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// A 1-D random walk. Observation `[position, steps, noise]` (Box), actions Discrete(3)
/// (left, stay, right). Reward `noise + 0.1 * action`; terminates when |position| reaches 3.
/// Reset draws the start position in {-1, 0, 1}.
#[derive(Clone, Debug)]
pub struct Walker {
    obs_space: Space,
    act_space: Space,
    rng: ChaCha8Rng,
    position: i64,
    steps: u32,
}

impl Walker {
    pub fn new() -> Self {
        Walker {
            obs_space: Space::uniform_box(-100.0, 1000.0, &[3]),
            act_space: Space::discrete(3),
            rng: ChaCha8Rng::seed_from_u64(12345),
            position: 0,
            steps: 0,
        }
    }

    fn write(&mut self, obs: &mut [f32]) -> f32 {
        let noise: f32 = self.rng.gen_range(-1.0..1.0);
        obs[0] = self.position as f32;
        obs[1] = self.steps as f32;
        obs[2] = noise;
        noise
    }
}

impl Env for Walker {
    fn observation_space(&self) -> &Space {
        &self.obs_space
    }
    fn action_space(&self) -> &Space {
        &self.act_space
    }
    fn reset(&mut self, seed: Option<u64>, obs: &mut [f32]) -> Result<(), EnvError> {
        if let Some(seed) = seed {
            self.rng = ChaCha8Rng::seed_from_u64(seed);
        }
        self.position = self.rng.gen_range(-1..=1);
        self.steps = 0;
        self.write(obs);
        Ok(())
    }
    fn step(&mut self, action: Action<'_>, obs: &mut [f32]) -> Result<Step, EnvError> {
        let Action::Discrete(a) = action else {
            return Err(EnvError::InvalidAction {
                action: action.to_string(),
                space: self.act_space.describe(),
            });
        };
        self.position += a - 1;
        self.steps += 1;
        let noise = self.write(obs);
        Ok(Step {
            reward: noise as f64 + 0.1 * a as f64,
            terminated: self.position.abs() >= 3,
            truncated: false,
        })
    }
    fn state(&self) -> Option<Vec<f64>> {
        Some(vec![self.position as f64, self.steps as f64])
    }
}

/// A 2-D walk with MultiDiscrete([3, 3]) actions and a Tuple observation
/// `(Discrete(7, start=-3) = x, MultiDiscrete([7]) = y + 3, Box(1) = noise)`.
/// Terminates when |x| or |y| reaches 3.
#[derive(Clone, Debug)]
pub struct Grid {
    obs_space: Space,
    act_space: Space,
    rng: ChaCha8Rng,
    x: i64,
    y: i64,
}

impl Grid {
    pub fn new() -> Self {
        Grid {
            obs_space: Space::Tuple(vec![
                Space::Discrete { n: 7, start: -3 },
                Space::MultiDiscrete { nvec: vec![7] },
                Space::uniform_box(-1.0, 1.0, &[1]),
            ]),
            act_space: Space::MultiDiscrete { nvec: vec![3, 3] },
            rng: ChaCha8Rng::seed_from_u64(1),
            x: 0,
            y: 0,
        }
    }
    fn write(&mut self, obs: &mut [f32]) {
        obs[0] = self.x as f32;
        obs[1] = (self.y + 3) as f32;
        obs[2] = self.rng.gen_range(-1.0..1.0);
    }
}

impl Env for Grid {
    fn observation_space(&self) -> &Space {
        &self.obs_space
    }
    fn action_space(&self) -> &Space {
        &self.act_space
    }
    fn reset(&mut self, seed: Option<u64>, obs: &mut [f32]) -> Result<(), EnvError> {
        if let Some(seed) = seed {
            self.rng = ChaCha8Rng::seed_from_u64(seed);
        }
        self.x = self.rng.gen_range(-1..=1);
        self.y = self.rng.gen_range(-1..=1);
        self.write(obs);
        Ok(())
    }
    fn step(&mut self, action: Action<'_>, obs: &mut [f32]) -> Result<Step, EnvError> {
        let Action::MultiDiscrete(a) = action else {
            return Err(EnvError::InvalidAction {
                action: action.to_string(),
                space: self.act_space.describe(),
            });
        };
        self.x += a[0] - 1;
        self.y += a[1] - 1;
        self.write(obs);
        Ok(Step {
            reward: -1.0,
            terminated: self.x.abs() >= 3 || self.y.abs() >= 3,
            truncated: false,
        })
    }
}

/// Box(-1, 1, (2,)) actions; observation Box(2) = position, moved by action + noise.
/// Terminates when the position leaves [-4, 4]^2.
#[derive(Clone, Debug)]
pub struct Drift {
    obs_space: Space,
    act_space: Space,
    rng: ChaCha8Rng,
    pos: [f32; 2],
}

impl Drift {
    pub fn new() -> Self {
        Drift {
            obs_space: Space::uniform_box(f32::NEG_INFINITY, f32::INFINITY, &[2]),
            act_space: Space::uniform_box(-1.0, 1.0, &[2]),
            rng: ChaCha8Rng::seed_from_u64(2),
            pos: [0.0; 2],
        }
    }
}

impl Env for Drift {
    fn observation_space(&self) -> &Space {
        &self.obs_space
    }
    fn action_space(&self) -> &Space {
        &self.act_space
    }
    fn reset(&mut self, seed: Option<u64>, obs: &mut [f32]) -> Result<(), EnvError> {
        if let Some(seed) = seed {
            self.rng = ChaCha8Rng::seed_from_u64(seed);
        }
        self.pos = [self.rng.gen_range(-1.0..1.0), self.rng.gen_range(-1.0..1.0)];
        obs.copy_from_slice(&self.pos);
        Ok(())
    }
    fn step(&mut self, action: Action<'_>, obs: &mut [f32]) -> Result<Step, EnvError> {
        let Action::Continuous(a) = action else {
            return Err(EnvError::InvalidAction {
                action: action.to_string(),
                space: self.act_space.describe(),
            });
        };
        for (p, &a) in self.pos.iter_mut().zip(a) {
            *p += a + self.rng.gen_range(-0.5..0.5);
        }
        obs.copy_from_slice(&self.pos);
        Ok(Step {
            reward: -(self.pos[0].abs() + self.pos[1].abs()) as f64,
            terminated: self.pos.iter().any(|p| p.abs() > 4.0),
            truncated: false,
        })
    }
}

/// Deterministic: observation = `[t]`, reward = `t`, terminates at step `terminate_at` (if any).
#[derive(Clone, Debug)]
pub struct Counter {
    obs_space: Space,
    act_space: Space,
    pub t: u32,
    pub terminate_at: Option<u32>,
}

impl Counter {
    pub fn new(terminate_at: Option<u32>) -> Self {
        Counter {
            obs_space: Space::uniform_box(0.0, 1e6, &[1]),
            act_space: Space::discrete(2),
            t: 0,
            terminate_at,
        }
    }
}

impl Env for Counter {
    fn observation_space(&self) -> &Space {
        &self.obs_space
    }
    fn action_space(&self) -> &Space {
        &self.act_space
    }
    fn reset(&mut self, _seed: Option<u64>, obs: &mut [f32]) -> Result<(), EnvError> {
        self.t = 0;
        obs[0] = 0.0;
        Ok(())
    }
    fn step(&mut self, _action: Action<'_>, obs: &mut [f32]) -> Result<Step, EnvError> {
        self.t += 1;
        obs[0] = self.t as f32;
        Ok(Step {
            reward: self.t as f64,
            terminated: Some(self.t) == self.terminate_at,
            truncated: false,
        })
    }
}

/// A simple deterministic action sequence for tests (Knuth's MMIX LCG).
pub struct Lcg(pub u64);

impl Lcg {
    pub fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
}
