//! POPGym's mazes (`core/maze.py`): LabyrinthEscape (find the exit on the border) and
//! LabyrinthExplore (visit every free square). The agent sees the 3x3 squares around it and
//! its previous action.
//!
//! POPGym generates mazes with mazelib's Hunt-and-Kill through Python's `random`, which the
//! golden files do not capture; they record the grid instead. Here a maze comes from our own
//! perfect-maze generator (same grid conventions: `(2h+1) x (2w+1)`, walls 1, cells at odd
//! coordinates, the start and the exit on opposite outer walls), or from a recorded grid handed
//! to [`Env::set_state`] before the reset.

use super::{check_action, check_obs, discrete, Level, Phase};
use crate::env::{Env, EnvError, Step};
use crate::rng::EnvRng;
use crate::space::{Action, Space};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

pub(crate) const ESCAPE_DESCRIPTION: &str = "find the exit of a maze seeing only 3x3 squares";
pub(crate) const EXPLORE_DESCRIPTION: &str = "visit every square of a maze seeing only 3x3 squares";

const FREE: u8 = 0;
const OBSTACLE: u8 = 1;
const START: u8 = 2;
const GOAL: u8 = 3;
/// The "previous action" shown after a reset.
const NO_ACTION: f32 = 4.0;

/// Which maze game.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LabyrinthTask {
    Escape,
    Explore,
}

#[derive(Clone, Debug)]
pub struct Labyrinth {
    task: LabyrinthTask,
    /// Maze cells per side (POPGym's `maze_dims // 2`).
    cells: usize,
    /// Grid side, `2 * cells + 1`.
    side: usize,
    /// Row-major grid of `FREE`/`OBSTACLE`/`START`/`GOAL`.
    grid: Vec<u8>,
    explored: Vec<bool>,
    explored_count: usize,
    /// Squares that are not walls (what Explore must visit).
    free_count: usize,
    position: (usize, usize),
    curr_step: usize,
    max_episode_length: usize,
    neg_reward: f64,
    pos_reward: f64,
    /// A recorded grid to use at the next reset instead of generating one.
    pending_grid: Option<Vec<u8>>,
    maze_rng: StdRng,
    /// Scratch of the maze generator (kept so that resets do not allocate).
    visited: Vec<bool>,
    stack: Vec<(usize, usize)>,
    observation_space: Space,
    action_space: Space,
    rng: EnvRng,
    phase: Phase,
}

impl Labyrinth {
    /// Easy: 10x10 blocks (an 11x11 grid); Medium: 14x14; Hard: 18x18. 1024 steps at most.
    pub fn new(task: LabyrinthTask, level: Level) -> Self {
        Self::with_params(task, level.pick(10, 14, 18), 1024)
    }

    /// `maze_dims` as in POPGym (even: the grid is `maze_dims + 1` squares per side).
    pub fn with_params(task: LabyrinthTask, maze_dims: usize, episode_length: usize) -> Self {
        assert!(
            maze_dims >= 2 && maze_dims & 1 == 0,
            "maze dims must be even and positive"
        );
        assert!(episode_length >= 2, "episodes need at least 2 steps");
        let cells = maze_dims / 2;
        let side = 2 * cells + 1;
        Labyrinth {
            task,
            cells,
            side,
            grid: vec![OBSTACLE; side * side],
            explored: vec![false; side * side],
            explored_count: 0,
            free_count: 0,
            position: (0, 0),
            curr_step: 0,
            max_episode_length: episode_length,
            neg_reward: -1.0 / episode_length as f64,
            pos_reward: 0.0,
            pending_grid: None,
            maze_rng: StdRng::from_entropy(),
            visited: vec![false; cells * cells],
            stack: Vec::with_capacity(cells * cells),
            observation_space: Space::MultiDiscrete {
                nvec: [vec![5u64; 9], vec![5]].concat(),
            },
            action_space: Space::discrete(4),
            rng: EnvRng::default(),
            phase: Phase::NotReset,
        }
    }

    pub fn max_episode_length(&self) -> usize {
        self.max_episode_length
    }

    /// The grid (row-major, `side x side`): 0 free, 1 wall, 2 start, 3 exit.
    pub fn grid(&self) -> (&[u8], usize) {
        (&self.grid, self.side)
    }

    /// The agent's `(row, column)`.
    pub fn position(&self) -> (usize, usize) {
        self.position
    }

    #[inline]
    fn at(&self, y: usize, x: usize) -> u8 {
        self.grid[y * self.side + x]
    }

