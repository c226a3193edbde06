//! On-policy rollout collection, shared by A3C (one environment per worker) and A2C
//! (N environments in lockstep): act, step, track episodes, bootstrap on truncation, and compute
//! advantages.
//!
//! Every episode is reset with an explicit seed drawn from the collector's RNG, and the actions
//! of the running episode are kept. That makes a collector's state small and exact to save:
//! seed + actions replay the environment to where it was, whatever the environment is, without
//! every environment having to serialise itself.

use crate::advantage::{compute_gae, RolloutView};
use crate::policy::{ActionKind, Actor, ActorCritic};
use crate::runtime::Monitor;
use engram_env::wrappers::RunningMeanStd;
use engram_env::{Action, Env, EnvError};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

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

/// SB3 `VecNormalize`-style normalisation of what a collector hands the learner, with one set
/// of statistics for all of its environments (Gymnasium's wrappers keep one per env):
/// observations shifted and scaled by their running mean and variance, rewards scaled by the
/// running standard deviation of the discounted return; both clipped to `±CLIP`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Normalizer {
    pub obs: Option<RunningMeanStd>,
    pub returns: Option<RunningMeanStd>,
    /// Running discounted return of each environment's episode.
    discounted: Vec<f64>,
    gamma: f64,
}

impl Normalizer {
    pub const CLIP: f32 = 10.0;
    const EPS: f64 = 1e-8;

    /// `None` when neither is asked for.
    pub fn new(
        obs_dim: usize,
        n_envs: usize,
        obs: bool,
        rewards: bool,
        gamma: f64,
    ) -> Option<Normalizer> {
        (obs || rewards).then(|| Normalizer {
            obs: obs.then(|| RunningMeanStd::new(obs_dim)),
            returns: rewards.then(|| RunningMeanStd::new(1)),
            discounted: vec![0.0; n_envs],
            gamma,
        })
    }

    /// Adds a raw observation to the statistics and normalises it in place.
    fn observe(&mut self, row: &mut [f32]) {
        if let Some(stats) = &mut self.obs {
            stats.update_one(row);
            normalize_observation(stats, row);
        }
    }

    /// The reward to learn from for environment `e`'s step.
    fn reward(&mut self, e: usize, reward: f64, done: bool) -> f64 {
        let Some(stats) = &mut self.returns else {
            return reward;
        };
        self.discounted[e] = self.discounted[e] * self.gamma + reward;
        stats.update_scalar(self.discounted[e]);
        if done {
            self.discounted[e] = 0.0;
        }
        let clip = Self::CLIP as f64;
        (reward / (stats.var[0] + Self::EPS).sqrt()).clamp(-clip, clip)
    }
}

/// `(x - mean) / sqrt(var + 1e-8)`, clipped to `±Normalizer::CLIP`, in place (the
/// evaluator applies a training run's frozen statistics this way).
pub fn normalize_observation(stats: &RunningMeanStd, row: &mut [f32]) {
    for ((x, m), v) in row.iter_mut().zip(&stats.mean).zip(&stats.var) {
        let z = (*x as f64 - m) / (v + Normalizer::EPS).sqrt();
        *x = (z as f32).clamp(-Normalizer::CLIP, Normalizer::CLIP);
    }
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
    discrete_scratch: Vec<i64>,
    clipped: Vec<f32>,
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
            discrete_scratch: vec![0; policy.action_dim()],
            clipped: vec![0.0; policy.action_dim()],
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
        monitor: &Monitor,
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
                    &mut self.discrete_scratch,
                    &mut self.clipped,
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
            let obs = &mut self.obs[e * od..(e + 1) * od];
            self.envs[e].reset(Some(episode.seed), obs)?;
            for action in episode.actions.chunks_exact(policy.action_dim()) {
                step_env(
                    &mut *self.envs[e],
                    &policy.action_kind,
                    action,
                    &mut self.discrete_scratch,
                    &mut self.clipped,
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

/// Steps one environment with a flat action, clipping Gaussian actions to the box (the
/// unclipped action is what the policy's log-probability refers to, as in SB3).
pub(crate) fn step_env(
    env: &mut dyn Env,
    kind: &ActionKind,
    action: &[f32],
    discrete: &mut [i64],
    clipped: &mut [f32],
    obs: &mut [f32],
) -> Result<engram_env::Step, EnvError> {
    match kind {
        ActionKind::Categorical { start, .. } => {
            env.step(Action::Discrete(*start + action[0] as i64), obs)
        }
        ActionKind::MultiCategorical { .. } => {
            for (d, a) in discrete.iter_mut().zip(action) {
                *d = *a as i64;
            }
            env.step(Action::MultiDiscrete(discrete), obs)
        }
        ActionKind::Gaussian { low, high, .. } => {
            for ((c, a), (lo, hi)) in clipped.iter_mut().zip(action).zip(low.iter().zip(high)) {
                *c = a.clamp(*lo, *hi);
            }
            env.step(Action::Continuous(clipped), obs)
        }
    }
}
