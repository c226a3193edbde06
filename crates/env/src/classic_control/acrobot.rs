//! Acrobot-v1 (Sutton 1996; RLPy's "book" dynamics), as Gymnasium 1.x's `AcrobotEnv`:
//! one RK4 step of `dt = 0.2` per action, in Gymnasium's exact operation order.

use crate::builtin::{invalid_action, obs_array, Phase};
use crate::classic_control::pow2;
use crate::classic_control::render::Canvas;
use crate::env::{Env, EnvError, Render, RenderMode, Step};
use crate::registry::Options;
use crate::rng::EnvRng;
use crate::space::{Action, Space};
use std::f64::consts::PI;

const DT: f64 = 0.2;
const LINK_LENGTH_1: f64 = 1.0;
const LINK_LENGTH_2: f64 = 1.0;
const LINK_MASS_1: f64 = 1.0;
const LINK_MASS_2: f64 = 1.0;
const LINK_COM_POS_1: f64 = 0.5;
const LINK_COM_POS_2: f64 = 0.5;
const LINK_MOI: f64 = 1.0;
const MAX_VEL_1: f64 = 4.0 * PI;
const MAX_VEL_2: f64 = 9.0 * PI;
const AVAIL_TORQUE: [f64; 3] = [-1.0, 0.0, 1.0];

/// Acrobot: apply torque -1, 0 or +1 (actions 0, 1, 2) to the joint between two links; -1 per
/// step until the tip swings above the bar. Observation
/// `[cos t1, sin t1, cos t2, sin t2, dt1, dt2]`, state `[t1, t2, dt1, dt2]`.
#[derive(Clone, Debug)]
pub struct Acrobot {
    state: [f64; 4],
    /// After `reset` Gymnasium keeps the state as a float32 array, so the first observation's
    /// cos/sin are float32 operations.
    state_is_f32: bool,
    phase: Phase,
    rng: EnvRng,
    observation_space: Space,
    action_space: Space,
}

impl Default for Acrobot {
    fn default() -> Self {
        Self::new()
    }
}

/// Gymnasium's `wrap`: shifts `x` by whole periods into `[m, big_m]`.
fn wrap(mut x: f64, m: f64, big_m: f64) -> f64 {
    let diff = big_m - m;
    while x > big_m {
        x -= diff;
    }
    while x < m {
        x += diff;
    }
    x
}

/// Python's `min(max(x, m), big_m)`.
fn bound(x: f64, m: f64, big_m: f64) -> f64 {
    let lo = if m > x { m } else { x };
    if big_m < lo {
        big_m
    } else {
        lo
    }
}

/// The equations of motion (`_dsdt`), "book" variant; `y = [t1, t2, dt1, dt2, torque]`.
#[inline]
fn dsdt(y: &[f64; 5]) -> [f64; 5] {
    let (m1, m2, l1) = (LINK_MASS_1, LINK_MASS_2, LINK_LENGTH_1);
    let (lc1, lc2) = (LINK_COM_POS_1, LINK_COM_POS_2);
    let (i1, i2) = (LINK_MOI, LINK_MOI);
    let g = 9.8;
    let a = y[4];
    let (theta1, theta2, dtheta1, dtheta2) = (y[0], y[1], y[2], y[3]);
    let d1 =
        m1 * (lc1 * lc1) + m2 * ((l1 * l1) + (lc2 * lc2) + 2.0 * l1 * lc2 * theta2.cos()) + i1 + i2;
    let d2 = m2 * ((lc2 * lc2) + l1 * lc2 * theta2.cos()) + i2;
    let phi2 = m2 * lc2 * g * (theta1 + theta2 - PI / 2.0).cos();
    let phi1 = -m2 * l1 * lc2 * pow2(dtheta2) * theta2.sin()
        - 2.0 * m2 * l1 * lc2 * dtheta2 * dtheta1 * theta2.sin()
        + (m1 * lc1 + m2 * l1) * g * (theta1 - PI / 2.0).cos()
        + phi2;
    let ddtheta2 = (a + d2 / d1 * phi1 - m2 * l1 * lc2 * pow2(dtheta1) * theta2.sin() - phi2)
        / (m2 * (lc2 * lc2) + i2 - pow2(d2) / d1);
    let ddtheta1 = -(d2 * ddtheta2 + phi1) / d1;
    [dtheta1, dtheta2, ddtheta1, ddtheta2, 0.0]
}

/// `y + h * k`, elementwise.
#[inline]
fn axpy(y: &[f64; 5], h: f64, k: &[f64; 5]) -> [f64; 5] {
    std::array::from_fn(|i| y[i] + h * k[i])
}

/// Gymnasium's `rk4(derivs, y0, [0, dt])`: one classical Runge-Kutta step.
#[inline]
fn rk4(y0: &[f64; 5]) -> [f64; 5] {
    let dt = DT - 0.0;
    let dt2 = dt / 2.0;
    let k1 = dsdt(y0);
    let k2 = dsdt(&axpy(y0, dt2, &k1));
    let k3 = dsdt(&axpy(y0, dt2, &k2));
    let k4 = dsdt(&axpy(y0, dt, &k3));
    let h = dt / 6.0;
    std::array::from_fn(|i| y0[i] + h * (k1[i] + 2.0 * k2[i] + 2.0 * k3[i] + k4[i]))
}