    /// POPGym's `move`: one square, clamped to the grid; walls stop the agent.
    fn target(&self, action: i64) -> (usize, usize) {
        let (y, x) = (self.position.0 as i64, self.position.1 as i64);
        let (ny, nx) = match action {
            0 => (y, x - 1),
            1 => (y, x + 1),
            2 => (y - 1, x),
            _ => (y + 1, x),
        };
        let last = self.side as i64 - 1;
        let (ny, nx) = (ny.clamp(0, last) as usize, nx.clamp(0, last) as usize);
        if self.at(ny, nx) == OBSTACLE {
            self.position
        } else {
            (ny, nx)
        }
    }

    /// POPGym's `local_view` + the previous action. The window is clipped at the grid's edge
    /// and padded with walls at the bottom/right, as numpy slicing + `np.pad` do there.
    fn write_obs(&self, last_action: f32, obs: &mut [f32]) {
        let (y, x) = self.position;
        let rows = y.saturating_sub(1)..(y + 2).min(self.side);
        let cols = x.saturating_sub(1)..(x + 2).min(self.side);
        obs[..9].fill(OBSTACLE as f32);
        for (i, r) in rows.enumerate() {
            for (j, c) in cols.clone().enumerate() {
                obs[i * 3 + j] = self.at(r, c) as f32;
            }
        }
        obs[9] = last_action;
    }

    /// A perfect maze (randomized depth-first search), with the start and the exit on
    /// opposite outer walls at odd coordinates, as mazelib's `generate_entrances` places them.
    fn generate(&mut self) {
        let (side, cells) = (self.side, self.cells);
        self.grid.fill(OBSTACLE);
        let mut visited = std::mem::take(&mut self.visited);
        let mut stack = std::mem::take(&mut self.stack);
        visited.fill(false);
        stack.clear();
        stack.push((
            self.maze_rng.gen_range(0..cells),
            self.maze_rng.gen_range(0..cells),
        ));
        visited[stack[0].0 * cells + stack[0].1] = true;
        self.grid[(2 * stack[0].0 + 1) * side + 2 * stack[0].1 + 1] = FREE;
        let mut options = [(0usize, 0usize); 4];
        while let Some(&(r, c)) = stack.last() {
            let mut count = 0;
            let mut offer = |ok: bool, cell: (usize, usize)| {
                if ok {
                    options[count] = cell;
                    count += 1;
                }
            };
            offer(
                r > 0 && !visited[(r.wrapping_sub(1)) * cells + c],
                (r.wrapping_sub(1), c),
            );
            offer(r + 1 < cells && !visited[(r + 1) * cells + c], (r + 1, c));
            offer(
                c > 0 && !visited[r * cells + c.wrapping_sub(1)],
                (r, c.wrapping_sub(1)),
            );
            offer(c + 1 < cells && !visited[r * cells + c + 1], (r, c + 1));
            if count == 0 {
                stack.pop();
                continue;
            }
            let (nr, nc) = options[self.maze_rng.gen_range(0..count)];
            visited[nr * cells + nc] = true;
            self.grid[(r + nr + 1) * side + (c + nc + 1)] = FREE;
            self.grid[(2 * nr + 1) * side + 2 * nc + 1] = FREE;
            stack.push((nr, nc));
        }
        self.visited = visited;
        self.stack = stack;
        let last = side - 1;
        let odd = |rng: &mut StdRng| 2 * rng.gen_range(0..cells) + 1;
        let (start, end) = match self.maze_rng.gen_range(0..4) {
            0 => (
                (0, odd(&mut self.maze_rng)),
                (last, odd(&mut self.maze_rng)),
            ),
            1 => (
                (last, odd(&mut self.maze_rng)),
                (0, odd(&mut self.maze_rng)),
            ),
            2 => (
                (odd(&mut self.maze_rng), 0),
                (odd(&mut self.maze_rng), last),
            ),
            _ => (
                (odd(&mut self.maze_rng), last),
                (odd(&mut self.maze_rng), 0),
            ),
        };
        self.grid[start.0 * side + start.1] = START;
        if self.task == LabyrinthTask::Escape {
            self.grid[end.0 * side + end.1] = GOAL;
        }
    }
}

