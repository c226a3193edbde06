//! FrozenLake-v1 / FrozenLake8x8-v1, as Gymnasium 1.x's `FrozenLakeEnv`.

use super::{colorize, cumulative, normalised, sample_cumulative, Transition, TransitionTable};
use crate::builtin::{invalid_action, obs_array, Phase};
use crate::env::{
    ByIndex, Env, EnvError, IndexStep, Info, InfoValue, Render, RenderMode, Step, StepByIndex,
};
use crate::registry::Options;
use crate::rng::EnvRng;
use crate::space::{Action, Space};

const LEFT: usize = 0;
const DOWN: usize = 1;
const RIGHT: usize = 2;
const UP: usize = 3;

const MAP_4X4: [&str; 4] = ["SFFF", "FHFH", "FFFH", "HFFG"];
const MAP_8X8: [&str; 8] = [
    "SFFFFFFF", "FFFFFFFF", "FFFHFFFF", "FFFFFHFF", "FFFHFFFF", "FHHFFFHF", "FHFFHFHF", "FFFHFFFG",
];

/// FrozenLake's keyword options.
#[derive(Clone, Debug, PartialEq)]
pub struct FrozenLakeConfig {
    /// A custom map, one string per row of `S` (start), `F` (frozen), `H` (hole), `G` (goal).
    /// Takes precedence over `map_name`.
    pub desc: Option<Vec<String>>,
    /// `"4x4"` or `"8x8"`; `None` with no `desc` generates a random 8x8 map.
    pub map_name: Option<String>,
    pub is_slippery: bool,
    /// Probability of moving in the intended direction when slippery (the rest splits evenly
    /// between the two perpendicular directions).
    pub success_rate: f64,
    /// Rewards for reaching `(G, H, F)`.
    pub reward_schedule: [f64; 3],
}

impl Default for FrozenLakeConfig {
    fn default() -> Self {
        FrozenLakeConfig {
            desc: None,
            map_name: Some("4x4".into()),
            is_slippery: true,
            success_rate: 1.0 / 3.0,
            reward_schedule: [1.0, 0.0, 0.0],
        }
    }
}

/// FrozenLake: walk from `S` to `G` over the ice without falling into a hole `H`; actions
/// left, down, right, up (0-3); when slippery the move goes sideways with probability
/// `1 - success_rate`. Observation: the cell index `row * ncol + col`.
#[derive(Clone, Debug)]
pub struct FrozenLake {
    desc: Vec<Vec<u8>>,
    nrow: usize,
    ncol: usize,
    table: TransitionTable,
    initial: Vec<f64>,
    /// `initial`'s running sums (a reset's draw by bisection).
    initial_cumulative: Vec<f64>,
    s: usize,
    last_action: Option<usize>,
    last_prob: f64,
    phase: Phase,
    rng: EnvRng,
    observation_space: Space,
    action_space: Space,
}

fn bad(message: String) -> EnvError {
    EnvError::BadOption {
        id: "FrozenLake".into(),
        message,
    }
}

/// Checks a custom map: non-empty, rectangular, only `SFHG`, at least one `S` and one `G`.
fn validate_desc(desc: &[String]) -> Result<(), EnvError> {
    let example = "e.g. desc=[\"SFFF\", \"FHFH\", \"FFFH\", \"HFFG\"]";
    if desc.is_empty() || desc[0].is_empty() {
        return Err(bad(format!(
            "`desc` must be a non-empty list of non-empty rows, {example}"
        )));
    }
    let width = desc[0].chars().count();
    for (i, row) in desc.iter().enumerate() {
        if row.chars().count() != width {
            return Err(bad(format!(
                "`desc` must be rectangular: row 0 has {width} cells but row {i} (\"{row}\") has {}",
                row.chars().count()
            )));
        }
        if let Some(c) = row.chars().find(|c| !"SFHG".contains(*c)) {
            return Err(bad(format!(
                "`desc` row {i} (\"{row}\") contains '{c}'; only S (start), F (frozen), H (hole) and G (goal) are allowed"
            )));
        }
    }
    for (letter, name) in [('S', "start"), ('G', "goal")] {
        if !desc.iter().any(|r| r.contains(letter)) {
            return Err(bad(format!(
                "`desc` needs at least one '{letter}' ({name}) cell, {example}"
            )));
        }
    }
    Ok(())
}