impl Acrobot {
    pub fn new() -> Self {
        let high = [1.0, 1.0, 1.0, 1.0, MAX_VEL_1 as f32, MAX_VEL_2 as f32];
        Acrobot {
            state: [0.0; 4],
            state_is_f32: false,
            phase: Phase::NotReset,
            rng: EnvRng::default(),
            observation_space: Space::bounded_box(high.iter().map(|h| -h).collect(), high.to_vec()),
            action_space: Space::discrete(3),
        }
    }

    /// Registry entry point (no options).
    pub fn make(_opts: &mut Options) -> Result<Box<dyn Env>, EnvError> {
        Ok(Box::new(Self::new()))
    }

    fn write_obs(&self, obs: &mut [f32; 6]) {
        let s = &self.state;
        if self.state_is_f32 {
            let (t1, t2) = (s[0] as f32, s[1] as f32);
            *obs = [
                t1.cos(),
                t1.sin(),
                t2.cos(),
                t2.sin(),
                s[2] as f32,
                s[3] as f32,
            ];
        } else {
            *obs = [
                s[0].cos() as f32,
                s[0].sin() as f32,
                s[1].cos() as f32,
                s[1].sin() as f32,
                s[2] as f32,
                s[3] as f32,
            ];
        }
    }
}

impl Env for Acrobot {
    fn observation_space(&self) -> &Space {
        &self.observation_space
    }

    fn action_space(&self) -> &Space {
        &self.action_space
    }

    fn reset(&mut self, seed: Option<u64>, obs: &mut [f32]) -> Result<(), EnvError> {
        let obs = obs_array::<6>(obs)?;
        if let Some(seed) = seed {
            self.rng.seed(seed);
        }
        let mut s = [0.0; 4];
        self.rng.uniform_fill(-0.1, 0.1, &mut s);
        // `.astype(np.float32)`
        self.state = s.map(|v| v as f32 as f64);
        self.state_is_f32 = true;
        self.phase = Phase::Running;
        self.write_obs(obs);
        Ok(())
    }

    fn step(&mut self, action: Action<'_>, obs: &mut [f32]) -> Result<Step, EnvError> {
        self.phase.check_step()?;
        let torque = match action {
            Action::Discrete(a @ 0..=2) => AVAIL_TORQUE[a as usize],
            _ => return Err(invalid_action(action, &self.action_space)),
        };
        let obs = obs_array::<6>(obs)?;
        let s = self.state;
        let ns = rk4(&[s[0], s[1], s[2], s[3], torque]);
        self.state = [
            wrap(ns[0], -PI, PI),
            wrap(ns[1], -PI, PI),
            bound(ns[2], -MAX_VEL_1, MAX_VEL_1),
            bound(ns[3], -MAX_VEL_2, MAX_VEL_2),
        ];
        self.state_is_f32 = false;
        let terminated = -self.state[0].cos() - (self.state[1] + self.state[0]).cos() > 1.0;
        if terminated {
            self.phase = Phase::Done;
        }
        self.write_obs(obs);
        Ok(Step {
            reward: if terminated { 0.0 } else { -1.0 },
            terminated,
            truncated: false,
        })
    }

    fn render(&self, mode: RenderMode) -> Result<Render, EnvError> {
        if mode != RenderMode::Rgb {
            return Err(EnvError::Unsupported(format!(
                "render mode {mode:?} for Acrobot (use Rgb)"
            )));
        }
        let dim = 500usize;
        let mut c = Canvas::new(dim, dim, [255, 255, 255]);
        let bound = LINK_LENGTH_1 + LINK_LENGTH_2 + 0.2;
        let scale = dim as f64 / (bound * 2.0);
        let offset = dim as f64 / 2.0;
        let s = &self.state;
        // Gymnasium's y points up and the image is flipped: screen y = dim - y.
        let to_screen = |x: f64, y: f64| (x + offset, dim as f64 - (y + offset));
        let bar_y = 1.0 * scale;
        c.line(
            to_screen(-2.2 * scale, bar_y),
            to_screen(2.2 * scale, bar_y),
            1.5,
            [0, 0, 0],
        );
        let p1 = (
            LINK_LENGTH_1 * s[0].sin() * scale,
            -LINK_LENGTH_1 * s[0].cos() * scale,
        );
        let p2 = (
            p1.0 + LINK_LENGTH_2 * (s[0] + s[1]).sin() * scale,
            p1.1 - LINK_LENGTH_2 * (s[0] + s[1]).cos() * scale,
        );
        for (a, b) in [((0.0, 0.0), p1), (p1, p2)] {
            c.line(
                to_screen(a.0, a.1),
                to_screen(b.0, b.1),
                0.2 * scale,
                [0, 204, 204],
            );
            let (cx, cy) = to_screen(a.0, a.1);
            c.fill_circle(cx, cy, 0.1 * scale, [204, 204, 0]);
        }
        Ok(c.into_render())
    }

    fn state(&self) -> Option<Vec<f64>> {
        Some(self.state.to_vec())
    }

    fn set_state(&mut self, state: &[f64]) -> Result<(), EnvError> {
        self.state = state.try_into().map_err(|_| {
            EnvError::Other(format!(
                "Acrobot state is [theta1, theta2, dtheta1, dtheta2], got {} values",
                state.len()
            ))
        })?;
        self.state_is_f32 = false;
        self.phase = Phase::Running;
        Ok(())
    }

    fn rng_mut(&mut self) -> Option<&mut EnvRng> {
        Some(&mut self.rng)
    }
}
