//! A custom environment, registered under its own id and made like a built-in one.
//!
//! The course's maze robot: a robot in a small grid maze. Actions: 0 up, 1 right, 2 down,
//! 3 left (Discrete(4)). Reward +1 on reaching the goal (the episode ends), -1 for walking into
//! a wall or the border (the robot stays where it is), 0 otherwise. The observation is the
//! robot's cell index, `row * width + column` (Discrete(width * height)).
//!
//! Run with `cargo run -p engram-env --example maze_robot`.

use engram_env::registry::{make, register, EnvSpec, Options};
use engram_env::{Action, Env, EnvError, Render, RenderMode, Space, Step};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// `S` start, `G` goal, `#` wall, `.` free.
const DEFAULT_MAZE: [&str; 5] = ["S.#..", "..#.#", "#....", "..##.", ".#..G"];

struct MazeRobot {
    cells: Vec<Vec<u8>>,
    width: usize,
    start: (usize, usize),
    position: (usize, usize),
    observation_space: Space,
    action_space: Space,
}

impl MazeRobot {
    fn new(rows: &[String]) -> Result<Self, EnvError> {
        let cells: Vec<Vec<u8>> = rows.iter().map(|r| r.bytes().collect()).collect();
        let width = cells.first().map_or(0, Vec::len);
        if width == 0 || cells.iter().any(|r| r.len() != width) {
            return Err(EnvError::Other(
                "maze rows must be non-empty and of equal length".into(),
            ));
        }
        let find = |c: u8| {
            cells
                .iter()
                .enumerate()
                .find_map(|(y, row)| row.iter().position(|&v| v == c).map(|x| (y, x)))
        };
        let start = find(b'S').ok_or_else(|| EnvError::Other("the maze needs an `S`".into()))?;
        find(b'G').ok_or_else(|| EnvError::Other("the maze needs a `G`".into()))?;
        Ok(MazeRobot {
            observation_space: Space::discrete((width * cells.len()) as u64),
            action_space: Space::discrete(4),
            width,
            start,
            position: start,
            cells,
        })
    }

    /// The registry's entry point. Option: `maze` (list of strings, default a 5x5 maze).
    fn make(options: &mut Options) -> Result<Box<dyn Env>, EnvError> {
        let maze = options.take_str_list("maze", &DEFAULT_MAZE)?;
        Ok(Box::new(MazeRobot::new(&maze)?))
    }

    fn write_obs(&self, obs: &mut [f32]) {
        obs[0] = (self.position.0 * self.width + self.position.1) as f32;
    }
}

impl Env for MazeRobot {
    fn observation_space(&self) -> &Space {
        &self.observation_space
    }

    fn action_space(&self) -> &Space {
        &self.action_space
    }

    fn reset(&mut self, _seed: Option<u64>, obs: &mut [f32]) -> Result<(), EnvError> {
        self.position = self.start;
        self.write_obs(obs);
        Ok(())
    }

    fn step(&mut self, action: Action<'_>, obs: &mut [f32]) -> Result<Step, EnvError> {
        let (dy, dx) = match action {
            Action::Discrete(0) => (-1, 0),
            Action::Discrete(1) => (0, 1),
            Action::Discrete(2) => (1, 0),
            Action::Discrete(3) => (0, -1),
            other => {
                return Err(EnvError::InvalidAction {
                    action: other.to_string(),
                    space: self.action_space.describe(),
                })
            }
        };
        let (y, x) = (self.position.0 as i64 + dy, self.position.1 as i64 + dx);
        let inside =
            y >= 0 && x >= 0 && (y as usize) < self.cells.len() && (x as usize) < self.width;
        let mut step = Step::default();
        if !inside || self.cells[y as usize][x as usize] == b'#' {
            step.reward = -1.0;
        } else {
            self.position = (y as usize, x as usize);
            if self.cells[y as usize][x as usize] == b'G' {
                step.reward = 1.0;
                step.terminated = true;
            }
        }
        self.write_obs(obs);
        Ok(step)
    }

    fn render(&self, mode: RenderMode) -> Result<Render, EnvError> {
        if mode != RenderMode::Text {
            return Err(EnvError::Unsupported(format!("render mode {mode:?}")));
        }
        let mut text = String::new();
        for (y, row) in self.cells.iter().enumerate() {
            for (x, &c) in row.iter().enumerate() {
                text.push(if (y, x) == self.position {
                    'R'
                } else {
                    c as char
                });
            }
            text.push('\n');
        }
        Ok(Render::Text(text))
    }
}

fn main() -> Result<(), EnvError> {
    register(
        EnvSpec::new("MazeRobot-v0", MazeRobot::make)
            .with_max_episode_steps(100)
            .with_description("The course's maze robot: +1 at the goal, -1 into a wall"),
    )?;

    // Made by id like any built-in environment: TimeLimit(100) and order checks included.
    let mut env = make("MazeRobot-v0", &Options::new())?;
    println!(
        "MazeRobot-v0: observations {}, actions {}",
        env.observation_space(),
        env.action_space()
    );
    if let Render::Text(maze) = {
        let mut obs = [0.0];
        env.reset(Some(0), &mut obs)?;
        env.render(RenderMode::Text)?
    } {
        print!("{maze}");
    }

    let mut rng = ChaCha8Rng::seed_from_u64(0);
    let mut obs = [0.0f32];
    for episode in 0..10 {
        env.reset(None, &mut obs)?;
        let (mut episode_return, mut length) = (0.0, 0);
        loop {
            let step = env.step(Action::Discrete(rng.gen_range(0..4)), &mut obs)?;
            episode_return += step.reward;
            length += 1;
            if step.done() {
                let how = if step.terminated {
                    "reached the goal"
                } else {
                    "time limit"
                };
                println!(
                    "episode {episode}: return {episode_return:+5.0} in {length:3} steps ({how})"
                );
                break;
            }
        }
    }

    // Mistakes are errors, not panics.
    let err = make("MazeRobot-v1", &Options::new()).err().unwrap();
    println!("make(\"MazeRobot-v1\"): {err}");
    let err = env.step(Action::Discrete(7), &mut obs).unwrap_err();
    println!("step after the episode ended: {err}");
    Ok(())
}
