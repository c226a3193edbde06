//! CountRecall: each step deals a value card and a query card; the agent must answer how many
//! cards like the *previous* query it had been dealt (POPGym's `count_recall.py`).

use super::deck::{CardKind, Deck};
use super::{check_action, check_obs, discrete, Level, Phase};
use crate::env::{Env, EnvError, Step};
use crate::rng::EnvRng;
use crate::space::{Action, Space};

#[derive(Clone, Debug)]
pub struct CountRecall {
    value_deck: Deck,
    query_deck: Deck,
    kind: CardKind,
    /// How many value cards of each kind were dealt this episode.
    counts: Vec<i64>,
    query: i64,
    reward_scale: f64,
    observation_space: Space,
    action_space: Space,
    rng: EnvRng,
    phase: Phase,
}

impl CountRecall {
    pub const DESCRIPTION: &'static str = "count how often the queried card was dealt so far";

    /// Easy: 1 deck, colors; Medium: 2 decks, suits; Hard: 4 decks, ranks.
    pub fn new(level: Level) -> Self {
        let (num_decks, kind) = level.pick(
            (1, CardKind::Colors),
            (2, CardKind::Suits),
            (4, CardKind::Ranks),
        );
        Self::with_params(num_decks, kind)
    }

    pub fn with_params(num_decks: usize, kind: CardKind) -> Self {
        let value_deck = Deck::new(num_decks);
        let num_cards = value_deck.num_cards();
        let distinct = kind.distinct();
        let max_card_count = num_cards / distinct;
        CountRecall {
            query_deck: value_deck.clone(),
            value_deck,
            kind,
            counts: vec![0; distinct],
            query: 0,
            reward_scale: 1.0 / (num_cards - 1) as f64,
            observation_space: Space::MultiDiscrete {
                nvec: vec![distinct as u64; 2],
            },
            action_space: Space::discrete(max_card_count as u64 + 1),
            rng: EnvRng::default(),
            phase: Phase::NotReset,
        }
    }

    pub fn max_episode_length(&self) -> usize {
        self.value_deck.num_cards() - 1
    }

    fn deal(&mut self, obs: &mut [f32]) {
        let value = self.kind.of(self.value_deck.deal());
        self.query = self.kind.of(self.query_deck.deal());
        self.counts[value as usize] += 1;
        obs[0] = value as f32;
        obs[1] = self.query as f32;
    }
}

impl Env for CountRecall {
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
        self.value_deck.reset(&mut self.rng);
        self.query_deck.reset(&mut self.rng);
        self.counts.fill(0);
        self.deal(obs);
        self.phase = Phase::Running;
        Ok(())
    }

    fn step(&mut self, action: Action<'_>, obs: &mut [f32]) -> Result<Step, EnvError> {
        self.phase.check_step()?;
        check_action(&action, &self.action_space)?;
        check_obs(obs, &self.observation_space)?;
        let previous_count = self.counts[self.query as usize];
        self.deal(obs);
        let reward = if discrete(action) == previous_count {
            self.reward_scale
        } else {
            -self.reward_scale
        };
        let terminated = self.value_deck.is_empty();
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
