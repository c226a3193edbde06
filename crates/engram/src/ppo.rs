//! PPO (Schulman et al. 2017, "Proximal Policy Optimization Algorithms"), on the on-policy
//! machinery A2C uses: the [`Collector`] steps `workers` environments in lockstep for `t_max`
//! steps (SB3's `n_steps`), storing the acting policy's log-probabilities and values; GAE
//! turns the rollout into advantages and returns; then `n_epochs` passes of minibatches
//! minimise the clipped surrogate (optionally plus the KL penalty of the paper's other
//! variant), the value loss (optionally clipped) and the entropy bonus, one Adam step per
//! minibatch after global-norm clipping.
//!
//! # Minibatches
//! * **Memoryless (`policy = "mlp"`)**: the rollout's `t_max * workers` steps are shuffled and
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
//!   (`workers / envs_per_minibatch`), and stale stored states after the first epoch are
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

use crate::a3c::{local_store, normalizer, write_latest, LocalStore, ParamStore};
use crate::checkpoint::Tensor;
use crate::config::{LrSchedule, PolicyKind, TrainConfig};
use crate::policy::{ActorCritic, PpoCoefs, PpoLearner, PpoStats};
use crate::rollout::{Collector, Rollout};
use crate::runtime::{lock, StopReason, UpdateStats};
use crate::train::{
    collector_slots, final_reason, learning_rate, make_env, update_is_finite, Evaluator, Setup,
    Snapshot, TrainError,
};
use engram_nn::optim::clip_grad_norm;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// The checkpoint tensor holding the adaptive KL coefficient.
const KL_COEF_TENSOR: &str = "ppo.kl_coef";

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

/// `(steps, batch)` of a minibatch for this config.
pub fn minibatch_shape(c: &TrainConfig) -> (usize, usize) {
    if c.policy == PolicyKind::Mlp {
        (1, c.batch_size)
    } else {
        (c.t_max, c.batch_size / c.t_max)
    }
}

