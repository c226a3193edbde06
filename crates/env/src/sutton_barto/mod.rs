//! Environments of Sutton & Barto, *Reinforcement Learning: An Introduction* (2nd ed., 2018),
//! with their models where the book solves them by dynamic programming (and for every other
//! fixed finite MDP here): the grid worlds of chapters 3 and 4, the gambler and Jack's car
//! rental of chapter 4, the random walk and windy grid world of chapter 6, the mazes of
//! chapter 8 and the k-armed testbed of chapter 2. Each constructor's documentation cites
//! its example or figure.

mod bandit;
mod changing_maze;
mod grids;
pub mod jack;
mod table;

pub use bandit::Bandit;
pub use changing_maze::ChangingMaze;
pub use grids::{
    dyna_maze, gamblers_problem, gridworld_4x4, gridworld_5x5, random_walk, windy_gridworld,
};
pub use jack::JacksCarRental;
pub use table::TableEnv;

use crate::registry::EnvSpec;

/// The registrations (time limits only where a policy could otherwise walk forever and the
/// book has no natural episode end).
pub(crate) fn specs() -> Vec<EnvSpec> {
    vec![
        EnvSpec::new("GridWorld4x4-v0", gridworld_4x4)
            .with_max_episode_steps(200)
            .with_description("Sutton & Barto Example 4.1: 4x4 grid, terminal corners, -1 per step"),
        EnvSpec::new("GridWorld5x5-v0", gridworld_5x5)
            .with_max_episode_steps(100)
            .with_description("Sutton & Barto Example 3.5: continuing 5x5 grid with A/B teleports (+10/+5), gamma 0.9"),
        EnvSpec::new("RandomWalk-v0", random_walk)
            .with_max_episode_steps(1000)
            .with_description("Sutton & Barto Example 6.2: random walk of n_states (5 or 19), +1 on the right"),
        EnvSpec::new("WindyGridworld-v0", windy_gridworld)
            .with_description("Sutton & Barto Example 6.5: 7x10 grid with upward wind; king_moves, stochastic_wind"),
        EnvSpec::new("DynaMaze-v0", dyna_maze)
            .with_description("Sutton & Barto Figure 8.2: 6x9 maze, +1 at the goal"),
        EnvSpec::new("BlockingMaze-v0", ChangingMaze::blocking)
            .with_description("Sutton & Barto Figure 8.4: the path is blocked after 1000 steps"),
        EnvSpec::new("ShortcutMaze-v0", ChangingMaze::shortcut)
            .with_description("Sutton & Barto Figure 8.5: a shortcut opens after 3000 steps"),
        EnvSpec::new("GamblersProblem-v0", gamblers_problem)
            .with_description("Sutton & Barto Example 4.3: stake on coin flips to reach 100; p_h"),
        EnvSpec::new("JacksCarRental-v0", JacksCarRental::make)
            .with_max_episode_steps(100)
            .with_description("Sutton & Barto Example 4.2: move cars between two rental locations, gamma 0.9"),
        EnvSpec::new("Bandit-v0", Bandit::make)
            .with_description("Sutton & Barto chapter 2: k-armed testbed (k=10), one pull per episode; nonstationary"),
    ]
}
