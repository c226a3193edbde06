//! The finite MDPs of Sutton & Barto, *Reinforcement Learning: An Introduction* (2nd ed.,
//! 2018), each built as its model ([`Model`]) and stepped by [`TableEnv`]. Grid actions are
//! CliffWalking's: up, right, down, left (0-3); observations are the state index
//! `row * cols + col` (RandomWalk: the position, Gambler: the capital).

use super::table::{TableEnv, TextGrid};
use crate::env::{Env, EnvError};
use crate::model::{Model, ModelBuilder};
use crate::registry::Options;

/// Row and column moves of up, right, down, left, then the king's diagonals (up-right,
/// down-right, down-left, up-left) and standing still.
pub(crate) const MOVES: [(i64, i64); 9] = [
    (-1, 0),
    (0, 1),
    (1, 0),
    (0, -1),
    (-1, 1),
    (1, 1),
    (1, -1),
    (-1, -1),
    (0, 0),
];

fn bad(id: &str, message: String) -> EnvError {
    EnvError::BadOption {
        id: id.into(),
        message,
    }
}

fn built(id: &str, b: ModelBuilder) -> Result<Model, EnvError> {
    b.build().map_err(|e| EnvError::Other(format!("{id}: {e}")))
}

/// Uniform over `states`.
fn uniform_over(n: usize, states: impl Iterator<Item = usize> + Clone) -> Vec<f64> {
    let count = states.clone().count().max(1) as f64;
    let mut d = vec![0.0; n];
    for s in states {
        d[s] = 1.0 / count;
    }
    d
}

/// A terminal state as Gymnasium's toy text writes it: every action stays, reward 0,
/// terminated.
fn absorbing(b: &mut ModelBuilder, s: usize, n_actions: usize) {
    for _ in 0..n_actions {
        b.outcome(1.0, s, 0.0, true);
        b.end_pair();
    }
}

/// `GridWorld4x4-v0`, Sutton & Barto Example 4.1 (Figure 4.1): a 4x4 grid whose top-left and
/// bottom-right cells are terminal; every move costs -1, a move off the grid leaves the state
/// unchanged. Undiscounted and episodic; episodes start in a uniformly drawn non-terminal cell.
/// Under the equiprobable random policy `v_pi` is Figure 4.1's 0, -14, -20, -22, ...
pub fn gridworld_4x4(_opts: &mut Options) -> Result<Box<dyn Env>, EnvError> {
    const N: usize = 4;
    let terminal = |s: usize| s == 0 || s == N * N - 1;
    let mut b = ModelBuilder::new(N * N, 4);
    for s in 0..N * N {
        if terminal(s) {
            absorbing(&mut b, s, 4);
            continue;
        }
        for &(dr, dc) in &MOVES[..4] {
            let (r, c) = ((s / N) as i64 + dr, (s % N) as i64 + dc);
            let next = if (0..N as i64).contains(&r) && (0..N as i64).contains(&c) {
                r as usize * N + c as usize
            } else {
                s
            };
            b.outcome(1.0, next, -1.0, terminal(next));
            b.end_pair();
        }
    }
    b.initial(uniform_over(N * N, 1..N * N - 1));
    let cells = (0..N * N)
        .map(|s| if terminal(s) { 'T' } else { 'o' })
        .collect();
    let model = built("GridWorld4x4-v0", b)?;
    Ok(Box::new(TableEnv::new(
        "GridWorld4x4-v0",
        model,
        0,
        Some(TextGrid { cols: N, cells }),
    )))
}

