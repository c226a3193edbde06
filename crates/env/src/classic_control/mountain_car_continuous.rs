//! MountainCarContinuous-v0, as Gymnasium 1.x's `Continuous_MountainCarEnv`.
//!
//! Gymnasium mixes float32 (the action, and the state after the first step) with Python floats
//! under NumPy 2's promotion rules (NEP 50: a Python float adopts a NumPy scalar's dtype). To be
//! bit-exact, each intermediate here carries its NumPy dtype ([`Num`]).

use crate::builtin::{invalid_action, obs_array, Phase};
use crate::classic_control::mountain_car::{
    render_mountain, MAX_POSITION, MAX_SPEED, MIN_POSITION,
};
use crate::env::{Env, EnvError, Render, RenderMode, Step};
use crate::registry::Options;
use crate::rng::EnvRng;
use crate::space::{Action, Space};

const MIN_ACTION: f64 = -1.0;
const MAX_ACTION: f64 = 1.0;
const GOAL_POSITION: f64 = 0.45;
const POWER: f64 = 0.0015;

/// A value with its NumPy scalar type: `F32`/`F64` are NumPy scalars ("strong"), `Py` a Python
/// float ("weak": it takes the other operand's dtype).
#[derive(Clone, Copy, Debug, PartialEq)]
enum Num {
    F32(f32),
    F64(f64),
    Py(f64),
}

impl Num {
    fn value(self) -> f64 {
        match self {
            Num::F32(x) => x as f64,
            Num::F64(x) | Num::Py(x) => x,
        }
    }

    /// Applies a binary operation with NEP 50 promotion.
    fn op(self, other: Num, f64op: fn(f64, f64) -> f64, f32op: fn(f32, f32) -> f32) -> Num {
        use Num::*;
        match (self, other) {
            (F32(a), F32(b)) => F32(f32op(a, b)),
            (F32(a), Py(b)) => F32(f32op(a, b as f32)),
            (Py(a), F32(b)) => F32(f32op(a as f32, b)),
            (Py(a), Py(b)) => Py(f64op(a, b)),
            (a, b) => F64(f64op(a.value(), b.value())),
        }
    }

    fn add(self, o: Num) -> Num {
        self.op(o, |a, b| a + b, |a, b| a + b)
    }
    fn sub(self, o: Num) -> Num {
        self.op(o, |a, b| a - b, |a, b| a - b)
    }
    fn mul(self, o: Num) -> Num {
        self.op(o, |a, b| a * b, |a, b| a * b)
    }

    /// `self > other` / `self < other` / `==` with NEP 50 rules (a Python float compared with a
    /// float32 scalar is cast to float32 first).
    fn cmp_values(self, other: Num) -> (f64, f64) {
        use Num::*;
        match (self, other) {
            (F32(a), Py(b)) => (a as f64, b as f32 as f64),
            (Py(a), F32(b)) => (a as f32 as f64, b as f64),
            (a, b) => (a.value(), b.value()),
        }
    }
    fn gt(self, o: Num) -> bool {
        let (a, b) = self.cmp_values(o);
        a > b
    }
    fn lt(self, o: Num) -> bool {
        let (a, b) = self.cmp_values(o);
        a < b
    }
    fn ge(self, o: Num) -> bool {
        let (a, b) = self.cmp_values(o);
        a >= b
    }
    fn eq(self, o: Num) -> bool {
        let (a, b) = self.cmp_values(o);
        a == b
    }
}

/// MountainCarContinuous: a force in [-1, 1]; reward +100 at the goal (position 0.45) minus
/// `0.1 * force^2` per step. Observation and state `[position, velocity]`; the state is kept as
/// float32 after each step, as Gymnasium does.
#[derive(Clone, Debug)]
pub struct MountainCarContinuous {
    state: [Num; 2],
    goal_velocity: f64,
    phase: Phase,
    rng: EnvRng,
    observation_space: Space,
    action_space: Space,
}

impl Default for MountainCarContinuous {
    fn default() -> Self {
        Self::new(0.0)
    }
}

impl MountainCarContinuous {
    pub fn new(goal_velocity: f64) -> Self {
        MountainCarContinuous {
            state: [Num::F64(0.0); 2],
            goal_velocity,
            phase: Phase::NotReset,
            rng: EnvRng::default(),
            observation_space: Space::bounded_box(
                vec![MIN_POSITION as f32, -MAX_SPEED as f32],
                vec![MAX_POSITION as f32, MAX_SPEED as f32],
            ),
            action_space: Space::uniform_box(MIN_ACTION as f32, MAX_ACTION as f32, &[1]),
        }
    }

