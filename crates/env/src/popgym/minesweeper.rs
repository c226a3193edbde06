//! MineSweeper with the board hidden: the agent names a square and sees only the number of
//! mines around it (POPGym's `minesweeper.py`). A mine ends the episode.

use super::{check_action, check_obs, multi_discrete, Level, Phase};
use crate::env::{Env, EnvError, Step};
use crate::rng::EnvRng;
use crate::space::{Action, Space};

const CLEAR: u8 = 0;
const MINE: u8 = 1;
const VIEWED: u8 = 2;

#[derive(Clone, Debug)]
pub struct MineSweeper {
    rows: usize,
    cols: usize,
    num_mines: usize,
    /// Row-major `CLEAR` / `MINE` / `VIEWED`.
    hidden: Vec<u8>,
    /// Row-major: mines in the 3x3 block around each square, the square included.
    neighbors: Vec<u8>,
    clear_left: usize,
    mines: Vec<i64>,
    timestep: usize,
    max_episode_length: usize,
    success_reward: f64,
    fail_reward: f64,
    bad_action_reward: f64,
    observation_space: Space,
    action_space: Space,
    rng: EnvRng,
    phase: Phase,
}

impl MineSweeper {
    pub const DESCRIPTION: &'static str = "clear a hidden minefield from neighbor counts alone";

    /// Easy: 4x4 with 2 mines; Medium: 6x6 with 6; Hard: 8x8 with 10.
    pub fn new(level: Level) -> Self {
        let (side, num_mines) = level.pick((4, 2), (6, 6), (8, 10));
        Self::with_params(side, side, num_mines)
    }

    pub fn with_params(rows: usize, cols: usize, num_mines: usize) -> Self {
        let squares = rows * cols;
        assert!(
            num_mines + 2 < squares,
            "MineSweeper needs at least 3 free squares"
        );
        let max_episode_length = squares - num_mines;
        let success_reward = 1.0 / max_episode_length as f64;
        MineSweeper {
            rows,
            cols,
            num_mines,
            hidden: vec![CLEAR; squares],
            neighbors: vec![0; squares],
            clear_left: 0,
            mines: vec![0; num_mines],
            timestep: 0,
            max_episode_length,
            success_reward,
            fail_reward: -0.5 - success_reward,
            // One step fewer for the final mine, one for the first square (always rewarded).
            bad_action_reward: -0.5 / (max_episode_length - 2) as f64,
            observation_space: Space::discrete((num_mines as u64 + 1).min(10)),
            action_space: Space::MultiDiscrete {
                nvec: vec![rows as u64, cols as u64],
            },
            rng: EnvRng::default(),
            phase: Phase::NotReset,
        }
    }

    pub fn max_episode_length(&self) -> usize {
        self.max_episode_length
    }
}

impl Env for MineSweeper {
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
        self.hidden.fill(CLEAR);
        self.rng
            .choice_without_replacement(self.rows * self.cols, &mut self.mines);
        for &m in &self.mines {
            self.hidden[m as usize] = MINE;
        }
        for r in 0..self.rows {
            for c in 0..self.cols {
                let mut count = 0;
                for rr in r.saturating_sub(1)..(r + 2).min(self.rows) {
                    for cc in c.saturating_sub(1)..(c + 2).min(self.cols) {
                        count += self.hidden[rr * self.cols + cc];
                    }
                }
                self.neighbors[r * self.cols + c] = count;
            }
        }
        self.clear_left = self.rows * self.cols - self.num_mines;
        self.timestep = 0;
        obs[0] = 0.0;
        self.phase = Phase::Running;
        Ok(())
    }

    fn step(&mut self, action: Action<'_>, obs: &mut [f32]) -> Result<Step, EnvError> {
        self.phase.check_step()?;
        check_action(&action, &self.action_space)?;
        check_obs(obs, &self.observation_space)?;
        let a = multi_discrete(action);
        let square = a[0] as usize * self.cols + a[1] as usize;
        let mut terminated = false;
        let reward = match self.hidden[square] {
            MINE => {
                terminated = true;
                self.fail_reward
            }
            VIEWED => self.bad_action_reward,
            _ => {
                self.hidden[square] = VIEWED;
                self.clear_left -= 1;
                self.success_reward
            }
        };
        self.timestep += 1;
        terminated |= self.clear_left == 0;
        let truncated = self.timestep == self.max_episode_length && !terminated;
        obs[0] = self.neighbors[square] as f32;
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