/// The clip range at `progress` in [0, 1] of the budget.
pub fn clip_range(c: &TrainConfig, progress: f64) -> f64 {
    match c.clip_range_schedule {
        LrSchedule::Constant => c.clip_range,
        LrSchedule::Linear => c.clip_range * (1.0 - progress).max(0.0),
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
    pub fn new(policy: &ActorCritic, c: &TrainConfig) -> Updater {
        let (steps, batch) = minibatch_shape(c);
        let recurrent = c.policy != PolicyKind::Mlp;
        Updater {
            learner: PpoLearner::new(policy, steps, batch),
            batch: MiniBatch::new(policy, steps, batch),
            grads: policy.layout.zeros(),
            order: (0..if recurrent {
                c.workers
            } else {
                c.t_max * c.workers
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
        c: &TrainConfig,
        policy: &ActorCritic,
        store: &mut LocalStore,
        rollout: &Rollout,
        coefs: &PpoCoefs,
        lr: f32,
        rng: &mut ChaCha8Rng,
        monitor: &crate::runtime::Monitor,
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
                let grad_norm = clip_grad_norm(&mut self.grads, c.max_grad_norm as f32) as f64;
                if !update_is_finite(monitor, stats.loss(coefs), grad_norm, monitor.env_steps()) {
                    return None;
                }
                store.apply(&self.grads, lr);
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

/// Runs PPO: `workers` environments in lockstep, `n_epochs` of minibatch updates per rollout.
pub fn run(setup: Setup) -> Result<StopReason, TrainError> {
    let c = &setup.config;
    let policy = &setup.policy;
    let monitor = &setup.monitor;
    let mut store = local_store(&setup)?;
    let mut kl_coef = c.kl_coef;
    if let Some((ckpt, _, _)) = &setup.resume {
        if let Some(t) = ckpt.tensor(KL_COEF_TENSOR) {
            if c.kl_adaptive && !t.data.is_empty() {
                kl_coef = t.data[0] as f64;
            }
        }
    }
    let envs = (0..c.workers)
        .map(|_| make_env(c))
        .collect::<Result<Vec<_>, _>>()?;
    let n_envs = envs.len();
    let mut collector = Collector::new(policy, envs, c.seed, c.reward_scale as f32)?
        .with_normalizer(normalizer(c, policy, n_envs), policy.obs_dim());
    let slots = collector_slots(1, setup.resume.as_ref().map(|r| &r.1));
    let saved = lock(&slots)[0].clone();
    if let Some(saved) = saved {
        collector.restore(policy, &saved)?;
    }
    let evaluator = Evaluator::start(c, policy.clone(), monitor.clone(), &setup.run_dir, true)?;
    let mut rollout = Rollout::new(policy, c.t_max, c.workers);
    let mut updater = Updater::new(policy, c);
    let rollout_steps = (c.t_max * c.workers) as u64;
    let result: Result<(), TrainError> = (|| {
        while monitor.should_stop().is_none() {
            collector.collect(
                policy,
                &store.params,
                &mut rollout,
                monitor,
                c.gamma as f32,
                c.gae_lambda as f32,
            )?;
            let progress = monitor.progress_fraction();
            let lr = learning_rate(c, progress);
            let coefs = PpoCoefs {
                clip_range: clip_range(c, progress) as f32,
                clip_range_vf: c.clip_range_vf.map(|v| v as f32),
                vf_coef: c.vf_coef as f32,
                ent_coef: c.ent_coef as f32,
                kl_coef: kl_coef as f32,
                normalize_advantage: c.normalize_advantage,
            };
            let mut rng = shuffle_rng(c.seed, monitor.counters().updates);
            let Some(summary) = updater.update(
                c, policy, &mut store, &rollout, &coefs, lr as f32, &mut rng, monitor,
            ) else {
                break;
            };
            if c.kl_adaptive {
                kl_coef = adapt_kl_coef(kl_coef, summary.stats.approx_kl, c.kl_target);
            }
            let stats = UpdateStats {
                policy_loss: summary.stats.policy_loss,
                value_loss: summary.stats.value_loss,
                entropy: summary.stats.entropy,
                grad_norm: summary.grad_norm,
                approx_kl: summary.stats.approx_kl,
                clip_fraction: summary.stats.clip_fraction,
            };
            let duties = monitor.update_done(rollout_steps, stats);
            if duties.log {
                monitor.log_row(lr);
            }
            if duties.evaluate {
                evaluator.submit(Snapshot {
                    obs_stats: collector.obs_stats(),
                    env_steps: duties.env_steps,
                    params: store.snapshot(),
                });
            }
            if duties.checkpoint {
                write_latest(
                    &setup,
                    &store,
                    vec![Some(collector.save())],
                    kl_tensor(kl_coef),
                )?;
            }
        }
        Ok(())
    })();
    evaluator.finish()?;
    let reason = final_reason(monitor);
    result?;
    if reason != StopReason::Failed {
        write_latest(
            &setup,
            &store,
            vec![Some(collector.save())],
            kl_tensor(kl_coef),
        )?;
    }
    Ok(reason)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Algo;
    use crate::runtime::Monitor;
    use rand::Rng;

    struct Fixture {
        policy: ActorCritic,
        params: Vec<f32>,
        rollout: Rollout,
        config: TrainConfig,
        _dir: tempfile::TempDir,
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
        let mut c = TrainConfig::tuned(Algo::Ppo, env);
        c.separate_critic = false;
        c.use_sde = false;
        c.policy = policy;
        c.hidden_size = 8;
        c.encoder_layers = vec![8];
        for s in settings {
            c.set(s).unwrap();
        }
        c.workers = workers;
        c.t_max = t_max;
        c.batch_size = if policy == PolicyKind::Mlp {
            t_max
        } else {
            t_max * 2
        };
        c.validate().unwrap();
        let probe = make_env(&c).unwrap();
        let ac = ActorCritic::new(probe.observation_space(), probe.action_space(), &c).unwrap();
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let mut params = ac.layout.initialize(&mut rng);
        // Larger weights than the init, so episodes end within the rollout.
        for p in &mut params {
            *p += rng.gen_range(-0.3..0.3);
        }
        let dir = tempfile::tempdir().unwrap();
        let monitor = Monitor::new(c.clone(), None, dir.path(), None, 0.0, true).unwrap();
        let envs = (0..workers).map(|_| make_env(&c).unwrap()).collect();
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
        let (steps, batch) = minibatch_shape(&f.config);
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
                let (s, b) = minibatch_shape(&f.config);
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
            let (s, b) = minibatch_shape(&f.config);
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
            let (s, b) = minibatch_shape(&f.config);
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
                if f.config.use_sde {
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
        let mut c = TrainConfig::tuned(Algo::Ppo, "CartPole-v1");
        assert_eq!(clip_range(&c, 0.5), 0.1);
        c.clip_range_schedule = LrSchedule::Constant;
        assert_eq!(clip_range(&c, 0.5), 0.2);
    }

    #[test]
    fn bad_ppo_options_name_the_key_and_the_fix() {
        let check = |set: &str, key: &str, hint: &str| {
            let mut c = TrainConfig::tuned(Algo::Ppo, "CartPole-v1");
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
        check("batch_size=1000", "batch_size", "t_max * workers");
        check("kl_adaptive=true", "kl_coef", "kl_coef=1.0");
        check(
            "sde_sample_freq=0",
            "sde_sample_freq",
            "-1 for once per rollout",
        );
        check("log_std_init=nan", "log_std_init", "between -20 and 20");
        // gSDE on discrete actions: refused when the policy is built, naming the fix.
        let mut c = TrainConfig::tuned(Algo::Ppo, "CartPole-v1");
        c.set("use_sde=true").unwrap();
        c.validate().unwrap();
        let env = make_env(&c).unwrap();
        let err = match ActorCritic::new(env.observation_space(), env.action_space(), &c) {
            Ok(_) => panic!("gSDE accepted discrete actions"),
            Err(e) => e.to_string(),
        };
        assert!(
            err.contains("use_sde") && err.contains("Discrete(2)") && err.contains("use_sde=false"),
            "{err}"
        );
        let mut c = TrainConfig::tuned(Algo::Ppo, "CartPoleNoVel-v1");
        c.set("batch_size=96").unwrap();
        let err = c.validate().unwrap_err().to_string();
        assert!(
            err.contains("whole env sequences") && err.contains("t_max (128) times a divisor"),
            "{err}"
        );
        let err = crate::config::Algo::parse("ppo2").unwrap_err().to_string();
        assert!(err.contains("ppo, reinforce"), "{err}");
    }
}
