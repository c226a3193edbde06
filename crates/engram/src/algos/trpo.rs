//! TRPO (Schulman et al. 2015, "Trust Region Policy Optimization") with sb3-contrib's
//! semantics, on the on-policy machinery PPO uses: the [`Collector`] steps `n_envs`
//! environments for `t_max` steps (SB3's `n_steps`), GAE gives advantages and returns, then
//! * **the actor** takes one natural-gradient step: `g` = the gradient of the surrogate
//!   `L = mean(exp(log pi - old log pi) * A)` (advantages normalised over the rollout when
//!   `normalize_advantage`); conjugate gradient (`cg_max_steps` iterations) solves
//!   `(F + cg_damping I) x = g`, `F` the Hessian of the mean KL at the old policy (either
//!   direction: the two agree to second order);
//!   the step `sqrt(2 target_kl / x^T (F + cg_damping I) x) * x` is shrunk by
//!   `line_search_shrinking_factor` up to `line_search_max_iter` times until the exact mean
//!   KL(new || old) (sb3-contrib's direction) is below `target_kl` and the surrogate
//!   improved; if no step passes, the policy stays;
//! * **the critic** takes `n_critic_updates` passes of minibatches of `batch_size` steps
//!   (recurrent policies: the whole rollout per pass) of the optimizer (Adam, `learning_rate`)
//!   on `mean((V - R)^2)`, moving only the parameters the actor's step does not (sb3-contrib
//!   drops the actor's gradients from the critic's step the same way).
//!
//! The actor's parameters are everything but the value head (or, with `separate_critic`,
//! the critic network): sb3-contrib's "every parameter without `value` in its name". With
//! `separate_critic` the actor's passes (surrogate gradient, Fisher products, line search) run
//! the actor's network alone and the critic's passes the critic's alone ([`Part`]).
//!
//! # The Fisher-vector product
//! engram's core has hand-written backward passes and no double backward, so `F v` is not the
//! gradient of `grad(KL) . v` as in sb3-contrib. It is computed in its Gauss-Newton form,
//! which equals the KL's Hessian at the old policy exactly: `F = (1/N) sum_rows J^T F_z J`,
//! `J` the Jacobian of the policy head's outputs `z` (logits, Gaussian means) with respect to
//! the parameters and `F_z` the KL's Hessian in `z` (`diag(p) - p p^T` per categorical,
//! `1 / sigma^2` for Gaussian means), plus the `log_std` block
//! ([`ActorCritic::log_std_fisher_product`]: `2 v` for a state-independent `log_std`; with gSDE
//! `mean_rows J_s^T 2 J_s v`, `J_s` the exact Jacobian of each row's `ln sigma` in `log_std`,
//! the features held constant as SB3 holds them, and each row's own `sigma` in `F_z`). `J v`
//! is a central finite difference of two forward passes at `theta +- h v / |v|` (`h = 1e-3`),
//! `F_z` is applied exactly, and `J^T` is one ordinary backward pass through time, so recurrent
//! policies work through the existing BPTT. Against a dense Fisher built column by column on
//! tiny networks, the product agrees to 1e-6 (MLP) to 2e-5 (GRU) relative error (tested
//! below 1e-2; figures in BENCHMARKS.md).

use super::RunConfig;
use crate::agent::{ActorCritic, DistRows, Part, SequencePass};
use crate::config::{check, invalid, ConfigError};
use crate::error::TrainError;
use crate::onpolicy::collector::{checkpoint_parts, open_collector, Collector};
use crate::onpolicy::{MiniBatch, Normalizer, Rollout};
use crate::runtime::{LocalStore, Metric, ParamStore, Session, StopReason};
use engram_nn::optim::clip_grad_norm;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

pub const NAME: &str = "trpo";
pub const DESCRIPTION: &str =
    "Trust Region Policy Optimization (sb3-contrib): natural gradient by CG, KL line search, critic steps";
pub const ACTOR_CRITIC: bool = true;

/// The finite-difference step of `J v` (in parameter space, along `v / |v|`).
const JVP_STEP: f64 = 1e-3;

