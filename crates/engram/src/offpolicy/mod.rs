//! The machinery of the off-policy algorithms (the DQN family; later DRQN/R2D2, DDPG, TD3,
//! SAC): a replay buffer of transitions with truncation-aware n-step targets, proportional
//! prioritized replay over a sum-tree, and the lockstep stepper that feeds them.

pub mod prioritized;
pub mod q_learning;
pub mod replay;
pub mod sequence_replay;
pub mod stepper;
// The actor-critic off-policy algorithms (SAC, TD3, DDPG).
pub mod driver;
pub mod exploration;
pub mod split_store;
