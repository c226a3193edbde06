//! POPGym's partially observable environments (Morad et al., ICLR 2023), ported from POPGym
//! 1.0.7 with identical rules, spaces, rewards and episode lengths at every difficulty level.
//!
//! Each family is one file; every game draws only through [`EnvRng`] (the environment's numpy
//! `np_random`), so the golden trajectories replay with the recorded draws injected. POPGym envs
//! carry no `TimeLimit`: they end their episodes themselves, and are registered without one.
//! Returns are scaled so that an episode's total reward lies in `[-1, 1]` (Battleship's all-miss
//! episode is POPGym's one documented exception).

mod autoencode;
mod battleship;
mod cartpole;
mod concentration;
mod count_recall;
pub mod deck;
mod higher_lower;
mod labyrinth;
mod minesweeper;
mod multiarmed_bandit;
mod pendulum;
mod repeat_first;
mod repeat_previous;
mod rng_ext;

pub use autoencode::Autoencode;
pub use battleship::Battleship;
pub use cartpole::{CartPoleView, PopCartPole};
pub use concentration::Concentration;
pub use count_recall::CountRecall;
pub use higher_lower::HigherLower;
pub use labyrinth::{Labyrinth, LabyrinthTask};
pub use minesweeper::MineSweeper;
pub use multiarmed_bandit::MultiarmedBandit;
pub use pendulum::PopPendulum;
pub use repeat_first::RepeatFirst;
pub use repeat_previous::RepeatPrevious;

use crate::env::{Env, EnvError};
use crate::registry::{EntryPoint, EnvSpec, Options};
use crate::space::{Action, Space};

/// POPGym's difficulty levels.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Level {
    Easy,
    Medium,
    Hard,
}

impl Level {
    pub const ALL: [Level; 3] = [Level::Easy, Level::Medium, Level::Hard];

    /// The suffix in POPGym's ids (`popgym-RepeatPreviousEasy-v0`).
    pub fn name(self) -> &'static str {
        match self {
            Level::Easy => "Easy",
            Level::Medium => "Medium",
            Level::Hard => "Hard",
        }
    }

    /// Picks the Easy, Medium or Hard value.
    #[inline]
    pub fn pick<T>(self, easy: T, medium: T, hard: T) -> T {
        match self {
            Level::Easy => easy,
            Level::Medium => medium,
            Level::Hard => hard,
        }
    }

    const fn from_const(level: u8) -> Level {
        match level {
            0 => Level::Easy,
            1 => Level::Medium,
            _ => Level::Hard,
        }
    }
}

const EASY: u8 = 0;
const MEDIUM: u8 = 1;
const HARD: u8 = 2;

/// Where an environment is in its episode: Gymnasium's order enforcing, as errors.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) enum Phase {
    #[default]
    NotReset,
    Running,
    Done,
}

impl Phase {
    #[inline]
    pub(crate) fn check_step(self) -> Result<(), EnvError> {
        match self {
            Phase::Running => Ok(()),
            Phase::NotReset => Err(EnvError::NotReset),
            Phase::Done => Err(EnvError::NeedsReset),
        }
    }

    #[inline]
    pub(crate) fn after(done: bool) -> Phase {
        if done {
            Phase::Done
        } else {
            Phase::Running
        }
    }
}

#[inline]
pub(crate) fn check_action(action: &Action<'_>, space: &Space) -> Result<(), EnvError> {
    if action.is_in(space) {
        Ok(())
    } else {
        Err(EnvError::InvalidAction {
            action: action.to_string(),
            space: space.to_string(),
        })
    }
}

#[inline]
pub(crate) fn check_obs(obs: &[f32], space: &Space) -> Result<(), EnvError> {
    if obs.len() == space.flat_dim() {
        Ok(())
    } else {
        Err(EnvError::Other(format!(
            "observation buffer holds {} values but {space} needs {}: allocate observation_space().flat_dim()",
            obs.len(),
            space.flat_dim()
        )))
    }
}

/// The one Discrete action (checked against the space first).
#[inline]
pub(crate) fn discrete(action: Action<'_>) -> i64 {
    match action {
        Action::Discrete(a) => a,
        _ => unreachable!("action checked against a Discrete space"),
    }
}

/// The MultiDiscrete components (checked against the space first).
#[inline]
pub(crate) fn multi_discrete(action: Action<'_>) -> &[i64] {
    match action {
        Action::MultiDiscrete(a) => a,
        _ => unreachable!("action checked against a MultiDiscrete space"),
    }
}