/// TRPO's options, with sb3-contrib's names and defaults (`t_max` is SB3's `n_steps`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub n_envs: usize,
    pub t_max: usize,
    pub batch_size: usize,
    pub gamma: f64,
    pub gae_lambda: f64,
    pub cg_max_steps: usize,
    pub cg_damping: f64,
    pub line_search_shrinking_factor: f64,
    pub line_search_max_iter: usize,
    pub n_critic_updates: usize,
    pub target_kl: f64,
    pub normalize_advantage: bool,
    pub reward_scale: f64,
    pub normalize_observations: bool,
    pub normalize_rewards: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            n_envs: 1,
            t_max: 2048,
            batch_size: 128,
            gamma: 0.99,
            gae_lambda: 0.95,
            cg_max_steps: 15,
            cg_damping: 0.1,
            line_search_shrinking_factor: 0.8,
            line_search_max_iter: 10,
            n_critic_updates: 10,
            target_kl: 0.01,
            normalize_advantage: true,
            reward_scale: 1.0,
            normalize_observations: false,
            normalize_rewards: false,
        }
    }
}

impl Config {
    pub fn validate(&self, rc: &RunConfig) -> Result<(), ConfigError> {
        super::check_n_envs(self.n_envs)?;
        check::count("t_max", self.t_max, super::MAX_ROLLOUT, "steps per rollout")?;
        check::unit("gamma", self.gamma, false)?;
        check::unit("gae_lambda", self.gae_lambda, false)?;
        check::count("cg_max_steps", self.cg_max_steps, 10_000, "CG iterations")?;
        if !(self.cg_damping.is_finite() && self.cg_damping >= 0.0) {
            return Err(invalid(
                "cg_damping",
                format!(
                    "must be zero or positive (it is added to the Fisher's diagonal), got {}",
                    self.cg_damping
                ),
            ));
        }
        if !(self.line_search_shrinking_factor > 0.0 && self.line_search_shrinking_factor < 1.0) {
            return Err(invalid(
                "line_search_shrinking_factor",
                format!(
                    "must be in (0, 1), got {}",
                    self.line_search_shrinking_factor
                ),
            ));
        }
        check::count(
            "line_search_max_iter",
            self.line_search_max_iter,
            1000,
            "line-search steps",
        )?;
        check::count(
            "n_critic_updates",
            self.n_critic_updates,
            10_000,
            "critic passes per rollout",
        )?;
        check::positive("target_kl", self.target_kl)?;
        check::positive("reward_scale", self.reward_scale)?;
        let rollout = self
            .t_max
            .checked_mul(self.n_envs)
            .ok_or_else(|| invalid("t_max", "t_max * n_envs is too large"))?;
        if !rc.net.recurrent() && (self.batch_size == 0 || !rollout.is_multiple_of(self.batch_size))
        {
            return Err(invalid(
                "batch_size",
                format!(
                    "must divide the rollout size t_max * n_envs = {rollout}, got {}",
                    self.batch_size
                ),
            ));
        }
        Ok(())
    }
}

impl super::Algorithm for Config {
    fn normalize_observations(&self) -> bool {
        self.normalize_observations
    }
}

/// Conjugate gradient for `A x = b`, `A` symmetric positive definite given as a product:
/// at most `max_steps` iterations from `x = 0`, stopping when the residual's squared norm
/// falls below 1e-10 (sb3-contrib's rule). Returns `x`.
pub fn conjugate_gradient(
    mut product: impl FnMut(&[f64]) -> Vec<f64>,
    b: &[f64],
    max_steps: usize,
) -> Vec<f64> {
    let dot = |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(x, y)| x * y).sum::<f64>();
    let mut x = vec![0.0; b.len()];
    let mut r = b.to_vec();
    let mut p = b.to_vec();
    let mut rr = dot(&r, &r);
    for _ in 0..max_steps {
        if rr < 1e-10 {
            break;
        }
        let ap = product(&p);
        let pap = dot(&p, &ap);
        if pap <= 0.0 || !pap.is_finite() {
            break;
        }
        let alpha = rr / pap;
        for i in 0..x.len() {
            x[i] += alpha * p[i];
            r[i] -= alpha * ap[i];
        }
        let rr_new = dot(&r, &r);
        let beta = rr_new / rr;
        for i in 0..p.len() {
            p[i] = r[i] + beta * p[i];
        }
        rr = rr_new;
    }
    x
}

/// Which parameters the actor's step moves (true) and which the critic's (false).
pub fn actor_mask(policy: &ActorCritic) -> Vec<bool> {
    let mut mask = vec![false; policy.layout.len()];
    for r in policy.greedy_action_params() {
        mask[r].fill(true);
    }
    if let Some(slot) = policy.log_std_slot() {
        mask[slot.offset..slot.offset + slot.len()].fill(true);
    }
    mask
}

