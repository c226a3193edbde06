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
use crate::registry::{EnvSpec, EntryPoint, Options};
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
    ($($fn_name:ident => $ty:ident, $family:literal;)*) => {
        $(
            fn $fn_name<const L: u8>(opts: &mut Options) -> Result<Box<dyn Env>, EnvError> {
                let level = Level::from_const(L);
                no_options(&format!("popgym-{}{}-v0", $family, level.name()), opts)?;
                Ok(Box::new($ty::new(level)))
            }
        )*
        /// `(family, entry points for Easy/Medium/Hard, description)` of every POPGym family.
        fn families() -> Vec<(&'static str, [EntryPoint; 3], &'static str)> {
            vec![$(($family, [$fn_name::<EASY>, $fn_name::<MEDIUM>, $fn_name::<HARD>], $ty::DESCRIPTION)),*]
        }
    };
}

entry_points! {
    make_autoencode => Autoencode, "Autoencode";
    make_battleship => Battleship, "Battleship";
    make_concentration => Concentration, "Concentration";
    make_count_recall => CountRecall, "CountRecall";
    make_higher_lower => HigherLower, "HigherLower";
    make_labyrinth_escape => LabyrinthEscapeCtor, "LabyrinthEscape";
    make_labyrinth_explore => LabyrinthExploreCtor, "LabyrinthExplore";
    make_minesweeper => MineSweeper, "MineSweeper";
    make_multiarmed_bandit => MultiarmedBandit, "MultiarmedBandit";
    make_position_only_cartpole => PositionOnlyCartPoleCtor, "PositionOnlyCartPole";
    make_velocity_only_cartpole => VelocityOnlyCartPoleCtor, "VelocityOnlyCartpole";
    make_noisy_position_only_cartpole => NoisyPositionOnlyCartPoleCtor, "NoisyPositionOnlyCartPole";
    make_position_only_pendulum => PositionOnlyPendulumCtor, "PositionOnlyPendulum";
    make_noisy_position_only_pendulum => NoisyPositionOnlyPendulumCtor, "NoisyPositionOnlyPendulum";
    make_repeat_first => RepeatFirst, "RepeatFirst";
    make_repeat_previous => RepeatPrevious, "RepeatPrevious";
}

// Constructors for the families that share one Rust type.
struct LabyrinthEscapeCtor;
impl LabyrinthEscapeCtor {
    const DESCRIPTION: &'static str = labyrinth::ESCAPE_DESCRIPTION;
    fn new(level: Level) -> Labyrinth {
        Labyrinth::new(LabyrinthTask::Escape, level)
    }
}
struct LabyrinthExploreCtor;
impl LabyrinthExploreCtor {
    const DESCRIPTION: &'static str = labyrinth::EXPLORE_DESCRIPTION;
    fn new(level: Level) -> Labyrinth {
        Labyrinth::new(LabyrinthTask::Explore, level)
    }
}
struct PositionOnlyCartPoleCtor;
impl PositionOnlyCartPoleCtor {
    const DESCRIPTION: &'static str = "CartPole observing only cart position and pole angle";
    fn new(level: Level) -> PopCartPole {
        PopCartPole::position_only(level)
    }
}
struct VelocityOnlyCartPoleCtor;
impl VelocityOnlyCartPoleCtor {
    const DESCRIPTION: &'static str = "CartPole observing only the two velocities";
    fn new(level: Level) -> PopCartPole {
        PopCartPole::velocity_only(level)
    }
}
struct NoisyPositionOnlyCartPoleCtor;
impl NoisyPositionOnlyCartPoleCtor {
    const DESCRIPTION: &'static str =
        "CartPole observing position and angle with Gaussian noise";
    fn new(level: Level) -> PopCartPole {
        PopCartPole::noisy_position_only(level)
    }
}
struct PositionOnlyPendulumCtor;
impl PositionOnlyPendulumCtor {
    const DESCRIPTION: &'static str = "Pendulum observing only cos/sin of the angle";
    fn new(level: Level) -> PopPendulum {
        PopPendulum::position_only(level)
    }
}
struct NoisyPositionOnlyPendulumCtor;
impl NoisyPositionOnlyPendulumCtor {
    const DESCRIPTION: &'static str = "Pendulum observing cos/sin of the angle with Gaussian noise";
    fn new(level: Level) -> PopPendulum {
        PopPendulum::noisy_position_only(level)
    }
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
