//! MinAtar (Young & Tian 2019): five Atari games on a 10x10 grid with 4 to 10 boolean
//! channels, ported from MinAtar 1.0.15 rule for rule (`minatar/environments/*.py`).
//!
//! Ids as MinAtar's Gymnasium registration: `MinAtar/<Game>-v0` (all 6 actions
//! `n l u r d f`) and `MinAtar/<Game>-v1` (the game's minimal action set). Options (keyword
//! arguments of MinAtar's `Environment`): `sticky_action_prob` (default 0.1: with this
//! probability the previous action is repeated) and `difficulty_ramping` (default true).
//!
//! Observations are MinAtar's `state()`: a `(10, 10, C)` grid, channels last (flat index
//! `(y*10 + x)*C + c`), each cell 0.0 or 1.0. Randomness is numpy's legacy `RandomState`
//! (MT19937, [`Mt19937`]), reseeded by `reset(seed)` exactly as MinAtar's `seed()` does, so the
//! golden trajectories replay bit for bit from the seed alone. As in MinAtar, the sticky
//! action's memory survives resets.

mod asterix;
mod breakout;
mod freeway;
pub mod mt19937;
mod seaquest;
mod space_invaders;

pub use asterix::Asterix;
pub use breakout::Breakout;
pub use freeway::Freeway;
pub use mt19937::Mt19937;
pub use seaquest::Seaquest;
pub use space_invaders::SpaceInvaders;

use crate::builtin::Phase;
use crate::env::{Env, EnvError, Render, RenderMode, Step};
use crate::registry::{EnvSpec, Options};
use crate::rng::{Draw, EnvRng};
use crate::space::{Action, Space};
use serde_json::{json, Value};

/// Side of the square grid.
pub const GRID: usize = 10;

/// MinAtar's full action set, in its order.
pub const ACTION_NAMES: [&str; 6] = ["n", "l", "u", "r", "d", "f"];
pub(crate) const NOOP: u8 = 0;
pub(crate) const LEFT: u8 = 1;
pub(crate) const UP: u8 = 2;
pub(crate) const RIGHT: u8 = 3;
pub(crate) const DOWN: u8 = 4;
pub(crate) const FIRE: u8 = 5;

/// The environment's random source: numpy's `RandomState`, with the replay hooks of
/// [`EnvRng`] (draw logging and injection) so that golden files can check every draw. When
/// neither is on, a draw costs one branch more than the bare generator.
#[derive(Clone, Debug)]
pub struct MinAtarRng {
    mt: Mt19937,
    hooks: EnvRng,
}

impl MinAtarRng {
    pub fn new(seed: u32) -> Self {
        MinAtarRng {
            mt: Mt19937::new(seed),
            hooks: EnvRng::new(0),
        }
    }

    /// MinAtar's `seed(seed)`: a fresh `RandomState` (see [`Mt19937::from_u64`]).
    pub fn seed(&mut self, seed: u64) {
        self.mt = Mt19937::from_u64(seed);
    }

    fn injected(&mut self, method: &str) -> Option<Value> {
        self.hooks.popgym_injected(method).map(|d| d.result)
    }

    fn fail(&mut self, what: String) {
        self.hooks.popgym_fail(what);
    }

    /// `RandomState.rand()`.
    #[inline]
    pub fn rand(&mut self) -> f64 {
        if self.hooks.is_injecting() {
            return match self.injected("rand").map(|v| v.as_f64()) {
                Some(Some(v)) => v,
                Some(None) => {
                    self.fail("a recorded `rand` draw is not a number".into());
                    0.0
                }
                None => 0.0,
            };
        }
        let v = self.mt.next_f64();
        self.hooks
            .popgym_record(|| draw("rand", json!([]), json!({}), json!(v)));
        v
    }

    /// `RandomState.rand(n)`.
    pub fn rand_fill(&mut self, out: &mut [f64]) {
        if self.hooks.is_injecting() {
            let got = self.injected("rand");
            match got.as_ref().and_then(Value::as_array) {
                Some(a) if a.len() == out.len() => {
                    for (o, v) in out.iter_mut().zip(a) {
                        *o = v.as_f64().unwrap_or(0.0);
                    }
                }
                _ => {
                    out.fill(0.0);
                    if got.is_some() {
                        self.fail(format!(
                            "a recorded `rand` draw does not hold {} numbers",
                            out.len()
                        ));
                    }
                }
            }
            return;
        }
        for o in out.iter_mut() {
            *o = self.mt.next_f64();
        }
        self.hooks
            .popgym_record(|| draw("rand", json!([out.len()]), json!({}), json!(out)));
    }

