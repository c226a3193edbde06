//! PPO (Schulman et al. 2017, "Proximal Policy Optimization Algorithms"), on the on-policy
//! machinery A2C uses: the [`Collector`] steps `n_envs` environments in lockstep for `t_max`
//! steps (SB3's `n_steps`), storing the acting policy's log-probabilities and values; GAE
//! turns the rollout into advantages and returns; then `n_epochs` passes of minibatches
//! minimise the clipped surrogate (optionally plus the KL penalty of the paper's other
//! variant), the value loss (optionally clipped) and the entropy bonus, one Adam step per
//! minibatch after global-norm clipping.
//!
//! # Minibatches
//! * **Memoryless (`policy = "mlp"`)**: the rollout's `t_max * n_envs` steps are shuffled and
//!   cut into minibatches of `batch_size` single steps, as in SB3 and CleanRL.
//! * **Recurrent (`lstm`, `gru`)**: a minibatch is a set of **whole env sequences** (columns of
//!   the rollout): `batch_size / t_max` environments, each with its `t_max` steps, the
//!   recurrent state it had before the rollout's first step (stored at collection) and its
//!   episode-start flags. The forward pass starts every sequence from its stored state and
//!   zeroes a row's state where an episode starts, exactly as acting did, so with the
//!   rollout's parameters it reproduces the acting log-probabilities and values bit for bit
//!   when it acts on two or more envs (tested), and the first minibatch's ratios are exactly 1.
//!   With a single env, acting takes the matrix-vector kernels, which round differently: the
//!   first ratios are 1 to within float rounding. Gradients flow back through the
//!   whole sequence (truncated BPTT over `t_max` steps); they do not flow into the stored
//!   initial states, which are constants, as in both references below.
//!
//!   This is CleanRL's `ppo_atari_lstm` scheme (minibatches split by environment, whole
//!   `num_steps` sequences, `dones` masks resetting the state inside the sequence). sb3-contrib's
//!   `RecurrentPPO` instead cuts each env's rollout at episode boundaries into separate
//!   sequences, pads them to a common length and masks the padding in the losses, with the
//!   state at each sequence's start recomputed from the stored rollout states. Both compute
//!   the same gradients for the same sequences; ours needs no padding, no masks in the loss
//!   and no per-episode bookkeeping, which is much of the speed difference. The price: a
//!   minibatch's composition is fixed by envs, so with few envs the minibatches are few
//!   (`n_envs / envs_per_minibatch`), and stale stored states after the first epoch are
//!   used as they are (as in CleanRL; SB3 also keeps the stored states).
//!
//! # Continuous actions
//! A diagonal Gaussian with a state-independent `log_std`, or with `use_sde` gSDE (SB3's
//! `use_sde`, see [`engram_nn::dist::Gsde`]): the exploration matrix is redrawn at the start of
//! every rollout and every `sde_sample_freq` steps, from the collector's RNG, so it needs no
//! place in checkpoints. Actions are clipped to the box when stepping; the stored, unclipped
//! action is what the log-probabilities refer to (as in SB3).
//!
//! # Determinism and resume
//! The minibatch permutation of update `k` is drawn from an RNG seeded by `(seed, k)`, so a
//! resumed run shuffles exactly as an uninterrupted one. The adaptive KL coefficient, the only
//! other state carried between updates, is saved in the checkpoint (`ppo.kl_coef`).

use super::RunConfig;
use crate::agent::{ActorCritic, SequencePass};
use crate::config::{check, invalid, ConfigError, NetConfig, ScheduleKind};
use crate::error::TrainError;
use crate::onpolicy::collector::Collector;
use crate::onpolicy::collector::{checkpoint_parts, open_collector};
use crate::onpolicy::{MiniBatch, Normalizer, Rollout};
use crate::runtime::{
    CheckpointParts, LocalStore, Metric, ParamStore, Session, StopReason, Tensor,
};
use engram_nn::optim::clip_grad_norm;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

pub const NAME: &str = "ppo";
pub const DESCRIPTION: &str =
    "Proximal Policy Optimization: clipped surrogate, K epochs of minibatches (recurrent: whole env sequences)";
pub const ACTOR_CRITIC: bool = true;

/// The checkpoint tensor holding the adaptive KL coefficient.
const KL_COEF_TENSOR: &str = "ppo.kl_coef";

