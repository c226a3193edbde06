//! The on-policy experience an update learns from: a [`Rollout`] of `t_max` steps of
//! `n_envs` environments (time-major), and the [`MiniBatch`]es PPO cuts from it.

use super::advantage::{compute_gae, RolloutView};
use crate::agent::ActorCritic;

/// One rollout of `t_max` steps of `n_envs` environments, time-major (`t * n_envs + e`).
#[derive(Default)]
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

/// Numbers per step in a packed rollout besides the observation and the action: log-prob,
/// value, reward, terminated, truncated, final value, episode start.
const PACKED_SCALARS: usize = 7;

impl Rollout {
    /// Length of [`Rollout::pack`]'s buffer for `n_envs` of this rollout's environments.
    pub fn packed_len(&self, n_envs: usize) -> usize {
        n_envs
            * (self.t_max * (self.obs_dim + self.action_dim + PACKED_SCALARS) + self.state_size + 1)
    }

    /// The collected rollout as one flat `f32` buffer (flags as 0/1), the form a remote
    /// collector ships to its learner: per step `obs`, `actions`, `log_probs`, `values`,
    /// `rewards`, `terminated`, `truncated`, `final_values`, `starts`, then per environment
    /// `initial_state` and `bootstrap_values`. Advantages are left to the learner.
    pub fn pack(&self, out: &mut Vec<f32>) {
        out.clear();
        out.reserve(self.packed_len(self.n_envs));
        let flag = |b: &bool| if *b { 1.0 } else { 0.0 };
        out.extend_from_slice(&self.obs);
        out.extend_from_slice(&self.actions);
        out.extend_from_slice(&self.log_probs);
        out.extend_from_slice(&self.values);
        out.extend_from_slice(&self.rewards);
        out.extend(self.terminated.iter().map(flag));
        out.extend(self.truncated.iter().map(flag));
        out.extend_from_slice(&self.final_values);
        out.extend(self.starts.iter().map(flag));
        out.extend_from_slice(&self.initial_state);
        out.extend_from_slice(&self.bootstrap_values);
    }

    /// Writes a packed rollout of `n_envs` environments into columns `first_env..` of this
    /// one (the learner assembles its workers' rollouts side by side, bit for bit).
    pub fn unpack_columns(
        &mut self,
        src: &[f32],
        first_env: usize,
        n_envs: usize,
    ) -> Result<(), String> {
        let expected = self.packed_len(n_envs);
        if src.len() != expected || first_env + n_envs > self.n_envs {
            return Err(format!(
                "a rollout buffer of {} numbers for environments {first_env}..{} of {}: expected \
                 {expected} ({} steps of {n_envs} environments); the collector runs another configuration",
                src.len(),
                first_env + n_envs,
                self.n_envs,
                self.t_max
            ));
        }
        let (t_max, n) = (self.t_max, self.n_envs);
        let mut offset = 0;
        let mut take = |width: usize, per_step: bool| {
            let rows = if per_step { t_max * n_envs } else { n_envs };
            let part = &src[offset..offset + rows * width];
            offset += rows * width;
            part
        };
        // Step fields: source row t * n_envs + j goes to row t * n + first_env + j.
        let steps = |dst: &mut [f32], src: &[f32], width: usize| {
            for t in 0..t_max {
                let to = (t * n + first_env) * width;
                dst[to..to + n_envs * width]
                    .copy_from_slice(&src[t * n_envs * width..(t + 1) * n_envs * width]);
            }
        };
        let flags = |dst: &mut [bool], src: &[f32]| {
            for t in 0..t_max {
                for j in 0..n_envs {
                    dst[t * n + first_env + j] = src[t * n_envs + j] != 0.0;
                }
            }
        };
        let (od, ad, sd) = (self.obs_dim, self.action_dim, self.state_size);
        steps(&mut self.obs, take(od, true), od);
        steps(&mut self.actions, take(ad, true), ad);
        steps(&mut self.log_probs, take(1, true), 1);
        steps(&mut self.values, take(1, true), 1);
        steps(&mut self.rewards, take(1, true), 1);
        flags(&mut self.terminated, take(1, true));
        flags(&mut self.truncated, take(1, true));
        steps(&mut self.final_values, take(1, true), 1);
        flags(&mut self.starts, take(1, true));
        self.initial_state[first_env * sd..(first_env + n_envs) * sd]
            .copy_from_slice(take(sd, false));
        self.bootstrap_values[first_env..first_env + n_envs].copy_from_slice(take(1, false));
        Ok(())
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
