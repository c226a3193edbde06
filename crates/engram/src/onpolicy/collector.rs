//! On-policy rollout collection, shared by A3C (one environment per worker), A2C and PPO
//! (N environments in lockstep): act, step, track episodes, bootstrap on truncation, and compute
//! advantages.
//!
//! Every episode is reset with an explicit seed drawn from the collector's RNG, and the actions
//! of the running episode are kept. That makes a collector's state small and exact to save:
//! seed + actions replay the environment to where it was, whatever the environment is, without
//! every environment having to serialise itself.

use super::normalize::Normalizer;
use super::rollout::Rollout;
use crate::agent::{step_env, Actor, ActorCritic, StepScratch};
use crate::config::CommonConfig;
use crate::error::TrainError;
use crate::runtime::{CheckpointParts, EpisodeSink, ParamStore, Session};
use engram_env::wrappers::RunningMeanStd;
use engram_env::{Env, EnvError};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// What a checkpoint stores of one environment's running episode.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EpisodeState {
    pub seed: u64,
    /// Flat actions taken so far, `action_dim` floats each.
    pub actions: Vec<f32>,
    pub length: u64,
    pub episode_return: f64,
    pub starts_next: bool,
}

impl EpisodeState {
    fn new(seed: u64) -> EpisodeState {
        EpisodeState {
            seed,
            actions: Vec::new(),
            length: 0,
            episode_return: 0.0,
            starts_next: true,
        }
    }
}

/// What a checkpoint stores of a collector.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CollectorState {
    /// ChaCha8 seed and word position: the RNG resumes exactly.
    pub rng_seed: [u8; 32],
    pub rng_word_pos: u128,
    pub recurrent_state: Vec<f32>,
    pub episodes: Vec<EpisodeState>,
    #[serde(default)]
    pub normalizer: Option<Normalizer>,
    /// The normalised observations the policy sees next. Each row was normalised with the
    /// statistics of its own moment, so they are stored rather than recomputed.
    #[serde(default)]
    pub normalized_obs: Option<Vec<f32>>,
}

/// Steps `n_envs` environments in lockstep with a policy.
pub struct Collector {
    envs: Vec<Box<dyn Env>>,
    actor: Actor,
    rng: ChaCha8Rng,
    obs: Vec<f32>,
    state: Vec<f32>,
    episodes: Vec<EpisodeState>,
    final_obs: Vec<f32>,
    action_buf: Vec<f32>,
    values_buf: Vec<f32>,
    step_scratch: StepScratch,
    reward_scale: f32,
    normalizer: Option<Normalizer>,
}

impl Collector {
    /// Resets every environment with a seed drawn from `rng_seed`'s stream.
    pub fn new(
        policy: &ActorCritic,
        envs: Vec<Box<dyn Env>>,
        rng_seed: u64,
        reward_scale: f32,
    ) -> Result<Collector, EnvError> {
        let n = envs.len();
        let mut c = Collector {
            actor: Actor::new(policy, n),
            rng: ChaCha8Rng::seed_from_u64(rng_seed),
            obs: vec![0.0; n * policy.obs_dim()],
            state: vec![0.0; n * policy.state_size()],
            episodes: Vec::with_capacity(n),
            final_obs: vec![0.0; policy.obs_dim()],
            action_buf: vec![0.0; n * policy.action_dim()],
            values_buf: vec![0.0; n],
            step_scratch: StepScratch::new(policy.action_dim()),
            reward_scale,
            normalizer: None,
            envs,
        };
        for e in 0..n {
            let seed = c.rng.gen::<u64>() >> 1;
            let dim = policy.obs_dim();
            c.envs[e].reset(Some(seed), &mut c.obs[e * dim..(e + 1) * dim])?;
            c.episodes.push(EpisodeState::new(seed));
        }
        Ok(c)
    }

    pub fn n_envs(&self) -> usize {
        self.envs.len()
    }

    /// Normalises observations and/or rewards from now on (the current observations are the
    /// statistics' first samples).
    pub fn with_normalizer(mut self, normalizer: Option<Normalizer>, obs_dim: usize) -> Collector {
        self.normalizer = normalizer;
        if let Some(norm) = &mut self.normalizer {
            for row in self.obs.chunks_exact_mut(obs_dim) {
                norm.observe(row);
            }
        }
        self
    }