/// Gymnasium's `is_valid`: whether a path of non-hole cells leads from (0, 0) to a `G`.
fn path_exists(board: &[Vec<u8>]) -> bool {
    let n = board.len();
    let mut seen = vec![vec![false; n]; n];
    let mut frontier = vec![(0usize, 0usize)];
    while let Some((r, c)) = frontier.pop() {
        if seen[r][c] {
            continue;
        }
        seen[r][c] = true;
        for (dr, dc) in [(1i64, 0i64), (0, 1), (-1, 0), (0, -1)] {
            let (nr, nc) = (r as i64 + dr, c as i64 + dc);
            if nr < 0 || nc < 0 || nr >= n as i64 || nc >= n as i64 {
                continue;
            }
            let (nr, nc) = (nr as usize, nc as usize);
            if board[nr][nc] == b'G' {
                return true;
            }
            if board[nr][nc] != b'H' {
                frontier.push((nr, nc));
            }
        }
    }
    false
}

/// Gymnasium's `generate_random_map(size, p)`: frozen with probability `p`, until solvable.
pub fn generate_random_map(size: usize, p: f64, rng: &mut EnvRng) -> Vec<String> {
    let p = p.min(1.0);
    loop {
        let mut board: Vec<Vec<u8>> = (0..size)
            .map(|_| {
                (0..size)
                    .map(|_| if rng.random() < p { b'F' } else { b'H' })
                    .collect()
            })
            .collect();
        board[0][0] = b'S';
        board[size - 1][size - 1] = b'G';
        if path_exists(&board) {
            return board
                .into_iter()
                .map(|r| String::from_utf8(r).unwrap_or_default())
                .collect();
        }
    }
}

impl FrozenLake {
    #[allow(clippy::needless_range_loop)]
    pub fn new(config: FrozenLakeConfig) -> Result<Self, EnvError> {
        let mut rng = EnvRng::default();
        let desc: Vec<String> = match (&config.desc, config.map_name.as_deref()) {
            (Some(d), _) => {
                validate_desc(d)?;
                d.clone()
            }
            (None, Some("4x4")) => MAP_4X4.iter().map(|s| s.to_string()).collect(),
            (None, Some("8x8")) => MAP_8X8.iter().map(|s| s.to_string()).collect(),
            (None, Some(other)) => {
                return Err(bad(format!(
                    "unknown map_name \"{other}\": use \"4x4\" or \"8x8\", or pass a custom map with `desc`"
                )))
            }
            (None, None) => generate_random_map(8, 0.8, &mut rng),
        };
        if !(0.0..=1.0).contains(&config.success_rate) {
            return Err(bad(format!(
                "success_rate must be in [0, 1], got {}",
                config.success_rate
            )));
        }
        let desc: Vec<Vec<u8>> = desc.iter().map(|r| r.as_bytes().to_vec()).collect();
        let (nrow, ncol) = (desc.len(), desc[0].len());
        let n_states = nrow * ncol;
        let initial = normalised(
            desc.iter()
                .flatten()
                .map(|&c| if c == b'S' { 1.0 } else { 0.0 })
                .collect(),
        );
        let fail_rate = (1.0 - config.success_rate) / 2.0;
        let mut table = TransitionTable::new(n_states, 4);
        let outcome = |row: usize, col: usize, a: usize, prob: f64| {
            let (mut r, mut c) = (row, col);
            match a {
                LEFT => c = c.saturating_sub(1),
                DOWN => r = (r + 1).min(nrow - 1),
                RIGHT => c = (c + 1).min(ncol - 1),
                UP => r = r.saturating_sub(1),
                _ => unreachable!(),
            }
            let letter = desc[r][c];
            let reward = match letter {
                b'G' => config.reward_schedule[0],
                b'H' => config.reward_schedule[1],
                _ => config.reward_schedule[2],
            };
            Transition {
                prob,
                next: (r * ncol + c) as u32,
                reward,
                terminated: letter == b'G' || letter == b'H',
            }
        };
        for row in 0..nrow {
            for col in 0..ncol {
                let s = row * ncol + col;
                for a in 0..4 {
                    if matches!(desc[row][col], b'G' | b'H') {
                        table.push(
                            s,
                            a,
                            Transition {
                                prob: 1.0,
                                next: s as u32,
                                reward: 0.0,
                                terminated: true,
                            },
                        );
                    } else if config.is_slippery {
                        for b in [(a + 3) % 4, a, (a + 1) % 4] {
                            let p = if b == a {
                                config.success_rate
                            } else {
                                fail_rate
                            };
                            table.push(s, a, outcome(row, col, b, p));
                        }
                    } else {
                        table.push(s, a, outcome(row, col, a, 1.0));
                    }
                }
            }
        }
        Ok(FrozenLake {
            desc,
            nrow,
            ncol,
            table,
            initial_cumulative: cumulative(&initial),
            initial,
            s: 0,
            last_action: None,
            last_prob: 1.0,
            phase: Phase::NotReset,
            rng,
            observation_space: Space::discrete(n_states as u64),
            action_space: Space::discrete(4),
        })
    }

