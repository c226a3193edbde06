//! Battleship on a hidden board: the agent names a square each step and only learns hit or
//! miss (POPGym's `battleship.py`). Ships of sizes 2, 3, 3, 4 are placed at random.

use super::{check_action, check_obs, multi_discrete, Level, Phase};
use crate::env::{Env, EnvError, Step};
use crate::rng::EnvRng;
use crate::space::{Action, Space};

const SHIP_SIZES: [usize; 4] = [2, 3, 3, 4];

#[derive(Clone, Debug)]
pub struct Battleship {
    board_size: usize,
    /// Row-major: 1 where a ship lies.
    board: Vec<u8>,
    /// Row-major: 1 where the agent already fired.
    guesses: Vec<u8>,
    hits: usize,
    needed_hits: usize,
    num_steps: usize,
    max_episode_length: usize,
    observation_space: Space,
    action_space: Space,
    rng: EnvRng,
    phase: Phase,
}

impl Battleship {
    pub const DESCRIPTION: &'static str = "sink hidden ships knowing only hit or miss";

    /// Easy: 8x8 board; Medium: 10x10; Hard: 12x12.
    pub fn new(level: Level) -> Self {
        Self::with_board_size(level.pick(8, 10, 12))
    }

    pub fn with_board_size(board_size: usize) -> Self {
        assert!(
            board_size >= 4,
            "the largest ship needs a board of at least 4x4"
        );
        let squares = board_size * board_size;
        Battleship {
            board_size,
            board: vec![0; squares],
            guesses: vec![0; squares],
            hits: 0,
            needed_hits: SHIP_SIZES.iter().sum(),
            num_steps: 0,
            max_episode_length: squares,
            observation_space: Space::discrete(2),
            action_space: Space::MultiDiscrete {
                nvec: vec![board_size as u64; 2],
            },
            rng: EnvRng::default(),
            phase: Phase::NotReset,
        }
    }

    pub fn max_episode_length(&self) -> usize {
        self.max_episode_length
    }

    /// POPGym's `place_ship`: draw a start square and a direction until the ship fits on
    /// free squares.
    fn place_ship(&mut self, ship_size: usize) {
        let n = self.board_size as i64;
        let (mut start, mut direction) = ([0i64; 2], [0i64; 2]);
        loop {
            self.rng.integers_fill(0, n, &mut start);
            self.rng.integers_fill(0, 2, &mut direction);
            let mut end = start;
            let axis = direction[0] as usize;
            let sign = if direction[1] == 0 { 1 } else { -1 };
            end[axis] = start[axis] + sign * (ship_size as i64 - 1);
            if end.iter().any(|&e| e < 0 || e >= n) {
                continue;
            }
            let lo = [start[0].min(end[0]) as usize, start[1].min(end[1]) as usize];
            let hi = [start[0].max(end[0]) as usize, start[1].max(end[1]) as usize];
            let squares =
                || (lo[0]..=hi[0]).flat_map(move |r| (lo[1]..=hi[1]).map(move |c| (r, c)));
            if squares().all(|(r, c)| self.board[r * self.board_size + c] == 0) {
                for (r, c) in squares() {
                    self.board[r * self.board_size + c] = 1;
                }
                return;
            }
        }
    }
}

impl Env for Battleship {
    fn observation_space(&self) -> &Space {
        &self.observation_space
    }

    fn action_space(&self) -> &Space {
        &self.action_space
    }

    fn reset(&mut self, seed: Option<u64>, obs: &mut [f32]) -> Result<(), EnvError> {
        check_obs(obs, &self.observation_space)?;
        if let Some(seed) = seed {
            self.rng.seed(seed);
        }
        self.num_steps = 0;
        self.board.fill(0);
        for ship_size in SHIP_SIZES {
            self.place_ship(ship_size);
        }
        self.guesses.fill(0);
        self.hits = 0;
        obs[0] = 0.0;
        self.phase = Phase::Running;
        Ok(())
    }

    fn step(&mut self, action: Action<'_>, obs: &mut [f32]) -> Result<Step, EnvError> {
        self.phase.check_step()?;
        check_action(&action, &self.action_space)?;
        check_obs(obs, &self.observation_space)?;
        let a = multi_discrete(action);
        let square = a[0] as usize * self.board_size + a[1] as usize;
        let hit = self.board[square] == 1 && self.guesses[square] == 0;
        self.guesses[square] = 1;
        if hit {
            self.hits += 1;
        }
        self.num_steps += 1;
        let truncated = self.num_steps >= self.max_episode_length;
        let terminated = self.hits == self.needed_hits;
        // All hits sum to 1; firing at every square sums to 0.
        let reward = if hit {
            1.0 / self.needed_hits as f64
        } else {
            -1.0 / (self.max_episode_length - self.needed_hits) as f64
        };
        obs[0] = hit as u8 as f32;
        self.phase = Phase::after(terminated || truncated);
        Ok(Step {
            reward,
            terminated,
            truncated,
        })
    }

    fn rng_mut(&mut self) -> Option<&mut EnvRng> {
        Some(&mut self.rng)
    }
}