    /// The observation statistics, for the evaluator and checkpoints.
    pub fn obs_stats(&self) -> Option<RunningMeanStd> {
        self.normalizer.as_ref().and_then(|n| n.obs.clone())
    }

    /// Fills `rollout` with `t_max` steps of every environment, then its advantages.
    #[allow(clippy::too_many_arguments)]
    pub fn collect(
        &mut self,
        policy: &ActorCritic,
        params: &[f32],
        rollout: &mut Rollout,
        monitor: &dyn EpisodeSink,
        gamma: f32,
        lambda: f32,
    ) -> Result<(), EnvError> {
        let n = self.envs.len();
        let (od, ad, sd) = (policy.obs_dim(), policy.action_dim(), policy.state_size());
        rollout.initial_state.copy_from_slice(&self.state);
        self.actor.reset_noise();
        for t in 0..rollout.t_max {
            let base = t * n;
            for e in 0..n {
                rollout.starts[base + e] = self.episodes[e].starts_next;
                self.episodes[e].starts_next = false;
            }
            rollout.obs[base * od..(base + n) * od].copy_from_slice(&self.obs);
            self.actor.act(
                policy,
                params,
                &self.obs,
                &mut self.state,
                Some(&mut self.rng),
                &mut self.action_buf,
                &mut self.values_buf,
            );
            rollout.actions[base * ad..(base + n) * ad].copy_from_slice(&self.action_buf);
            rollout.values[base..base + n].copy_from_slice(&self.values_buf);
            rollout.log_probs[base..base + n].copy_from_slice(self.actor.action_log_probs());
            for e in 0..n {
                let i = base + e;
                let action = &self.action_buf[e * ad..(e + 1) * ad];
                let obs = &mut self.obs[e * od..(e + 1) * od];
                let step = step_env(
                    &mut *self.envs[e],
                    &policy.action_kind,
                    action,
                    &mut self.step_scratch,
                    obs,
                )?;
                let done = step.terminated || step.truncated;
                let learned_reward = match &mut self.normalizer {
                    Some(norm) => {
                        norm.observe(obs);
                        norm.reward(e, step.reward, done)
                    }
                    None => step.reward,
                };
                let episode = &mut self.episodes[e];
                episode.actions.extend_from_slice(action);
                episode.length += 1;
                episode.episode_return += step.reward;
                rollout.rewards[i] = learned_reward as f32 * self.reward_scale;
                rollout.terminated[i] = step.terminated;
                rollout.truncated[i] = step.truncated && !step.terminated;
                rollout.final_values[i] = 0.0;
                if step.terminated || step.truncated {
                    if rollout.truncated[i] {
                        // V(s_final) with the state the episode would have continued with.
                        self.final_obs.copy_from_slice(obs);
                        let state = &self.state[e * sd..(e + 1) * sd];
                        rollout.final_values[i] =
                            self.actor.value_one(policy, params, &self.final_obs, state);
                    }
                    monitor.episode_done(episode.episode_return, episode.length);
                    let seed = self.rng.gen::<u64>() >> 1;
                    *episode = EpisodeState::new(seed);
                    self.envs[e].reset(Some(seed), obs)?;
                    if let Some(norm) = &mut self.normalizer {
                        norm.observe(obs);
                    }
                    self.state[e * sd..(e + 1) * sd].fill(0.0);
                }
            }
        }
        self.actor.values(
            policy,
            params,
            &self.obs,
            &self.state,
            &mut rollout.bootstrap_values,
        );
        rollout.compute_advantages(gamma, lambda);
        Ok(())
    }

    pub fn save(&self) -> CollectorState {
        CollectorState {
            rng_seed: self.rng.get_seed(),
            rng_word_pos: self.rng.get_word_pos(),
            recurrent_state: self.state.clone(),
            episodes: self.episodes.clone(),
            normalizer: self.normalizer.clone(),
            normalized_obs: self.obs_stats().map(|_| self.obs.clone()),
        }
    }

