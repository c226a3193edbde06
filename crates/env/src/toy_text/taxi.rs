//! Taxi-v3 / Taxi-v4 (Dietterich 2000), as Gymnasium 1.x's `TaxiEnv`, including v4's optional
//! `is_rainy` and `fickle_passenger` modes (off by default: then v3 and v4 are identical).

use super::{colorize, cumulative, normalised, sample_cumulative, Transition, TransitionTable};
use crate::builtin::{invalid_action, obs_array, Phase};
use crate::env::{
    ByIndex, Env, EnvError, IndexStep, Info, InfoValue, Render, RenderMode, Step, StepByIndex,
};
use crate::registry::Options;
use crate::rng::EnvRng;
use crate::space::{Action, Space};

const MAP: [&str; 7] = [
    "+---------+",
    "|R: | : :G|",
    "| : | : : |",
    "| : : : : |",
    "| | : | : |",
    "|Y| : |B: |",
    "+---------+",
];
const LOCS: [(usize, usize); 4] = [(0, 0), (0, 4), (4, 0), (4, 3)];
const MAX_ROW: usize = 4;
const MAX_COL: usize = 4;
const N_STATES: usize = 500;
const N_ACTIONS: usize = 6;

/// Taxi's keyword options (Gymnasium 1.x `TaxiEnv`).
#[derive(Clone, Debug, PartialEq)]
pub struct TaxiConfig {
    /// Moves succeed with `rainy_probability`, else slip to either side.
    pub is_rainy: bool,
    /// With `fickle_probability` per episode, the passenger changes destination once, on the
    /// first move after being picked up.
    pub fickle_passenger: bool,
    pub rainy_probability: f64,
    pub fickle_probability: f64,
}

impl Default for TaxiConfig {
    fn default() -> Self {
        TaxiConfig {
            is_rainy: false,
            fickle_passenger: false,
            rainy_probability: 0.8,
            fickle_probability: 0.3,
        }
    }
}

fn encode(row: usize, col: usize, pass: usize, dest: usize) -> usize {
    ((row * 5 + col) * 5 + pass) * 4 + dest
}

fn decode(i: usize) -> (usize, usize, usize, usize) {
    (i / 100, (i / 20) % 5, (i / 4) % 5, i % 4)
}

/// The map's character at (map row, map column).
fn wall(r: usize, c: usize) -> u8 {
    MAP[r].as_bytes()[c]
}

/// Taxi: drive a taxi in a 5x5 grid with walls, pick the passenger up at one of R, G, Y, B and
/// drop them at their destination. Actions south, north, east, west, pickup, dropoff (0-5).
/// -1 per step, +20 for a delivery, -10 for an illegal pickup/dropoff. Observation: the state
/// `((taxi_row * 5 + taxi_col) * 5 + passenger_location) * 4 + destination`.
#[derive(Clone, Debug)]
pub struct Taxi {
    config: TaxiConfig,
    table: TransitionTable,
    initial: Vec<f64>,
    /// `initial`'s running sums: a reset's draw by bisection instead of a 500-term loop.
    initial_cumulative: Vec<f64>,
    s: usize,
    last_action: Option<usize>,
    last_prob: f64,
    fickle_step: bool,
    phase: Phase,
    rng: EnvRng,
    observation_space: Space,
    action_space: Space,
}

impl Default for Taxi {
    fn default() -> Self {
        // The default config is valid (the test below builds it).
        #[allow(clippy::expect_used)]
        Self::new(TaxiConfig::default()).expect("default Taxi config is valid")
    }
}

fn pickup(taxi: (usize, usize), pass: usize, reward: f64) -> (usize, f64) {
    if pass < 4 && taxi == LOCS[pass] {
        (4, reward)
    } else {
        (pass, -10.0)
    }
}

fn dropoff(taxi: (usize, usize), pass: usize, dest: usize, reward: f64) -> (usize, f64, bool) {
    if taxi == LOCS[dest] && pass == 4 {
        (dest, 20.0, true)
    } else if pass == 4 && LOCS.contains(&taxi) {
        (
            LOCS.iter().position(|&l| l == taxi).unwrap_or(0),
            reward,
            false,
        )
    } else {
        (pass, -10.0, false)
    }
}

