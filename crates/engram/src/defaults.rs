//! Tuned hyper-parameters per (algorithm, environment), like rl-zoo's `hyperparams/*.yml`.
//!
//! Each entry was tuned on the 2-core benchmark machine; BENCHMARKS.md has the results and the
//! commands. Environments without an entry get engram's general defaults ([`TrainConfig`]'s
//! `Default`): the A3C paper's network and rollout length with Adam 1e-3 and a 0.5 gradient clip.

use crate::config::{Algo, LrSchedule, OptimizerKind, TrainConfig};

/// Overlays the tuned entry for `(config.algo, config.env)`, if there is one.
/// Returns whether an entry existed.
pub fn apply_tuned(c: &mut TrainConfig) -> bool {
    match (c.algo, c.env.as_str()) {
        (Algo::A3c, "CartPole-v1" | "CartPoleNoVel-v1" | "CartPoleFlicker-v1") => {
            // obs 4 -> LSTM 64 -> heads: the encoder buys nothing on 4 inputs and costs half
            // the acting time.
            c.total_steps = 1_000_000;
            c.hidden_size = 64;
            c.encoder_layers = vec![];
            c.t_max = 20;
            c.gamma = 0.99;
            c.gae_lambda = 1.0;
            c.optimizer = OptimizerKind::Adam;
            c.learning_rate = 1e-3;
            c.reward_scale = 0.1;
            c.ent_coef = 0.0;
            c.vf_coef = 0.5;
            c.max_grad_norm = 0.5;
            true
        }
        (Algo::A2c, "CartPole-v1" | "CartPoleNoVel-v1" | "CartPoleFlicker-v1") => {
            c.total_steps = 1_000_000;
            c.workers = 8;
            c.hidden_size = 64;
            c.encoder_layers = vec![];
            c.t_max = 5;
            c.gamma = 0.99;
            c.optimizer = OptimizerKind::Adam;
            c.learning_rate = 1e-3;
            c.reward_scale = 0.1;
            c.ent_coef = 0.0;
            c.max_grad_norm = 0.5;
            true
        }
        (Algo::A3c, "Pendulum-v1") => {
            c.total_steps = 1_000_000;
            c.t_max = 16;
            c.gamma = 0.95;
            c.gae_lambda = 0.95;
            c.optimizer = OptimizerKind::Adam;
            c.learning_rate = 1e-3;
            c.lr_schedule = LrSchedule::Linear;
            c.ent_coef = 0.0;
            c.max_grad_norm = 0.5;
            c.reward_scale = 0.1;
            true
        }
        (Algo::A2c, "Pendulum-v1") => {
            c.total_steps = 1_000_000;
            c.workers = 8;
            c.t_max = 8;
            c.gamma = 0.9;
            c.gae_lambda = 0.9;
            c.optimizer = OptimizerKind::Adam;
            c.learning_rate = 1e-3;
            c.lr_schedule = LrSchedule::Linear;
            c.ent_coef = 0.0;
            c.max_grad_norm = 0.5;
            c.reward_scale = 0.1;
            true
        }
        // POPGym and the T-maze: the A3C paper's network with Adam, which learns these memory
        // tasks several times faster than RMSProp at 7e-4 here (BENCHMARKS.md, memory suite).
        (Algo::A3c | Algo::A2c, id) if id.starts_with("popgym-") || id.starts_with("TMaze") => {
            c.total_steps = 1_000_000;
            c.optimizer = OptimizerKind::Adam;
            c.learning_rate = 1e-3;
            c.ent_coef = 0.01;
            c.max_grad_norm = 0.5;
            true
        }
        _ => false,
    }
}
