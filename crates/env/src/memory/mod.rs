//! Classic memory probes beyond POPGym: the T-maze (Bakker 2002), whose cue is shown only at
//! the start of a corridor. (Flickering CartPole and CartPole without velocities are wrappers.)

mod tmaze;

pub use tmaze::TMaze;

use crate::registry::EnvSpec;

/// `TMaze-v0` (options `length`, `max_steps`).
pub(crate) fn memory_specs() -> Vec<EnvSpec> {
    vec![EnvSpec {
        id: "TMaze-v0".to_string(),
        max_episode_steps: None,
        reward_threshold: Some(0.99),
        default_options: Default::default(),
        entry_point: TMaze::make,
        description: "T-maze (Bakker 2002): a cue at the start of a corridor says which arm of the T holds the reward (options: length, max_steps)".to_string(),
    }]
}