/// `GridWorld5x5-v0`, Sutton & Barto Example 3.5 (Figures 3.2 and 3.5): a continuing 5x5
/// grid. Every action in A (row 0, column 1) earns +10 and moves to A' (row 4, column 1);
/// every action in B (row 0, column 3) earns +5 and moves to B' (row 2, column 3); a move off
/// the grid earns -1 and stays; other moves earn 0. The book discounts with gamma = 0.9,
/// under which `v*` is Figure 3.5's 22.0, 24.4, 22.0, 19.4, 17.5, ... Episodes (for sampling
/// methods) start in a uniformly drawn cell and are cut by the registered time limit.
pub fn gridworld_5x5(_opts: &mut Options) -> Result<Box<dyn Env>, EnvError> {
    const N: usize = 5;
    let (a, a_prime, b_cell, b_prime) = (1, 4 * N + 1, 3, 2 * N + 3);
    let mut m = ModelBuilder::new(N * N, 4);
    for s in 0..N * N {
        for &(dr, dc) in &MOVES[..4] {
            let (next, reward) = if s == a {
                (a_prime, 10.0)
            } else if s == b_cell {
                (b_prime, 5.0)
            } else {
                let (r, c) = ((s / N) as i64 + dr, (s % N) as i64 + dc);
                if (0..N as i64).contains(&r) && (0..N as i64).contains(&c) {
                    (r as usize * N + c as usize, 0.0)
                } else {
                    (s, -1.0)
                }
            };
            m.outcome(1.0, next, reward, false);
            m.end_pair();
        }
    }
    m.initial(uniform_over(N * N, 0..N * N));
    let cells = (0..N * N)
        .map(|s| match s {
            1 => 'A',
            3 => 'B',
            21 => 'a',
            13 => 'b',
            _ => 'o',
        })
        .collect();
    let model = built("GridWorld5x5-v0", m)?;
    Ok(Box::new(TableEnv::new(
        "GridWorld5x5-v0",
        model,
        0,
        Some(TextGrid { cols: N, cells }),
    )))
}

/// `RandomWalk-v0`, Sutton & Barto Example 6.2 (and Example 7.1 with `n_states = 19`): a row
/// of `n_states` non-terminal states between two terminal ones; observation 0 and
/// `n_states + 1` are the ends, episodes start in the centre. Actions: 0 left, 1 right; the
/// book's walk (left or right with equal probability) is this environment under the uniform
/// random policy. Leaving on the right earns +1, on the left `left_reward` (default 0 for 5
/// states as in Example 6.2, -1 otherwise as in Example 7.1). True values under the random
/// walk, 5 states: 1/6, 2/6, ..., 5/6.
pub fn random_walk(opts: &mut Options) -> Result<Box<dyn Env>, EnvError> {
    let n = opts.take_usize("n_states", 5)?;
    if n < 3 || n % 2 == 0 || n > 1001 {
        return Err(bad(
            "RandomWalk-v0",
            format!("n_states must be odd, at least 3 and at most 1001 (the book uses 5 or 19), got {n}"),
        ));
    }
    let left_reward = opts.take_f64("left_reward", if n == 5 { 0.0 } else { -1.0 })?;
    let total = n + 2;
    let mut b = ModelBuilder::new(total, 2);
    for s in 0..total {
        if s == 0 || s == total - 1 {
            absorbing(&mut b, s, 2);
            continue;
        }
        for next in [s - 1, s + 1] {
            let reward = if next == 0 {
                left_reward
            } else if next == total - 1 {
                1.0
            } else {
                0.0
            };
            b.outcome(1.0, next, reward, next == 0 || next == total - 1);
            b.end_pair();
        }
    }
    let mut initial = vec![0.0; total];
    initial[total / 2] = 1.0;
    b.initial(initial);
    let mut cells = vec!['o'; total];
    cells[0] = 'T';
    cells[total - 1] = 'T';
    let model = built("RandomWalk-v0", b)?;
    Ok(Box::new(TableEnv::new(
        "RandomWalk-v0",
        model,
        0,
        Some(TextGrid { cols: total, cells }),
    )))
}