/// The rollout as one batch (every env's whole sequence) and what TRPO computes on it at the
/// old parameters.
pub struct TrustRegion {
    pass: SequencePass,
    probe: SequencePass,
    batch: MiniBatch,
    old_head: Vec<f32>,
    /// gSDE: each row's `ln sigma` under the old parameters (empty otherwise).
    old_log_sigma: Vec<f32>,
    advantages: Vec<f32>,
    mask: Vec<bool>,
    scratch_head: Vec<f32>,
}

/// What one actor step did.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct ActorStep {
    pub objective: f64,
    pub kl: f64,
    pub accepted: bool,
    pub step_norm: f64,
}

impl TrustRegion {
    pub fn new(policy: &ActorCritic, t_max: usize, n_envs: usize) -> TrustRegion {
        let rows = t_max * n_envs;
        let width = policy_head_width(policy);
        TrustRegion {
            pass: SequencePass::new(policy, t_max, n_envs),
            probe: SequencePass::new(policy, t_max, n_envs),
            batch: MiniBatch::new(policy, t_max, n_envs),
            old_head: vec![0.0; rows * width],
            old_log_sigma: Vec::new(),
            advantages: vec![0.0; rows],
            mask: actor_mask(policy),
            scratch_head: vec![0.0; rows * width],
        }
    }

    /// Takes `rollout` as the batch and runs the old policy forward on it.
    pub fn load(&mut self, policy: &ActorCritic, p: &[f32], rollout: &Rollout, normalize: bool) {
        let envs: Vec<usize> = (0..rollout.n_envs).collect();
        self.batch.gather_envs(rollout, &envs);
        self.advantages.copy_from_slice(&self.batch.advantages);
        if normalize {
            crate::onpolicy::advantage::normalize(&mut self.advantages);
        }
        forward(&mut self.pass, Part::Policy, policy, p, &self.batch);
        let old = self.pass.dist_rows(policy, p);
        self.old_head.copy_from_slice(old.head);
        self.old_log_sigma.clear();
        self.old_log_sigma.extend_from_slice(old.log_sigma);
    }

    /// The old parameters' distributions on the batch.
    fn old_rows<'a>(&'a self, p_old: &'a [f32]) -> DistRows<'a> {
        DistRows {
            params: p_old,
            head: &self.old_head,
            log_sigma: &self.old_log_sigma,
        }
    }

    /// The surrogate `mean(ratio * A)` of `logp` (from a forward on the batch).
    fn objective(&self, logp: &[f32]) -> f64 {
        let n = logp.len() as f64;
        logp.iter()
            .zip(&self.batch.old_log_probs)
            .zip(&self.advantages)
            .map(|((l, o), a)| ((l - o) as f64).exp() * *a as f64)
            .sum::<f64>()
            / n
    }

    /// The surrogate at the old parameters and its gradient (actor coordinates only).
    pub fn surrogate_gradient(&mut self, policy: &ActorCritic, p: &[f32]) -> (f64, Vec<f64>) {
        let objective = self.objective(&self.pass.logp);
        let n = self.advantages.len() as f32;
        for i in 0..self.advantages.len() {
            let ratio = (self.pass.logp[i] - self.batch.old_log_probs[i]).exp();
            // The optimiser convention is descent: backward computes d(-L).
            self.pass.d_logp[i] = -ratio * self.advantages[i] / n;
        }
        self.pass.d_entropy.fill(0.0);
        let mut g = vec![0.0f32; p.len()];
        self.pass
            .backward_logp(policy, p, &mut g, &self.batch.obs, &self.batch.actions);
        let grad = g
            .iter()
            .zip(&self.mask)
            .map(|(g, &m)| if m { -(*g as f64) } else { 0.0 })
            .collect();
        (objective, grad)
    }

