//! Observation transforms: flatten / one-hot, frame stacking, and two partial-observability
//! wrappers (masked indices, flicker).

use super::{bad_argument, inner_access};
use crate::EnvRng;
use crate::{Action, Env, EnvError, Space, Step};

/// One piece of a flattened observation.
#[derive(Clone, Debug)]
enum Part {
    /// A discrete value in `{start, ..., start + n - 1}`, written as `n` one-hot floats.
    OneHot { n: usize, start: i64 },
    /// `len` floats copied unchanged (Box components).
    Copy { len: usize },
}

fn collect_parts(space: &Space, parts: &mut Vec<Part>, low: &mut Vec<f32>, high: &mut Vec<f32>) {
    let mut one_hot = |n: usize, start: i64, parts: &mut Vec<Part>| {
        parts.push(Part::OneHot { n, start });
        low.resize(low.len() + n, 0.0);
        high.resize(high.len() + n, 1.0);
    };
    match space {
        Space::Discrete { n, start } => one_hot(*n as usize, *start, parts),
        Space::MultiDiscrete { nvec } => {
            for &n in nvec {
                one_hot(n as usize, 0, parts);
            }
        }
        Space::Box {
            low: lo, high: hi, ..
        } => {
            parts.push(Part::Copy { len: lo.len() });
            low.extend_from_slice(lo);
            high.extend_from_slice(hi);
        }
        Space::Tuple(inner) => {
            for s in inner {
                collect_parts(s, parts, low, high);
            }
        }
    }
}

/// Gymnasium's `FlattenObservation`: the observation becomes a 1-D `Box`. Box parts are copied
/// in C order; Discrete and MultiDiscrete parts become one-hot vectors (Gymnasium's `flatten` of
/// those spaces); Tuples are flattened part by part. Also available as [`OneHot`].
#[derive(Clone, Debug)]
pub struct FlattenObservation<E> {
    inner: E,
    observation_space: Space,
    parts: Vec<Part>,
    /// True when every part is a Box: the flat encoding is then already the output.
    identity: bool,
    raw: Vec<f32>,
}

/// One-hot encoding of Discrete / MultiDiscrete observations (and Tuples of them; Box parts
/// pass through): the same transform as [`FlattenObservation`].
pub type OneHot<E> = FlattenObservation<E>;

impl<E: Env> FlattenObservation<E> {
    pub fn new(inner: E) -> Result<Self, EnvError> {
        let space = inner.observation_space();
        let (mut parts, mut low, mut high) = (Vec::new(), Vec::new(), Vec::new());
        collect_parts(space, &mut parts, &mut low, &mut high);
        if parts
            .iter()
            .any(|p| matches!(p, Part::OneHot { n, .. } if *n == 0))
        {
            return Err(bad_argument(
                "FlattenObservation",
                format!("cannot one-hot encode {space}: a discrete part has no values"),
            ));
        }
        let identity = parts.iter().all(|p| matches!(p, Part::Copy { .. }));
        let raw = vec![0.0; space.flat_dim()];
        Ok(FlattenObservation {
            observation_space: Space::bounded_box(low, high),
            parts,
            identity,
            raw,
            inner,
        })
    }

    fn encode(&self, out: &mut [f32]) -> Result<(), EnvError> {
        let (mut at_in, mut at_out) = (0, 0);
        for part in &self.parts {
            match *part {
                Part::Copy { len } => {
                    out[at_out..at_out + len].copy_from_slice(&self.raw[at_in..at_in + len]);
                    at_in += len;
                    at_out += len;
                }
                Part::OneHot { n, start } => {
                    let value = self.raw[at_in];
                    let index = value as i64 - start;
                    if value.fract() != 0.0 || index < 0 || index >= n as i64 {
                        return Err(EnvError::Other(format!(
                            "FlattenObservation: observation component {value} is outside \
                             {{{start}, ..., {}}}: the environment broke its observation space",
                            start + n as i64 - 1
                        )));
                    }
                    let slot = &mut out[at_out..at_out + n];
                    slot.fill(0.0);
                    slot[index as usize] = 1.0;
                    at_in += 1;
                    at_out += n;
                }
            }
        }
        Ok(())
    }
}

inner_access!(FlattenObservation);

impl<E: Env> Env for FlattenObservation<E> {
    crate::forward_env!(inner: action_space, info, action_mask, render, state, set_state, rng_mut);

    fn observation_space(&self) -> &Space {
        &self.observation_space
    }

    fn reset(&mut self, seed: Option<u64>, obs: &mut [f32]) -> Result<(), EnvError> {
        if self.identity {
            return self.inner.reset(seed, obs);
        }
        self.inner.reset(seed, &mut self.raw)?;
        self.encode(obs)
    }

