//! One lockstep step of `n_envs` environments with actions chosen by the algorithm, turned
//! into transitions for a replay buffer: the observation before, the action, the reward, the
//! observation after (the episode's final observation when it ended: truncation bootstraps
//! from it), and the terminated / truncated flags. Finished episodes are reported to the
//! monitor and reset with a seed from the stepper's RNG.
//!
//! As the on-policy collector, it saves small and exact: the RNG position and each running
//! episode's seed and actions, which replay the environment to where it was.

use crate::agent::{step_env, ActionKind, StepScratch};
use crate::runtime::Monitor;
use engram_env::{Env, EnvError};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// What a checkpoint stores of one environment's running episode.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Episode {
    pub seed: u64,
    /// Flat actions taken so far.
    pub actions: Vec<f32>,
    pub length: u64,
    pub episode_return: f64,
}

impl Episode {
    fn new(seed: u64) -> Episode {
        Episode {
            seed,
            actions: Vec::new(),
            length: 0,
            episode_return: 0.0,
        }
    }
}

/// What a checkpoint stores of a stepper.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StepperState {
    pub rng_seed: [u8; 32],
    pub rng_word_pos: u128,
    pub episodes: Vec<Episode>,
}

pub struct Stepper {
    envs: Vec<Box<dyn Env>>,
    kind: ActionKind,
    obs_dim: usize,
    /// Episode seeds and exploration draws.
    pub rng: ChaCha8Rng,
    obs: Vec<f32>,
    /// After [`Stepper::step`]: each env's observation after its step (final if it ended).
    pub next_obs: Vec<f32>,
    pub rewards: Vec<f32>,
    pub terminated: Vec<bool>,
    pub truncated: Vec<bool>,
    episodes: Vec<Episode>,
    scratch: StepScratch,
}

impl Stepper {
    /// Resets every environment with a seed drawn from `seed`'s stream.
    pub fn new(
        mut envs: Vec<Box<dyn Env>>,
        kind: ActionKind,
        obs_dim: usize,
        seed: u64,
    ) -> Result<Stepper, EnvError> {
        let n = envs.len();
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut obs = vec![0.0; n * obs_dim];
        let mut episodes = Vec::with_capacity(n);
        for (e, env) in envs.iter_mut().enumerate() {
            let s = rng.gen::<u64>() >> 1;
            env.reset(Some(s), &mut obs[e * obs_dim..(e + 1) * obs_dim])?;
            episodes.push(Episode::new(s));
        }
        Ok(Stepper {
            scratch: StepScratch::new(kind.action_dim()),
            kind,
            obs_dim,
            rng,
            next_obs: obs.clone(),
            obs,
            rewards: vec![0.0; n],
            terminated: vec![false; n],
            truncated: vec![false; n],
            episodes,
            envs,
        })
    }

    pub fn n_envs(&self) -> usize {
        self.envs.len()
    }

    /// The observations the next actions are chosen from.
    pub fn obs(&self) -> &[f32] {
        &self.obs
    }

    /// Steps every environment with its action (`actions`: `[n_envs * action_dim]`); returns
    /// how many episodes ended.
    pub fn step(&mut self, actions: &[f32], monitor: &Monitor) -> Result<usize, EnvError> {
        let (od, ad) = (self.obs_dim, self.kind.action_dim());
        let mut ended = 0;
        for e in 0..self.envs.len() {
            let action = &actions[e * ad..(e + 1) * ad];
            let next = &mut self.next_obs[e * od..(e + 1) * od];
            let step = step_env(
                &mut *self.envs[e],
                &self.kind,
                action,
                &mut self.scratch,
                next,
            )?;
            self.rewards[e] = step.reward as f32;
            self.terminated[e] = step.terminated;
            self.truncated[e] = step.truncated && !step.terminated;
            let episode = &mut self.episodes[e];
            episode.actions.extend_from_slice(action);
            episode.length += 1;
            episode.episode_return += step.reward;
            let obs = &mut self.obs[e * od..(e + 1) * od];
            if step.terminated || step.truncated {
                monitor.episode_done(episode.episode_return, episode.length);
                ended += 1;
                let seed = self.rng.gen::<u64>() >> 1;
                *episode = Episode::new(seed);
                self.envs[e].reset(Some(seed), obs)?;
            } else {
                obs.copy_from_slice(next);
            }
        }
        Ok(ended)
    }

    pub fn save(&self) -> StepperState {
        StepperState {
            rng_seed: self.rng.get_seed(),
            rng_word_pos: self.rng.get_word_pos(),
            episodes: self.episodes.clone(),
        }
    }

    /// Puts the stepper back where [`Stepper::save`] was called: RNG position, and each
    /// environment replayed from its episode's seed and actions.
    pub fn restore(&mut self, saved: &StepperState) -> Result<(), EnvError> {
        if saved.episodes.len() != self.envs.len() {
            return Err(EnvError::Other(format!(
                "checkpoint holds {} environments, this run has {} (n_envs)",
                saved.episodes.len(),
                self.envs.len()
            )));
        }
        self.rng = ChaCha8Rng::from_seed(saved.rng_seed);
        self.rng.set_word_pos(saved.rng_word_pos);
        let (od, ad) = (self.obs_dim, self.kind.action_dim());
        for (e, episode) in saved.episodes.iter().enumerate() {
            let obs = &mut self.obs[e * od..(e + 1) * od];
            self.envs[e].reset(Some(episode.seed), obs)?;
            for action in episode.actions.chunks_exact(ad) {
                step_env(
                    &mut *self.envs[e],
                    &self.kind,
                    action,
                    &mut self.scratch,
                    obs,
                )?;
            }
        }
        self.episodes = saved.episodes.clone();
        Ok(())
    }
}