    /// `(F + damping I) v` at the old parameters `p` (see the module docs).
    pub fn fisher_product(
        &mut self,
        policy: &ActorCritic,
        p: &[f32],
        v: &[f64],
        damping: f64,
    ) -> Vec<f64> {
        let norm = v.iter().map(|x| x * x).sum::<f64>().sqrt();
        let mut out = vec![0.0; v.len()];
        if norm == 0.0 {
            return out;
        }
        let shifted = |sign: f64| -> Vec<f32> {
            p.iter()
                .zip(v)
                .map(|(p, v)| (*p as f64 + sign * JVP_STEP * v / norm) as f32)
                .collect()
        };
        let rows = self.advantages.len();
        let width = self.old_head.len() / rows.max(1);
        forward(
            &mut self.probe,
            Part::Policy,
            policy,
            &shifted(1.0),
            &self.batch,
        );
        self.scratch_head
            .copy_from_slice(self.probe.policy_head(policy));
        forward(
            &mut self.probe,
            Part::Policy,
            policy,
            &shifted(-1.0),
            &self.batch,
        );
        let scale = norm / (2.0 * JVP_STEP);
        let jv: Vec<f32> = self
            .scratch_head
            .iter()
            .zip(self.probe.policy_head(policy))
            .map(|(a, b)| ((*a as f64 - *b as f64) * scale) as f32)
            .collect();
        let mut w = vec![0.0f32; rows * width];
        policy.head_fisher_product(self.old_rows(p), &jv, &mut w);
        let inv_n = 1.0 / rows as f32;
        w.iter_mut().for_each(|x| *x *= inv_n);
        let mut g = vec![0.0f32; p.len()];
        self.pass
            .backward_policy_head(policy, p, &mut g, &self.batch.obs, &w);
        for ((o, g), &m) in out.iter_mut().zip(&g).zip(&self.mask) {
            *o = if m { *g as f64 } else { 0.0 };
        }
        policy.log_std_fisher_product(
            p,
            self.pass.policy_features(policy),
            &self.old_log_sigma,
            v,
            &mut out,
        );
        for ((o, v), &m) in out.iter_mut().zip(v).zip(&self.mask) {
            if m {
                *o += damping * v;
            }
        }
        out
    }

    /// The mean KL(new || old) and the surrogate at `p_new`. sb3-contrib checks
    /// `kl_divergence(new, old)`; the direction changes the value only at third order, but
    /// the line search's accept/reject is a threshold on it.
    pub fn evaluate(&mut self, policy: &ActorCritic, p_old: &[f32], p_new: &[f32]) -> (f64, f64) {
        forward(&mut self.probe, Part::Policy, policy, p_new, &self.batch);
        let kl = policy.mean_kl(self.probe.dist_rows(policy, p_new), self.old_rows(p_old));
        (kl, self.objective(&self.probe.logp))
    }

    /// The natural-gradient step with its line search; moves `params` if a step passes.
    pub fn actor_step(
        &mut self,
        policy: &ActorCritic,
        params: &mut [f32],
        c: &Config,
    ) -> ActorStep {
        let old = params.to_vec();
        let (objective, g) = self.surrogate_gradient(policy, &old);
        let x = conjugate_gradient(
            |v| self.fisher_product(policy, &old, v, c.cg_damping),
            &g,
            c.cg_max_steps,
        );
        let fx = self.fisher_product(policy, &old, &x, c.cg_damping);
        let shs: f64 = x.iter().zip(&fx).map(|(a, b)| a * b).sum();
        let mut step = ActorStep {
            objective,
            ..ActorStep::default()
        };
        if !(shs.is_finite() && shs > 0.0) {
            return step;
        }
        let max_step = (2.0 * c.target_kl / shs).sqrt();
        let step_norm = max_step * x.iter().map(|v| v * v).sum::<f64>().sqrt();
        let mut candidate = old.clone();
        let found = line_search(
            |coeff| {
                for ((p, o), d) in candidate.iter_mut().zip(&old).zip(&x) {
                    *p = (*o as f64 + coeff * max_step * d) as f32;
                }
                self.evaluate(policy, &old, &candidate)
            },
            objective,
            c,
        );
        if let Some((coeff, kl, new_objective)) = found {
            for ((p, o), d) in params.iter_mut().zip(&old).zip(&x) {
                *p = (*o as f64 + coeff * max_step * d) as f32;
            }
            step = ActorStep {
                objective: new_objective,
                kl,
                accepted: true,
                step_norm: coeff * step_norm,
            };
        }
        step
    }
}

/// sb3-contrib's backtracking line search: tries the step scaled by 1,
/// `line_search_shrinking_factor`, its square, ... (`line_search_max_iter` tries) and takes
/// the first whose mean KL (`evaluate(coeff)` returns `(kl, objective)`) is below `target_kl`
/// and whose surrogate beats `objective`. `None`: no step passed, the policy stays.
pub fn line_search(
    mut evaluate: impl FnMut(f64) -> (f64, f64),
    objective: f64,
    c: &Config,
) -> Option<(f64, f64, f64)> {
    let mut coeff = 1.0;
    for _ in 0..c.line_search_max_iter {
        let (kl, new_objective) = evaluate(coeff);
        if kl < c.target_kl && new_objective > objective {
            return Some((coeff, kl, new_objective));
        }
        coeff *= c.line_search_shrinking_factor;
    }
    None
}

