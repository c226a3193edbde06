//! RepeatFirst: cards are dealt one per step; the agent must output the suit of the episode's
//! first card at every step (POPGym's `repeat_first.py`).

use super::deck::{suit, Deck};
use super::{check_action, check_obs, discrete, Level, Phase};
use crate::env::{Env, EnvError, Step};
use crate::rng::EnvRng;
use crate::space::{Action, Space};

#[derive(Clone, Debug)]
pub struct RepeatFirst {
    deck: Deck,
    first_suit: i64,
    reward_scale: f64,
    space: Space,
    rng: EnvRng,
    phase: Phase,
}

impl RepeatFirst {
    pub const DESCRIPTION: &'static str = "output the suit of the first card, at every step";

    /// Easy: 1 deck; Medium: 8 decks; Hard: 16 decks.
    pub fn new(level: Level) -> Self {
        Self::with_decks(level.pick(1, 8, 16))
    }

    pub fn with_decks(num_decks: usize) -> Self {
        let deck = Deck::new(num_decks);
        let reward_scale = 1.0 / (deck.num_cards() - 1) as f64;
        RepeatFirst {
            deck,
            first_suit: 0,
            reward_scale,
            space: Space::discrete(4),
            rng: EnvRng::default(),
            phase: Phase::NotReset,
        }
    }

    pub fn max_episode_length(&self) -> usize {
        self.deck.num_cards() - 1
    }
}

impl Env for RepeatFirst {
    fn observation_space(&self) -> &Space {
        &self.space
    }

    fn action_space(&self) -> &Space {
        &self.space
    }

    fn reset(&mut self, seed: Option<u64>, obs: &mut [f32]) -> Result<(), EnvError> {
        check_obs(obs, &self.space)?;
        if let Some(seed) = seed {
            self.rng.seed(seed);
        }
        self.deck.reset(&mut self.rng);
        self.first_suit = suit(self.deck.deal());
        obs[0] = self.first_suit as f32;
        self.phase = Phase::Running;
        Ok(())
    }

    fn step(&mut self, action: Action<'_>, obs: &mut [f32]) -> Result<Step, EnvError> {
        self.phase.check_step()?;
        check_action(&action, &self.space)?;
        check_obs(obs, &self.space)?;
        let reward = if discrete(action) == self.first_suit {
            self.reward_scale
        } else {
            -self.reward_scale
        };
        let terminated = self.deck.len() == 1;
        obs[0] = suit(self.deck.deal()) as f32;
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