    /// `RandomState.randint(high)` / `randint(low=.., high=..)`: uniform in `[low, high)`.
    /// `keyword` says how MinAtar passed the bounds (only for the draw log).
    #[inline]
    pub fn randint(&mut self, low: i64, high: i64, keyword: bool) -> i64 {
        if self.hooks.is_injecting() {
            return match self.injected("randint").map(|v| v.as_i64()) {
                Some(Some(v)) if (low..high).contains(&v) => v,
                Some(_) => {
                    self.fail(format!(
                        "a recorded `randint` draw is not an integer in [{low}, {high})"
                    ));
                    low
                }
                None => low,
            };
        }
        let v = self.mt.randint(low, high);
        self.hooks.popgym_record(|| {
            let (args, kwargs) = if keyword {
                (json!([]), json!({"low": low, "high": high}))
            } else {
                (json!([high]), json!({}))
            };
            draw("randint", args, kwargs, json!(v))
        });
        v
    }

    /// `RandomState.randint(low, high, n)`.
    pub fn randint_fill(&mut self, low: i64, high: i64, out: &mut [i64]) {
        if self.hooks.is_injecting() {
            let got = self.injected("randint");
            match got.as_ref().and_then(Value::as_array) {
                Some(a) if a.len() == out.len() => {
                    for (o, v) in out.iter_mut().zip(a) {
                        *o = v
                            .as_i64()
                            .filter(|v| (low..high).contains(v))
                            .unwrap_or(low);
                    }
                }
                _ => {
                    out.fill(low);
                    if got.is_some() {
                        self.fail(format!(
                            "a recorded `randint` draw does not hold {} integers",
                            out.len()
                        ));
                    }
                }
            }
            return;
        }
        for o in out.iter_mut() {
            *o = self.mt.randint(low, high);
        }
        self.hooks.popgym_record(|| {
            draw(
                "randint",
                json!([low, high, out.len()]),
                json!({}),
                json!(out),
            )
        });
    }
}

fn draw(method: &str, args: Value, kwargs: Value, result: Value) -> Draw {
    Draw {
        method: method.to_string(),
        args,
        kwargs,
        result,
    }
}

/// One MinAtar game's rules (`minatar/environments/<game>.py`).
pub trait Game: Clone + Send + 'static {
    /// MinAtar's class name in Gymnasium ids (`SpaceInvaders`).
    const NAME: &'static str;
    /// `state_shape()[2]`, with the channels' names in order.
    const CHANNELS: &'static [&'static str];
    /// `minimal_action_set()`, as indices into [`ACTION_NAMES`].
    const MINIMAL_ACTIONS: &'static [u8];
    /// What the game is about, for `engram envs`.
    const DESCRIPTION: &'static str;

    fn new(ramping: bool) -> Self;
    /// `reset()`: a new episode (draws from `rng` as MinAtar does).
    fn reset(&mut self, rng: &mut MinAtarRng);
    /// `act(a)` with `a` an index into [`ACTION_NAMES`]: the reward and whether the game ended.
    fn act(&mut self, action: u8, rng: &mut MinAtarRng) -> (i64, bool);
    /// `state()` into a zeroed `10 x 10 x C` buffer (channels last).
    fn write_state(&self, obs: &mut [f32]);
    /// `difficulty_ramp()`: the ramp level, `None` for games without one.
    fn difficulty_ramp(&self) -> Option<i64> {
        None
    }
}

/// Sets cell `(y, x)` of channel `c` in a channels-last `10 x 10 x C` buffer.
#[inline(always)]
pub(crate) fn set_cell(obs: &mut [f32], channels: usize, y: usize, x: usize, c: usize) {
    obs[(y * GRID + x) * channels + c] = 1.0;
}

