//! `BlockingMaze-v0` and `ShortcutMaze-v0`, Sutton & Barto Figures 8.4 and 8.5: the 6x9 maze
//! of chapter 8 from (5, 3) to the goal (0, 8), whose wall in row 3 changes after a number of
//! steps counted over the environment's whole life (across episodes: the book's time axis).
//!
//! * Blocking: the wall covers columns 0-7 (the way round is on the right); after
//!   `change_at` = 1000 steps it covers columns 1-8, and the only way is on the left.
//! * Shortcut: the wall covers columns 1-8 (the way round is on the left); after
//!   `change_at` = 3000 steps column 8 opens as well, a shorter path.
//!
//! The dynamics change, so there is no model. `state()` is `[cell, steps so far]`, which
//! `set_state` restores (a resumed run continues the same maze).

use super::grids::{maze_cells, maze_model, MAZE_COLS, MAZE_ROWS};
use super::table::TableEnv;
use crate::env::{Env, EnvError, Info, Render, RenderMode, Step};
use crate::model::Model;
use crate::registry::Options;
use crate::rng::EnvRng;
use crate::space::{Action, Space};
use std::sync::Arc;

const START: usize = 5 * MAZE_COLS + 3;

fn wall_row(columns: std::ops::RangeInclusive<usize>) -> Vec<bool> {
    let mut walls = vec![false; MAZE_ROWS * MAZE_COLS];
    for c in columns {
        walls[3 * MAZE_COLS + c] = true;
    }
    walls
}

#[derive(Clone, Debug)]
pub struct ChangingMaze {
    before: TableEnv,
    after: TableEnv,
    change_at: u64,
    steps: u64,
    cell: usize,
}

impl ChangingMaze {
    fn new(
        name: &'static str,
        before: Vec<bool>,
        after: Vec<bool>,
        change_at: u64,
    ) -> Result<ChangingMaze, EnvError> {
        let table = |walls: &[bool]| -> Result<TableEnv, EnvError> {
            Ok(TableEnv::new(
                name,
                maze_model(walls, START)?,
                0,
                Some(super::table::TextGrid {
                    cols: MAZE_COLS,
                    cells: maze_cells(walls, START),
                }),
            ))
        };
        Ok(ChangingMaze {
            before: table(&before)?,
            after: table(&after)?,
            change_at,
            steps: 0,
            cell: START,
        })
    }

    pub fn blocking(opts: &mut Options) -> Result<Box<dyn Env>, EnvError> {
        let change_at = opts.take_usize("change_at", 1000)? as u64;
        Ok(Box::new(Self::new(
            "BlockingMaze-v0",
            wall_row(0..=7),
            wall_row(1..=8),
            change_at,
        )?))
    }

    pub fn shortcut(opts: &mut Options) -> Result<Box<dyn Env>, EnvError> {
        let change_at = opts.take_usize("change_at", 3000)? as u64;
        Ok(Box::new(Self::new(
            "ShortcutMaze-v0",
            wall_row(1..=8),
            wall_row(1..=7),
            change_at,
        )?))
    }

    fn current(&self) -> &TableEnv {
        if self.steps < self.change_at {
            &self.before
        } else {
            &self.after
        }
    }

    fn current_mut(&mut self) -> &mut TableEnv {
        if self.steps < self.change_at {
            &mut self.before
        } else {
            &mut self.after
        }
    }
}

impl Env for ChangingMaze {
    fn observation_space(&self) -> &Space {
        self.before.observation_space()
    }

    fn action_space(&self) -> &Space {
        self.before.action_space()
    }

    fn reset(&mut self, seed: Option<u64>, obs: &mut [f32]) -> Result<(), EnvError> {
        // Both mazes keep the same RNG stream (the moves are deterministic; it only starts
        // the episode).
        self.before.reset(seed, obs)?;
        self.after.reset(seed, obs)?;
        self.cell = obs[0] as usize;
        Ok(())
    }

    fn step(&mut self, action: Action<'_>, obs: &mut [f32]) -> Result<Step, EnvError> {
        let cell = self.cell as f64;
        // The wall may have moved since the last step: continue from the same cell.
        self.current_mut().set_state(&[cell])?;
        let step = self.current_mut().step(action, obs)?;
        self.steps += 1;
        self.cell = obs[0] as usize;
        Ok(step)
    }

    fn info(&self) -> Info {
        self.current().info()
    }

    fn render(&self, mode: RenderMode) -> Result<Render, EnvError> {
        self.current().render(mode)
    }

    fn state(&self) -> Option<Vec<f64>> {
        Some(vec![self.cell as f64, self.steps as f64])
    }

    fn set_state(&mut self, state: &[f64]) -> Result<(), EnvError> {
        match state {
            [cell, steps] if *steps >= 0.0 && steps.fract() == 0.0 => {
                self.before.set_state(&[*cell])?;
                self.after.set_state(&[*cell])?;
                self.cell = *cell as usize;
                self.steps = *steps as u64;
                Ok(())
            }
            _ => Err(EnvError::Other(format!(
                "a changing maze's state is [cell, steps so far], got {state:?}"
            ))),
        }
    }

    fn rng_mut(&mut self) -> Option<&mut EnvRng> {
        None
    }

    fn model(&self) -> Option<Arc<Model>> {
        None
    }
}
