//! A3C and A2C (Mnih et al. 2016, "Asynchronous Methods for Deep Reinforcement Learning").
//!
//! Both run the same loop ([`learn`]): sync parameters, collect `t_max` steps, compute the
//! n-step/GAE advantages, backpropagate `policy loss + vf_coef * value loss - ent_coef * entropy`
//! through time, clip the global gradient norm, apply. They differ only in where the parameters
//! live ([`ParamStore`]):
//! * **A3C**: `workers` threads, each with its own environment, RNG stream (seed + worker index)
//!   and local copy of the parameters; gradients go lock-free into one global parameter vector
//!   with RMSProp/Adam statistics shared by all workers (the paper's "shared RMSProp") or kept
//!   per worker (`shared_optimizer_stats = false`).
//! * **A2C**: one thread steps `workers` environments in lockstep and makes one batched update.

use crate::checkpoint::Tensor;
use crate::config::TrainConfig;
use crate::policy::ActorCritic;
use crate::policy::{Learner, LossCoefs};
use crate::rollout::{Collector, CollectorState, Normalizer, Rollout};
use crate::run;
use crate::runtime::{lock, StopReason};
use crate::train::{
    buffer_names, collector_slots, final_reason, learning_rate, load_optimizer, load_params,
    make_env, optimizer_config, optimizer_tensors, save_checkpoint, slots_snapshot,
    update_is_finite, CollectorSlots, Evaluator, RunState, Setup, Snapshot, TrainError,
};
use engram_nn::optim::{clip_grad_norm, Optimizer, OptimizerState};
use engram_nn::shared::{SharedOptimizer, SharedParams};
use engram_nn::ParamLayout;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::sync::Arc;

/// Where the parameters an update is applied to live.
pub trait ParamStore {
    /// Copies the current parameters into a worker's local buffer.
    fn read(&self, local: &mut [f32]);
    fn apply(&mut self, grads: &[f32], lr: f32);
    fn snapshot(&self) -> Vec<f32>;
    /// Optimizer states to checkpoint, with their tensor prefixes.
    fn optimizer_states(&self) -> Vec<(String, OptimizerState)>;
}

/// A3C: the global Hogwild parameters and this worker's (possibly shared) optimizer.
pub struct HogwildStore {
    pub params: Arc<SharedParams>,
    pub optimizer: Arc<dyn SharedOptimizer>,
    /// All optimizers of the run (one if shared), for checkpoints.
    pub all_optimizers: Arc<Vec<Arc<dyn SharedOptimizer>>>,
}

impl ParamStore for HogwildStore {
    fn read(&self, local: &mut [f32]) {
        self.params.read_into(local);
    }
    fn apply(&mut self, grads: &[f32], lr: f32) {
        self.optimizer.apply(&self.params, grads, lr);
    }
    fn snapshot(&self) -> Vec<f32> {
        self.params.snapshot()
    }
    fn optimizer_states(&self) -> Vec<(String, OptimizerState)> {
        optimizer_prefixes(self.all_optimizers.len())
            .into_iter()
            .zip(self.all_optimizers.iter().map(|o| o.state()))
            .collect()
    }
}

/// A2C: plain local parameters and optimizer.
pub struct LocalStore {
    pub params: Vec<f32>,
    pub optimizer: Box<dyn Optimizer>,
}

impl ParamStore for LocalStore {
    fn read(&self, local: &mut [f32]) {
        local.copy_from_slice(&self.params);
    }
    fn apply(&mut self, grads: &[f32], lr: f32) {
        self.optimizer.step(&mut self.params, grads, lr);
    }
    fn snapshot(&self) -> Vec<f32> {
        self.params.clone()
    }
    fn optimizer_states(&self) -> Vec<(String, OptimizerState)> {
        vec![("optim".into(), self.optimizer.state())]
    }
}

