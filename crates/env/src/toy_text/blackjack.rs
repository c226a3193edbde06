//! Blackjack-v1 (Sutton & Barto, example 5.1), as Gymnasium 1.x's `BlackjackEnv`.

use crate::builtin::{invalid_action, obs_array, Phase};
use crate::env::{Env, EnvError, Render, RenderMode, Step};
use crate::registry::Options;
use crate::rng::EnvRng;
use crate::space::{Action, Space};

/// An infinite deck: 1 = ace, face cards count 10.
const DECK: [i64; 13] = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 10, 10, 10];
const SUITS: [&str; 4] = ["C", "D", "H", "S"];
const FACES: [&str; 3] = ["J", "Q", "K"];

/// A hand without allocation (21 aces is the most a hand can hold before busting).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Hand {
    cards: [u8; 22],
    len: usize,
}

impl Hand {
    fn new() -> Self {
        Hand {
            cards: [0; 22],
            len: 0,
        }
    }
    fn push(&mut self, card: i64) {
        if self.len < self.cards.len() {
            self.cards[self.len] = card as u8;
            self.len += 1;
        }
    }
    fn cards(&self) -> &[u8] {
        &self.cards[..self.len]
    }
    fn raw_sum(&self) -> i64 {
        self.cards().iter().map(|&c| c as i64).sum()
    }
    fn usable_ace(&self) -> bool {
        self.cards().contains(&1) && self.raw_sum() + 10 <= 21
    }
    fn sum(&self) -> i64 {
        self.raw_sum() + if self.usable_ace() { 10 } else { 0 }
    }
    fn is_bust(&self) -> bool {
        self.sum() > 21
    }
    fn score(&self) -> i64 {
        if self.is_bust() {
            0
        } else {
            self.sum()
        }
    }
    fn is_natural(&self) -> bool {
        let c = self.cards();
        c.len() == 2 && ((c[0] == 1 && c[1] == 10) || (c[0] == 10 && c[1] == 1))
    }
}

/// Blackjack: stick (0) or hit (1). Observation `(player_sum, dealer_showing, usable_ace)` in
/// `Tuple(Discrete(32), Discrete(11), Discrete(2))`. Rewards +1 win, -1 loss, 0 draw; `natural`
/// pays 1.5 for a winning natural, `sab` (Sutton & Barto's rules, the v1 default) pays 1 for a
/// natural unless the dealer also has one.
#[derive(Clone, Debug)]
pub struct Blackjack {
    natural: bool,
    sab: bool,
    player: Hand,
    dealer: Hand,
    /// For rendering only, drawn as Gymnasium does (it consumes random draws).
    dealer_top_card_suit: &'static str,
    dealer_top_card_value: String,
    phase: Phase,
    rng: EnvRng,
    observation_space: Space,
    action_space: Space,
}

impl Default for Blackjack {
    /// Blackjack-v1's registered options: `sab=True, natural=False`.
    fn default() -> Self {
        Self::new(false, true)
    }
}

impl Blackjack {
    pub fn new(natural: bool, sab: bool) -> Self {
        Blackjack {
            natural,
            sab,
            player: Hand::new(),
            dealer: Hand::new(),
            dealer_top_card_suit: "C",
            dealer_top_card_value: String::new(),
            phase: Phase::NotReset,
            rng: EnvRng::default(),
            observation_space: Space::Tuple(vec![
                Space::discrete(32),
                Space::discrete(11),
                Space::discrete(2),
            ]),
            action_space: Space::discrete(2),
        }
    }

    /// Registry entry point. Options: `natural`, `sab` (the class defaults are false; the
    /// Blackjack-v1 registration sets `sab=true`).
    pub fn make(opts: &mut Options) -> Result<Box<dyn Env>, EnvError> {
        let natural = opts.take_bool("natural", false)?;
        let sab = opts.take_bool("sab", false)?;
        Ok(Box::new(Self::new(natural, sab)))
    }

    fn draw_card(&mut self) -> i64 {
        self.rng.choice(&DECK)
    }