/// Sets channel `c` on every cell of a 100-bit map (bit `y*10 + x`).
#[inline]
pub(crate) fn set_bits(obs: &mut [f32], channels: usize, mut bits: u128, c: usize) {
    while bits != 0 {
        let i = bits.trailing_zeros() as usize;
        obs[i * channels + c] = 1.0;
        bits &= bits - 1;
    }
}

/// A MinAtar game as a Gymnasium environment (MinAtar's `gym.BaseEnv`).
#[derive(Clone, Debug)]
pub struct MinAtar<G: Game> {
    game: G,
    rng: MinAtarRng,
    /// Gymnasium action -> MinAtar action.
    action_set: &'static [u8],
    sticky_action_prob: f64,
    last_action: u8,
    observation_space: Space,
    action_space: Space,
    phase: Phase,
}

impl<G: Game + std::fmt::Debug> MinAtar<G> {
    /// `minimal_action_set`: v1's action set (else all six, as v0).
    pub fn new(
        minimal_action_set: bool,
        sticky_action_prob: f64,
        difficulty_ramping: bool,
    ) -> Self {
        let action_set: &'static [u8] = if minimal_action_set {
            G::MINIMAL_ACTIONS
        } else {
            &[NOOP, LEFT, UP, RIGHT, DOWN, FIRE]
        };
        MinAtar {
            game: G::new(difficulty_ramping),
            rng: MinAtarRng::new(rand::random()),
            action_set,
            sticky_action_prob,
            last_action: NOOP,
            observation_space: Space::uniform_box(0.0, 1.0, &[GRID, GRID, G::CHANNELS.len()]),
            action_space: Space::discrete(action_set.len() as u64),
            phase: Phase::NotReset,
        }
    }

    /// The registry's entry point for v0 and v1: options `sticky_action_prob`,
    /// `difficulty_ramping`.
    fn make(minimal: bool, options: &mut Options) -> Result<Box<dyn Env>, EnvError> {
        let id = format!("MinAtar/{}-v{}", G::NAME, minimal as u8);
        let sticky = options.take_f64("sticky_action_prob", 0.1)?;
        if !(0.0..=1.0).contains(&sticky) {
            return Err(EnvError::BadOption {
                id,
                message: format!("sticky_action_prob must be in [0, 1], got {sticky}"),
            });
        }
        let ramping = options.take_bool("difficulty_ramping", true)?;
        Ok(Box::new(Self::new(minimal, sticky, ramping)))
    }

    fn make_v0(options: &mut Options) -> Result<Box<dyn Env>, EnvError> {
        Self::make(false, options)
    }

    fn make_v1(options: &mut Options) -> Result<Box<dyn Env>, EnvError> {
        Self::make(true, options)
    }

    /// The game's rules and state.
    pub fn game(&self) -> &G {
        &self.game
    }

    /// MinAtar's `difficulty_ramp()`.
    pub fn difficulty_ramp(&self) -> Option<i64> {
        self.game.difficulty_ramp()
    }

    #[inline]
    fn observe(&self, obs: &mut [f32]) -> Result<(), EnvError> {
        let dim = GRID * GRID * G::CHANNELS.len();
        if obs.len() != dim {
            return Err(EnvError::Other(format!(
                "observation buffer has {} elements but MinAtar/{} needs {dim} (10 x 10 x {})",
                obs.len(),
                G::NAME,
                G::CHANNELS.len()
            )));
        }
        obs.fill(0.0);
        self.game.write_state(obs);
        Ok(())
    }
}

impl<G: Game + std::fmt::Debug> Env for MinAtar<G> {
    fn observation_space(&self) -> &Space {
        &self.observation_space
    }

    fn action_space(&self) -> &Space {
        &self.action_space
    }

    fn reset(&mut self, seed: Option<u64>, obs: &mut [f32]) -> Result<(), EnvError> {
        if let Some(seed) = seed {
            self.rng.seed(seed);
        }
        self.game.reset(&mut self.rng);
        self.phase = Phase::Running;
        self.observe(obs)
    }