impl Env for Labyrinth {
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
            self.maze_rng = StdRng::seed_from_u64(seed);
        }
        match self.pending_grid.take() {
            Some(grid) => self.grid = grid,
            None => self.generate(),
        }
        let start =
            self.grid.iter().position(|&v| v == START).ok_or_else(|| {
                EnvError::Other("the labyrinth's maze has no start square".into())
            })?;
        self.position = (start / self.side, start % self.side);
        self.explored.fill(false);
        self.explored[start] = true;
        self.explored_count = 1;
        self.free_count = self.grid.iter().filter(|&&v| v != OBSTACLE).count();
        self.pos_reward = 1.0 / self.grid.iter().filter(|&&v| v == FREE).count() as f64;
        self.curr_step = 0;
        self.write_obs(NO_ACTION, obs);
        self.phase = Phase::Running;
        Ok(())
    }

    fn step(&mut self, action: Action<'_>, obs: &mut [f32]) -> Result<Step, EnvError> {
        self.phase.check_step()?;
        check_action(&action, &self.action_space)?;
        check_obs(obs, &self.observation_space)?;
        let action = discrete(action);
        self.position = self.target(action);
        let here = self.position.0 * self.side + self.position.1;
        let new_square = !self.explored[here];
        if new_square {
            self.explored[here] = true;
            self.explored_count += 1;
        }
        self.curr_step += 1;
        let truncated = self.curr_step == self.max_episode_length - 1;
        let (reward, terminated) = match self.task {
            LabyrinthTask::Escape => {
                if self.grid[here] == GOAL {
                    (self.neg_reward + 1.0, true)
                } else {
                    (self.neg_reward, false)
                }
            }
            LabyrinthTask::Explore => {
                let reward = if new_square {
                    self.pos_reward
                } else {
                    self.neg_reward
                };
                (reward, self.explored_count == self.free_count)
            }
        };
        self.write_obs(action as f32, obs);
        self.phase = Phase::after(terminated || truncated);
        Ok(Step {
            reward,
            terminated,
            truncated,
        })
    }

    /// `[row, column]` of the agent (the golden files' `position`).
    fn state(&self) -> Option<Vec<f64>> {
        Some(vec![self.position.0 as f64, self.position.1 as f64])
    }

    /// Queues a maze for the next reset: the `side * side` grid values, row-major, with 0
    /// free, 1 wall, exactly one 2 (the start) and, for LabyrinthEscape, one 3 (the exit).
    /// The golden files record POPGym's grids this way (mazelib's are not reproducible).
    fn set_state(&mut self, state: &[f64]) -> Result<(), EnvError> {
        let expected = self.side * self.side;
        if state.len() != expected {
            return Err(EnvError::Other(format!(
                "a maze grid for this level has {expected} values ({0}x{0}), got {1}",
                self.side,
                state.len()
            )));
        }
        if state
            .iter()
            .any(|&v| !(v == 0.0 || v == 1.0 || v == 2.0 || v == 3.0))
        {
            return Err(EnvError::Other(
                "maze grid values must be 0 (free), 1 (wall), 2 (start) or 3 (exit)".into(),
            ));
        }
        if state.iter().filter(|&&v| v == 2.0).count() != 1 {
            return Err(EnvError::Other(
                "a maze grid needs exactly one start square (value 2)".into(),
            ));
        }
        self.pending_grid = Some(state.iter().map(|&v| v as u8).collect());
        Ok(())
    }

    fn rng_mut(&mut self) -> Option<&mut EnvRng> {
        Some(&mut self.rng)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_mazes_are_perfect() {
        for level in Level::ALL {
            let mut env = Labyrinth::new(LabyrinthTask::Escape, level);
            let mut obs = [0f32; 10];
            for seed in 0..20 {
                env.reset(Some(seed), &mut obs).unwrap();
                let (grid, side) = env.grid();
                let open = |i: usize| grid[i] != OBSTACLE;
                // A perfect maze on c*c cells has c*c - 1 passages: with the start and the exit
                // the open squares number 2*c*c - 1 + 2.
                let cells = (side - 1) / 2;
                assert_eq!(
                    grid.iter().filter(|&&v| v != OBSTACLE).count(),
                    2 * cells * cells + 1
                );
                // Everything open is reachable from the start.
                let start = grid.iter().position(|&v| v == START).unwrap();
                let mut seen = vec![false; side * side];
                let mut todo = vec![start];
                seen[start] = true;
                while let Some(i) = todo.pop() {
                    let (y, x) = (i / side, i % side);
                    let mut next = vec![];
                    if y > 0 {
                        next.push(i - side)
                    }
                    if y + 1 < side {
                        next.push(i + side)
                    }
                    if x > 0 {
                        next.push(i - 1)
                    }
                    if x + 1 < side {
                        next.push(i + 1)
                    }
                    for j in next {
                        if open(j) && !seen[j] {
                            seen[j] = true;
                            todo.push(j);
                        }
                    }
                }
                assert!((0..side * side).all(|i| !open(i) || seen[i]), "seed {seed}");
            }
        }
    }

    #[test]
    fn view_is_padded_at_the_bottom_right_edges() {
        // POPGym's quirk: at the left/top edge the window shifts instead of padding there.
        let mut env = Labyrinth::new(LabyrinthTask::Explore, Level::Easy);
        let mut grid = vec![1.0; 121];
        grid[10 * 11 + 1] = 2.0;
        grid[9 * 11 + 1] = 0.0;
        env.set_state(&grid).unwrap();
        let mut obs = [0f32; 10];
        env.reset(Some(0), &mut obs).unwrap();
        assert_eq!(obs, [1., 0., 1., 1., 2., 1., 1., 1., 1., 4.]);
    }
}