    #[inline]
    fn step(&mut self, action: Action<'_>, obs: &mut [f32]) -> Result<Step, EnvError> {
        if self.identity {
            return self.inner.step(action, obs);
        }
        let step = self.inner.step(action, &mut self.raw)?;
        self.encode(obs)?;
        Ok(step)
    }
}

/// What fills the older frames of [`FrameStack`] right after a reset.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum FramePadding {
    /// Copies of the reset observation (Gymnasium 1.x's default, `padding_type="reset"`).
    #[default]
    Reset,
    /// Zeros (`padding_type="zero"`).
    Zero,
}

/// Gymnasium's `FrameStackObservation`: the observation is the last `stack_size` observations,
/// oldest first. A Box of shape `s` becomes a Box of shape `[stack_size, s...]`; other spaces
/// become a Tuple of `stack_size` copies (the same flat layout: frames one after another).
#[derive(Clone, Debug)]
pub struct FrameStack<E> {
    inner: E,
    observation_space: Space,
    stack_size: usize,
    padding: FramePadding,
    frame_dim: usize,
    /// `stack_size * frame_dim` floats, oldest frame first.
    frames: Vec<f32>,
}

impl<E: Env> FrameStack<E> {
    pub fn new(inner: E, stack_size: usize, padding: FramePadding) -> Result<Self, EnvError> {
        if stack_size == 0 {
            return Err(bad_argument("FrameStack", "stack_size must be at least 1"));
        }
        let space = inner.observation_space();
        let observation_space = match space {
            Space::Box { low, high, shape } => {
                let mut stacked_shape = vec![stack_size];
                stacked_shape.extend_from_slice(shape);
                Space::Box {
                    low: low.repeat(stack_size),
                    high: high.repeat(stack_size),
                    shape: stacked_shape,
                }
            }
            other => Space::Tuple(vec![other.clone(); stack_size]),
        };
        let frame_dim = space.flat_dim();
        Ok(FrameStack {
            observation_space,
            stack_size,
            padding,
            frame_dim,
            frames: vec![0.0; stack_size * frame_dim],
            inner,
        })
    }

    pub fn stack_size(&self) -> usize {
        self.stack_size
    }
}

inner_access!(FrameStack);

impl<E: Env> Env for FrameStack<E> {
    crate::forward_env!(inner: action_space, info, action_mask, render, state, set_state, rng_mut);

    fn observation_space(&self) -> &Space {
        &self.observation_space
    }

    fn reset(&mut self, seed: Option<u64>, obs: &mut [f32]) -> Result<(), EnvError> {
        let d = self.frame_dim;
        let (older, newest) = self.frames.split_at_mut((self.stack_size - 1) * d);
        self.inner.reset(seed, newest)?;
        match self.padding {
            FramePadding::Zero => older.fill(0.0),
            FramePadding::Reset => {
                for frame in older.chunks_exact_mut(d) {
                    frame.copy_from_slice(newest);
                }
            }
        }
        obs.copy_from_slice(&self.frames);
        Ok(())
    }

    #[inline]
    fn step(&mut self, action: Action<'_>, obs: &mut [f32]) -> Result<Step, EnvError> {
        let d = self.frame_dim;
        let newest = (self.stack_size - 1) * d;
        // The new frame lands in the caller's buffer first, so an error leaves the stack as is.
        let step = self.inner.step(action, &mut obs[newest..])?;
        self.frames.copy_within(d.., 0);
        self.frames[newest..].copy_from_slice(&obs[newest..]);
        obs.copy_from_slice(&self.frames);
        Ok(step)
    }
}

/// Zeroes fixed components of a Box observation; the observation keeps its shape (rl-zoo's
/// `MaskVelocityWrapper`). [`MaskVelocity`] names the common use.
#[derive(Clone, Debug)]
pub struct MaskObservation<E> {
    inner: E,
    indices: Vec<usize>,
}

/// Velocity-masked observations: see [`MaskObservation::velocity`].
pub type MaskVelocity<E> = MaskObservation<E>;

impl<E: Env> MaskObservation<E> {
    /// Zeroes the components at `indices` (flat, C-order positions).
    pub fn new(inner: E, indices: Vec<usize>) -> Result<Self, EnvError> {
        let space = inner.observation_space();
        if !matches!(space, Space::Box { .. }) {
            return Err(bad_argument(
                "MaskObservation",
                format!("needs a Box observation space, got {space}"),
            ));
        }
        let dim = space.flat_dim();
        if let Some(&bad) = indices.iter().find(|&&i| i >= dim) {
            return Err(bad_argument(
                "MaskObservation",
                format!("index {bad} is outside the observation of dimension {dim}"),
            ));
        }
        Ok(MaskObservation { inner, indices })
    }