    #[inline]
    fn step(&mut self, action: Action<'_>, obs: &mut [f32]) -> Result<Step, EnvError> {
        self.phase.check_step()?;
        let a = match action {
            Action::Discrete(a) if a >= 0 && (a as usize) < self.action_set.len() => {
                self.action_set[a as usize]
            }
            _ => return Err(crate::builtin::invalid_action(action, &self.action_space)),
        };
        let a = if self.rng.rand() < self.sticky_action_prob {
            self.last_action
        } else {
            a
        };
        self.last_action = a;
        let (reward, terminated) = self.game.act(a, &mut self.rng);
        if terminated {
            self.phase = Phase::Done;
        }
        self.observe(obs)?;
        Ok(Step {
            reward: reward as f64,
            terminated,
            truncated: false,
        })
    }

    /// MinAtar's `rgb_array`: each cell coloured by its highest active channel (seaborn's
    /// `cubehelix` palette, black when empty), scaled up to 16x16 pixels per cell.
    fn render(&self, mode: RenderMode) -> Result<Render, EnvError> {
        if mode != RenderMode::Rgb {
            return Err(EnvError::Unsupported(format!("render mode {mode:?}")));
        }
        if self.phase == Phase::NotReset {
            return Err(EnvError::NotReset);
        }
        const SCALE: usize = 16;
        let c = G::CHANNELS.len();
        let mut state = vec![0.0f32; GRID * GRID * c];
        self.game.write_state(&mut state);
        let palette = palette(c);
        let side = GRID * SCALE;
        let mut pixels = vec![0u8; side * side * 3];
        for y in 0..GRID {
            for x in 0..GRID {
                let cell = &state[(y * GRID + x) * c..(y * GRID + x + 1) * c];
                let Some(top) = cell.iter().rposition(|&v| v != 0.0) else {
                    continue;
                };
                let color = palette[top];
                for py in y * SCALE..(y + 1) * SCALE {
                    for px in x * SCALE..(x + 1) * SCALE {
                        pixels[(py * side + px) * 3..(py * side + px + 1) * 3]
                            .copy_from_slice(&color);
                    }
                }
            }
        }
        Ok(Render::Rgb {
            width: side,
            height: side,
            pixels,
        })
    }

    fn rng_mut(&mut self) -> Option<&mut EnvRng> {
        Some(&mut self.rng.hooks)
    }
}

/// `seaborn.color_palette("cubehelix", n)` in 8-bit RGB, for the channel counts MinAtar has.
fn palette(n: usize) -> Vec<[u8; 3]> {
    match n {
        4 => vec![
            [22, 61, 78],
            [84, 121, 47],
            [208, 126, 147],
            [193, 202, 243],
        ],
        6 => vec![
            [26, 36, 65],
            [27, 97, 69],
            [105, 123, 48],
            [200, 123, 124],
            [205, 162, 224],
            [198, 225, 241],
        ],
        7 => vec![
            [27, 30, 59],
            [22, 83, 76],
            [68, 119, 49],
            [161, 121, 74],
            [212, 132, 169],
            [198, 180, 238],
            [203, 232, 240],
        ],
        _ => vec![
            [25, 18, 43],
            [23, 52, 76],
            [24, 91, 72],
            [60, 118, 50],
            [126, 122, 54],
            [188, 121, 103],
            [212, 134, 175],
            [202, 169, 231],
            [194, 210, 243],
            [214, 240, 239],
        ]
        .into_iter()
        .cycle()
        .take(n)
        .collect(),
    }
}

fn game_specs<G: Game + std::fmt::Debug>() -> [EnvSpec; 2] {
    [
        EnvSpec::new(&format!("MinAtar/{}-v0", G::NAME), MinAtar::<G>::make_v0).with_description(
            &format!("MinAtar {}: {} (all 6 actions)", G::NAME, G::DESCRIPTION),
        ),
        EnvSpec::new(&format!("MinAtar/{}-v1", G::NAME), MinAtar::<G>::make_v1).with_description(
            &format!(
                "MinAtar {}: {} ({} minimal actions)",
                G::NAME,
                G::DESCRIPTION,
                G::MINIMAL_ACTIONS.len()
            ),
        ),
    ]
}

/// The ten registrations, without time limits (MinAtar registers none).
pub(crate) fn specs() -> Vec<EnvSpec> {
    let mut v = Vec::new();
    v.extend(game_specs::<Asterix>());
    v.extend(game_specs::<Breakout>());
    v.extend(game_specs::<Freeway>());
    v.extend(game_specs::<Seaquest>());
    v.extend(game_specs::<SpaceInvaders>());
    v
}
