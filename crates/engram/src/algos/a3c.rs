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
use crate::runtime::{lock, CheckpointParts, HogwildStore, ParamStore, Session, StopReason};
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
    let optimizers = Arc::new(optimizers);
    let mut saved = Vec::with_capacity(c.workers);
    for w in 0..c.workers {
        saved.push(saved_collector(&session, w)?);
    }
    let slots: Slots = Mutex::new(saved);
    session.start(policy.clone(), c.workers == 1)?;
    let loop_config = c.loop_config();
    let store_of = |w: usize| HogwildStore {
        params: params.clone(),
        optimizer: optimizers[w.min(optimizers.len() - 1)].clone(),
        all_optimizers: optimizers.clone(),
    };
    // A checkpoint holds every worker's last captured state and the first worker's
    // observation statistics (A3C workers keep one set each).
    let parts = |store: &dyn ParamStore, states: Vec<Option<CollectorState>>| {
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
                            let mut collector = worker_collector(rc, c, policy, w)?;
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

/// Worker `w`'s collector: one environment, RNG stream seed + w.
fn worker_collector(
    rc: &RunConfig,
    c: &Config,
    policy: &ActorCritic,
    w: usize,
) -> Result<Collector, TrainError> {
    let env = rc.common.make_env()?;
    Ok(Collector::new(
        policy,
        vec![env],
        rc.common.seed.wrapping_add(w as u64),
        c.reward_scale as f32,
    )?
    .with_normalizer(c.loop_config().normalizer(policy, 1), policy.obs_dim()))
}
