//! CartPole-v1 (Barto, Sutton & Anderson 1983), as Gymnasium 1.x's `CartPoleEnv`.

use crate::builtin::{invalid_action, obs_array, Phase};
use crate::classic_control::render::Canvas;
use crate::env::{Env, EnvError, Render, RenderMode, Step};
use crate::registry::Options;
use crate::rng::EnvRng;
use crate::space::{Action, Space};

const GRAVITY: f64 = 9.8;
const MASS_CART: f64 = 1.0;
const MASS_POLE: f64 = 0.1;
const TOTAL_MASS: f64 = MASS_POLE + MASS_CART;
/// Half the pole's length.
const LENGTH: f64 = 0.5;
const POLEMASS_LENGTH: f64 = MASS_POLE * LENGTH;
const FORCE_MAG: f64 = 10.0;
/// Seconds between state updates (explicit Euler integration).
const TAU: f64 = 0.02;
const X_THRESHOLD: f64 = 2.4;

/// The pole must stay within ±12°: `12 * 2 * pi / 360`, computed as Python does.
fn theta_threshold() -> f64 {
    12.0 * 2.0 * std::f64::consts::PI / 360.0
}

/// CartPole: push the cart left (0) or right (1); +1 per step until the pole falls past 12° or
/// the cart leaves ±2.4. Observation `[x, x_dot, theta, theta_dot]`.
#[derive(Clone, Debug)]
pub struct CartPole {
    /// `[x, x_dot, theta, theta_dot]`, f64 as in Gymnasium.
    state: [f64; 4],
    theta_threshold: f64,
    /// Gymnasium's `sutton_barto_reward`: 0 per step and -1 on termination.
    sutton_barto_reward: bool,
    phase: Phase,
    rng: EnvRng,
    observation_space: Space,
    action_space: Space,
}

impl Default for CartPole {
    fn default() -> Self {
        Self::new(false)
    }
}

impl CartPole {
    pub fn new(sutton_barto_reward: bool) -> Self {
        let theta_threshold = theta_threshold();
        let high = [
            (X_THRESHOLD * 2.0) as f32,
            f32::INFINITY,
            (theta_threshold * 2.0) as f32,
            f32::INFINITY,
        ];
        CartPole {
            state: [0.0; 4],
            theta_threshold,
            sutton_barto_reward,
            phase: Phase::NotReset,
            rng: EnvRng::default(),
            observation_space: Space::bounded_box(high.iter().map(|h| -h).collect(), high.to_vec()),
            action_space: Space::discrete(2),
        }
    }

    /// Registry entry point. Options: `sutton_barto_reward` (bool).
    pub fn make(opts: &mut Options) -> Result<Box<dyn Env>, EnvError> {
        let sb = opts.take_bool("sutton_barto_reward", false)?;
        Ok(Box::new(Self::new(sb)))
    }

    #[inline]
    fn write_obs(&self, obs: &mut [f32; 4]) {
        for (o, s) in obs.iter_mut().zip(self.state) {
            *o = s as f32;
        }
    }

    /// One Euler step of the dynamics; `push_right` is action 1.
    #[inline]
    fn integrate(&mut self, push_right: bool) {
        let [x, x_dot, theta, theta_dot] = self.state;
        let force = if push_right { FORCE_MAG } else { -FORCE_MAG };
        let costheta = theta.cos();
        let sintheta = theta.sin();
        let temp = (force + POLEMASS_LENGTH * (theta_dot * theta_dot) * sintheta) / TOTAL_MASS;
        let thetaacc = (GRAVITY * sintheta - costheta * temp)
            / (LENGTH * (4.0 / 3.0 - MASS_POLE * (costheta * costheta) / TOTAL_MASS));
        let xacc = temp - POLEMASS_LENGTH * thetaacc * costheta / TOTAL_MASS;
        self.state = [
            x + TAU * x_dot,
            x_dot + TAU * xacc,
            theta + TAU * theta_dot,
            theta_dot + TAU * thetaacc,
        ];
    }
}

