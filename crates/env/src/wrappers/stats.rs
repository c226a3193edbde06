//! Gymnasium's `RecordEpisodeStatistics`.

use super::inner_access;
use crate::{Action, Env, EnvError, Step};
use serde::{Deserialize, Serialize};

/// Return and length of one finished episode (Gymnasium's `info["episode"]["r"]` and `["l"]`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct EpisodeStats {
    /// Sum of the rewards as the wrapped env returned them (before any reward wrapper that is
    /// applied outside this one).
    pub episode_return: f64,
    pub length: u64,
}

/// Accumulates the return and length of the running episode; after the step that ends an
/// episode, [`RecordEpisodeStatistics::last_episode`] holds its statistics.
#[derive(Clone, Debug)]
pub struct RecordEpisodeStatistics<E> {
    inner: E,
    episode_return: f64,
    episode_length: u64,
    last_episode: Option<EpisodeStats>,
    episodes_finished: u64,
    ended_this_step: bool,
}

impl<E: Env> RecordEpisodeStatistics<E> {
    pub fn new(inner: E) -> Self {
        RecordEpisodeStatistics {
            inner,
            episode_return: 0.0,
            episode_length: 0,
            last_episode: None,
            episodes_finished: 0,
            ended_this_step: false,
        }
    }

    /// The most recently finished episode, if any.
    pub fn last_episode(&self) -> Option<EpisodeStats> {
        self.last_episode
    }

    /// The episode that the last `step` ended, if it ended one (`None` after other steps).
    pub fn finished_episode(&self) -> Option<EpisodeStats> {
        if self.ended_this_step {
            self.last_episode
        } else {
            None
        }
    }

    /// Number of episodes finished so far.
    pub fn episodes_finished(&self) -> u64 {
        self.episodes_finished
    }

    /// Return accumulated so far in the running episode.
    pub fn current_return(&self) -> f64 {
        self.episode_return
    }

    /// Steps taken so far in the running episode.
    pub fn current_length(&self) -> u64 {
        self.episode_length
    }
}

inner_access!(RecordEpisodeStatistics);

impl<E: Env> Env for RecordEpisodeStatistics<E> {
    crate::forward_env!(inner: observation_space, action_space, info, action_mask, render, state,
                        set_state, rng_mut, model);

    fn reset(&mut self, seed: Option<u64>, obs: &mut [f32]) -> Result<(), EnvError> {
        self.inner.reset(seed, obs)?;
        self.episode_return = 0.0;
        self.episode_length = 0;
        self.ended_this_step = false;
        Ok(())
    }

    #[inline]
    fn step(&mut self, action: Action<'_>, obs: &mut [f32]) -> Result<Step, EnvError> {
        let step = self.inner.step(action, obs)?;
        self.episode_return += step.reward;
        self.episode_length += 1;
        self.ended_this_step = step.done();
        if self.ended_this_step {
            self.last_episode = Some(EpisodeStats {
                episode_return: self.episode_return,
                length: self.episode_length,
            });
            self.episodes_finished += 1;
            self.episode_return = 0.0;
            self.episode_length = 0;
        }
        Ok(step)
    }
}