fn policy_head_width(policy: &ActorCritic) -> usize {
    use crate::agent::ActionKind;
    match &policy.action_kind {
        ActionKind::Categorical { n, .. } => *n,
        ActionKind::MultiCategorical { nvec } => nvec.iter().sum(),
        ActionKind::Gaussian { dim, .. } => *dim,
    }
}

fn forward(pass: &mut SequencePass, part: Part, policy: &ActorCritic, p: &[f32], mb: &MiniBatch) {
    pass.forward_part(
        part,
        policy,
        p,
        &mb.obs,
        &mb.actions,
        &mb.initial_state,
        &mb.starts,
        mb.steps,
        mb.batch,
    );
}

/// The critic's minibatch RNG of update number `update`: independent of how the run was
/// split.
fn shuffle_rng(seed: u64, update: u64) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x5452_504F_0000_0000);
    rng.set_stream(update);
    rng
}

/// The critic's passes: `mean((V - R)^2)` on minibatches, only the critic's parameters move.
/// Returns the mean value loss, or `None` when a non-finite update stopped training.
#[allow(clippy::too_many_arguments)]
fn critic_updates(
    policy: &ActorCritic,
    store: &mut LocalStore,
    rollout: &Rollout,
    c: &Config,
    recurrent: bool,
    mask: &[bool],
    lr: f32,
    max_grad_norm: f64,
    rng: &mut ChaCha8Rng,
    session: &Session,
) -> Option<f64> {
    let rows = rollout.t_max * rollout.n_envs;
    let (steps, batch) = if recurrent {
        (rollout.t_max, rollout.n_envs)
    } else {
        (1, c.batch_size)
    };
    let mut mb = MiniBatch::new(policy, steps, batch);
    let mut pass = SequencePass::new(policy, steps, batch);
    let mut grads = policy.layout.zeros();
    let mut order: Vec<usize> = (0..rows).collect();
    let all_envs: Vec<usize> = (0..rollout.n_envs).collect();
    let (mut loss_sum, mut count) = (0.0, 0usize);
    for _ in 0..c.n_critic_updates {
        order.shuffle(rng);
        let chunks = if recurrent { 1 } else { rows / c.batch_size };
        for k in 0..chunks {
            if recurrent {
                mb.gather_envs(rollout, &all_envs);
            } else {
                mb.gather_steps(rollout, &order[k * batch..(k + 1) * batch]);
            }
            forward(&mut pass, Part::Value, policy, &store.params, &mb);
            let n = (steps * batch) as f32;
            let mut loss = 0.0f64;
            let (values, d_values) = pass.values_and_grad();
            for ((d, v), r) in d_values.iter_mut().zip(values).zip(&mb.returns) {
                let err = v - r;
                loss += (err * err) as f64;
                *d = 2.0 * err / n;
            }
            loss /= n as f64;
            grads.fill(0.0);
            pass.backward_values(policy, &store.params, &mut grads, &mb.obs);
            for (g, &m) in grads.iter_mut().zip(mask) {
                if m {
                    *g = 0.0;
                }
            }
            let grad_norm = clip_grad_norm(&mut grads, max_grad_norm as f32) as f64;
            if !session.update_is_finite(loss, grad_norm) {
                return None;
            }
            store.apply(&grads, lr);
            if !session.params_are_finite(&store.params) {
                return None;
            }
            loss_sum += loss;
            count += 1;
        }
    }
    Some(loss_sum / count.max(1) as f64)
}