fn optimizer_prefixes(n: usize) -> Vec<String> {
    if n == 1 {
        vec!["optim".into()]
    } else {
        (0..n).map(|w| format!("optim.w{w}")).collect()
    }
}

/// What one learner loop needs besides its store and collector.
pub struct LoopContext<'a> {
    pub config: &'a TrainConfig,
    pub setup: &'a Setup,
    pub evaluator: &'a Evaluator,
    pub slots: &'a CollectorSlots,
    /// This loop's index in `slots`.
    pub index: usize,
}

/// The actor-critic learner loop, until the monitor says stop. Returns the collector's final
/// state (for the final checkpoint).
pub fn learn(
    ctx: &LoopContext,
    store: &mut dyn ParamStore,
    collector: &mut Collector,
) -> Result<CollectorState, TrainError> {
    let c = ctx.config;
    let policy = &ctx.setup.policy;
    let monitor = &ctx.setup.monitor;
    let n_envs = collector.n_envs();
    let mut rollout = Rollout::new(policy, c.t_max, n_envs);
    let mut learner = Learner::new(policy, c.t_max, n_envs);
    let mut local = policy.layout.zeros();
    let mut grads = policy.layout.zeros();
    let coefs = LossCoefs {
        vf_coef: c.vf_coef as f32,
        ent_coef: c.ent_coef as f32,
        normalize_advantage: false,
    };
    while monitor.should_stop().is_none() {
        store.read(&mut local);
        collector.collect(
            policy,
            &local,
            &mut rollout,
            monitor,
            c.gamma as f32,
            c.gae_lambda as f32,
        )?;
        grads.fill(0.0);
        let mut stats = learner.compute_gradients(policy, &local, &mut grads, &rollout, &coefs);
        stats.grad_norm = clip_grad_norm(&mut grads, c.max_grad_norm as f32) as f64;
        let loss = stats.policy_loss + c.vf_coef * stats.value_loss - c.ent_coef * stats.entropy;
        if !update_is_finite(monitor, loss, stats.grad_norm, monitor.env_steps()) {
            break;
        }
        let lr = learning_rate(c, monitor.progress_fraction());
        store.apply(&grads, lr as f32);
        let duties = monitor.update_done((c.t_max * n_envs) as u64, stats);
        if duties.log {
            monitor.log_row(lr);
        }
        if duties.evaluate {
            ctx.evaluator.submit(Snapshot {
                obs_stats: collector.obs_stats(),
                env_steps: duties.env_steps,
                params: store.snapshot(),
            });
        }
        if duties.checkpoint {
            lock(ctx.slots)[ctx.index] = Some(collector.save());
            write_latest(ctx.setup, store, slots_snapshot(ctx.slots), Vec::new())?;
        }
    }
    Ok(collector.save())
}

/// Saves `checkpoints/latest.safetensors`: parameters, optimizer statistics, the run state,
/// and any algorithm-specific `extra` tensors (PPO's adaptive KL coefficient).
pub fn write_latest(
    setup: &Setup,
    store: &dyn ParamStore,
    collectors: Vec<Option<CollectorState>>,
    mut extra: Vec<Tensor>,
) -> Result<(), TrainError> {
    let layout = &setup.policy.layout;
    let mut optimizers = Vec::new();
    for (prefix, state) in store.optimizer_states() {
        extra.extend(optimizer_tensors(&prefix, layout, &state));
        optimizers.push((prefix, state.kind.clone(), state.step));
    }
    // Evaluation uses the first worker's statistics (A3C workers keep one set each).
    let obs_stats = collectors
        .iter()
        .flatten()
        .find_map(|c| c.normalizer.as_ref().and_then(|n| n.obs.clone()));
    let state = RunState {
        algo: setup.config.algo,
        env: setup.config.env.clone(),
        config: setup.config.clone(),
        monitor: setup.monitor.state(),
        optimizers,
        collectors,
        obs_stats,
    };
    save_checkpoint(
        &setup.run_dir.join(run::LATEST),
        layout,
        &store.snapshot(),
        extra,
        &state,
    )
}

