//! Pendulum-v1, as Gymnasium 1.x's `PendulumEnv`.
//!
//! The action is a float32 array, so under NumPy 2's promotion rules `u**2` is a float32
//! `powf` (glibc's, which is not always the correctly rounded `u*u`), `0.001 * u**2` and
//! `3.0 / (m*l**2) * u` are float32 products; they join the float64 terms only afterwards.
//! The float64 `**2` are libm `pow` calls too ([`pow2`]).

use crate::builtin::{invalid_action, obs_array, Phase};
use crate::classic_control::pow2;
use crate::classic_control::render::Canvas;
use crate::env::{Env, EnvError, Render, RenderMode, Step};
use crate::registry::Options;
use crate::rng::EnvRng;
use crate::space::{Action, Space};
use std::f64::consts::PI;

const MAX_SPEED: f64 = 8.0;
const MAX_TORQUE: f64 = 2.0;
const DT: f64 = 0.05;
const M: f64 = 1.0;
const L: f64 = 1.0;

/// float32 `x ** 2` as NumPy computes it: libm's `powf`. The exponent goes through
/// `black_box` so that LLVM cannot rewrite the call into `x * x`.
#[inline]
fn powf_libm(x: f32, y: f32) -> f32 {
    x.powf(std::hint::black_box(y))
}

/// `((x + pi) % (2 * pi)) - pi` with Python's floor-modulo.
fn angle_normalize(x: f64) -> f64 {
    let m = 2.0 * PI;
    let a = x + PI;
    let mut r = a % m; // fmod: sign of the dividend
    if r != 0.0 && (r < 0.0) != (m < 0.0) {
        r += m;
    } else if r == 0.0 {
        r = 0.0f64.copysign(m);
    }
    r - PI
}

/// Pendulum: a torque in [-2, 2]; reward `-(theta^2 + 0.1*theta_dot^2 + 0.001*torque^2)`.
/// Observation `[cos theta, sin theta, theta_dot]`, state `[theta, theta_dot]`.
#[derive(Clone, Debug)]
pub struct Pendulum {
    state: [f64; 2],
    g: f64,
    last_u: Option<f32>,
    phase: Phase,
    rng: EnvRng,
    observation_space: Space,
    action_space: Space,
}

impl Default for Pendulum {
    fn default() -> Self {
        Self::new(10.0)
    }
}

impl Pendulum {
    /// `g`: gravity (Gymnasium's default 10.0).
    pub fn new(g: f64) -> Self {
        let high = [1.0f32, 1.0, MAX_SPEED as f32];
        Pendulum {
            state: [0.0; 2],
            g,
            last_u: None,
            phase: Phase::NotReset,
            rng: EnvRng::default(),
            observation_space: Space::bounded_box(high.iter().map(|h| -h).collect(), high.to_vec()),
            action_space: Space::uniform_box(-MAX_TORQUE as f32, MAX_TORQUE as f32, &[1]),
        }
    }

    /// Registry entry point. Options: `g` (gravity, default 10.0).
    pub fn make(opts: &mut Options) -> Result<Box<dyn Env>, EnvError> {
        let g = opts.take_f64("g", 10.0)?;
        Ok(Box::new(Self::new(g)))
    }

    fn write_obs(&self, obs: &mut [f32; 3]) {
        let [theta, theta_dot] = self.state;
        *obs = [theta.cos() as f32, theta.sin() as f32, theta_dot as f32];
    }
}

impl Env for Pendulum {
    fn observation_space(&self) -> &Space {
        &self.observation_space
    }

    fn action_space(&self) -> &Space {
        &self.action_space
    }

    fn reset(&mut self, seed: Option<u64>, obs: &mut [f32]) -> Result<(), EnvError> {
        let obs = obs_array::<3>(obs)?;
        if let Some(seed) = seed {
            self.rng.seed(seed);
        }
        let high = [PI, 1.0];
        self.rng.uniform_each(&[-PI, -1.0], &high, &mut self.state);
        self.last_u = None;
        self.phase = Phase::Running;
        self.write_obs(obs);
        Ok(())
    }

    fn step(&mut self, action: Action<'_>, obs: &mut [f32]) -> Result<Step, EnvError> {
        self.phase.check_step()?;
        let u = match action {
            Action::Continuous(&[u]) if !u.is_nan() => u,
            _ => return Err(invalid_action(action, &self.action_space)),
        };
        let obs = obs_array::<3>(obs)?;
        let [th, thdot] = self.state;
        let u = u.clamp(-MAX_TORQUE as f32, MAX_TORQUE as f32);
        self.last_u = Some(u);
        let an = angle_normalize(th);
        let cost_u = 0.001f64 as f32 * powf_libm(u, 2.0);
        let costs = pow2(an) + 0.1 * pow2(thdot) + cost_u as f64;
        let torque_term = (3.0 / (M * (L * L))) as f32 * u;
        let mut newthdot = thdot + (3.0 * self.g / (2.0 * L) * th.sin() + torque_term as f64) * DT;
        newthdot = newthdot.clamp(-MAX_SPEED, MAX_SPEED);
        let newth = th + newthdot * DT;
        self.state = [newth, newthdot];
        self.write_obs(obs);
        Ok(Step {
            reward: -costs,
            terminated: false,
            truncated: false,
        })
    }

    fn render(&self, mode: RenderMode) -> Result<Render, EnvError> {
        if mode != RenderMode::Rgb {
            return Err(EnvError::Unsupported(format!(
                "render mode {mode:?} for Pendulum (use Rgb)"
            )));
        }
        let dim = 500usize;
        let mut c = Canvas::new(dim, dim, [255, 255, 255]);
        let bound = 2.2;
        let scale = dim as f64 / (bound * 2.0);
        let offset = dim as f64 / 2.0;
        let rod_len = 1.0 * scale;
        let rod_w = 0.2 * scale;
        // Gymnasium rotates by theta + pi/2 in y-up coordinates, then flips the image.
        let angle = self.state[0] + PI / 2.0;
        let end = (
            offset + rod_len * angle.cos(),
            dim as f64 - (offset + rod_len * angle.sin()),
        );
        c.line((offset, offset), end, rod_w, [204, 77, 77]);
        c.fill_circle(offset, offset, rod_w / 2.0, [204, 77, 77]);
        c.fill_circle(end.0, end.1, rod_w / 2.0, [204, 77, 77]);
        c.fill_circle(offset, offset, 0.05 * scale, [0, 0, 0]);
        Ok(c.into_render())
    }

    fn state(&self) -> Option<Vec<f64>> {
        Some(self.state.to_vec())
    }

    fn set_state(&mut self, state: &[f64]) -> Result<(), EnvError> {
        self.state = state.try_into().map_err(|_| {
            EnvError::Other(format!(
                "Pendulum state is [theta, theta_dot], got {} values",
                state.len()
            ))
        })?;
        self.phase = Phase::Running;
        Ok(())
    }

    fn rng_mut(&mut self) -> Option<&mut EnvRng> {
        Some(&mut self.rng)
    }
}
