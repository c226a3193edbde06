//! Autoencode: the agent watches a shuffled deck's suits one by one, then must play them back
//! in reverse order (POPGym's `autoencode.py`). Observation: `(watching?, suit)`.

use super::deck::{suit, Deck};
use super::{check_action, check_obs, discrete, Level, Phase};
use crate::env::{Env, EnvError, Step};
use crate::rng::EnvRng;
use crate::space::{Action, Space};

const PLAY: f32 = 0.0;
const WATCH: f32 = 1.0;

#[derive(Clone, Debug)]
pub struct Autoencode {
    deck: Deck,
    /// Cards shown so far and not yet recited (POPGym's `system` hand), oldest first.
    shown: Vec<i64>,
    watching: bool,
    reward_scale: f64,
    observation_space: Space,
    action_space: Space,
    rng: EnvRng,
    phase: Phase,
}

impl Autoencode {
    pub const DESCRIPTION: &'static str = "watch a sequence of suits, then recite it backwards";

    /// Easy: 1 deck; Medium: 2 decks; Hard: 3 decks.
    pub fn new(level: Level) -> Self {
        Self::with_decks(level.pick(1, 2, 3))
    }

    pub fn with_decks(num_decks: usize) -> Self {
        let deck = Deck::new(num_decks);
        let num_cards = deck.num_cards();
        Autoencode {
            deck,
            shown: Vec::with_capacity(num_cards),
            watching: true,
            reward_scale: 1.0 / num_cards as f64,
            observation_space: Space::Tuple(vec![Space::discrete(2), Space::discrete(4)]),
            action_space: Space::discrete(4),
            rng: EnvRng::default(),
            phase: Phase::NotReset,
        }
    }

    pub fn max_episode_length(&self) -> usize {
        2 * self.deck.num_cards() - 1
    }
}

impl Env for Autoencode {
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
        self.shown.clear();
        let card = self.deck.deal();
        self.shown.push(card);
        self.watching = true;
        obs[0] = WATCH;
        obs[1] = suit(card) as f32;
        self.phase = Phase::Running;
        Ok(())
    }

    fn step(&mut self, action: Action<'_>, obs: &mut [f32]) -> Result<Step, EnvError> {
        self.phase.check_step()?;
        check_action(&action, &self.action_space)?;
        check_obs(obs, &self.observation_space)?;
        let mut reward = 0.0;
        let mut terminated = false;
        if self.watching {
            let card = self.deck.deal();
            self.shown.push(card);
            if self.deck.is_empty() {
                self.watching = false;
            }
            obs[0] = if self.watching { WATCH } else { PLAY };
            obs[1] = suit(card) as f32;
        } else {
            terminated = self.shown.len() == 1;
            let card = self.shown.pop().ok_or(EnvError::NeedsReset)?;
            reward = if discrete(action) == suit(card) {
                self.reward_scale
            } else {
                -self.reward_scale
            };
            // POPGym shows card 0's suit (always 0) while the agent plays.
            obs[0] = PLAY;
            obs[1] = 0.0;
        }
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