/// PPO's options, with SB3's names (`t_max` is SB3's `n_steps`) and defaults, except the
/// rollout: 8 envs x 128 steps in minibatches of 256 steps (2 env sequences, so recurrent
/// policies work too).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub n_envs: usize,
    pub t_max: usize,
    pub gamma: f64,
    pub gae_lambda: f64,
    pub n_epochs: usize,
    pub batch_size: usize,
    pub clip_range: f64,
    pub clip_range_schedule: ScheduleKind,
    pub clip_range_vf: Option<f64>,
    pub target_kl: Option<f64>,
    pub kl_coef: f64,
    pub kl_adaptive: bool,
    pub kl_target: f64,
    pub normalize_advantage: bool,
    pub vf_coef: f64,
    pub ent_coef: f64,
    pub reward_scale: f64,
    pub normalize_observations: bool,
    pub normalize_rewards: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            n_envs: 8,
            t_max: 128,
            gamma: 0.99,
            gae_lambda: 0.95,
            n_epochs: 10,
            batch_size: 256,
            clip_range: 0.2,
            clip_range_schedule: ScheduleKind::Constant,
            clip_range_vf: None,
            target_kl: None,
            kl_coef: 0.0,
            kl_adaptive: false,
            kl_target: 0.01,
            normalize_advantage: true,
            vf_coef: 0.5,
            ent_coef: 0.0,
            reward_scale: 1.0,
            normalize_observations: false,
            normalize_rewards: false,
        }
    }
}

impl Config {
    /// PPO's options, and how the minibatches fit the rollout.
    pub fn validate(&self, rc: &RunConfig) -> Result<(), ConfigError> {
        super::check_n_envs(self.n_envs)?;
        check::count("t_max", self.t_max, super::MAX_ROLLOUT, "steps per rollout")?;
        check::unit("gamma", self.gamma, false)?;
        check::unit("gae_lambda", self.gae_lambda, false)?;
        check::non_negative("vf_coef", self.vf_coef)?;
        check::non_negative("ent_coef", self.ent_coef)?;
        check::positive("reward_scale", self.reward_scale)?;
        check::count("n_epochs", self.n_epochs, 1000, "passes over one rollout")?;
        check::positive("clip_range", self.clip_range)?;
        for (key, v) in [
            ("clip_range_vf", self.clip_range_vf),
            ("target_kl", self.target_kl),
        ] {
            if let Some(v) = v {
                if !(v.is_finite() && v > 0.0) {
                    return Err(invalid(
                        key,
                        format!("must be a positive number (or left unset to disable), got {v}"),
                    ));
                }
            }
        }
        if !(self.kl_coef.is_finite() && self.kl_coef >= 0.0) {
            return Err(invalid(
                "kl_coef",
                format!("must be zero (off) or positive, got {}", self.kl_coef),
            ));
        }
        if self.kl_adaptive && !(self.kl_target.is_finite() && self.kl_target > 0.0) {
            return Err(invalid(
                "kl_target",
                format!(
                    "must be positive with kl_adaptive = true, got {}",
                    self.kl_target
                ),
            ));
        }
        if self.kl_adaptive && self.kl_coef == 0.0 {
            return Err(invalid(
                "kl_coef",
                "kl_adaptive needs a positive starting kl_coef, e.g. --set kl_coef=1.0",
            ));
        }
        let rollout = self
            .t_max
            .checked_mul(self.n_envs)
            .ok_or_else(|| invalid("t_max", "t_max * n_envs is too large"))?;
        if self.batch_size == 0 || self.batch_size > rollout {
            return Err(invalid(
                "batch_size",
                format!(
                    "must be between 1 and the rollout size t_max * n_envs = {} * {} = {rollout}, got {}",
                    self.t_max, self.n_envs, self.batch_size
                ),
            ));
        }
        if !rc.net.recurrent() {
            if !rollout.is_multiple_of(self.batch_size) {
                return Err(invalid(
                    "batch_size",
                    format!(
                        "must divide the rollout size t_max * n_envs = {rollout}, got {}",
                        self.batch_size
                    ),
                ));
            }
        } else if !self.batch_size.is_multiple_of(self.t_max)
            || !self.n_envs.is_multiple_of(self.batch_size / self.t_max)
        {
            return Err(invalid(
                "batch_size",
                format!(
                    "recurrent minibatches are whole env sequences: batch_size must be t_max ({}) times a \
                     divisor of n_envs ({}), e.g. {}; got {}",
                    self.t_max, self.n_envs, self.t_max * self.n_envs, self.batch_size
                ),
            ));
        }
        Ok(())
    }

    /// `(steps, batch)` of a minibatch.
    pub fn minibatch_shape(&self, net: &NetConfig) -> (usize, usize) {
        if net.recurrent() {
            (self.t_max, self.batch_size / self.t_max)
        } else {
            (1, self.batch_size)
        }
    }
}

/// PPO's loss settings for one minibatch.
#[derive(Clone, Copy, Debug)]
pub struct PpoCoefs {
    /// Surrogate clip range epsilon (after its schedule).
    pub clip_range: f32,
    /// Value clipping around the rollout's values, if any.
    pub clip_range_vf: Option<f32>,
    pub vf_coef: f32,
    pub ent_coef: f32,
    /// KL-penalty coefficient beta (0 = the clipped objective alone).
    pub kl_coef: f32,
    pub normalize_advantage: bool,
}