/// Gymnasium's `_calc_new_position`: a lateral slip, blocked by walls.
fn slip(row: usize, col: usize, (dr, dc): (i64, i64)) -> (usize, usize) {
    let nr = (row as i64 + dr).clamp(0, MAX_ROW as i64) as usize;
    let nc = (col as i64 + dc).clamp(0, MAX_COL as i64) as usize;
    if dc == 1 && wall(1 + nr, 2 * nc) != b':' {
        return (row, col);
    }
    if dc == -1 && wall(1 + nr, 2 * nc + 2) != b':' {
        return (row, col);
    }
    (nr, nc)
}

impl Taxi {
    pub fn new(config: TaxiConfig) -> Result<Self, EnvError> {
        for (name, p) in [
            ("rainy_probability", config.rainy_probability),
            ("fickle_probability", config.fickle_probability),
        ] {
            if !(0.0..=1.0).contains(&p) {
                return Err(EnvError::BadOption {
                    id: "Taxi".into(),
                    message: format!("{name} must be in [0, 1], got {p}"),
                });
            }
        }
        let lateral = (1.0 - config.rainy_probability) / 2.0;
        let mut table = TransitionTable::new(N_STATES, N_ACTIONS);
        let mut weights = vec![0.0; N_STATES];
        for row in 0..5 {
            for col in 0..5 {
                for pass in 0..5 {
                    for dest in 0..4 {
                        let s = encode(row, col, pass, dest);
                        if pass < 4 && pass != dest {
                            weights[s] += 1.0;
                        }
                        for a in 0..N_ACTIONS {
                            if config.is_rainy {
                                Self::rainy(
                                    &mut table,
                                    row,
                                    col,
                                    pass,
                                    dest,
                                    a,
                                    config.rainy_probability,
                                    lateral,
                                );
                            } else {
                                Self::dry(&mut table, row, col, pass, dest, a);
                            }
                        }
                    }
                }
            }
        }
        let initial = normalised(weights);
        Ok(Taxi {
            config,
            table,
            initial_cumulative: cumulative(&initial),
            initial,
            s: 0,
            last_action: None,
            last_prob: 1.0,
            fickle_step: false,
            phase: Phase::NotReset,
            rng: EnvRng::default(),
            observation_space: Space::discrete(N_STATES as u64),
            action_space: Space::discrete(N_ACTIONS as u64),
        })
    }

    fn dry(
        table: &mut TransitionTable,
        row: usize,
        col: usize,
        pass: usize,
        dest: usize,
        a: usize,
    ) {
        let (mut nr, mut nc, mut np) = (row, col, pass);
        let mut reward = -1.0;
        let mut terminated = false;
        match a {
            0 => nr = (row + 1).min(MAX_ROW),
            1 => nr = row.saturating_sub(1),
            2 if wall(1 + row, 2 * col + 2) == b':' => nc = (col + 1).min(MAX_COL),
            3 if wall(1 + row, 2 * col) == b':' => nc = col.saturating_sub(1),
            4 => (np, reward) = pickup((row, col), pass, reward),
            5 => (np, reward, terminated) = dropoff((row, col), pass, dest, reward),
            _ => {}
        }
        let s = encode(row, col, pass, dest);
        table.push(
            s,
            a,
            Transition {
                prob: 1.0,
                next: encode(nr, nc, np, dest) as u32,
                reward,
                terminated,
            },
        );
    }

    #[allow(clippy::too_many_arguments)]
    fn rainy(
        table: &mut TransitionTable,
        row: usize,
        col: usize,
        pass: usize,
        dest: usize,
        a: usize,
        p: f64,
        lateral: f64,
    ) {
        // (intended, left, right) moves per direction.
        const MOVES: [[(i64, i64); 3]; 4] = [
            [(1, 0), (0, 1), (0, -1)],
            [(-1, 0), (0, -1), (0, 1)],
            [(0, 1), (-1, 0), (1, 0)],
            [(0, -1), (1, 0), (-1, 0)],
        ];
        let s = encode(row, col, pass, dest);
        let (mut nr, mut nc, mut np) = (row, col, pass);
        let (mut left, mut right) = ((row, col), (row, col));
        let mut reward = -1.0;
        let mut terminated = false;
        let can_move = (a == 0 && row < MAX_ROW)
            || (a == 1 && row > 0)
            || (a == 2 && wall(1 + row, 2 * col + 2) == b':')
            || (a == 3 && wall(1 + row, 2 * col) == b':');
        if can_move {
            let (dr, dc) = MOVES[a][0];
            nr = (row as i64 + dr).clamp(0, MAX_ROW as i64) as usize;
            nc = (col as i64 + dc).clamp(0, MAX_COL as i64) as usize;
            left = slip(row, col, MOVES[a][1]);
            right = slip(row, col, MOVES[a][2]);
        } else if a == 4 {
            (np, reward) = pickup((row, col), pass, reward);
        } else if a == 5 {
            (np, reward, terminated) = dropoff((row, col), pass, dest, reward);
        }
        let intended = encode(nr, nc, np, dest) as u32;
        if a <= 3 {
            let l = encode(left.0, left.1, np, dest) as u32;
            let r = encode(right.0, right.1, np, dest) as u32;
            table.push(
                s,
                a,
                Transition {
                    prob: p,
                    next: intended,
                    reward: -1.0,
                    terminated,
                },
            );
            table.push(
                s,
                a,
                Transition {
                    prob: lateral,
                    next: l,
                    reward: -1.0,
                    terminated,
                },
            );
            table.push(
                s,
                a,
                Transition {
                    prob: lateral,
                    next: r,
                    reward: -1.0,
                    terminated,
                },
            );
        } else {
            table.push(
                s,
                a,
                Transition {
                    prob: 1.0,
                    next: intended,
                    reward,
                    terminated,
                },
            );
        }
    }