/// Refuses options: POPGym's registered ids take no keyword arguments.
fn no_options(id: &str, opts: &mut Options) -> Result<(), EnvError> {
    if opts.values.is_empty() {
        Ok(())
    } else {
        let names: Vec<&str> = opts.values.keys().map(String::as_str).collect();
        Err(EnvError::BadOption {
            id: id.to_string(),
            message: format!(
                "unknown option(s) {}: POPGym environments take no options (pick the Easy, Medium or Hard id instead)",
                names.join(", ")
            ),
        })
    }
}

macro_rules! entry_points {
    ($($fn_name:ident => $family:literal, $description:expr, |$level:ident| $make:expr;)*) => {
        $(
            fn $fn_name<const L: u8>(opts: &mut Options) -> Result<Box<dyn Env>, EnvError> {
                let $level = Level::from_const(L);
                no_options(&format!("popgym-{}{}-v0", $family, $level.name()), opts)?;
                Ok(Box::new($make))
            }
        )*
        /// `(family, entry points for Easy/Medium/Hard, description)` of every POPGym family.
        fn families() -> Vec<(&'static str, [EntryPoint; 3], &'static str)> {
            vec![$(($family, [$fn_name::<EASY>, $fn_name::<MEDIUM>, $fn_name::<HARD>], $description)),*]
        }
    };
}

entry_points! {
    make_autoencode => "Autoencode", Autoencode::DESCRIPTION, |level| Autoencode::new(level);
    make_battleship => "Battleship", Battleship::DESCRIPTION, |level| Battleship::new(level);
    make_concentration => "Concentration", Concentration::DESCRIPTION,
        |level| Concentration::new(level);
    make_count_recall => "CountRecall", CountRecall::DESCRIPTION, |level| CountRecall::new(level);
    make_higher_lower => "HigherLower", HigherLower::DESCRIPTION, |level| HigherLower::new(level);
    make_labyrinth_escape => "LabyrinthEscape", labyrinth::ESCAPE_DESCRIPTION,
        |level| Labyrinth::new(LabyrinthTask::Escape, level);
    make_labyrinth_explore => "LabyrinthExplore", labyrinth::EXPLORE_DESCRIPTION,
        |level| Labyrinth::new(LabyrinthTask::Explore, level);
    make_minesweeper => "MineSweeper", MineSweeper::DESCRIPTION, |level| MineSweeper::new(level);
    make_multiarmed_bandit => "MultiarmedBandit", MultiarmedBandit::DESCRIPTION,
        |level| MultiarmedBandit::new(level);
    make_position_only_cartpole => "PositionOnlyCartPole",
        "CartPole observing only cart position and pole angle",
        |level| PopCartPole::position_only(level);
    make_velocity_only_cartpole => "VelocityOnlyCartpole",
        "CartPole observing only the two velocities",
        |level| PopCartPole::velocity_only(level);
    make_noisy_position_only_cartpole => "NoisyPositionOnlyCartPole",
        "CartPole observing position and angle with Gaussian noise",
        |level| PopCartPole::noisy_position_only(level);
    make_position_only_pendulum => "PositionOnlyPendulum",
        "Pendulum observing only cos/sin of the angle",
        |level| PopPendulum::position_only(level);
    make_noisy_position_only_pendulum => "NoisyPositionOnlyPendulum",
        "Pendulum observing cos/sin of the angle with Gaussian noise",
        |level| PopPendulum::noisy_position_only(level);
    make_repeat_first => "RepeatFirst", RepeatFirst::DESCRIPTION, |level| RepeatFirst::new(level);
    make_repeat_previous => "RepeatPrevious", RepeatPrevious::DESCRIPTION,
        |level| RepeatPrevious::new(level);
}

/// POPGym's 48 ids, `popgym-<Family><Easy|Medium|Hard>-v0`, none with a TimeLimit.
pub(crate) fn popgym_specs() -> Vec<EnvSpec> {
    let mut specs = Vec::with_capacity(48);
    for (family, entry_points, description) in families() {
        for (level, entry_point) in Level::ALL.into_iter().zip(entry_points) {
            specs.push(EnvSpec {
                id: format!("popgym-{family}{}-v0", level.name()),
                max_episode_steps: None,
                reward_threshold: None,
                default_options: Options::default(),
                entry_point,
                description: format!("POPGym {family} ({}): {description}", level.name()),
            });
        }
    }
    specs
}

/// Makes a POPGym environment by id without going through the registry (tests, benches).
pub fn make_popgym(id: &str) -> Result<Box<dyn Env>, EnvError> {
    let spec = popgym_specs()
        .into_iter()
        .find(|s| s.id == id)
        .ok_or_else(|| EnvError::UnknownId {
            id: id.to_string(),
            suggestion: String::new(),
        })?;
    (spec.entry_point)(&mut Options::default())
}