/// Losses and diagnostics of one PPO minibatch (means over its steps).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct PpoStats {
    /// `-mean(min(ratio * A, clip(ratio) * A))`.
    pub policy_loss: f64,
    /// `0.5 * mean((V - R)^2)` (with value clipping, the larger of the clipped and unclipped).
    pub value_loss: f64,
    pub entropy: f64,
    /// `mean((ratio - 1) - log ratio)`, the low-variance KL(old || new) estimator
    /// (Schulman's k3; also SB3's and CleanRL's).
    pub approx_kl: f64,
    /// Fraction of steps whose ratio is outside `[1 - clip_range, 1 + clip_range]`.
    pub clip_fraction: f64,
    pub ratio_mean: f64,
    /// `kl_coef * approx_kl`, the KL-penalty variant's term.
    pub kl_penalty: f64,
}

impl PpoStats {
    /// The minimised objective.
    pub fn loss(&self, coefs: &PpoCoefs) -> f64 {
        self.policy_loss + self.kl_penalty + coefs.vf_coef as f64 * self.value_loss
            - coefs.ent_coef as f64 * self.entropy
    }
}

/// PPO's forward and backward over one minibatch: `batch` env sequences of `steps` steps,
/// time-major (`steps = 1` for a shuffled batch of single steps of a memoryless policy).
pub struct PpoLearner {
    pass: SequencePass,
    advantages: Vec<f32>,
}

impl PpoLearner {
    pub fn new(policy: &ActorCritic, steps: usize, batch: usize) -> PpoLearner {
        PpoLearner {
            pass: SequencePass::new(policy, steps, batch),
            advantages: vec![0.0; steps * batch],
        }
    }

    /// Runs the minibatch forward from its stored initial states, resetting at episode
    /// starts: fills [`PpoLearner::action_log_probs`], [`PpoLearner::values`] and the entropies.
    pub fn forward(&mut self, policy: &ActorCritic, p: &[f32], mb: &MiniBatch) {
        self.pass.forward(
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

    /// `log pi(a | s)` of the last forward, `[steps * batch]`.
    pub fn action_log_probs(&self) -> &[f32] {
        &self.pass.logp
    }

    /// `V(s)` of the last forward, `[steps * batch]`.
    pub fn values(&self) -> &[f32] {
        self.pass.values()
    }

    /// Adds the gradient of the PPO loss over the minibatch to `g`:
    /// `-min(r A, clip(r, 1-eps, 1+eps) A) + kl_coef * KL + vf_coef * value_loss - ent_coef * H`
    /// (means over steps), with `r = exp(log pi - old log pi)`.
    pub fn compute_gradients(
        &mut self,
        policy: &ActorCritic,
        p: &[f32],
        g: &mut [f32],
        mb: &MiniBatch,
        coefs: &PpoCoefs,
    ) -> PpoStats {
        self.forward(policy, p, mb);
        let pass = &mut self.pass;
        let rows = mb.steps * mb.batch;
        let inv_n = 1.0 / rows as f32;
        self.advantages.copy_from_slice(&mb.advantages);
        if coefs.normalize_advantage {
            crate::onpolicy::advantage::normalize(&mut self.advantages);
        }
        let eps = coefs.clip_range;
        let mut stats = PpoStats::default();
        for i in 0..rows {
            let log_ratio = pass.logp[i] - mb.old_log_probs[i];
            let ratio = log_ratio.exp();
            let adv = self.advantages[i];
            let unclipped = adv * ratio;
            let clipped = adv * ratio.clamp(1.0 - eps, 1.0 + eps);
            // The gradient flows through the unclipped term whenever it is the minimum.
            let mut d = if unclipped <= clipped {
                -unclipped * inv_n
            } else {
                0.0
            };
            let kl = (ratio - 1.0) - log_ratio;
            if coefs.kl_coef > 0.0 {
                // d/d log pi of (r - 1) - log r = r - 1.
                d += coefs.kl_coef * (ratio - 1.0) * inv_n;
            }
            pass.d_logp[i] = d;
            pass.d_entropy[i] = -coefs.ent_coef * inv_n;
            stats.policy_loss -= unclipped.min(clipped) as f64;
            stats.approx_kl += kl as f64;
            stats.ratio_mean += ratio as f64;
            stats.entropy += pass.entropy[i] as f64;
            if (ratio - 1.0).abs() > eps {
                stats.clip_fraction += 1.0;
            }
        }
        let (values, d_values) = pass.values_and_grad();
        for (i, (&v, &ret)) in values.iter().zip(&mb.returns).enumerate() {
            let err = v - ret;
            let (loss, d) = match coefs.clip_range_vf {
                Some(c) => {
                    let old = mb.old_values[i];
                    let v_clipped = old + (v - old).clamp(-c, c);
                    let err_clipped = v_clipped - ret;
                    if err * err >= err_clipped * err_clipped {
                        (err * err, err)
                    } else {
                        // The clipped prediction is constant in V: no gradient.
                        (err_clipped * err_clipped, 0.0)
                    }
                }
                None => (err * err, err),
            };
            stats.value_loss += 0.5 * loss as f64;
            d_values[i] = coefs.vf_coef * d * inv_n;
        }
        let n = rows as f64;
        stats.policy_loss /= n;
        stats.value_loss /= n;
        stats.entropy /= n;
        stats.approx_kl /= n;
        stats.ratio_mean /= n;
        stats.clip_fraction /= n;
        stats.kl_penalty = coefs.kl_coef as f64 * stats.approx_kl;
        pass.backward(policy, p, g, &mb.obs, &mb.actions);
        stats
    }
}

/// The PPO paper's adaptive KL coefficient: halve when the KL stayed well below the target,
/// double when it overshot.
pub fn adapt_kl_coef(kl_coef: f64, kl: f64, kl_target: f64) -> f64 {
    if kl < kl_target / 1.5 {
        kl_coef / 2.0
    } else if kl > kl_target * 1.5 {
        kl_coef * 2.0
    } else {
        kl_coef
    }
}

/// What one PPO update (all epochs over one rollout) did.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct UpdateSummary {
    /// Means over the minibatches applied.
    pub stats: PpoStats,
    pub grad_norm: f64,
    pub minibatches: usize,
    /// Target-KL early stop happened.
    pub stopped_early: bool,
}

/// PPO's epochs over one collected rollout.
pub struct Updater {
    learner: PpoLearner,
    batch: MiniBatch,
    grads: Vec<f32>,
    order: Vec<usize>,
    recurrent: bool,
}

impl Updater {
    pub fn new(policy: &ActorCritic, c: &Config, net: &NetConfig) -> Updater {
        let (steps, batch) = c.minibatch_shape(net);
        let recurrent = net.recurrent();
        Updater {
            learner: PpoLearner::new(policy, steps, batch),
            batch: MiniBatch::new(policy, steps, batch),
            grads: policy.layout.zeros(),
            order: (0..if recurrent {
                c.n_envs
            } else {
                c.t_max * c.n_envs
            })
                .collect(),
            recurrent,
        }
    }

