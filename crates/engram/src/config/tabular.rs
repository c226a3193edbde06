//! The section every sampling tabular method shares (TD, Monte Carlo, Dyna, bandits): the
//! step size, the initial action values and the exploration strategy (Sutton & Barto
//! chapter 2's, for bandits and MDPs alike).

use super::{check, invalid, ConfigError};
use serde::{Deserialize, Serialize};

/// How actions are chosen from the action values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ExplorationKind {
    /// Random with probability `epsilon`, else greedy (ties broken at random).
    EpsilonGreedy,
    /// Softmax of the values over `temperature`.
    Boltzmann,
    /// Upper confidence bound: `Q + ucb_c * sqrt(ln t / N)`, untried actions first.
    Ucb,
    /// Gradient bandit (Sutton & Barto 2.8): softmax of learned preferences (bandit only).
    Gradient,
}

impl ExplorationKind {
    pub fn name(self) -> &'static str {
        match self {
            ExplorationKind::EpsilonGreedy => "epsilon-greedy",
            ExplorationKind::Boltzmann => "boltzmann",
            ExplorationKind::Ucb => "ucb",
            ExplorationKind::Gradient => "gradient",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TabularConfig {
    /// Step size; 0 = sample averages (1 / n of the state-action pair's visits).
    pub alpha: f64,
    /// Initial action values (optimistic initial values when above the returns).
    pub q_init: f64,
    pub exploration: ExplorationKind,
    pub epsilon: f64,
    /// Epsilon is multiplied by this at the end of each episode, down to `epsilon_min`.
    pub epsilon_decay: f64,
    pub epsilon_min: f64,
    pub temperature: f64,
    pub ucb_c: f64,
    /// Count-based exploration bonus `count_bonus / sqrt(N(s, a) + 1)` added to the values
    /// actions are chosen by (0 = off).
    pub count_bonus: f64,
    /// Gradient bandit: compare rewards with their running mean (the baseline).
    pub gradient_baseline: bool,
}

impl Default for TabularConfig {
    fn default() -> Self {
        TabularConfig {
            alpha: 0.1,
            q_init: 0.0,
            exploration: ExplorationKind::EpsilonGreedy,
            epsilon: 0.1,
            epsilon_decay: 1.0,
            epsilon_min: 0.0,
            temperature: 1.0,
            ucb_c: 2.0,
            count_bonus: 0.0,
            gradient_baseline: true,
        }
    }
}

impl TabularConfig {
    pub fn validate(&self) -> Result<(), ConfigError> {
        // The gradient bandit's alpha steps preferences, not averages: it may exceed 1 (the
        // book's Figure 2.6 goes to 2).
        if self.exploration == ExplorationKind::Gradient {
            if !(self.alpha.is_finite() && (0.0..=100.0).contains(&self.alpha)) {
                return Err(invalid(
                    "alpha",
                    format!(
                        "must be in [0, 100] (the gradient bandit's preference step), got {}",
                        self.alpha
                    ),
                ));
            }
        } else if !(self.alpha.is_finite() && (0.0..=1.0).contains(&self.alpha)) {
            return Err(invalid(
                "alpha",
                format!(
                    "must be in [0, 1] (the step size; 0 = sample averages), got {}",
                    self.alpha
                ),
            ));
        }
        if !self.q_init.is_finite() {
            return Err(invalid("q_init", "must be a finite number"));
        }
        for (key, v) in [
            ("epsilon", self.epsilon),
            ("epsilon_min", self.epsilon_min),
            ("epsilon_decay", self.epsilon_decay),
        ] {
            if !(0.0..=1.0).contains(&v) {
                return Err(invalid(
                    key,
                    format!(
                        "must be in [0, 1] ({}), got {v}",
                        if key == "epsilon_decay" {
                            "a factor applied after each episode; 1 = no decay"
                        } else {
                            "a probability of a random action; e.g. --set epsilon=0.1"
                        }
                    ),
                ));
            }
        }
        check::positive("temperature", self.temperature)?;
        check::non_negative("ucb_c", self.ucb_c)?;
        check::non_negative("count_bonus", self.count_bonus)
    }
}
