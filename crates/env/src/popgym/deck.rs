//! POPGym's `Deck`: `num_decks` standard 52-card decks, shuffled as one array of card ids and
//! dealt from the end, so that a recorded numpy `shuffle` reproduces the very same deals.

use crate::rng::EnvRng;

/// Cards in one standard deck.
pub const DECK_SIZE: usize = 52;

/// A card's suit index (POPGym's `suits_idx`): `s d c h` repeat every card.
#[inline]
pub fn suit(card: i64) -> i64 {
    card % 4
}

/// A card's rank index (`ranks_idx`): `a 2 .. 10 j q k`, four cards (one per suit) each.
#[inline]
pub fn rank(card: i64) -> i64 {
    (card % DECK_SIZE as i64) / 4
}

/// A card's color index (`colors_idx`): black and red alternate.
#[inline]
pub fn color(card: i64) -> i64 {
    card % 2
}

/// What a game compares cards by (POPGym's `deck_type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CardKind {
    Colors,
    Suits,
    Ranks,
}

impl CardKind {
    /// The card's value under this kind.
    #[inline]
    pub fn of(self, card: i64) -> i64 {
        match self {
            CardKind::Colors => color(card),
            CardKind::Suits => suit(card),
            CardKind::Ranks => rank(card),
        }
    }

    /// How many distinct values there are.
    pub fn distinct(self) -> usize {
        match self {
            CardKind::Colors => 2,
            CardKind::Suits => 4,
            CardKind::Ranks => 13,
        }
    }
}

/// The shuffled card ids and how many are still in the deck (`deck_len`).
#[derive(Clone, Debug)]
pub struct Deck {
    /// `idx`: a permutation of `0..num_cards` after [`Deck::reset`].
    pub idx: Vec<i64>,
    /// Cards not yet dealt: `idx[..len]`.
    len: usize,
}

impl Deck {
    pub fn new(num_decks: usize) -> Self {
        assert!(num_decks > 0, "a deck needs at least one 52-card deck");
        let num_cards = DECK_SIZE * num_decks;
        Deck {
            idx: (0..num_cards as i64).collect(),
            len: num_cards,
        }
    }

    pub fn num_cards(&self) -> usize {
        self.idx.len()
    }

    /// Cards still in the deck (`len(deck)`).
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Puts every card back and shuffles (`deck.reset(rng=np_random)`: `shuffle(arange(n))`).
    pub fn reset(&mut self, rng: &mut EnvRng) {
        for (i, card) in self.idx.iter_mut().enumerate() {
            *card = i as i64;
        }
        self.len = self.idx.len();
        rng.shuffle(&mut self.idx);
    }

    /// Deals one card from the end of the deck. Callers end episodes before the deck runs out
    /// (POPGym raises `DeckEmptyError` there), so running out is a bug, not bad input.
    #[inline]
    pub fn deal(&mut self) -> i64 {
        assert!(self.len > 0, "dealt from an empty deck");
        self.len -= 1;
        self.idx[self.len]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn card_attributes_follow_popgym_tiling() {
        // RANKS.repeat(4) tiled: cards 0..3 are aces, 48..51 kings; suits cycle s d c h.
        assert_eq!(
            (rank(0), rank(3), rank(4), rank(51), rank(52)),
            (0, 0, 1, 12, 0)
        );
        assert_eq!((suit(0), suit(5), suit(55)), (0, 1, 3));
        assert_eq!((color(0), color(1), color(103)), (0, 1, 1));
    }

    #[test]
    fn deals_from_the_end() {
        let mut deck = Deck::new(1);
        deck.idx.reverse();
        assert_eq!(deck.deal(), 0);
        assert_eq!(deck.deal(), 1);
        assert_eq!(deck.len(), 50);
    }
}
