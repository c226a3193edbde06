//! A3C (Mnih et al. 2016, "Asynchronous Methods for Deep Reinforcement Learning"): `workers`
//! threads, each with its own environment, RNG stream (seed + worker index) and local copy of
//! the parameters, run A2C's loop ([`super::a2c::learn`]: this is its named variant); their
//! gradients go lock-free into one global parameter vector, with RMSProp/Adam statistics
//! shared by all workers (the paper's "shared RMSProp") or kept per worker
//! (`shared_optimizer_stats = false`).

use super::a2c;
use super::RunConfig;
use crate::agent::ActorCritic;
use crate::config::{check, ConfigError};
use crate::error::TrainError;
use crate::onpolicy::collector::Collector;
use crate::onpolicy::collector::{collector_json, saved_collector};
use crate::onpolicy::CollectorState;
use crate::runtime::params::optimizer_prefixes;
use crate::runtime::{
    lock, CheckpointParts, HogwildStore, LearnerRun, ParamStore, Session, StopReason,
};
use engram_nn::shared::{SharedOptimizer, SharedParams};
use serde::{Deserialize, Serialize};
use std::sync::{Arc, Mutex};

pub const NAME: &str = "a3c";
pub const DESCRIPTION: &str =
    "Asynchronous Advantage Actor-Critic: lock-free workers, shared optimizer statistics";
pub const ACTOR_CRITIC: bool = true;

/// The most worker threads a run may start.
pub const MAX_WORKERS: usize = 1024;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub workers: usize,
    pub shared_optimizer_stats: bool,
    pub t_max: usize,
    pub gamma: f64,
    pub gae_lambda: f64,
    pub vf_coef: f64,
    pub ent_coef: f64,
    pub reward_scale: f64,
    pub normalize_observations: bool,
    pub normalize_rewards: bool,
}

impl Default for Config {
    fn default() -> Self {
        let a2c = a2c::Config::default();
        Config {
            workers: super::available_cores(),
            shared_optimizer_stats: true,
            t_max: a2c.t_max,
            gamma: a2c.gamma,
            gae_lambda: a2c.gae_lambda,
            vf_coef: a2c.vf_coef,
            ent_coef: a2c.ent_coef,
            reward_scale: a2c.reward_scale,
            normalize_observations: a2c.normalize_observations,
            normalize_rewards: a2c.normalize_rewards,
        }
    }
}

impl Config {
    pub fn validate(&self, _rc: &RunConfig) -> Result<(), ConfigError> {
        check::count("workers", self.workers, MAX_WORKERS, "threads")?;
        self.loop_config().validate_loop()
    }

    /// A2C's loop settings for one worker (one environment).
    fn loop_config(&self) -> a2c::Config {
        a2c::Config {
            n_envs: 1,
            t_max: self.t_max,
            gamma: self.gamma,
            gae_lambda: self.gae_lambda,
            vf_coef: self.vf_coef,
            ent_coef: self.ent_coef,
            reward_scale: self.reward_scale,
            normalize_observations: self.normalize_observations,
            normalize_rewards: self.normalize_rewards,
        }
    }
}

/// Worker states captured at checkpoints (each worker fills its own slot).
type Slots = Mutex<Vec<Option<CollectorState>>>;

impl super::Algorithm for Config {
    fn normalize_observations(&self) -> bool {
        self.normalize_observations
    }

    fn threads(&self) -> usize {
        self.workers
    }
}