    /// `n_epochs` passes over `rollout` in minibatches shuffled by `rng`. Returns `None` when a
    /// non-finite loss stopped training (reported through the monitor).
    #[allow(clippy::too_many_arguments)]
    pub fn update(
        &mut self,
        c: &Config,
        max_grad_norm: f64,
        policy: &ActorCritic,
        store: &mut LocalStore,
        rollout: &Rollout,
        coefs: &PpoCoefs,
        lr: f32,
        rng: &mut ChaCha8Rng,
        session: &Session,
    ) -> Option<UpdateSummary> {
        let mut sum = UpdateSummary::default();
        let per = self.batch.batch;
        // Start from the identity each update: the shuffles depend on `rng` alone, so a
        // resumed run draws the same minibatches as an uninterrupted one.
        for (i, o) in self.order.iter_mut().enumerate() {
            *o = i;
        }
        'epochs: for _ in 0..c.n_epochs {
            self.order.shuffle(rng);
            for chunk in 0..self.order.len() / per {
                let ids = &self.order[chunk * per..(chunk + 1) * per];
                if self.recurrent {
                    self.batch.gather_envs(rollout, ids);
                } else {
                    self.batch.gather_steps(rollout, ids);
                }
                self.grads.fill(0.0);
                let stats = self.learner.compute_gradients(
                    policy,
                    &store.params,
                    &mut self.grads,
                    &self.batch,
                    coefs,
                );
                if let Some(target) = c.target_kl {
                    if stats.approx_kl > 1.5 * target {
                        sum.stopped_early = true;
                        break 'epochs;
                    }
                }
                let grad_norm = clip_grad_norm(&mut self.grads, max_grad_norm as f32) as f64;
                if !session.update_is_finite(stats.loss(coefs), grad_norm) {
                    return None;
                }
                store.apply(&self.grads, lr);
                if !session.params_are_finite(&store.params) {
                    return None;
                }
                accumulate(&mut sum.stats, &stats);
                sum.grad_norm += grad_norm;
                sum.minibatches += 1;
            }
        }
        if sum.minibatches > 0 {
            let k = sum.minibatches as f64;
            let s = &mut sum.stats;
            for v in [
                &mut s.policy_loss,
                &mut s.value_loss,
                &mut s.entropy,
                &mut s.approx_kl,
                &mut s.clip_fraction,
                &mut s.ratio_mean,
                &mut s.kl_penalty,
            ] {
                *v /= k;
            }
            sum.grad_norm /= k;
        }
        Some(sum)
    }
}