    /// Masks the velocities of a classic control environment, as rl-zoo does for its
    /// `*NoVel` ids: CartPole `x_dot, theta_dot`; MountainCar(Continuous) `velocity`;
    /// Pendulum `theta_dot`; Acrobot `dtheta1, dtheta2`.
    pub fn velocity(inner: E, env_id: &str) -> Result<Self, EnvError> {
        let indices = velocity_indices(env_id).ok_or_else(|| {
            bad_argument(
                "MaskVelocity",
                format!(
                    "no velocity components known for `{env_id}`; known: CartPole-v1, \
                     MountainCar-v0, MountainCarContinuous-v0, Pendulum-v1, Acrobot-v1 \
                     (use MaskObservation::new with explicit indices)"
                ),
            )
        })?;
        Self::new(inner, indices.to_vec())
    }

    pub fn indices(&self) -> &[usize] {
        &self.indices
    }

    #[inline]
    fn mask(&self, obs: &mut [f32]) {
        for &i in &self.indices {
            obs[i] = 0.0;
        }
    }
}

/// Indices of the velocity components in a classic control observation (rl-zoo's table).
pub(crate) fn velocity_indices(env_id: &str) -> Option<&'static [usize]> {
    let base = env_id.split("-v").next().unwrap_or(env_id);
    match base {
        "CartPole" => Some(&[1, 3]),
        "MountainCar" | "MountainCarContinuous" => Some(&[1]),
        "Pendulum" => Some(&[2]),
        "Acrobot" => Some(&[4, 5]),
        _ => None,
    }
}

inner_access!(MaskObservation);

impl<E: Env> Env for MaskObservation<E> {
    crate::forward_env!(inner: observation_space, action_space, info, action_mask, render, state,
                        set_state, rng_mut);

    fn reset(&mut self, seed: Option<u64>, obs: &mut [f32]) -> Result<(), EnvError> {
        self.inner.reset(seed, obs)?;
        self.mask(obs);
        Ok(())
    }

    #[inline]
    fn step(&mut self, action: Action<'_>, obs: &mut [f32]) -> Result<Step, EnvError> {
        let step = self.inner.step(action, obs)?;
        self.mask(obs);
        Ok(step)
    }
}

/// Flickering observations (Hausknecht & Stone 2015, "Deep Recurrent Q-Learning"): each
/// observation, at reset and at every step, is replaced by zeros with probability `p`.
///
/// The draws come from the wrapper's own [`EnvRng`] (numpy's `Generator(PCG64)`: the test is
/// `np_random.random() < p`), seeded by `reset(Some(seed))`, so a run is reproducible given the
/// seed, and the wrapped environment's random stream is left exactly as it would be without the
/// wrapper. Before any seeded reset it is seeded from the operating system, like Gymnasium's
/// unseeded `np_random`. [`Flicker::flicker_rng_mut`] gives access for replaying recorded draws.
#[derive(Clone, Debug)]
pub struct Flicker<E> {
    inner: E,
    p: f64,
    rng: EnvRng,
}

impl<E: Env> Flicker<E> {
    pub fn new(inner: E, p: f64) -> Result<Self, EnvError> {
        if !(0.0..=1.0).contains(&p) {
            return Err(bad_argument(
                "Flicker",
                format!("the probability p must be in [0, 1], got {p}"),
            ));
        }
        Ok(Flicker {
            inner,
            p,
            rng: EnvRng::default(),
        })
    }

    pub fn p(&self) -> f64 {
        self.p
    }

    /// The wrapper's own random source (`rng_mut` reaches the wrapped environment's).
    pub fn flicker_rng_mut(&mut self) -> &mut EnvRng {
        &mut self.rng
    }

    #[inline]
    fn flicker(&mut self, obs: &mut [f32]) {
        if self.rng.random() < self.p {
            obs.fill(0.0);
        }
    }
}

inner_access!(Flicker);

impl<E: Env> Env for Flicker<E> {
    crate::forward_env!(inner: observation_space, action_space, info, action_mask, render, state,
                        set_state, rng_mut);

    fn reset(&mut self, seed: Option<u64>, obs: &mut [f32]) -> Result<(), EnvError> {
        self.inner.reset(seed, obs)?;
        if let Some(seed) = seed {
            self.rng.seed(seed);
        }
        self.flicker(obs);
        Ok(())
    }

    #[inline]
    fn step(&mut self, action: Action<'_>, obs: &mut [f32]) -> Result<Step, EnvError> {
        let step = self.inner.step(action, obs)?;
        self.flicker(obs);
        Ok(step)
    }
}