    /// Puts the collector back where [`Collector::save`] was called: same RNG position,
    /// recurrent state, and each environment replayed from its episode seed.
    pub fn restore(
        &mut self,
        policy: &ActorCritic,
        saved: &CollectorState,
    ) -> Result<(), EnvError> {
        if saved.episodes.len() != self.envs.len()
            || saved.recurrent_state.len() != self.state.len()
        {
            return Err(EnvError::Other(format!(
                "checkpoint holds {} environments with state size {}, this run has {} with {}",
                saved.episodes.len(),
                saved.recurrent_state.len(),
                self.envs.len(),
                self.state.len()
            )));
        }
        self.rng = ChaCha8Rng::from_seed(saved.rng_seed);
        self.rng.set_word_pos(saved.rng_word_pos);
        self.state.copy_from_slice(&saved.recurrent_state);
        let od = policy.obs_dim();
        for (e, episode) in saved.episodes.iter().enumerate() {
            let ad = policy.action_dim().max(1);
            if episode.actions.len() % ad != 0
                || episode.length != (episode.actions.len() / ad) as u64
            {
                return Err(EnvError::Other(format!(
                    "the checkpoint's running episode of environment {e} is inconsistent: \
                     length {} with {} action values of {ad} each",
                    episode.length,
                    episode.actions.len()
                )));
            }
        }
        for (e, episode) in saved.episodes.iter().enumerate() {
            let obs = &mut self.obs[e * od..(e + 1) * od];
            self.envs[e].reset(Some(episode.seed), obs)?;
            for action in episode.actions.chunks_exact(policy.action_dim()) {
                step_env(
                    &mut *self.envs[e],
                    &policy.action_kind,
                    action,
                    &mut self.step_scratch,
                    obs,
                )?;
            }
        }
        self.episodes = saved.episodes.clone();
        // The replay above wrote raw observations and did not touch the statistics: restore
        // both as they were saved.
        if self.normalizer.is_some() != saved.normalizer.is_some() {
            return Err(EnvError::Other(
                "the checkpoint was written with other normalize_observations / normalize_rewards settings".into(),
            ));
        }
        self.normalizer.clone_from(&saved.normalizer);
        if let Some(obs) = &saved.normalized_obs {
            if obs.len() != self.obs.len() {
                return Err(EnvError::Other(
                    "checkpoint holds observations of another size".into(),
                ));
            }
            self.obs.copy_from_slice(obs);
        }
        Ok(())
    }
}

/// The collector state as a checkpoint stores it.
pub fn collector_json(state: &CollectorState) -> Option<serde_json::Value> {
    serde_json::to_value(state).ok()
}

/// The collector state a resumed run saved at `index`, if any.
pub fn saved_collector(
    session: &Session,
    index: usize,
) -> Result<Option<CollectorState>, TrainError> {
    let Some(r) = &session.resume else {
        return Ok(None);
    };
    match r.state.collectors.get(index) {
        Some(Some(value)) => serde_json::from_value(value.clone())
            .map(Some)
            .map_err(|e| {
                TrainError::Usage(format!(
                    "checkpoint {}: unreadable collector state: {e}",
                    r.path.display()
                ))
            }),
        _ => Ok(None),
    }
}

/// The lockstep collector of an on-policy run (A2C, PPO, TRPO): `n_envs` environments made
/// from `common`, seeded with the run's seed, observations (and rewards) normalised as
/// `normalizer` says, and restored from the checkpoint when the session resumes one.
pub fn open_collector(
    session: &Session,
    common: &CommonConfig,
    policy: &ActorCritic,
    n_envs: usize,
    reward_scale: f64,
    normalizer: Option<Normalizer>,
) -> Result<Collector, TrainError> {
    let envs = (0..n_envs)
        .map(|_| common.make_env())
        .collect::<Result<Vec<_>, _>>()?;
    let mut collector = Collector::new(policy, envs, common.seed, reward_scale as f32)?
        .with_normalizer(normalizer, policy.obs_dim());
    if let Some(saved) = saved_collector(session, 0)? {
        collector.restore(policy, &saved)?;
    }
    Ok(collector)
}

/// A lockstep run's checkpoint: the parameters, the optimizers' state and the collector's.
pub fn checkpoint_parts(store: &dyn ParamStore, collector: &Collector) -> CheckpointParts {
    CheckpointParts {
        params: store.snapshot(),
        optimizers: store.optimizer_states(),
        collectors: vec![collector_json(&collector.save())],
        obs_stats: collector.obs_stats(),
        ..CheckpointParts::default()
    }
}