    /// The state number tabular methods use (`StateIndex` over the observation tuple):
    /// `(player_sum * 11 + dealer_showing) * 2 + usable_ace`.
    fn state_index(&self) -> usize {
        ((self.player.sum() as usize * 11 + self.dealer.cards[0] as usize) * 2)
            + self.player.usable_ace() as usize
    }

    fn write_obs(&self, obs: &mut [f32; 3]) {
        *obs = [
            self.player.sum() as f32,
            self.dealer.cards[0] as f32,
            self.player.usable_ace() as u8 as f32,
        ];
    }
}

impl Env for Blackjack {
    fn observation_space(&self) -> &Space {
        &self.observation_space
    }

    fn action_space(&self) -> &Space {
        &self.action_space
    }

    fn reset(&mut self, seed: Option<u64>, obs: &mut [f32]) -> Result<(), EnvError> {
        let obs = obs_array::<3>(obs)?;
        if let Some(seed) = seed {
            self.rng.seed(seed);
        }
        self.dealer = Hand::new();
        self.player = Hand::new();
        for _ in 0..2 {
            let c = self.draw_card();
            self.dealer.push(c);
        }
        for _ in 0..2 {
            let c = self.draw_card();
            self.player.push(c);
        }
        self.dealer_top_card_suit = self.rng.choice(&SUITS);
        let showing = self.dealer.cards[0];
        self.dealer_top_card_value = match showing {
            1 => "A".to_string(),
            10 => self.rng.choice(&FACES).to_string(),
            v => v.to_string(),
        };
        self.phase = Phase::Running;
        self.write_obs(obs);
        Ok(())
    }

    fn step(&mut self, action: Action<'_>, obs: &mut [f32]) -> Result<Step, EnvError> {
        self.phase.check_step()?;
        let hit = match action {
            Action::Discrete(0) => false,
            Action::Discrete(1) => true,
            _ => return Err(invalid_action(action, &self.action_space)),
        };
        let obs = obs_array::<3>(obs)?;
        let (reward, terminated) = if hit {
            let c = self.draw_card();
            self.player.push(c);
            if self.player.is_bust() {
                (-1.0, true)
            } else {
                (0.0, false)
            }
        } else {
            while self.dealer.sum() < 17 {
                let c = self.draw_card();
                self.dealer.push(c);
            }
            let (p, d) = (self.player.score(), self.dealer.score());
            let mut reward = ((p > d) as i64 - (p < d) as i64) as f64;
            if self.sab && self.player.is_natural() && !self.dealer.is_natural() {
                reward = 1.0;
            } else if !self.sab && self.natural && self.player.is_natural() && reward == 1.0 {
                reward = 1.5;
            }
            (reward, true)
        };
        if terminated {
            self.phase = Phase::Done;
        }
        self.write_obs(obs);
        Ok(Step {
            reward,
            terminated,
            truncated: false,
        })
    }

    /// A plain-text table (Gymnasium's Blackjack has no `ansi` mode; this is engram's).
    fn render(&self, mode: RenderMode) -> Result<Render, EnvError> {
        if mode != RenderMode::Text {
            return Err(EnvError::Unsupported(format!(
                "render mode {mode:?} for Blackjack (use Text)"
            )));
        }
        let cards = |h: &Hand| {
            h.cards()
                .iter()
                .map(|c| c.to_string())
                .collect::<Vec<_>>()
                .join(" ")
        };
        Ok(Render::Text(format!(
            "Dealer shows {}{} (hand: {})\nPlayer: {} (sum {}{})\n",
            self.dealer_top_card_value,
            self.dealer_top_card_suit,
            cards(&self.dealer),
            cards(&self.player),
            self.player.sum(),
            if self.player.usable_ace() {
                ", usable ace"
            } else {
                ""
            },
        )))
    }

    fn rng_mut(&mut self) -> Option<&mut EnvRng> {
        Some(&mut self.rng)
    }

    /// engram's, for exploring starts and exact resume (Gymnasium's Blackjack has no
    /// `state`): the observation's state number `(player_sum * 11 + dealer_showing) * 2 +
    /// usable_ace`, which is all the future depends on.
    fn state(&self) -> Option<Vec<f64>> {
        Some(vec![self.state_index() as f64])
    }