fn accumulate(sum: &mut PpoStats, s: &PpoStats) {
    sum.policy_loss += s.policy_loss;
    sum.value_loss += s.value_loss;
    sum.entropy += s.entropy;
    sum.approx_kl += s.approx_kl;
    sum.clip_fraction += s.clip_fraction;
    sum.ratio_mean += s.ratio_mean;
    sum.kl_penalty += s.kl_penalty;
}

/// The minibatch RNG of update number `update`: independent of how the run was split.
fn shuffle_rng(seed: u64, update: u64) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x5050_4F00_0000_0000);
    rng.set_stream(update);
    rng
}

/// The adaptive KL coefficient travels in the checkpoint as a one-element tensor.
fn kl_tensor(kl_coef: f64) -> Vec<Tensor> {
    vec![Tensor {
        name: KL_COEF_TENSOR.into(),
        shape: vec![1],
        data: vec![kl_coef as f32],
    }]
}

impl super::Algorithm for Config {
    fn normalize_observations(&self) -> bool {
        self.normalize_observations
    }
}

/// The learner's half of a PPO iteration: `n_epochs` of minibatch updates on a collected
/// rollout, the adaptive KL coefficient carried between them, and the accounting. A local run
/// calls it after each collection; `engram.distributed` after assembling the rollouts its
/// remote collectors sent (same arithmetic).
pub struct PpoUpdate {
    updater: Updater,
    kl_coef: f64,
}

impl PpoUpdate {
    /// Restores the adaptive KL coefficient of a resumed run.
    pub fn new(session: &Session, rc: &RunConfig, c: &Config, policy: &ActorCritic) -> Self {
        let mut kl_coef = c.kl_coef;
        if let Some(r) = &session.resume {
            if let Some(t) = r.checkpoint.tensor(KL_COEF_TENSOR) {
                if c.kl_adaptive && !t.data.is_empty() {
                    kl_coef = t.data[0] as f64;
                }
            }
        }
        PpoUpdate {
            updater: Updater::new(policy, c, &rc.net),
            kl_coef,
        }
    }

    /// What PPO adds to a checkpoint: the adaptive KL coefficient.
    pub fn extra(&self) -> Vec<Tensor> {
        kl_tensor(self.kl_coef)
    }

    /// Learns from `rollout` (advantages computed) and accounts the update (log, evaluation,
    /// checkpoint as they fall due; `checkpoint` gives the contents, with
    /// [`PpoUpdate::extra`]'s tensors). False when a non-finite loss stopped training.
    #[allow(clippy::too_many_arguments)]
    pub fn learn(
        &mut self,
        session: &Session,
        rc: &RunConfig,
        c: &Config,
        policy: &ActorCritic,
        store: &mut LocalStore,
        rollout: &Rollout,
        checkpoint: &dyn Fn(&LocalStore, Vec<Tensor>) -> CheckpointParts,
    ) -> Result<bool, TrainError> {
        let monitor = &session.monitor;
        let progress = monitor.progress_fraction();
        let lr = rc.optim.lr().value(progress);
        let coefs = PpoCoefs {
            clip_range: c.clip_range_schedule.of(c.clip_range).value(progress) as f32,
            clip_range_vf: c.clip_range_vf.map(|v| v as f32),
            vf_coef: c.vf_coef as f32,
            ent_coef: c.ent_coef as f32,
            kl_coef: self.kl_coef as f32,
            normalize_advantage: c.normalize_advantage,
        };
        let mut rng = shuffle_rng(rc.common.seed, monitor.counters().updates);
        let Some(summary) = self.updater.update(
            c,
            rc.optim.max_grad_norm,
            policy,
            store,
            rollout,
            &coefs,
            lr as f32,
            &mut rng,
            session,
        ) else {
            return Ok(false);
        };
        if c.kl_adaptive {
            self.kl_coef = adapt_kl_coef(self.kl_coef, summary.stats.approx_kl, c.kl_target);
        }
        let s = &summary.stats;
        let metrics = [
            Metric::mean("policy_loss", s.policy_loss),
            Metric::mean("value_loss", s.value_loss),
            Metric::mean("entropy", s.entropy),
            Metric::mean("grad_norm", summary.grad_norm),
            Metric::mean("approx_kl", s.approx_kl),
            Metric::mean("clip_fraction", s.clip_fraction),
            Metric::last("learning_rate", lr),
        ];
        let extra = self.extra();
        session.after_update(
            (rollout.t_max * rollout.n_envs) as u64,
            &metrics,
            &mut || checkpoint(store, extra.clone()),
        )?;
        Ok(true)
    }
}

