//! The policy-gradient loss of A2C, A3C and REINFORCE over whole sequences:
//! `policy_loss + vf_coef * value_loss - ent_coef * entropy`, with
//! `policy_loss = -mean(A_t log pi(a_t | s_t))` and `value_loss = 0.5 * mean((V - R)^2)`.

use super::rollout::Rollout;
use crate::agent::{ActorCritic, SequencePass};
use crate::runtime::Metric;
use engram_nn::loss::{entropy_bonus, policy_gradient_loss, value_mse_loss, Reduction};

/// Loss weights.
#[derive(Clone, Copy, Debug)]
pub struct LossCoefs {
    pub vf_coef: f32,
    pub ent_coef: f32,
    pub normalize_advantage: bool,
}

/// A2C/A3C/REINFORCE's forward and backward over whole rollouts of `t_max` steps of `batch`
/// environments.
pub struct Learner {
    pass: SequencePass,
    advantages: Vec<f32>,
}

impl Learner {
    pub fn new(policy: &ActorCritic, t_max: usize, batch: usize) -> Learner {
        Learner {
            pass: SequencePass::new(policy, t_max, batch),
            advantages: vec![0.0; t_max * batch],
        }
    }

    /// Adds the gradient of `policy_loss + vf_coef * value_loss - ent_coef * entropy` over the
    /// rollout to `g`. Means over all steps; `value_loss = 0.5 * mean((V - R)^2)`.
    pub fn compute_gradients(
        &mut self,
        policy: &ActorCritic,
        p: &[f32],
        g: &mut [f32],
        rollout: &Rollout,
        coefs: &LossCoefs,
    ) -> PgStats {
        let pass = &mut self.pass;
        pass.forward(
            policy,
            p,
            &rollout.obs,
            &rollout.actions,
            &rollout.initial_state,
            &rollout.starts,
            rollout.t_max,
            rollout.n_envs,
        );
        self.advantages.copy_from_slice(&rollout.advantages);
        if coefs.normalize_advantage {
            super::advantage::normalize(&mut self.advantages);
        }
        let (values, d_values) = pass.values_and_grad();
        let value_loss = value_mse_loss(values, &rollout.returns, Reduction::Mean, d_values);
        for d in &mut pass.d_values {
            *d *= coefs.vf_coef;
        }
        let policy_loss = policy_gradient_loss(
            &pass.logp,
            &self.advantages,
            Reduction::Mean,
            &mut pass.d_logp,
        );
        let entropy = -entropy_bonus(&pass.entropy, Reduction::Mean, &mut pass.d_entropy);
        for d in &mut pass.d_entropy {
            *d *= coefs.ent_coef;
        }
        pass.backward(policy, p, g, &rollout.obs, &rollout.actions);
        PgStats {
            policy_loss: policy_loss as f64,
            value_loss: value_loss as f64,
            entropy: entropy as f64,
        }
    }
}

/// The losses of one update (means over its steps).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct PgStats {
    pub policy_loss: f64,
    pub value_loss: f64,
    pub entropy: f64,
}

impl PgStats {
    /// The minimised objective.
    pub fn loss(&self, coefs: &LossCoefs) -> f64 {
        self.policy_loss + coefs.vf_coef as f64 * self.value_loss
            - coefs.ent_coef as f64 * self.entropy
    }

    /// The update's metrics row entries, with the clipped gradient norm and learning rate.
    pub fn metrics(&self, grad_norm: f64, learning_rate: f64) -> [Metric; 5] {
        [
            Metric::mean("policy_loss", self.policy_loss),
            Metric::mean("value_loss", self.value_loss),
            Metric::mean("entropy", self.entropy),
            Metric::mean("grad_norm", grad_norm),
            Metric::last("learning_rate", learning_rate),
        ]
    }
}
