//! RepeatPrevious: cards are dealt one per step; the agent must output the suit of the card
//! dealt `k` steps before (POPGym's `repeat_previous.py`).

use super::deck::{suit, Deck};
use super::{check_action, check_obs, discrete, Level, Phase};
use crate::env::{Env, EnvError, Step};
use crate::rng::EnvRng;
use crate::space::{Action, Space};

#[derive(Clone, Debug)]
pub struct RepeatPrevious {
    deck: Deck,
    k: usize,
    /// Suits of the cards dealt this episode, oldest first (POPGym's `player` hand).
    dealt_suits: Vec<i64>,
    reward_scale: f64,
    space: Space,
    rng: EnvRng,
    phase: Phase,
}

impl RepeatPrevious {
    pub const DESCRIPTION: &'static str = "output the suit of the card dealt k steps ago";

    /// Easy: 1 deck, k = 4; Medium: 2 decks, k = 32; Hard: 3 decks, k = 64.
    pub fn new(level: Level) -> Self {
        let (num_decks, k) = level.pick((1, 4), (2, 32), (3, 64));
        Self::with_params(num_decks, k)
    }

    pub fn with_params(num_decks: usize, k: usize) -> Self {
        let deck = Deck::new(num_decks);
        assert!(
            deck.num_cards() > k,
            "k must be smaller than the number of cards"
        );
        let num_cards = deck.num_cards();
        RepeatPrevious {
            deck,
            k,
            dealt_suits: Vec::with_capacity(num_cards),
            reward_scale: 1.0 / (num_cards - k) as f64,
            space: Space::discrete(4),
            rng: EnvRng::default(),
            phase: Phase::NotReset,
        }
    }

    /// Steps per episode: every card after the first.
    pub fn max_episode_length(&self) -> usize {
        self.deck.num_cards() - 1
    }
}

impl Env for RepeatPrevious {
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
        self.dealt_suits.clear();
        let card = suit(self.deck.deal());
        self.dealt_suits.push(card);
        obs[0] = card as f32;
        self.phase = Phase::Running;
        Ok(())
    }

    fn step(&mut self, action: Action<'_>, obs: &mut [f32]) -> Result<Step, EnvError> {
        self.phase.check_step()?;
        check_action(&action, &self.space)?;
        check_obs(obs, &self.space)?;
        let action = discrete(action);
        let terminated = self.deck.len() == 1;
        let hand = self.dealt_suits.len();
        let reward = if hand >= self.k {
            if action == self.dealt_suits[hand - self.k] {
                self.reward_scale
            } else {
                -self.reward_scale
            }
        } else {
            0.0
        };
        let card = suit(self.deck.deal());
        self.dealt_suits.push(card);
        obs[0] = card as f32;
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