/// Initial parameters: from the checkpoint when resuming, else drawn from the seed.
pub(crate) fn initial_params(setup: &Setup) -> Result<Vec<f32>, TrainError> {
    match &setup.resume {
        Some((ckpt, _, path)) => Ok(load_params(ckpt, &setup.policy.layout, path)?),
        None => {
            let mut rng = ChaCha8Rng::seed_from_u64(setup.config.seed ^ 0xA3C0_FFEE);
            Ok(setup.policy.layout.initialize(&mut rng))
        }
    }
}

/// Restores optimizer `prefix` from the checkpoint, if resuming.
pub(crate) fn restored_optimizer_state(
    setup: &Setup,
    prefix: &str,
    fresh: &OptimizerState,
    layout: &ParamLayout,
) -> Result<Option<OptimizerState>, TrainError> {
    let Some((ckpt, state, path)) = &setup.resume else {
        return Ok(None);
    };
    let Some((_, kind, step)) = state.optimizers.iter().find(|(p, _, _)| p == prefix) else {
        return Err(TrainError::Usage(format!(
            "checkpoint {} has no optimizer state `{prefix}`: it was written with another optimizer setting \
             (optimizer / shared_optimizer_stats / workers)",
            path.display()
        )));
    };
    Ok(Some(load_optimizer(
        ckpt,
        layout,
        prefix,
        kind,
        *step,
        &buffer_names(fresh),
        path,
    )?))
}

/// Runs A3C: `workers` Hogwild threads.
pub fn run(setup: Setup) -> Result<StopReason, TrainError> {
    let c = &setup.config;
    let layout = &setup.policy.layout;
    let params = Arc::new(SharedParams::new(&initial_params(&setup)?));
    let opt_config = optimizer_config(c);
    let n_optimizers = if c.shared_optimizer_stats {
        1
    } else {
        c.workers
    };
    let mut optimizers: Vec<Arc<dyn SharedOptimizer>> = Vec::new();
    for prefix in optimizer_prefixes(n_optimizers) {
        let opt: Arc<dyn SharedOptimizer> = Arc::from(opt_config.build_shared(layout.len()));
        if let Some(state) = restored_optimizer_state(&setup, &prefix, &opt.state(), layout)? {
            opt.load_state(&state)
                .map_err(|e| TrainError::Usage(format!("optimizer state `{prefix}`: {e}")))?;
        }
        optimizers.push(opt);
    }
    let optimizers = Arc::new(optimizers);
    let slots = collector_slots(c.workers, setup.resume.as_ref().map(|r| &r.1));
    let evaluator = Evaluator::start(
        c,
        setup.policy.clone(),
        setup.monitor.clone(),
        &setup.run_dir,
        c.workers == 1,
    )?;
    let results: Vec<Result<CollectorState, TrainError>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..c.workers)
            .map(|w| {
                let mut store = HogwildStore {
                    params: params.clone(),
                    optimizer: optimizers[w.min(optimizers.len() - 1)].clone(),
                    all_optimizers: optimizers.clone(),
                };
                let ctx = LoopContext {
                    config: c,
                    setup: &setup,
                    evaluator: &evaluator,
                    slots: &slots,
                    index: w,
                };
                std::thread::Builder::new()
                    .name(format!("engram-a3c-{w}"))
                    .spawn_scoped(scope, move || {
                        let result = worker(&ctx, &mut store, w);
                        if let Err(e) = &result {
                            // One worker failing ends the run for all.
                            ctx.setup.monitor.fail(e.to_string());
                        }
                        result
                    })
                    .map_err(|source| TrainError::Io {
                        path: setup.run_dir.clone(),
                        source,
                    })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| match h {
                Ok(handle) => handle
                    .join()
                    .unwrap_or_else(|_| Err(TrainError::Policy("an A3C worker panicked".into()))),
                Err(e) => Err(e),
            })
            .collect()
    });
    evaluator.finish()?;
    let reason = final_reason(&setup.monitor);
    let mut finals = Vec::with_capacity(results.len());
    for r in results {
        match r {
            Ok(state) => finals.push(Some(state)),
            // The failure itself is reported through the monitor.
            Err(_) if reason == StopReason::Failed => finals.push(None),
            Err(e) => return Err(e),
        }
    }
    if reason != StopReason::Failed {
        let store = HogwildStore {
            params: params.clone(),
            optimizer: optimizers[0].clone(),
            all_optimizers: optimizers.clone(),
        };
        write_latest(&setup, &store, finals, Vec::new())?;
    }
    Ok(reason)
}