    /// Registry entry point. Options: `goal_velocity` (number, default 0).
    pub fn make(opts: &mut Options) -> Result<Box<dyn Env>, EnvError> {
        let goal_velocity = opts.take_f64("goal_velocity", 0.0)?;
        Ok(Box::new(Self::new(goal_velocity)))
    }

    fn write_obs(&self, obs: &mut [f32; 2]) {
        *obs = self.state.map(|v| v.value() as f32);
    }
}

impl Env for MountainCarContinuous {
    fn observation_space(&self) -> &Space {
        &self.observation_space
    }

    fn action_space(&self) -> &Space {
        &self.action_space
    }

    fn reset(&mut self, seed: Option<u64>, obs: &mut [f32]) -> Result<(), EnvError> {
        let obs = obs_array::<2>(obs)?;
        if let Some(seed) = seed {
            self.rng.seed(seed);
        }
        self.state = [Num::F64(self.rng.uniform(-0.6, -0.4)), Num::F64(0.0)];
        self.phase = Phase::Running;
        self.write_obs(obs);
        Ok(())
    }

    fn step(&mut self, action: Action<'_>, obs: &mut [f32]) -> Result<Step, EnvError> {
        self.phase.check_step()?;
        let a = match action {
            Action::Continuous(&[a]) if !a.is_nan() => a,
            _ => return Err(invalid_action(action, &self.action_space)),
        };
        let obs = obs_array::<2>(obs)?;
        let [mut position, mut velocity] = self.state;
        // `min(max(action[0], -1.0), 1.0)`: keeps the float32 unless it is out of range.
        let force = if (a as f64) < MIN_ACTION {
            Num::Py(MIN_ACTION)
        } else if (a as f64) > MAX_ACTION {
            Num::Py(MAX_ACTION)
        } else {
            Num::F32(a)
        };
        let cos_term = Num::Py(0.0025 * Num::Py(3.0).mul(position).value().cos());
        velocity = velocity.add(force.mul(Num::Py(POWER)).sub(cos_term));
        if velocity.gt(Num::Py(MAX_SPEED)) {
            velocity = Num::Py(MAX_SPEED);
        }
        if velocity.lt(Num::Py(-MAX_SPEED)) {
            velocity = Num::Py(-MAX_SPEED);
        }
        position = position.add(velocity);
        if position.gt(Num::Py(MAX_POSITION)) {
            position = Num::Py(MAX_POSITION);
        }
        if position.lt(Num::Py(MIN_POSITION)) {
            position = Num::Py(MIN_POSITION);
        }
        if position.eq(Num::Py(MIN_POSITION)) && velocity.lt(Num::Py(0.0)) {
            velocity = Num::Py(0.0);
        }
        let terminated =
            position.ge(Num::Py(GOAL_POSITION)) && velocity.ge(Num::Py(self.goal_velocity));
        let mut reward = if terminated { 100.0 } else { 0.0 };
        reward -= (a as f64).powf(2.0) * 0.1;
        // `np.array([position, velocity], dtype=np.float32)`
        self.state = [
            Num::F32(position.value() as f32),
            Num::F32(velocity.value() as f32),
        ];
        if terminated {
            self.phase = Phase::Done;
        }
        self.write_obs(obs);
        Ok(Step {
            reward,
            terminated,
            truncated: false,
        })
    }

    fn render(&self, mode: RenderMode) -> Result<Render, EnvError> {
        if mode != RenderMode::Rgb {
            return Err(EnvError::Unsupported(format!(
                "render mode {mode:?} for MountainCarContinuous (use Rgb)"
            )));
        }
        Ok(render_mountain(self.state[0].value(), GOAL_POSITION))
    }

    fn state(&self) -> Option<Vec<f64>> {
        Some(self.state.iter().map(|v| v.value()).collect())
    }

    /// Sets `[position, velocity]`; kept as float32 (the state Gymnasium holds after a step) when
    /// both are exactly float32 values, else as float64 (the state after `reset`).
    fn set_state(&mut self, state: &[f64]) -> Result<(), EnvError> {
        let s: [f64; 2] = state.try_into().map_err(|_| {
            EnvError::Other(format!(
                "MountainCarContinuous state is [position, velocity], got {} values",
                state.len()
            ))
        })?;
        let all_f32 = s.iter().all(|&v| (v as f32) as f64 == v);
        self.state = s.map(|v| {
            if all_f32 {
                Num::F32(v as f32)
            } else {
                Num::F64(v)
            }
        });
        self.phase = Phase::Running;
        Ok(())
    }

    fn rng_mut(&mut self) -> Option<&mut EnvRng> {
        Some(&mut self.rng)
    }
}
