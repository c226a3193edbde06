//! Concentration (memory): the deck lies face down; each step flips one card, and two flipped
//! cards of the same color (rank, on Hard) stay face up (POPGym's `concentration.py`).
//! Observation: per position the card's value if face up or in play, else "face down".

use super::deck::{CardKind, Deck};
use super::{check_action, check_obs, discrete, Level, Phase};
use crate::env::{Env, EnvError, Step};
use crate::rng::EnvRng;
use crate::space::{Action, Space};

#[derive(Clone, Debug)]
pub struct Concentration {
    deck: Deck,
    kind: CardKind,
    /// The observation value of a face-down card (the number of distinct card values).
    facedown: f32,
    /// Per position: the card's value once matched, else `facedown`.
    face_up_view: Vec<f32>,
    face_up_count: usize,
    /// Positions flipped in the current turn (at most two).
    in_play: [usize; 2],
    in_play_len: usize,
    curr_step: usize,
    episode_length: usize,
    success_reward: f64,
    failure_reward: f64,
    observation_space: Space,
    action_space: Space,
    rng: EnvRng,
    phase: Phase,
}

impl Concentration {
    pub const DESCRIPTION: &'static str = "flip cards two at a time and remember where pairs are";

    /// Easy: 1 deck matched by color; Medium: 2 decks by color; Hard: 1 deck by rank.
    pub fn new(level: Level) -> Self {
        let (num_decks, kind) = level.pick(
            (1, CardKind::Colors),
            (2, CardKind::Colors),
            (1, CardKind::Ranks),
        );
        Self::with_params(num_decks, kind)
    }

    pub fn with_params(num_decks: usize, kind: CardKind) -> Self {
        assert!(
            kind != CardKind::Suits,
            "Concentration matches colors or ranks (13 cards per suit cannot all pair up)"
        );
        let deck = Deck::new(num_decks);
        let num_cards = deck.num_cards();
        let n = num_cards as f64;
        // POPGym: the expected number of turns of a perfect player.
        let episode_length = (2.0 * n - n / (2.0 * n - 1.0)).ceil() as usize;
        let facedown = kind.distinct();
        Concentration {
            deck,
            kind,
            facedown: facedown as f32,
            face_up_view: vec![facedown as f32; num_cards],
            face_up_count: 0,
            in_play: [0; 2],
            in_play_len: 0,
            curr_step: 0,
            episode_length,
            success_reward: 1.0 / (num_cards / 2) as f64,
            failure_reward: -1.0 / episode_length as f64,
            observation_space: Space::MultiDiscrete {
                nvec: vec![facedown as u64 + 1; num_cards],
            },
            action_space: Space::discrete(num_cards as u64),
            rng: EnvRng::default(),
            phase: Phase::NotReset,
        }
    }

    pub fn max_episode_length(&self) -> usize {
        self.episode_length
    }

    fn value_at(&self, position: usize) -> i64 {
        self.kind.of(self.deck.idx[position])
    }

    fn is_face_up(&self, position: usize) -> bool {
        self.face_up_view[position] != self.facedown
    }

    fn write_obs(&self, obs: &mut [f32]) {
        obs.copy_from_slice(&self.face_up_view);
        for &position in &self.in_play[..self.in_play_len] {
            obs[position] = self.value_at(position) as f32;
        }
    }
}

impl Env for Concentration {
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
        self.face_up_view.fill(self.facedown);
        self.face_up_count = 0;
        self.in_play_len = 0;
        self.curr_step = 0;
        self.write_obs(obs);
        self.phase = Phase::Running;
        Ok(())
    }

    fn step(&mut self, action: Action<'_>, obs: &mut [f32]) -> Result<Step, EnvError> {
        self.phase.check_step()?;
        check_action(&action, &self.action_space)?;
        check_obs(obs, &self.observation_space)?;
        let position = discrete(action) as usize;
        let truncated = self.curr_step >= self.episode_length - 1;
        let mut terminated = false;
        let mut reward = 0.0;

        self.in_play[self.in_play_len] = position;
        self.in_play_len += 1;
        // The observation shows the flipped cards before they are turned back.
        self.write_obs(obs);

        let flipped = &self.in_play[..self.in_play_len];
        if flipped.iter().any(|&p| self.is_face_up(p)) {
            reward = self.failure_reward * self.in_play_len as f64;
            self.in_play_len = 0;
        } else if self.in_play_len == 2 {
            let (a, b) = (self.in_play[0], self.in_play[1]);
            if a != b && self.value_at(a) == self.value_at(b) {
                reward = self.success_reward;
                self.face_up_view[a] = self.value_at(a) as f32;
                self.face_up_view[b] = self.value_at(b) as f32;
                self.face_up_count += 2;
                terminated = self.face_up_count == self.deck.num_cards();
            } else {
                reward = 2.0 * self.failure_reward;
            }
            self.in_play_len = 0;
        }
        self.curr_step += 1;
        self.phase = Phase::after(terminated || truncated);
        Ok(Step {
            reward,
            terminated,
            truncated,
        })
    }

    fn rng_mut(&mut self) -> Option<&mut EnvRng> {
        Some(&mut self.rng)
    }
}
