//! The on-policy experience an update learns from: a [`Rollout`] of `t_max` steps of
//! `n_envs` environments (time-major), and the [`MiniBatch`]es PPO cuts from it.

use super::advantage::{compute_gae, RolloutView};
use crate::agent::ActorCritic;

/// One rollout of `t_max` steps of `n_envs` environments, time-major (`t * n_envs + e`).
pub struct Rollout {
    pub t_max: usize,
    pub n_envs: usize,
    pub obs_dim: usize,
    pub action_dim: usize,
    pub state_size: usize,
    /// The observation each action was chosen from.
    pub obs: Vec<f32>,
    pub actions: Vec<f32>,
    /// Rewards as learned from (scaled by `reward_scale`).
    pub rewards: Vec<f32>,
    pub values: Vec<f32>,
    /// `log pi(a_t | s_t)` of the acting policy (PPO's old log-probabilities).
    pub log_probs: Vec<f32>,
    pub terminated: Vec<bool>,
    pub truncated: Vec<bool>,
    pub final_values: Vec<f32>,
    /// A new episode starts at this step: the recurrent state entering it is zero.
    pub starts: Vec<bool>,
    /// The recurrent state before step 0, `[n_envs * state_size]`.
    pub initial_state: Vec<f32>,
    pub bootstrap_values: Vec<f32>,
    pub advantages: Vec<f32>,
    pub returns: Vec<f32>,
}

impl Rollout {
    pub fn new(policy: &ActorCritic, t_max: usize, n_envs: usize) -> Rollout {
        let n = t_max * n_envs;
        Rollout {
            t_max,
            n_envs,
            obs_dim: policy.obs_dim(),
            action_dim: policy.action_dim(),
            state_size: policy.state_size(),
            obs: vec![0.0; n * policy.obs_dim()],
            actions: vec![0.0; n * policy.action_dim()],
            rewards: vec![0.0; n],
            values: vec![0.0; n],
            log_probs: vec![0.0; n],
            terminated: vec![false; n],
            truncated: vec![false; n],
            final_values: vec![0.0; n],
            starts: vec![false; n],
            initial_state: vec![0.0; n_envs * policy.state_size()],
            bootstrap_values: vec![0.0; n_envs],
            advantages: vec![0.0; n],
            returns: vec![0.0; n],
        }
    }

    pub fn compute_advantages(&mut self, gamma: f32, lambda: f32) {
        let view = RolloutView {
            rewards: &self.rewards,
            values: &self.values,
            terminated: &self.terminated,
            truncated: &self.truncated,
            final_values: &self.final_values,
            bootstrap_values: &self.bootstrap_values,
            n_envs: self.n_envs,
        };
        compute_gae(
            &view,
            gamma,
            lambda,
            &mut self.advantages,
            &mut self.returns,
        );
    }
}

/// One minibatch gathered from a rollout: `batch` sequences of `steps` steps, time-major.
pub struct MiniBatch {
    pub steps: usize,
    pub batch: usize,
    pub obs: Vec<f32>,
    pub actions: Vec<f32>,
    pub old_log_probs: Vec<f32>,
    pub old_values: Vec<f32>,
    pub advantages: Vec<f32>,
    pub returns: Vec<f32>,
    /// Reset the recurrent state before this step.
    pub starts: Vec<bool>,
    /// Each sequence's recurrent state before its first step, `[batch * state_size]`.
    pub initial_state: Vec<f32>,
}

impl MiniBatch {
    pub fn new(policy: &ActorCritic, steps: usize, batch: usize) -> MiniBatch {
        let rows = steps * batch;
        MiniBatch {
            steps,
            batch,
            obs: vec![0.0; rows * policy.obs_dim()],
            actions: vec![0.0; rows * policy.action_dim()],
            old_log_probs: vec![0.0; rows],
            old_values: vec![0.0; rows],
            advantages: vec![0.0; rows],
            returns: vec![0.0; rows],
            starts: vec![false; rows],
            initial_state: vec![0.0; batch * policy.state_size()],
        }
    }

    /// Row `dst` of the minibatch <- step `src` (`t * n_envs + e`) of the rollout.
    fn copy_row(&mut self, r: &Rollout, dst: usize, src: usize) {
        let (od, ad) = (r.obs_dim, r.action_dim);
        self.obs[dst * od..(dst + 1) * od].copy_from_slice(&r.obs[src * od..(src + 1) * od]);
        self.actions[dst * ad..(dst + 1) * ad]
            .copy_from_slice(&r.actions[src * ad..(src + 1) * ad]);
        self.old_log_probs[dst] = r.log_probs[src];
        self.old_values[dst] = r.values[src];
        self.advantages[dst] = r.advantages[src];
        self.returns[dst] = r.returns[src];
        self.starts[dst] = r.starts[src];
    }

    /// The whole sequences of environments `envs` (`envs.len() == batch`, `steps == t_max`).
    pub fn gather_envs(&mut self, r: &Rollout, envs: &[usize]) {
        assert!(
            envs.len() == self.batch && self.steps == r.t_max,
            "MiniBatch sized {} x {}, gathering {} envs of {} steps",
            self.steps,
            self.batch,
            envs.len(),
            r.t_max
        );
        let sd = r.state_size;
        for (j, &e) in envs.iter().enumerate() {
            self.initial_state[j * sd..(j + 1) * sd]
                .copy_from_slice(&r.initial_state[e * sd..(e + 1) * sd]);
            for t in 0..r.t_max {
                self.copy_row(r, t * self.batch + j, t * r.n_envs + e);
            }
        }
    }

    /// Single steps `indices` of the rollout (memoryless policies; `steps == 1`).
    pub fn gather_steps(&mut self, r: &Rollout, indices: &[usize]) {
        assert!(
            self.steps == 1 && indices.len() == self.batch && r.state_size == 0,
            "gather_steps is for memoryless policies with a 1 x {} minibatch",
            indices.len()
        );
        for (j, &i) in indices.iter().enumerate() {
            self.copy_row(r, j, i);
        }
    }
}