    /// Registry entry point. Options: `is_rainy`, `fickle_passenger`, `rainy_probability`,
    /// `fickle_probability`.
    pub fn make(opts: &mut Options) -> Result<Box<dyn Env>, EnvError> {
        let d = TaxiConfig::default();
        let config = TaxiConfig {
            is_rainy: opts.take_bool("is_rainy", d.is_rainy)?,
            fickle_passenger: opts.take_bool("fickle_passenger", d.fickle_passenger)?,
            rainy_probability: opts.take_f64("rainy_probability", d.rainy_probability)?,
            fickle_probability: opts.take_f64("fickle_probability", d.fickle_probability)?,
        };
        Ok(Box::new(Self::new(config)?))
    }

    /// Gymnasium's `action_mask(state)`: which actions change the state (looked up when
    /// asked for, rather than set by every step).
    fn mask(s: usize) -> &'static [bool; N_ACTIONS] {
        static MASKS: std::sync::OnceLock<Vec<[bool; N_ACTIONS]>> = std::sync::OnceLock::new();
        &MASKS.get_or_init(|| (0..N_STATES).map(Self::mask_of).collect())[s]
    }

    fn mask_of(s: usize) -> [bool; N_ACTIONS] {
        let (row, col, pass, dest) = decode(s);
        let taxi = (row, col);
        [
            row < 4,
            row > 0,
            col < 4 && wall(row + 1, 2 * col + 2) == b':',
            col > 0 && wall(row + 1, 2 * col) == b':',
            pass < 4 && taxi == LOCS[pass],
            pass == 4 && (taxi == LOCS[dest] || LOCS.contains(&taxi)),
        ]
    }

    /// The state after a move from the current state to `s` when the passenger is fickle
    /// this episode: the first move with the passenger aboard changes the destination.
    #[inline(never)]
    fn fickle_move(&mut self, s: usize) -> usize {
        let (shadow_row, shadow_col, shadow_pass, shadow_dest) = decode(self.s);
        let (row, col, pass, _) = decode(s);
        if shadow_pass != 4 || (row == shadow_row && col == shadow_col) {
            return s;
        }
        self.fickle_step = false;
        let mut others = [0i64; 3];
        for (slot, d) in others
            .iter_mut()
            .zip((0..4).filter(|&d| d != shadow_dest as i64))
        {
            *slot = d;
        }
        let dest = self.rng.choice(&others) as usize;
        encode(row, col, pass, dest)
    }

    /// `(taxi_row, taxi_col, passenger_location, destination)` of the current state.
    pub fn decode_state(&self) -> (usize, usize, usize, usize) {
        decode(self.s)
    }
}

impl Env for Taxi {
    fn observation_space(&self) -> &Space {
        &self.observation_space
    }

    fn action_space(&self) -> &Space {
        &self.action_space
    }

    fn reset(&mut self, seed: Option<u64>, obs: &mut [f32]) -> Result<(), EnvError> {
        let obs = obs_array::<1>(obs)?;
        if let Some(seed) = seed {
            self.rng.seed(seed);
        }
        self.s = sample_cumulative(&self.initial_cumulative, &mut self.rng);
        self.last_action = None;
        self.last_prob = 1.0;
        self.fickle_step =
            self.config.fickle_passenger && self.rng.random() < self.config.fickle_probability;
        self.phase = Phase::Running;
        obs[0] = self.s as f32;
        Ok(())
    }