/// Runs TRPO: `n_envs` environments in lockstep, one trust-region actor step and
/// `n_critic_updates` critic passes per rollout.
pub fn run(mut session: Session, rc: &RunConfig, c: &Config) -> Result<StopReason, TrainError> {
    let policy = super::actor_critic(rc, &*rc.common.make_env()?)?;
    let mut store = session.local_store(&policy.layout, &rc.optim)?;
    let normalizer = Normalizer::new(
        policy.obs_dim(),
        c.n_envs,
        c.normalize_observations,
        c.normalize_rewards,
        c.gamma,
    );
    let mut collector = open_collector(
        &session,
        &rc.common,
        &policy,
        c.n_envs,
        c.reward_scale,
        normalizer,
    )?;
    session.start(policy.clone(), true)?;
    let mut rollout = Rollout::new(&policy, c.t_max, c.n_envs);
    let mut region = TrustRegion::new(&policy, c.t_max, c.n_envs);
    let rollout_steps = (c.t_max * c.n_envs) as u64;
    let lr_schedule = rc.optim.lr();
    let recurrent = rc.net.recurrent();
    let parts = |store: &LocalStore, collector: &Collector| checkpoint_parts(store, collector);
    let monitor = session.monitor.clone();
    let result: Result<(), TrainError> = (|| {
        while session.running() {
            collector.collect(
                &policy,
                &store.params,
                &mut rollout,
                &monitor,
                c.gamma as f32,
                c.gae_lambda as f32,
            )?;
            let lr = lr_schedule.value(monitor.progress_fraction());
            region.load(&policy, &store.params, &rollout, c.normalize_advantage);
            let step = region.actor_step(&policy, &mut store.params, c);
            if !session.params_are_finite(&store.params) {
                break;
            }
            let mut rng = shuffle_rng(rc.common.seed, monitor.counters().updates);
            let Some(value_loss) = critic_updates(
                &policy,
                &mut store,
                &rollout,
                c,
                recurrent,
                &region.mask,
                lr as f32,
                rc.optim.max_grad_norm,
                &mut rng,
                &session,
            ) else {
                break;
            };
            let metrics = [
                Metric::mean("policy_objective", step.objective),
                Metric::mean("value_loss", value_loss),
                Metric::mean("kl_divergence", step.kl),
                Metric::mean("line_search_success", if step.accepted { 1.0 } else { 0.0 }),
                Metric::mean("step_norm", step.step_norm),
                Metric::last("learning_rate", lr),
            ];
            session.after_update(rollout_steps, &metrics, &mut || parts(&store, &collector))?;
        }
        Ok(())
    })();
    session.finish(result, || parts(&store, &collector))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::PolicyKind;
    use crate::runtime::Monitor;

    #[test]
    fn conjugate_gradient_solves_a_known_spd_system() {
        // A = [[4, 1, 0], [1, 3, 1], [0, 1, 2]], x = [1, -2, 3] -> b = A x = [2, -2, 4].
        let a = [[4.0, 1.0, 0.0], [1.0, 3.0, 1.0], [0.0, 1.0, 2.0]];
        let product = |v: &[f64]| -> Vec<f64> {
            a.iter()
                .map(|row| row.iter().zip(v).map(|(a, v)| a * v).sum())
                .collect()
        };
        let x = conjugate_gradient(product, &[2.0, -2.0, 4.0], 10);
        for (x, want) in x.iter().zip([1.0, -2.0, 3.0]) {
            assert!((x - want).abs() < 1e-9, "{x} vs {want}");
        }
        // CG reaches the exact solution in at most n = 3 steps.
        let x3 = conjugate_gradient(product, &[2.0, -2.0, 4.0], 3);
        assert!((x3[2] - 3.0).abs() < 1e-9);
    }

    /// A tiny policy, a rollout collected with it, and the trust region loaded on it.
    fn fixture(
        env: &str,
        policy: PolicyKind,
        use_sde: bool,
    ) -> (ActorCritic, Vec<f32>, TrustRegion, Config) {
        let mut rc = RunConfig::tuned("trpo", env).unwrap();
        rc.net.policy = policy;
        rc.ac.use_sde = use_sde;
        rc.net.hidden_size = 3;
        rc.net.encoder_layers = vec![3];
        rc.ac.log_std_init = -0.3;
        let c = Config {
            n_envs: 2,
            t_max: 6,
            batch_size: 12,
            ..Config::default()
        };
        let probe = rc.common.make_env().unwrap();
        let ac = ActorCritic::new(
            probe.observation_space(),
            probe.action_space(),
            &rc.net,
            &rc.ac,
        )
        .unwrap();
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let params = ac.layout.initialize(&mut rng);
        // Larger weights than the 0.01-gain head init, so the Fisher is not near zero.
        let params: Vec<f32> = params.iter().map(|p| p * 3.0 + 0.05).collect();
        let envs = (0..2).map(|_| rc.common.make_env().unwrap()).collect();
        let mut collector = Collector::new(&ac, envs, 3, 1.0).unwrap();
        let mut rollout = Rollout::new(&ac, c.t_max, c.n_envs);
        let dir = tempfile::tempdir().unwrap();
        let monitor = Monitor::new(rc.common.clone(), None, dir.path(), None, 0.0, true).unwrap();
        collector
            .collect(&ac, &params, &mut rollout, &monitor, 0.99, 0.95)
            .unwrap();
        let mut region = TrustRegion::new(&ac, c.t_max, c.n_envs);
        region.load(&ac, &params, &rollout, true);
        (ac, params, region, c)
    }

    /// The Fisher as the Hessian of the mean KL, column by column: central differences of
    /// the mean KL's second derivatives in f64 would be too noisy in f32, so each column is
    /// `J^T F_z J e_i` with `J` by finite differences of single coordinates, which is the
    /// same matrix built with no shared code path (no backward pass). gSDE adds
    /// `J_s^T 2 J_s` (the KL's Hessian in each row's `ln sigma` is 2), `J_s` the rows'
    /// `ln sigma` by central differences of the `log_std` coordinates (the features held
    /// constant, as SB3 holds them: no other coordinate moves `ln sigma`).
    fn dense_fisher(ac: &ActorCritic, p: &[f32], region: &mut TrustRegion) -> Vec<Vec<f64>> {
        let mask = actor_mask(ac);
        let coords: Vec<usize> = (0..p.len()).filter(|&i| mask[i]).collect();
        let rows = region.advantages.len();
        let h = 1e-2f64;
        let gsde = !region.old_log_sigma.is_empty();
        let in_log_std = |i: usize| {
            ac.log_std_slot()
                .is_some_and(|s| (s.offset..s.offset + s.len()).contains(&i))
        };
        let jac_sigma: Vec<Vec<f64>> = coords
            .iter()
            .map(|&i| {
                if !(gsde && in_log_std(i)) {
                    return Vec::new();
                }
                let mut plus = p.to_vec();
                let mut minus = p.to_vec();
                plus[i] += h as f32;
                minus[i] -= h as f32;
                forward(&mut region.probe, Part::Policy, ac, &plus, &region.batch);
                let sp = region.probe.dist_rows(ac, &plus).log_sigma.to_vec();
                forward(&mut region.probe, Part::Policy, ac, &minus, &region.batch);
                let sm = region.probe.dist_rows(ac, &minus).log_sigma;
                sp.iter()
                    .zip(sm)
                    .map(|(a, b)| (*a as f64 - *b as f64) / (2.0 * h))
                    .collect()
            })
            .collect();
        // Column i of J (head outputs by parameter i), by central differences in f32.
        let jac: Vec<Vec<f64>> = coords
            .iter()
            .map(|&i| {
                let mut plus = p.to_vec();
                let mut minus = p.to_vec();
                plus[i] += h as f32;
                minus[i] -= h as f32;
                forward(&mut region.probe, Part::Policy, ac, &plus, &region.batch);
                let hp = region.probe.policy_head(ac).to_vec();
                forward(&mut region.probe, Part::Policy, ac, &minus, &region.batch);
                let hm = region.probe.policy_head(ac);
                hp.iter()
                    .zip(hm)
                    .map(|(a, b)| (*a as f64 - *b as f64) / (2.0 * h))
                    .collect()
            })
            .collect();
        let width = region.old_head.len() / rows;
        let mut f = vec![vec![0.0; coords.len()]; coords.len()];
        for (b, jb) in jac.iter().enumerate() {
            let u: Vec<f32> = jb.iter().map(|v| *v as f32).collect();
            let mut w = vec![0.0f32; rows * width];
            ac.head_fisher_product(region.old_rows(p), &u, &mut w);
            for (a, ja) in jac.iter().enumerate() {
                f[a][b] = ja.iter().zip(&w).map(|(x, y)| x * *y as f64).sum::<f64>() / rows as f64;
                f[a][b] += 2.0
                    * jac_sigma[a]
                        .iter()
                        .zip(&jac_sigma[b])
                        .map(|(x, y)| x * y)
                        .sum::<f64>()
                    / rows as f64;
            }
        }
        // A state-independent Gaussian's log_std: the KL's Hessian is 2 per coordinate.
        for (a, &i) in coords.iter().enumerate() {
            if !gsde && in_log_std(i) {
                f[a][a] += 2.0;
            }
        }
        f
    }

    #[test]
    fn fisher_vector_product_matches_a_dense_fisher_on_a_tiny_network() {
        for (env, policy, use_sde) in [
            ("CartPole-v1", PolicyKind::Mlp, false),
            ("Pendulum-v1", PolicyKind::Mlp, false),
            ("Pendulum-v1", PolicyKind::Mlp, true),
            ("CartPole-v1", PolicyKind::Gru, false),
        ] {
            let (ac, p, mut region, _) = fixture(env, policy, use_sde);
            let dense = dense_fisher(&ac, &p, &mut region);
            let mask = actor_mask(&ac);
            let coords: Vec<usize> = (0..p.len()).filter(|&i| mask[i]).collect();
            let mut rng = ChaCha8Rng::seed_from_u64(1);
            let v_small: Vec<f64> = coords
                .iter()
                .map(|_| engram_nn::dist::standard_normal_f64(&mut rng))
                .collect();
            let mut v = vec![0.0; p.len()];
            for (k, &i) in coords.iter().enumerate() {
                v[i] = v_small[k];
            }
            let fv = region.fisher_product(&ac, &p, &v, 0.0);
            let want: Vec<f64> = dense
                .iter()
                .map(|row| row.iter().zip(&v_small).map(|(a, b)| a * b).sum())
                .collect();
            let got: Vec<f64> = coords.iter().map(|&i| fv[i]).collect();
            let err = got
                .iter()
                .zip(&want)
                .map(|(a, b)| (a - b).powi(2))
                .sum::<f64>()
                .sqrt();
            let scale = want.iter().map(|b| b * b).sum::<f64>().sqrt();
            assert!(scale > 1e-4, "{env}: degenerate Fisher");
            // BENCHMARKS.md quotes these (cargo test -p engram --lib trpo -- --nocapture).
            eprintln!(
                "Fv vs dense Fisher, {env} {policy:?} use_sde={use_sde}: relative error {:.2e}",
                err / scale
            );
            assert!(
                err < 1e-2 * scale,
                "{env} {policy:?}: |Fv - F_dense v| = {err:e}, |F v| = {scale:e}"
            );
            // The critic's coordinates get nothing.
            assert!(fv.iter().zip(&mask).all(|(f, m)| *m || *f == 0.0));
        }
    }

    #[test]
    fn line_search_rejects_a_step_that_breaks_the_kl_constraint() {
        let c = Config::default(); // target_kl 0.01, shrink 0.8, 10 tries
                                   // KL grows as the square of the step: 2 target at the full step, 1.28 target at 0.8,
                                   // 0.82 target at 0.64, the first that fits.
        let kl_of = |coeff: f64| 2.0 * c.target_kl * coeff * coeff;
        let (coeff, kl, _) = line_search(|k| (kl_of(k), 1.0 + k), 0.5, &c).unwrap();
        assert!((coeff - 0.64).abs() < 1e-12, "{coeff}");
        assert!(kl < c.target_kl);
        // Within the bound but no better than before: rejected at every size.
        assert!(line_search(|k| (kl_of(k), 0.5 - k), 0.5, &c).is_none());
        // Never within the bound in 10 tries: rejected.
        assert!(line_search(|_| (1.0, 2.0), 0.5, &c).is_none());

        // On a real network: an accepted step honours both conditions, measured afresh.
        let (ac, mut p, mut region, c) = fixture("CartPole-v1", PolicyKind::Mlp, false);
        let old = p.clone();
        let (objective, _) = region.surrogate_gradient(&ac, &old);
        let step = region.actor_step(&ac, &mut p, &c);
        assert!(step.accepted, "{step:?}");
        let (kl, new_objective) = region.evaluate(&ac, &old, &p);
        assert!(kl < c.target_kl && kl > 0.0, "{kl}");
        assert!(new_objective > objective);
        // A bound nothing meets leaves the parameters as they were.
        let mut p2 = old.clone();
        let tight = Config {
            target_kl: 1e-30,
            line_search_max_iter: 3,
            ..c
        };
        let _ = region.actor_step(&ac, &mut p2, &tight);
        let (kl2, _) = region.evaluate(&ac, &old, &p2);
        assert!(kl2 < 1e-30 || p2 == old, "{kl2}");

        // gSDE: the KL and the step use each row's sigma; an accepted step keeps to the bound.
        let (ac, mut p, mut region, c) = fixture("Pendulum-v1", PolicyKind::Mlp, true);
        let old = p.clone();
        let step = region.actor_step(&ac, &mut p, &c);
        assert!(step.accepted, "{step:?}");
        let (kl, _) = region.evaluate(&ac, &old, &p);
        assert!(kl < c.target_kl && kl > 0.0, "{kl}");
    }
}