impl Env for CartPole {
    fn observation_space(&self) -> &Space {
        &self.observation_space
    }

    fn action_space(&self) -> &Space {
        &self.action_space
    }

    fn reset(&mut self, seed: Option<u64>, obs: &mut [f32]) -> Result<(), EnvError> {
        let obs = obs_array::<4>(obs)?;
        if let Some(seed) = seed {
            self.rng.seed(seed);
        }
        self.rng.uniform_fill(-0.05, 0.05, &mut self.state);
        self.phase = Phase::Running;
        self.write_obs(obs);
        Ok(())
    }

    #[inline]
    fn step(&mut self, action: Action<'_>, obs: &mut [f32]) -> Result<Step, EnvError> {
        self.phase.check_step()?;
        let push_right = match action {
            Action::Discrete(0) => false,
            Action::Discrete(1) => true,
            _ => return Err(invalid_action(action, &self.action_space)),
        };
        let obs = obs_array::<4>(obs)?;
        self.integrate(push_right);
        let [x, _, theta, _] = self.state;
        // Gymnasium's comparisons as written (a NaN state does not terminate).
        #[allow(clippy::manual_range_contains)]
        let terminated = x < -X_THRESHOLD
            || x > X_THRESHOLD
            || theta < -self.theta_threshold
            || theta > self.theta_threshold;
        let reward = match (terminated, self.sutton_barto_reward) {
            (false, false) => 1.0,
            (false, true) => 0.0,
            (true, false) => 1.0,
            (true, true) => -1.0,
        };
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
                "render mode {mode:?} for CartPole (use Rgb)"
            )));
        }
        // Gymnasium's geometry: 600x400, world width 4.8, cart 50x30 at y=100, pole 10 wide.
        let (w, h) = (600usize, 400usize);
        let mut c = Canvas::new(w, h, [255, 255, 255]);
        let scale = w as f64 / (X_THRESHOLD * 2.0);
        let pole_len = scale * (2.0 * LENGTH);
        let (cart_w, cart_h, pole_w) = (50.0, 30.0, 10.0);
        let cart_x = self.state[0] * scale + w as f64 / 2.0;
        let cart_y = 100.0;
        let axle = cart_h / 4.0;
        // Gymnasium draws with y up and flips the surface at the end: convert with `h - y`.
        let flip = |(x, y): (f64, f64)| (x, h as f64 - y);
        let cart = [
            (-cart_w / 2.0, -cart_h / 2.0),
            (-cart_w / 2.0, cart_h / 2.0),
            (cart_w / 2.0, cart_h / 2.0),
            (cart_w / 2.0, -cart_h / 2.0),
        ]
        .map(|(x, y)| flip((x + cart_x, y + cart_y)));
        c.fill_polygon(&cart, [0, 0, 0]);
        let (sin, cos) = (-self.state[2]).sin_cos();
        let pole = [
            (-pole_w / 2.0, -pole_w / 2.0),
            (-pole_w / 2.0, pole_len - pole_w / 2.0),
            (pole_w / 2.0, pole_len - pole_w / 2.0),
            (pole_w / 2.0, -pole_w / 2.0),
        ]
        .map(|(x, y)| {
            flip((
                x * cos - y * sin + cart_x,
                x * sin + y * cos + cart_y + axle,
            ))
        });
        c.fill_polygon(&pole, [202, 152, 101]);
        let (ax, ay) = flip((cart_x, cart_y + axle));
        c.fill_circle(ax, ay, pole_w / 2.0, [129, 132, 203]);
        c.hline(h as f64 - cart_y, [0, 0, 0]);
        Ok(c.into_render())
    }

    fn state(&self) -> Option<Vec<f64>> {
        Some(self.state.to_vec())
    }

    fn set_state(&mut self, state: &[f64]) -> Result<(), EnvError> {
        self.state = state.try_into().map_err(|_| {
            EnvError::Other(format!(
                "CartPole state is [x, x_dot, theta, theta_dot], got {} values",
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
