//! The sliding window of n-step methods (Sutton & Barto chapter 7): the last `n` steps'
//! states, actions and rewards, whose oldest entry is updated once `n` rewards are known,
//! and all of which are updated when the episode ends.

use crate::tabular::runner::Transition;
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;

#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    pub state: usize,
    pub action: usize,
    /// The reward that followed.
    pub reward: f64,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Window {
    pub n: usize,
    pub entries: VecDeque<Entry>,
}

impl Window {
    pub fn new(n: usize) -> Window {
        Window {
            n,
            entries: VecDeque::with_capacity(n),
        }
    }

    /// Takes a checkpoint's window back, keeping this run's `n` (configuration, not state).
    pub fn restore(&mut self, saved: Window) {
        let n = self.n;
        *self = saved;
        self.n = n;
    }

    #[inline]
    pub fn push(&mut self, state: usize, action: usize, reward: f64) {
        self.entries.push_back(Entry {
            state,
            action,
            reward,
        });
    }

    /// `n` rewards are known for the oldest entry.
    #[inline]
    pub fn full(&self) -> bool {
        self.entries.len() >= self.n
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// `(sum_i gamma^i R_i, gamma^k)` over the `k` rewards in the window, oldest first.
    #[inline]
    pub fn discounted_rewards(&self, gamma: f64) -> (f64, f64) {
        let mut g = 0.0;
        let mut discount = 1.0;
        for e in &self.entries {
            g += discount * e.reward;
            discount *= gamma;
        }
        (g, discount)
    }

    /// The n-step return of the oldest entry: its rewards discounted, then
    /// `gamma^k * boot`, where `boot` is the value after the window's last step.
    #[inline]
    pub fn n_step_return(&self, gamma: f64, boot: f64) -> f64 {
        let (g, discount) = self.discounted_rewards(gamma);
        g + discount * boot
    }

    #[inline]
    pub fn oldest(&self) -> Option<Entry> {
        self.entries.front().copied()
    }

    #[inline]
    pub fn pop(&mut self) {
        self.entries.pop_front();
    }

    /// Pushes a step, then updates the oldest entry once `n` rewards are known and, when the
    /// episode ended, every entry left; `update` sees the window with the entry to update
    /// oldest and returns its |TD error|, added to `td_sum`.
    #[inline]
    pub fn advance(
        &mut self,
        t: &Transition,
        td_sum: &mut f64,
        mut update: impl FnMut(&Window) -> f64,
    ) {
        self.push(t.state, t.action, t.reward);
        if self.full() {
            *td_sum += update(self);
            self.pop();
        }
        if t.done() {
            while !self.is_empty() {
                *td_sum += update(self);
                self.pop();
            }
        }
    }
}
