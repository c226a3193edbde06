//! HigherLower: guess whether the next card's rank is higher (action 0) or lower (action 1)
//! than the current one; card counting helps (POPGym's `higher_lower.py`).

use super::deck::{rank, Deck};
use super::{check_action, check_obs, discrete, Level, Phase};
use crate::env::{Env, EnvError, Step};
use crate::rng::EnvRng;
use crate::space::{Action, Space};

#[derive(Clone, Debug)]
pub struct HigherLower {
    deck: Deck,
    current_rank: i64,
    reward_scale: f64,
    observation_space: Space,
    action_space: Space,
    rng: EnvRng,
    phase: Phase,
}

impl HigherLower {
    pub const DESCRIPTION: &'static str = "guess whether the next card ranks higher or lower";

    /// Easy: 1 deck; Medium: 2 decks; Hard: 3 decks.
    pub fn new(level: Level) -> Self {
        Self::with_decks(level.pick(1, 2, 3))
    }

    pub fn with_decks(num_decks: usize) -> Self {
        let deck = Deck::new(num_decks);
        let reward_scale = 1.0 / deck.num_cards() as f64;
        HigherLower {
            deck,
            current_rank: 0,
            reward_scale,
            observation_space: Space::discrete(13),
            action_space: Space::discrete(2),
            rng: EnvRng::default(),
            phase: Phase::NotReset,
        }
    }

    pub fn max_episode_length(&self) -> usize {
        self.deck.num_cards() - 1
    }
}

impl Env for HigherLower {
    fn observation_space(&self) -> &Space {
        &self.observation_space
    }

    fn action_space(&self) -> &Space {
        &self.action_space
    }

    fn reset(&mut self, seed: Option<u64>, obs: &mut [f32]) -> Result<(), EnvError> {
        check_obs(obs, &self.observation_space)?;
        if let Some(seed) = seed {
            self.rng.seed(seed);
        }
        self.deck.reset(&mut self.rng);
        self.current_rank = rank(self.deck.deal());
        obs[0] = self.current_rank as f32;
        self.phase = Phase::Running;
        Ok(())
    }

    fn step(&mut self, action: Action<'_>, obs: &mut [f32]) -> Result<Step, EnvError> {
        self.phase.check_step()?;
        check_action(&action, &self.action_space)?;
        check_obs(obs, &self.observation_space)?;
        let guess_higher = discrete(action) == 0;
        let terminated = self.deck.len() <= 1;
        let next_rank = rank(self.deck.deal());
        let reward = if next_rank == self.current_rank {
            0.0
        } else if (next_rank > self.current_rank) == guess_higher {
            self.reward_scale
        } else {
            -self.reward_scale
        };
        self.current_rank = next_rank;
        obs[0] = next_rank as f32;
        self.phase = Phase::after(terminated);
        Ok(Step {
            reward,
            terminated,
            truncated: false,
        })
    }

    fn rng_mut(&mut self) -> Option<&mut EnvRng> {
        Some(&mut self.rng)
    }
}