/// Runs A3C: `workers` Hogwild threads.
pub fn run(mut session: Session, rc: &RunConfig, c: &Config) -> Result<StopReason, TrainError> {
    let policy = super::actor_critic(rc, &*rc.common.make_env()?)?;
    let (params, optimizers) = global_store(&session, rc, c, &policy)?;
    let mut saved = Vec::with_capacity(c.workers);
    for w in 0..c.workers {
        saved.push(saved_collector(&session, w)?);
    }
    let slots: Slots = Mutex::new(saved);
    session.start(policy.clone(), c.workers == 1)?;
    let loop_config = c.loop_config();
    let store_of = |w: usize| store_of(&params, &optimizers, w);
    let parts = |store: &dyn ParamStore, states: Vec<Option<CollectorState>>| {
        checkpoint_parts(store, &states)
    };
    let session_ref = &session;
    let results: Vec<Result<CollectorState, TrainError>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..c.workers)
            .map(|w| {
                let mut store = store_of(w);
                let (policy, slots, parts, loop_config) = (&policy, &slots, &parts, &loop_config);
                std::thread::Builder::new()
                    .name(format!("engram-a3c-{w}"))
                    .spawn_scoped(scope, move || {
                        let checkpoint = |store: &dyn ParamStore, collector: &Collector| {
                            let mut slots = lock(slots);
                            slots[w] = Some(collector.save());
                            parts(store, slots.clone())
                        };
                        let result = (|| {
                            let mut collector = worker_collector(rc, c, policy, w as u64)?;
                            if let Some(state) = lock(slots)[w].clone() {
                                collector.restore(policy, &state)?;
                            }
                            a2c::learn(
                                session_ref,
                                rc,
                                loop_config,
                                policy,
                                &mut store,
                                &mut collector,
                                &checkpoint,
                            )
                        })();
                        if let Err(e) = &result {
                            // One worker failing ends the run for all.
                            session_ref.monitor.fail(e.to_string());
                        }
                        result
                    })
                    .map_err(|source| TrainError::Io {
                        path: session_ref.run_dir.clone(),
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
    let failed = session.stop_reason() == StopReason::Failed;
    let mut finals = Vec::with_capacity(results.len());
    let mut result = Ok(());
    for r in results {
        match r {
            Ok(state) => finals.push(Some(state)),
            // The failure itself is reported through the monitor.
            Err(_) if failed => finals.push(None),
            Err(e) => {
                result = Err(e);
                break;
            }
        }
    }
    let store = store_of(0);
    session.finish(result, || parts(&store, finals))
}

/// The global parameters (fresh or restored) and the optimizers that update them: one shared
/// by all workers, or one per worker (`shared_optimizer_stats = false`).
type Optimizers = Arc<Vec<Arc<dyn SharedOptimizer>>>;

fn global_store(
    session: &Session,
    rc: &RunConfig,
    c: &Config,
    policy: &ActorCritic,
) -> Result<(Arc<SharedParams>, Optimizers), TrainError> {
    let layout = &policy.layout;
    let params = Arc::new(SharedParams::new(&session.initial_params(layout)?));
    let opt_config = rc.optim.optimizer();
    let n_optimizers = if c.shared_optimizer_stats {
        1
    } else {
        c.workers
    };
    let mut optimizers: Vec<Arc<dyn SharedOptimizer>> = Vec::new();
    for prefix in optimizer_prefixes(n_optimizers) {
        let opt: Arc<dyn SharedOptimizer> = Arc::from(opt_config.build_shared(layout.len()));
        if let Some(state) = session.restored_optimizer(&prefix, &opt.state(), layout)? {
            opt.load_state(&state)
                .map_err(|e| TrainError::Usage(format!("optimizer state `{prefix}`: {e}")))?;
        }
        optimizers.push(opt);
    }
    Ok((params, Arc::new(optimizers)))
}

/// Worker `w`'s view of the global store: its optimizer, or the shared one.
fn store_of(params: &Arc<SharedParams>, optimizers: &Optimizers, w: usize) -> HogwildStore {
    HogwildStore {
        params: params.clone(),
        optimizer: optimizers[w.min(optimizers.len() - 1)].clone(),
        all_optimizers: optimizers.clone(),
    }
}

/// A checkpoint's contents: the global parameters and optimizer statistics, every worker's
/// last captured state and the first worker's observation statistics (A3C workers keep one
/// set each).
fn checkpoint_parts(store: &dyn ParamStore, states: &[Option<CollectorState>]) -> CheckpointParts {
    let obs_stats = states
        .iter()
        .flatten()
        .find_map(|s| s.normalizer.as_ref().and_then(|n| n.obs.clone()));
    CheckpointParts {
        params: store.snapshot(),
        optimizers: store.optimizer_states(),
        collectors: states
            .iter()
            .map(|s| s.as_ref().and_then(collector_json))
            .collect(),
        obs_stats,
        ..CheckpointParts::default()
    }
}

/// Worker `w`'s collector: one environment, RNG stream seed + `stream`.
fn worker_collector(
    rc: &RunConfig,
    c: &Config,
    policy: &ActorCritic,
    stream: u64,
) -> Result<Collector, TrainError> {
    let env = rc.common.make_env()?;
    Ok(Collector::new(
        policy,
        vec![env],
        rc.common.seed.wrapping_add(stream),
        c.reward_scale as f32,
    )?
    .with_normalizer(c.loop_config().normalizer(policy, 1), policy.obs_dim()))
}

// ---------------------------------------------------------------------------------------------
// A3C across machines (`engram.distributed`): the same global network and optimizer, with the
// workers in other processes. A [`RemoteWorker`] runs a worker's half of A2C's loop
// ([`a2c::GradientStep`]) on parameters it is sent; the [`RemoteLearner`] applies the
// gradients it receives with the run's optimizer ([`a2c::apply_update`]) in the order they
// arrive, and owns the run: its directory, metrics, evaluator and checkpoints are a local
// A3C run's, so `--resume` continues either kind of run.

/// What a remote worker sends with its gradient.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RemoteUpdate {
    pub computed: a2c::Computed,
    /// The episodes that finished during the rollout: (return, length).
    pub episodes: Vec<(f64, u64)>,
}

/// The learner of a distributed A3C run: the global parameters, the optimizer statistics and
/// the run.
pub struct RemoteLearner {
    run: LearnerRun<RunConfig>,
    params: Arc<SharedParams>,
    optimizers: Optimizers,
}

impl RemoteLearner {
    /// Starts the learner on an opened run (fresh or resumed).
    pub fn new(mut session: Session, rc: RunConfig) -> Result<RemoteLearner, TrainError> {
        let c = remote_config(&rc)?;
        let policy = super::actor_critic(&rc, &*rc.common.make_env()?)?;
        let (params, optimizers) = global_store(&session, &rc, c, &policy)?;
        session.start(policy.clone(), false)?;
        Ok(RemoteLearner {
            run: LearnerRun::new(session, rc, policy.layout.len()),
            params,
            optimizers,
        })
    }

    pub fn run(&self) -> &LearnerRun<RunConfig> {
        &self.run
    }

    /// Copies the current parameters into `out` and returns their version; false (and the
    /// run stops with a message) when one is not finite.
    pub fn read_params(&self, out: &mut [f32]) -> Result<(u64, bool), TrainError> {
        self.run.read_params(out, |out| self.params.read_into(out))
    }

    /// Applies worker `worker`'s gradient (its episodes are recorded first); false when the
    /// update was refused as non-finite (the run then stops).
    pub fn apply(
        &mut self,
        worker: usize,
        grads: &[f32],
        update: &RemoteUpdate,
    ) -> Result<bool, TrainError> {
        self.run.check_len("gradient", grads.len())?;
        self.run.record_episodes(&update.episodes);
        let mut store = store_of(&self.params, &self.optimizers, worker);
        let parts = |store: &dyn ParamStore| checkpoint_parts(store, &[]);
        let applied = a2c::apply_update(
            self.run.session(),
            self.run.config(),
            &mut store,
            grads,
            &update.computed,
            &parts,
        )?;
        Ok(self.run.count_update(applied))
    }

    /// Ends the run: waits for the evaluator and writes the final checkpoint.
    pub fn finish(self) -> Result<(Session, StopReason), TrainError> {
        let store = store_of(&self.params, &self.optimizers, 0);
        let mut session = self.run.into_session();
        let reason = session.finish(Ok(()), || checkpoint_parts(&store, &[]))?;
        Ok((session, reason))
    }
}

/// Checks that `rc` can run across machines (A3C, without normalisation so far).
pub fn check_remote(rc: &RunConfig) -> Result<(), TrainError> {
    remote_config(rc).map(|_| ())
}

/// The A3C settings of a distributed run; refuses what it does not support yet.
fn remote_config(rc: &RunConfig) -> Result<&Config, TrainError> {
    let Some(c) = rc.algo::<Config>() else {
        return Err(TrainError::Usage(format!(
            "training across machines runs A3C, not {}: use `engram train --algo a3c --env ENV --ray ADDRESS`",
            rc.common.algo
        )));
    };
    if c.normalize_observations || c.normalize_rewards {
        return Err(TrainError::Usage(
            "normalize_observations and normalize_rewards are not supported across machines yet \
             (each worker would keep its own statistics): set them to false"
                .into(),
        ));
    }
    Ok(c)
}

/// A worker of a distributed A3C run: its own environment and RNG stream, the network, and
/// the buffers of one gradient step.
pub struct RemoteWorker {
    policy: Arc<ActorCritic>,
    collector: Collector,
    step: a2c::GradientStep,
    episodes: Mutex<Vec<(f64, u64)>>,
}

impl RemoteWorker {
    /// A worker for `rc` whose environment and sampling use RNG stream seed + `stream`.
    pub fn new(rc: &RunConfig, stream: u64) -> Result<RemoteWorker, TrainError> {
        let c = remote_config(rc)?;
        let policy = super::actor_critic(rc, &*rc.common.make_env()?)?;
        let collector = worker_collector(rc, c, &policy, stream)?;
        let step = a2c::GradientStep::new(&policy, &c.loop_config(), rc.optim.max_grad_norm, 1);
        Ok(RemoteWorker {
            policy,
            collector,
            step,
            episodes: Mutex::new(Vec::new()),
        })
    }

    pub fn num_params(&self) -> usize {
        self.policy.layout.len()
    }

    /// Collects `t_max` steps with `params` and computes their clipped gradient, which
    /// [`RemoteWorker::grads`] then holds.
    pub fn compute(&mut self, params: &[f32]) -> Result<RemoteUpdate, TrainError> {
        if params.len() != self.num_params() {
            return Err(TrainError::Usage(format!(
                "a parameter buffer of {} numbers for a network of {}: the learner runs \
                 another configuration",
                params.len(),
                self.num_params()
            )));
        }
        if let Some(i) = params.iter().position(|v| !v.is_finite()) {
            return Err(TrainError::Policy(format!(
                "parameter {i} received from the learner is {}",
                params[i]
            )));
        }
        let computed =
            self.step
                .compute(&self.policy, params, &mut self.collector, &self.episodes)?;
        let episodes = std::mem::take(&mut *lock(&self.episodes));
        Ok(RemoteUpdate { computed, episodes })
    }

    /// The gradient of the last [`RemoteWorker::compute`].
    pub fn grads(&self) -> &[f32] {
        &self.step.grads
    }
}