    /// Registry entry point. Options: `desc`, `map_name`, `is_slippery`, `success_rate`,
    /// `reward_schedule` (as Gymnasium 1.x's `FrozenLakeEnv`).
    pub fn make(opts: &mut Options) -> Result<Box<dyn Env>, EnvError> {
        let d = FrozenLakeConfig::default();
        let had_map_name = opts.values.contains_key("map_name");
        let map_name = opts.take_opt_str("map_name")?;
        let reward_schedule = match opts.take_opt_f64_list("reward_schedule")? {
            None => d.reward_schedule,
            Some(v) => v.try_into().map_err(|v: Vec<f64>| {
                bad(format!(
                    "reward_schedule must have 3 numbers (goal, hole, frozen), got {}",
                    v.len()
                ))
            })?,
        };
        let config = FrozenLakeConfig {
            desc: opts.take_opt_str_list("desc")?,
            map_name: if had_map_name { map_name } else { d.map_name },
            is_slippery: opts.take_bool("is_slippery", d.is_slippery)?,
            success_rate: opts.take_f64("success_rate", d.success_rate)?,
            reward_schedule,
        };
        Ok(Box::new(Self::new(config)?))
    }

    /// The map, one string per row.
    pub fn desc(&self) -> Vec<String> {
        self.desc
            .iter()
            .map(|r| String::from_utf8_lossy(r).into_owned())
            .collect()
    }
}

impl Env for FrozenLake {
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
        self.phase = Phase::Running;
        obs[0] = self.s as f32;
        Ok(())
    }

    #[inline]
    fn step(&mut self, action: Action<'_>, obs: &mut [f32]) -> Result<Step, EnvError> {
        self.phase.check_step()?;
        let a = match action {
            Action::Discrete(a @ 0..=3) => a as usize,
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
        vec![("prob", InfoValue::Float(self.last_prob))]
    }

    fn render(&self, mode: RenderMode) -> Result<Render, EnvError> {
        if mode != RenderMode::Text {
            return Err(EnvError::Unsupported(format!(
                "render mode {mode:?} for FrozenLake (use Text)"
            )));
        }
        let mut out = String::new();
        match self.last_action {
            Some(a) => out.push_str(&format!("  ({})\n", ["Left", "Down", "Right", "Up"][a])),
            None => out.push('\n'),
        }
        let (row, col) = (self.s / self.ncol, self.s % self.ncol);
        let lines: Vec<String> = (0..self.nrow)
            .map(|r| {
                (0..self.ncol)
                    .map(|c| {
                        let ch = (self.desc[r][c] as char).to_string();
                        if (r, c) == (row, col) {
                            colorize(&ch, "red", false, true)
                        } else {
                            ch
                        }
                    })
                    .collect()
            })
            .collect();
        out.push_str(&lines.join("\n"));
        out.push('\n');
        Ok(Render::Text(out))
    }

    fn state(&self) -> Option<Vec<f64>> {
        Some(vec![self.s as f64])
    }

    fn set_state(&mut self, state: &[f64]) -> Result<(), EnvError> {
        match state {
            [s] if *s >= 0.0 && s.fract() == 0.0 && (*s as usize) < self.nrow * self.ncol => {
                self.s = *s as usize;
                self.phase = Phase::Running;
                Ok(())
            }
            _ => Err(EnvError::Other(format!(
                "FrozenLake state is one cell index in [0, {}), got {state:?}",
                self.nrow * self.ncol
            ))),
        }
    }

    /// Gymnasium's `P`.
    fn model(&self) -> Option<std::sync::Arc<crate::model::Model>> {
        Some(self.table.to_model(&self.initial))
    }

    fn rng_mut(&mut self) -> Option<&mut EnvRng> {
        Some(&mut self.rng)
    }

    fn by_index(&mut self) -> Option<ByIndex<'_>> {
        Some(ByIndex::FrozenLake(self))
    }
}

impl StepByIndex for FrozenLake {
    fn state_index(&self) -> usize {
        self.s
    }

    #[inline]
    fn step_index(&mut self, action: usize) -> IndexStep {
        let t = self.table.sample(self.s, action, &mut self.rng);
        self.s = t.next as usize;
        self.last_action = Some(action);
        self.last_prob = t.prob;
        if t.terminated {
            self.phase = Phase::Done;
        }
        IndexStep {
            next: self.s,
            reward: t.reward,
            terminated: t.terminated,
        }
    }
}