fn worker(
    ctx: &LoopContext,
    store: &mut HogwildStore,
    w: usize,
) -> Result<CollectorState, TrainError> {
    let c = ctx.config;
    let env = make_env(c)?;
    let mut collector = Collector::new(
        &ctx.setup.policy,
        vec![env],
        c.seed.wrapping_add(w as u64),
        c.reward_scale as f32,
    )?
    .with_normalizer(
        normalizer(c, &ctx.setup.policy, 1),
        ctx.setup.policy.obs_dim(),
    );
    let saved = lock(ctx.slots)[w].clone();
    if let Some(saved) = saved {
        collector.restore(&ctx.setup.policy, &saved)?;
    }
    learn(ctx, store, &mut collector)
}

/// The normaliser the config asks for, for a collector of `n_envs` environments.
pub(crate) fn normalizer(
    c: &TrainConfig,
    policy: &ActorCritic,
    n_envs: usize,
) -> Option<Normalizer> {
    Normalizer::new(
        policy.obs_dim(),
        n_envs,
        c.normalize_observations,
        c.normalize_rewards,
        c.gamma,
    )
}

/// Parameters and one optimizer on this thread (A2C, PPO, REINFORCE), restored when resuming.
pub(crate) fn local_store(setup: &Setup) -> Result<LocalStore, TrainError> {
    let layout = &setup.policy.layout;
    let mut optimizer = optimizer_config(&setup.config).build(layout.len());
    if let Some(state) = restored_optimizer_state(setup, "optim", &optimizer.state(), layout)? {
        optimizer
            .load_state(&state)
            .map_err(|e| TrainError::Usage(format!("optimizer state: {e}")))?;
    }
    Ok(LocalStore {
        params: initial_params(setup)?,
        optimizer,
    })
}

/// Runs A2C: `workers` environments in lockstep, one batched update per rollout.
pub fn run_a2c(setup: Setup) -> Result<StopReason, TrainError> {
    let c = &setup.config;
    let mut store = local_store(&setup)?;
    let envs = (0..c.workers)
        .map(|_| make_env(c))
        .collect::<Result<Vec<_>, _>>()?;
    let n_envs = envs.len();
    let mut collector = Collector::new(&setup.policy, envs, c.seed, c.reward_scale as f32)?
        .with_normalizer(normalizer(c, &setup.policy, n_envs), setup.policy.obs_dim());
    let slots = collector_slots(1, setup.resume.as_ref().map(|r| &r.1));
    let saved = lock(&slots)[0].clone();
    if let Some(saved) = saved {
        collector.restore(&setup.policy, &saved)?;
    }
    let evaluator = Evaluator::start(
        c,
        setup.policy.clone(),
        setup.monitor.clone(),
        &setup.run_dir,
        true,
    )?;
    let ctx = LoopContext {
        config: c,
        setup: &setup,
        evaluator: &evaluator,
        slots: &slots,
        index: 0,
    };
    let result = learn(&ctx, &mut store, &mut collector);
    evaluator.finish()?;
    let reason = final_reason(&setup.monitor);
    let final_state = result?;
    if reason != StopReason::Failed {
        write_latest(&setup, &store, vec![Some(final_state)], Vec::new())?;
    }
    Ok(reason)
}