/// `WindyGridworld-v0`, Sutton & Barto Example 6.5 (Figure 6.3): a 7x10 grid from (3, 0) to
/// the goal (3, 7), -1 per step, undiscounted. Column winds 0 0 0 1 1 1 2 2 1 0 push the
/// agent up by that many cells, measured in the column it leaves. Options: `king_moves` adds
/// the four diagonal moves (Exercise 6.9; actions 4-7: up-right, down-right, down-left,
/// up-left), `stay_action` a ninth action that moves only with the wind (Exercise 6.9), and
/// `stochastic_wind` (Exercise 6.10) makes a windy column's push one more or one less than its
/// mean, a third of the time each.
pub fn windy_gridworld(opts: &mut Options) -> Result<Box<dyn Env>, EnvError> {
    const ROWS: usize = 7;
    const COLS: usize = 10;
    const WIND: [i64; COLS] = [0, 0, 0, 1, 1, 1, 2, 2, 1, 0];
    let king = opts.take_bool("king_moves", false)?;
    let stay = opts.take_bool("stay_action", false)?;
    let stochastic = opts.take_bool("stochastic_wind", false)?;
    if stay && !king {
        return Err(bad(
            "WindyGridworld-v0",
            "stay_action is the ninth of the king's moves: set king_moves=true too".into(),
        ));
    }
    let n_actions = if stay {
        9
    } else if king {
        8
    } else {
        4
    };
    let (start, goal) = (3 * COLS, 3 * COLS + 7);
    let mut b = ModelBuilder::new(ROWS * COLS, n_actions);
    for s in 0..ROWS * COLS {
        if s == goal {
            absorbing(&mut b, s, n_actions);
            continue;
        }
        let (row, col) = ((s / COLS) as i64, (s % COLS) as i64);
        let wind = WIND[col as usize];
        let pushes: Vec<(f64, i64)> = if stochastic && wind > 0 {
            vec![
                (1.0 / 3.0, wind),
                (1.0 / 3.0, wind + 1),
                (1.0 / 3.0, wind - 1),
            ]
        } else {
            vec![(1.0, wind)]
        };
        for &(dr, dc) in &MOVES[..n_actions] {
            for &(p, push) in &pushes {
                let r = (row + dr - push).clamp(0, ROWS as i64 - 1);
                let c = (col + dc).clamp(0, COLS as i64 - 1);
                let next = (r * COLS as i64 + c) as usize;
                b.outcome(p, next, -1.0, next == goal);
            }
            b.end_pair();
        }
    }
    let mut initial = vec![0.0; ROWS * COLS];
    initial[start] = 1.0;
    b.initial(initial);
    let cells = (0..ROWS * COLS)
        .map(|s| match s {
            _ if s == start => 'S',
            _ if s == goal => 'G',
            _ => char::from(b'0' + WIND[s % COLS] as u8),
        })
        .collect();
    let model = built("WindyGridworld-v0", b)?;
    Ok(Box::new(TableEnv::new(
        "WindyGridworld-v0",
        model,
        0,
        Some(TextGrid { cols: COLS, cells }),
    )))
}

/// The mazes of chapter 8: 6 rows, 9 columns, `#` an obstacle.
pub(crate) const MAZE_ROWS: usize = 6;
pub(crate) const MAZE_COLS: usize = 9;
pub(crate) const MAZE_GOAL: usize = 8;

/// The model of a maze: moves into an obstacle or off the grid stay; reaching the goal earns
/// +1 and ends the episode; every other step earns 0.
pub(crate) fn maze_model(walls: &[bool], start: usize) -> Result<Model, EnvError> {
    let n = MAZE_ROWS * MAZE_COLS;
    let mut b = ModelBuilder::new(n, 4);
    for s in 0..n {
        if s == MAZE_GOAL {
            absorbing(&mut b, s, 4);
            continue;
        }
        for &(dr, dc) in &MOVES[..4] {
            let (r, c) = ((s / MAZE_COLS) as i64 + dr, (s % MAZE_COLS) as i64 + dc);
            let inside = (0..MAZE_ROWS as i64).contains(&r) && (0..MAZE_COLS as i64).contains(&c);
            let next = if inside && !walls[r as usize * MAZE_COLS + c as usize] {
                r as usize * MAZE_COLS + c as usize
            } else {
                s
            };
            let goal = next == MAZE_GOAL;
            b.outcome(1.0, next, if goal { 1.0 } else { 0.0 }, goal);
            b.end_pair();
        }
    }
    let mut initial = vec![0.0; n];
    initial[start] = 1.0;
    b.initial(initial);
    built("maze", b)
}