/// Runs PPO: `n_envs` environments in lockstep, `n_epochs` of minibatch updates per rollout.
pub fn run(mut session: Session, rc: &RunConfig, c: &Config) -> Result<StopReason, TrainError> {
    let policy = super::actor_critic(rc, &*rc.common.make_env()?)?;
    let mut store = session.local_store(&policy.layout, &rc.optim)?;
    let mut update = PpoUpdate::new(&session, rc, c, &policy);
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
    let parts = |store: &LocalStore, collector: &Collector, extra: Vec<Tensor>| CheckpointParts {
        extra,
        ..checkpoint_parts(store, collector)
    };
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
            let checkpoint = |store: &LocalStore, extra| parts(store, &collector, extra);
            if !update.learn(&session, rc, c, &policy, &mut store, &rollout, &checkpoint)? {
                break;
            }
        }
        Ok(())
    })();
    session.finish(result, || parts(&store, &collector, update.extra()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::PolicyKind;
    use crate::runtime::Monitor;
    use rand::Rng;

    struct Fixture {
        policy: ActorCritic,
        params: Vec<f32>,
        rollout: Rollout,
        config: RunConfig,
        _dir: tempfile::TempDir,
    }

    impl Fixture {
        fn ppo(&self) -> &Config {
            self.config.algo::<Config>().unwrap()
        }

        fn minibatch_shape(&self) -> (usize, usize) {
            self.ppo().minibatch_shape(&self.config.net)
        }
    }

    /// A config, its policy with seeded parameters, and the second rollout collected with
    /// them (so the recurrent initial states are not zero).
    fn fixture(env: &str, policy: PolicyKind, workers: usize, t_max: usize) -> Fixture {
        fixture_with(env, policy, workers, t_max, &[])
    }

    /// [`fixture`] with `key=value` settings (as `--set`) applied after the tuned entry.
    fn fixture_with(
        env: &str,
        policy: PolicyKind,
        workers: usize,
        t_max: usize,
        settings: &[&str],
    ) -> Fixture {
        let mut c = RunConfig::tuned("ppo", env).unwrap();
        c.ac.separate_critic = false;
        c.ac.use_sde = false;
        c.net.policy = policy;
        c.net.hidden_size = 8;
        c.net.encoder_layers = vec![8];
        for s in settings {
            c.set(s).unwrap();
        }
        let ppo = c.algo_mut::<Config>().unwrap();
        ppo.n_envs = workers;
        ppo.t_max = t_max;
        ppo.batch_size = if policy == PolicyKind::Mlp {
            t_max
        } else {
            t_max * 2
        };
        c.validate().unwrap();
        let probe = c.common.make_env().unwrap();
        let ac = ActorCritic::new(
            probe.observation_space(),
            probe.action_space(),
            &c.net,
            &c.ac,
        )
        .unwrap();
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let mut params = ac.layout.initialize(&mut rng);
        // Larger weights than the init, so episodes end within the rollout.
        for p in &mut params {
            *p += rng.gen_range(-0.3..0.3);
        }
        let dir = tempfile::tempdir().unwrap();
        let monitor = Monitor::new(c.common.clone(), None, dir.path(), None, 0.0, true).unwrap();
        let envs = (0..workers).map(|_| c.common.make_env().unwrap()).collect();
        let mut collector = Collector::new(&ac, envs, 5, 1.0).unwrap();
        let mut rollout = Rollout::new(&ac, t_max, workers);
        for _ in 0..2 {
            collector
                .collect(&ac, &params, &mut rollout, &monitor, 0.99, 0.95)
                .unwrap();
        }
        Fixture {
            policy: ac,
            params,
            rollout,
            config: c,
            _dir: dir,
        }
    }

    fn coefs() -> PpoCoefs {
        PpoCoefs {
            clip_range: 0.2,
            clip_range_vf: Some(0.2),
            vf_coef: 0.5,
            ent_coef: 0.01,
            kl_coef: 0.0,
            normalize_advantage: true,
        }
    }

    /// Every minibatch (env columns or shuffled steps) of the rollout, gathered.
    fn minibatches(f: &Fixture, order: &[usize]) -> Vec<MiniBatch> {
        let (steps, batch) = f.minibatch_shape();
        order
            .chunks_exact(batch)
            .map(|ids| {
                let mut mb = MiniBatch::new(&f.policy, steps, batch);
                if steps == 1 {
                    mb.gather_steps(&f.rollout, ids);
                } else {
                    mb.gather_envs(&f.rollout, ids);
                }
                mb
            })
            .collect()
    }

    #[test]
    fn training_forward_reproduces_acting_outputs_exactly() {
        let separate: &[&str] = &["separate_critic=true"];
        let gsde: &[&str] = &["use_sde=true", "sde_sample_freq=5", "log_std_init=-1.0"];
        let gsde_separate: &[&str] = &["use_sde=true", "separate_critic=true"];
        let wide: &[&str] = &["encoder_layers=[64, 64]", "hidden_size=64"];
        for (env, policy, settings) in [
            ("CartPole-v1", PolicyKind::Lstm, &[][..]),
            ("CartPole-v1", PolicyKind::Gru, &[]),
            ("CartPole-v1", PolicyKind::Mlp, &[]),
            ("Pendulum-v1", PolicyKind::Lstm, &[]),
            ("CartPole-v1", PolicyKind::Lstm, separate),
            ("CartPole-v1", PolicyKind::Mlp, separate),
            ("Pendulum-v1", PolicyKind::Mlp, gsde),
            ("Pendulum-v1", PolicyKind::Lstm, gsde_separate),
            // Layers wider than 16 outputs take the packing GEMM; narrow ones gemm_nt.
            ("CartPole-v1", PolicyKind::Mlp, wide),
            ("CartPole-v1", PolicyKind::Lstm, wide),
        ] {
            let t_max = if env == "Pendulum-v1" { 112 } else { 24 };
            let f = fixture_with(env, policy, 4, t_max, settings);
            assert!(
                f.rollout.starts.iter().skip(4).any(|&s| s),
                "{env}: the rollout should contain episode starts after its first step"
            );
            assert!(
                f.rollout.initial_state.iter().any(|&s| s != 0.0) || policy == PolicyKind::Mlp,
                "second rollout starts from carried state"
            );
            let order: Vec<usize> = if policy == PolicyKind::Mlp {
                (0..f.rollout.t_max * 4).rev().collect()
            } else {
                vec![3, 1, 0, 2]
            };
            let mut learner = {
                let (s, b) = f.minibatch_shape();
                PpoLearner::new(&f.policy, s, b)
            };
            for mb in minibatches(&f, &order) {
                learner.forward(&f.policy, &f.params, &mb);
                assert_eq!(
                    learner.action_log_probs(),
                    &mb.old_log_probs[..],
                    "{env}/{policy:?}: log-probabilities differ from acting"
                );
                assert_eq!(
                    learner.values(),
                    &mb.old_values[..],
                    "{env}/{policy:?}: values differ from acting"
                );
            }
        }
    }

    #[test]
    fn first_minibatch_has_ratio_one_and_no_clipping() {
        for policy in [PolicyKind::Lstm, PolicyKind::Mlp] {
            let f = fixture("CartPole-v1", policy, 4, 16);
            let order: Vec<usize> = if policy == PolicyKind::Mlp {
                (0..64).collect()
            } else {
                vec![2, 0, 1, 3]
            };
            let (s, b) = f.minibatch_shape();
            let mut learner = PpoLearner::new(&f.policy, s, b);
            let mut g = f.policy.layout.zeros();
            let mb = &minibatches(&f, &order)[0];
            let stats = learner.compute_gradients(&f.policy, &f.params, &mut g, mb, &coefs());
            assert_eq!(stats.ratio_mean, 1.0, "{policy:?}");
            assert_eq!(stats.clip_fraction, 0.0, "{policy:?}");
            assert_eq!(stats.approx_kl, 0.0, "{policy:?}");
            assert!(g.iter().any(|&v| v != 0.0));
        }
    }

    /// Loss of a minibatch at parameters `p` (the gradient buffer is thrown away).
    fn loss_at(
        f: &Fixture,
        learner: &mut PpoLearner,
        mb: &MiniBatch,
        p: &[f32],
        c: &PpoCoefs,
    ) -> f64 {
        let mut g = f.policy.layout.zeros();
        learner
            .compute_gradients(&f.policy, p, &mut g, mb, c)
            .loss(c)
    }

    #[test]
    fn ppo_gradient_matches_finite_differences_away_from_the_old_policy() {
        for (env, policy, settings) in [
            ("CartPole-v1", PolicyKind::Lstm, &[][..]),
            ("Pendulum-v1", PolicyKind::Gru, &[]),
            ("CartPole-v1", PolicyKind::Lstm, &["separate_critic=true"]),
            (
                "Pendulum-v1",
                PolicyKind::Mlp,
                &["use_sde=true", "log_std_init=-0.5"],
            ),
            (
                "Pendulum-v1",
                PolicyKind::Gru,
                &["use_sde=true", "separate_critic=true"],
            ),
        ] {
            let f = fixture_with(env, policy, 4, 16, settings);
            let (s, b) = f.minibatch_shape();
            let mut learner = PpoLearner::new(&f.policy, s, b);
            let order: Vec<usize> = if policy == PolicyKind::Mlp {
                (0..64).rev().collect()
            } else {
                vec![1, 2, 0, 3]
            };
            let mb = &minibatches(&f, &order)[0];
            let mut c = coefs();
            c.kl_coef = 0.5;
            c.clip_range = 0.05;
            c.clip_range_vf = Some(0.05);
            // Move away from the collecting parameters so ratios leave the clip range.
            let mut rng = ChaCha8Rng::seed_from_u64(11);
            let p: Vec<f32> = f
                .params
                .iter()
                .map(|v| v + rng.gen_range(-0.2..0.2))
                .collect();
            let mut g = f.policy.layout.zeros();
            let stats = learner.compute_gradients(&f.policy, &p, &mut g, mb, &c);
            assert!(
                stats.clip_fraction > 0.0,
                "{env}: some ratios should be clipped"
            );
            // Directional derivatives along a few random directions, in f64 differences.
            for _ in 0..3 {
                let mut d: Vec<f32> = (0..p.len()).map(|_| rng.gen_range(-1.0..1.0)).collect();
                if f.config.ac.use_sde {
                    // gSDE treats the actor's features as constants (SB3's learn_features =
                    // False): probe only directions that leave them unchanged.
                    for spec in f.policy.layout.specs() {
                        let n = &spec.name;
                        let actor = n.starts_with("actor.") || n.starts_with("net.");
                        if actor && (n.contains(".encoder.") || n.contains(".core.")) {
                            d[spec.slot.range()].fill(0.0);
                        }
                    }
                }
                let h = 1e-3f32;
                let plus: Vec<f32> = p.iter().zip(&d).map(|(a, b)| a + h * b).collect();
                let minus: Vec<f32> = p.iter().zip(&d).map(|(a, b)| a - h * b).collect();
                let numeric = (loss_at(&f, &mut learner, mb, &plus, &c)
                    - loss_at(&f, &mut learner, mb, &minus, &c))
                    / (2.0 * h as f64);
                let analytic: f64 = g.iter().zip(&d).map(|(a, b)| *a as f64 * *b as f64).sum();
                let tol = 0.03 * analytic.abs().max(numeric.abs()) + 1e-3;
                assert!(
                    (numeric - analytic).abs() < tol,
                    "{env}/{policy:?}: directional derivative {analytic} vs finite difference {numeric}"
                );
            }
        }
    }

    #[test]
    fn adaptive_kl_coefficient_follows_the_paper() {
        assert_eq!(adapt_kl_coef(1.0, 0.001, 0.01), 0.5);
        assert_eq!(adapt_kl_coef(1.0, 0.02, 0.01), 2.0);
        assert_eq!(adapt_kl_coef(1.0, 0.01, 0.01), 1.0);
    }

    #[test]
    fn linear_clip_schedule_decays_to_zero() {
        let c = RunConfig::tuned("ppo", "CartPole-v1").unwrap();
        let ppo = c.algo::<Config>().unwrap();
        assert_eq!(ppo.clip_range_schedule.of(ppo.clip_range).value(0.5), 0.1);
        assert_eq!(ScheduleKind::Constant.of(ppo.clip_range).value(0.5), 0.2);
    }

    #[test]
    fn bad_ppo_options_name_the_key_and_the_fix() {
        let check = |set: &str, key: &str, hint: &str| {
            let mut c = RunConfig::tuned("ppo", "CartPole-v1").unwrap();
            c.set(set).unwrap();
            let err = c.validate().unwrap_err().to_string();
            assert!(
                err.contains(&format!("`{key}`")) && err.contains(hint),
                "{set}: {err}"
            );
        };
        check("n_epochs=0", "n_epochs", "at least 1");
        check("clip_range=-0.1", "clip_range", "positive");
        check("target_kl=0", "target_kl", "unset to disable");
        check("clip_range_vf=-1", "clip_range_vf", "positive");
        check("batch_size=100", "batch_size", "must divide");
        check("batch_size=1000", "batch_size", "t_max * n_envs");
        check("kl_adaptive=true", "kl_coef", "kl_coef=1.0");
        check(
            "sde_sample_freq=0",
            "sde_sample_freq",
            "-1 for once per rollout",
        );
        check("log_std_init=nan", "log_std_init", "between -20 and 20");
        // gSDE on discrete actions: refused when the policy is built, naming the fix.
        let mut c = RunConfig::tuned("ppo", "CartPole-v1").unwrap();
        c.set("use_sde=true").unwrap();
        c.validate().unwrap();
        let env = c.common.make_env().unwrap();
        let err = match ActorCritic::new(env.observation_space(), env.action_space(), &c.net, &c.ac)
        {
            Ok(_) => panic!("gSDE accepted discrete actions"),
            Err(e) => e.to_string(),
        };
        assert!(
            err.contains("use_sde") && err.contains("Discrete(2)") && err.contains("use_sde=false"),
            "{err}"
        );
        let mut c = RunConfig::tuned("ppo", "CartPoleNoVel-v1").unwrap();
        c.set("batch_size=96").unwrap();
        let err = c.validate().unwrap_err().to_string();
        assert!(
            err.contains("whole env sequences") && err.contains("t_max (128) times a divisor"),
            "{err}"
        );
        let err = super::super::spec("ppo2").unwrap_err().to_string();
        assert!(
            err.contains("unknown algorithm `ppo2`") && err.contains(" ppo, "),
            "{err}"
        );
    }
}