    /// Puts the episode in state number `[s]` (see [`Env::state`]): the player holds a hand
    /// of that sum and ace (an ace and `sum - 11`; two non-aces; 21 without a usable ace is
    /// 10, 10, ace: the future depends on the sum and the ace only), the dealer shows that
    /// card and keeps the hidden card of the reset. Sums 4..=21 (12..=21 with a usable ace),
    /// dealer cards 1..=10.
    fn set_state(&mut self, state: &[f64]) -> Result<(), EnvError> {
        let bad = || {
            EnvError::Other(format!(
                "Blackjack state is one number (player_sum * 11 + dealer_showing) * 2 + \
                 usable_ace with a sum in 4..=21 (12..=21 with a usable ace) and a dealer card \
                 in 1..=10, got {state:?}"
            ))
        };
        let [s] = state else { return Err(bad()) };
        if *s < 0.0 || s.fract() != 0.0 || *s >= (32 * 11 * 2) as f64 {
            return Err(bad());
        }
        let s = *s as usize;
        let (sum, showing, ace) = ((s / 2) / 11, (s / 2) % 11, s % 2 == 1);
        let sums = if ace { 12..=21 } else { 4..=21 };
        if !sums.contains(&sum) || !(1..=10).contains(&showing) {
            return Err(bad());
        }
        if self.dealer.len < 2 {
            return Err(EnvError::Other(
                "Blackjack set_state needs a reset first (the dealer's hidden card)".into(),
            ));
        }
        let mut hand = Hand::new();
        let sum = sum as i64;
        match (ace, sum) {
            (true, _) => [1, sum - 11].iter().for_each(|&c| hand.push(c)),
            (false, 21) => [10, 10, 1].iter().for_each(|&c| hand.push(c)),
            (false, _) => {
                let high = (sum - 2).min(10);
                [high, sum - high].iter().for_each(|&c| hand.push(c));
            }
        }
        self.player = hand;
        if self.dealer.cards[0] != showing as u8 {
            self.dealer.cards[0] = showing as u8;
            self.dealer_top_card_value = match showing {
                1 => "A".to_string(),
                v => v.to_string(),
            };
        }
        self.phase = Phase::Running;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_state_puts_the_episode_in_a_state_number() {
        let mut env = Blackjack::default();
        let mut obs = [0.0f32; 3];
        assert!(env.set_state(&[100.0]).is_err(), "before a reset");
        assert_eq!(env.state(), Some(vec![0.0]), "before a reset");
        env.reset(Some(3), &mut obs).unwrap();
        // The reset's own state number round-trips.
        let s = env.state().unwrap();
        env.set_state(&s).unwrap();
        assert_eq!(env.state().unwrap(), s);
        // (13, dealer 7, usable ace) and (21, dealer ace, no usable ace).
        for (sum, card, ace) in [
            (13usize, 7usize, 1usize),
            (21, 1, 0),
            (4, 10, 0),
            (21, 10, 1),
        ] {
            let s = ((sum * 11 + card) * 2 + ace) as f64;
            env.set_state(&[s]).unwrap();
            assert_eq!(env.state().unwrap(), vec![s]);
            assert_eq!(env.player.sum(), sum as i64);
            assert_eq!(env.player.usable_ace(), ace == 1);
            assert_eq!(env.dealer.cards[0] as usize, card);
        }
        assert!(
            env.player.is_natural(),
            "21 with a usable ace is the natural"
        );
        // Sticking ends the episode.
        assert!(env.step(Action::Discrete(0), &mut obs).unwrap().terminated);
        for bad in [
            vec![((3 * 11 + 5) * 2) as f64],
            vec![((11 * 11 + 5) * 2 + 1) as f64],
            vec![((15 * 11) * 2) as f64],
            vec![((22 * 11 + 5) * 2) as f64],
            vec![1.5],
            vec![1.0, 2.0],
        ] {
            assert!(env.set_state(&bad).is_err(), "{bad:?}");
        }
    }
}