    fn step(&mut self, action: Action<'_>, obs: &mut [f32]) -> Result<Step, EnvError> {
        self.phase.check_step()?;
        let a = match action {
            Action::Discrete(a @ 0..=5) => a as usize,
            _ => return Err(invalid_action(action, &self.action_space)),
        };
        let obs = obs_array::<1>(obs)?;
        let t = self.step_index(a);
        obs[0] = t.next as f32;
        Ok(Step {
            reward: t.reward,
            terminated: t.terminated,
            truncated: false,
        })
    }

    fn info(&self) -> Info {
        vec![
            ("prob", InfoValue::Float(self.last_prob)),
            (
                "action_mask",
                InfoValue::Ints(Self::mask(self.s).iter().map(|&m| m as i64).collect()),
            ),
        ]
    }

    fn action_mask(&self) -> Option<&[bool]> {
        Some(Self::mask(self.s))
    }

    fn render(&self, mode: RenderMode) -> Result<Render, EnvError> {
        if mode != RenderMode::Text {
            return Err(EnvError::Unsupported(format!(
                "render mode {mode:?} for Taxi (use Text)"
            )));
        }
        let mut out: Vec<Vec<String>> = MAP
            .iter()
            .map(|r| r.chars().map(|c| c.to_string()).collect())
            .collect();
        let (row, col, pass, dest) = decode(self.s);
        let ul = |x: &str| {
            if x == " " {
                "_".to_string()
            } else {
                x.to_string()
            }
        };
        if pass < 4 {
            out[1 + row][2 * col + 1] = colorize(&out[1 + row][2 * col + 1], "yellow", false, true);
            let (pi, pj) = LOCS[pass];
            out[1 + pi][2 * pj + 1] = colorize(&out[1 + pi][2 * pj + 1], "blue", true, false);
        } else {
            out[1 + row][2 * col + 1] =
                colorize(&ul(&out[1 + row][2 * col + 1]), "green", false, true);
        }
        let (di, dj) = LOCS[dest];
        out[1 + di][2 * dj + 1] = colorize(&out[1 + di][2 * dj + 1], "magenta", false, false);
        let mut text: String = out
            .iter()
            .map(|r| r.concat())
            .collect::<Vec<_>>()
            .join("\n");
        text.push('\n');
        match self.last_action {
            Some(a) => text.push_str(&format!(
                "  ({})\n",
                ["South", "North", "East", "West", "Pickup", "Dropoff"][a]
            )),
            None => text.push('\n'),
        }
        Ok(Render::Text(text))
    }

    fn state(&self) -> Option<Vec<f64>> {
        Some(vec![self.s as f64])
    }

    fn set_state(&mut self, state: &[f64]) -> Result<(), EnvError> {
        match state {
            [s] if *s >= 0.0 && s.fract() == 0.0 && (*s as usize) < N_STATES => {
                self.s = *s as usize;
                self.phase = Phase::Running;
                Ok(())
            }
            _ => Err(EnvError::Other(format!(
                "Taxi state is one number in [0, 500), got {state:?}"
            ))),
        }
    }

    /// Gymnasium's `P`; none with `fickle_passenger`, whose destination change happens
    /// outside `P` (in `step`), so `P` is not the environment's dynamics then.
    fn model(&self) -> Option<std::sync::Arc<crate::model::Model>> {
        (!self.config.fickle_passenger).then(|| self.table.to_model(&self.initial))
    }

    fn rng_mut(&mut self) -> Option<&mut EnvRng> {
        Some(&mut self.rng)
    }

    fn by_index(&mut self) -> Option<ByIndex<'_>> {
        Some(ByIndex::Taxi(self))
    }
}

impl StepByIndex for Taxi {
    fn state_index(&self) -> usize {
        self.s
    }

    #[inline]
    fn step_index(&mut self, action: usize) -> IndexStep {
        let t = self.table.sample(self.s, action, &mut self.rng);
        let mut s = t.next as usize;
        self.last_action = Some(action);
        if self.fickle_step {
            s = self.fickle_move(s);
        }
        self.s = s;
        self.last_prob = t.prob;
        if t.terminated {
            self.phase = Phase::Done;
        }
        IndexStep {
            next: s,
            reward: t.reward,
            terminated: t.terminated,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_config_builds() {
        let taxi = Taxi::default();
        assert_eq!(taxi.action_space(), &Space::discrete(6));
    }
}