pub(crate) fn maze_cells(walls: &[bool], start: usize) -> Vec<char> {
    (0..walls.len())
        .map(|s| match s {
            _ if s == start => 'S',
            MAZE_GOAL => 'G',
            _ if walls[s] => '#',
            _ => '.',
        })
        .collect()
}

/// `DynaMaze-v0`, Sutton & Barto Figure 8.2: a 6x9 maze from (2, 0) to the goal (0, 8), with
/// obstacles at (1..=3, 2), (4, 5) and (0..=2, 7). Reward +1 at the goal, 0 otherwise; the book
/// discounts with gamma = 0.95. The shortest path takes 14 steps.
pub fn dyna_maze(_opts: &mut Options) -> Result<Box<dyn Env>, EnvError> {
    let mut walls = vec![false; MAZE_ROWS * MAZE_COLS];
    for (r, c) in [(1, 2), (2, 2), (3, 2), (4, 5), (0, 7), (1, 7), (2, 7)] {
        walls[r * MAZE_COLS + c] = true;
    }
    let start = 2 * MAZE_COLS;
    let model = maze_model(&walls, start)?;
    Ok(Box::new(TableEnv::new(
        "DynaMaze-v0",
        model,
        0,
        Some(TextGrid {
            cols: MAZE_COLS,
            cells: maze_cells(&walls, start),
        }),
    )))
}

/// `GamblersProblem-v0`, Sutton & Barto Example 4.3 (Figure 4.3): the capital s in 1..=99,
/// each stake in 1..=min(s, 100 - s) won with probability `p_h` (default 0.4); reaching 100
/// earns +1 and ends the episode, as does losing everything (reward 0). Undiscounted.
/// Actions are stakes 1..=50 (a Discrete space starting at 1); a stake above min(s, 100 - s)
/// is not allowed (the model's action mask, which dynamic programming maximises over) and, if
/// played, stakes min(s, 100 - s). Episodes start at a uniformly drawn capital.
pub fn gamblers_problem(opts: &mut Options) -> Result<Box<dyn Env>, EnvError> {
    const GOAL: usize = 100;
    let p_h = opts.take_f64("p_h", 0.4)?;
    if !(0.0..=1.0).contains(&p_h) {
        return Err(bad(
            "GamblersProblem-v0",
            format!("p_h (probability of heads) must be in [0, 1], got {p_h}"),
        ));
    }
    let n_actions = GOAL / 2;
    let mut b = ModelBuilder::new(GOAL + 1, n_actions);
    let mut allowed = vec![true; (GOAL + 1) * n_actions];
    for s in 0..=GOAL {
        if s == 0 || s == GOAL {
            absorbing(&mut b, s, n_actions);
            continue;
        }
        let max_stake = s.min(GOAL - s);
        for i in 0..n_actions {
            allowed[s * n_actions + i] = i < max_stake;
            let stake = (i + 1).min(max_stake);
            let (win, lose) = (s + stake, s - stake);
            // Both outcomes are always listed (probability 0 included), as the book's sum.
            b.outcome(p_h, win, if win == GOAL { 1.0 } else { 0.0 }, win == GOAL);
            b.outcome(1.0 - p_h, lose, 0.0, lose == 0);
            b.end_pair();
        }
    }
    b.allowed(allowed);
    b.initial(uniform_over(GOAL + 1, 1..GOAL));
    let model = built("GamblersProblem-v0", b)?;
    Ok(Box::new(TableEnv::new(
        "GamblersProblem-v0",
        model,
        1,
        None,
    )))
}
