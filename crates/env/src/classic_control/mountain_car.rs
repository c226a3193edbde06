//! MountainCar-v0 (Moore 1990), as Gymnasium 1.x's `MountainCarEnv`.

use crate::builtin::{invalid_action, obs_array, Phase};
use crate::classic_control::render::Canvas;
use crate::env::{Env, EnvError, Render, RenderMode, Step};
use crate::registry::Options;
use crate::rng::EnvRng;
use crate::space::{Action, Space};

pub(crate) const MIN_POSITION: f64 = -1.2;
pub(crate) const MAX_POSITION: f64 = 0.6;
pub(crate) const MAX_SPEED: f64 = 0.07;
const GOAL_POSITION: f64 = 0.5;
const FORCE: f64 = 0.001;
const GRAVITY: f64 = 0.0025;

/// MountainCar: accelerate left (0), not at all (1) or right (2); -1 per step until the car
/// reaches position 0.5. Observation and state `[position, velocity]`.
#[derive(Clone, Debug)]
pub struct MountainCar {
    state: [f64; 2],
    goal_velocity: f64,
    phase: Phase,
    rng: EnvRng,
    observation_space: Space,
    action_space: Space,
}

impl Default for MountainCar {
    fn default() -> Self {
        Self::new(0.0)
    }
}

impl MountainCar {
    pub fn new(goal_velocity: f64) -> Self {
        MountainCar {
            state: [0.0; 2],
            goal_velocity,
            phase: Phase::NotReset,
            rng: EnvRng::default(),
            observation_space: Space::bounded_box(
                vec![MIN_POSITION as f32, -MAX_SPEED as f32],
                vec![MAX_POSITION as f32, MAX_SPEED as f32],
            ),
            action_space: Space::discrete(3),
        }
    }

    /// Registry entry point. Options: `goal_velocity` (number, default 0).
    pub fn make(opts: &mut Options) -> Result<Box<dyn Env>, EnvError> {
        let goal_velocity = opts.take_f64("goal_velocity", 0.0)?;
        Ok(Box::new(Self::new(goal_velocity)))
    }
}

impl Env for MountainCar {
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
        self.state = [self.rng.uniform(-0.6, -0.4), 0.0];
        self.phase = Phase::Running;
        *obs = self.state.map(|v| v as f32);
        Ok(())
    }

    fn step(&mut self, action: Action<'_>, obs: &mut [f32]) -> Result<Step, EnvError> {
        self.phase.check_step()?;
        let a = match action {
            Action::Discrete(a @ 0..=2) => a,
            _ => return Err(invalid_action(action, &self.action_space)),
        };
        let obs = obs_array::<2>(obs)?;
        let [mut position, mut velocity] = self.state;
        velocity += (a - 1) as f64 * FORCE + (3.0 * position).cos() * (-GRAVITY);
        velocity = velocity.clamp(-MAX_SPEED, MAX_SPEED);
        position += velocity;
        position = position.clamp(MIN_POSITION, MAX_POSITION);
        if position == MIN_POSITION && velocity < 0.0 {
            velocity = 0.0;
        }
        let terminated = position >= GOAL_POSITION && velocity >= self.goal_velocity;
        self.state = [position, velocity];
        if terminated {
            self.phase = Phase::Done;
        }
        *obs = self.state.map(|v| v as f32);
        Ok(Step {
            reward: -1.0,
            terminated,
            truncated: false,
        })
    }

    fn render(&self, mode: RenderMode) -> Result<Render, EnvError> {
        if mode != RenderMode::Rgb {
            return Err(EnvError::Unsupported(format!(
                "render mode {mode:?} for MountainCar (use Rgb)"
            )));
        }
        Ok(render_mountain(self.state[0], GOAL_POSITION))
    }

    fn state(&self) -> Option<Vec<f64>> {
        Some(self.state.to_vec())
    }

    fn set_state(&mut self, state: &[f64]) -> Result<(), EnvError> {
        self.state = state.try_into().map_err(|_| {
            EnvError::Other(format!(
                "MountainCar state is [position, velocity], got {} values",
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

/// The hill `sin(3x) * 0.45 + 0.55`, the car and the flag, 600x400 as Gymnasium draws them.
pub(crate) fn render_mountain(position: f64, goal_position: f64) -> Render {
    let (w, h) = (600usize, 400usize);
    let mut c = Canvas::new(w, h, [255, 255, 255]);
    let world_width = MAX_POSITION - MIN_POSITION;
    let scale = w as f64 / world_width;
    let height = |x: f64| (3.0 * x).sin() * 0.45 + 0.55;
    let to_screen = |x: f64, y: f64| ((x - MIN_POSITION) * scale, h as f64 - y * scale);
    let curve: Vec<(f64, f64)> = (0..100)
        .map(|i| {
            let x = MIN_POSITION + world_width * i as f64 / 99.0;
            to_screen(x, height(x))
        })
        .collect();
    c.polyline(&curve, [0, 0, 0]);
    // The car: a 40x20 body rotated along the slope, with two wheels.
    let clearance = 10.0;
    let (car_w, car_h) = (40.0, 20.0);
    let angle = (3.0 * position).cos();
    let (sin, cos) = angle.sin_cos();
    let (px, py) = (
        (position - MIN_POSITION) * scale,
        clearance + height(position) * scale,
    );
    let rot = |x: f64, y: f64| (x * cos - y * sin + px, h as f64 - (x * sin + y * cos + py));
    let body = [
        (-car_w / 2.0, 0.0),
        (-car_w / 2.0, car_h),
        (car_w / 2.0, car_h),
        (car_w / 2.0, 0.0),
    ]
    .map(|(x, y)| rot(x, y));
    c.fill_polygon(&body, [0, 0, 0]);
    for wx in [car_w / 4.0, -car_w / 4.0] {
        let (x, y) = rot(wx, 0.0);
        c.fill_circle(x, y, car_h / 2.5, [128, 128, 128]);
    }
    let flag_x = (goal_position - MIN_POSITION) * scale;
    let flag_y1 = height(goal_position) * scale;
    let flag_y2 = flag_y1 + 50.0;
    c.line(
        (flag_x, h as f64 - flag_y1),
        (flag_x, h as f64 - flag_y2),
        1.5,
        [0, 0, 0],
    );
    c.fill_polygon(
        &[
            (flag_x, h as f64 - flag_y2),
            (flag_x, h as f64 - (flag_y2 - 10.0)),
            (flag_x + 25.0, h as f64 - (flag_y2 - 5.0)),
        ],
        [204, 204, 0],
    );
    c.into_render()
}
