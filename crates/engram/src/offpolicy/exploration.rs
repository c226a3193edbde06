//! Action noise of the continuous off-policy algorithms (SB3's `NormalActionNoise` and
//! `OrnsteinUhlenbeckActionNoise`), added to actions in [-1, 1] and clipped back into it, as
//! SB3's `_sample_action` does (also during the random warm-up).

use engram_nn::dist::standard_normal;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// Which noise is added to the actions taken.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum NoiseKind {
    None,
    Normal,
    OrnsteinUhlenbeck,
}

/// SB3's `OrnsteinUhlenbeckActionNoise` time step.
pub const OU_DT: f32 = 1e-2;

/// Per-environment action noise; Ornstein-Uhlenbeck keeps a state, reset when the
/// environment's episode ends.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ActionNoise {
    pub kind: NoiseKind,
    pub std: f32,
    pub theta: f32,
    pub dim: usize,
    /// OU: the previous noise of each environment `[n_envs * dim]`.
    pub previous: Vec<f32>,
}

impl ActionNoise {
    pub fn new(kind: NoiseKind, std: f32, theta: f32, n_envs: usize, dim: usize) -> ActionNoise {
        ActionNoise {
            kind,
            std,
            theta,
            dim,
            previous: vec![0.0; n_envs * dim],
        }
    }

    /// Adds noise to `actions` `[n_envs * dim]` and clips them into [-1, 1].
    pub fn apply(&mut self, rng: &mut ChaCha8Rng, actions: &mut [f32]) {
        match self.kind {
            NoiseKind::None => return,
            NoiseKind::Normal => {
                for a in actions.iter_mut() {
                    *a += self.std * standard_normal(rng);
                }
            }
            NoiseKind::OrnsteinUhlenbeck => {
                for (a, x) in actions.iter_mut().zip(self.previous.iter_mut()) {
                    // x' = x + theta (0 - x) dt + sigma sqrt(dt) N(0, 1)
                    *x +=
                        self.theta * (-*x) * OU_DT + self.std * OU_DT.sqrt() * standard_normal(rng);
                    *a += *x;
                }
            }
        }
        for a in actions.iter_mut() {
            *a = a.clamp(-1.0, 1.0);
        }
    }

    /// Environment `e`'s episode ended: its OU process starts again from zero.
    pub fn reset(&mut self, e: usize) {
        self.previous[e * self.dim..(e + 1) * self.dim].fill(0.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn noise_is_clipped_and_ou_follows_its_recursion() {
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        let mut n = ActionNoise::new(NoiseKind::Normal, 5.0, 0.15, 1, 3);
        let mut a = [0.9, -0.9, 0.0];
        n.apply(&mut rng, &mut a);
        assert!(a.iter().all(|x| (-1.0..=1.0).contains(x)));
        let mut ou = ActionNoise::new(NoiseKind::OrnsteinUhlenbeck, 0.3, 0.15, 2, 1);
        let mut twin = ChaCha8Rng::seed_from_u64(1);
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let mut x = [0.0f32; 2];
        for _ in 0..5 {
            let mut a = [0.0; 2];
            ou.apply(&mut rng, &mut a);
            for xi in x.iter_mut() {
                *xi += -0.15 * *xi * OU_DT + 0.3 * OU_DT.sqrt() * standard_normal(&mut twin);
            }
            assert_eq!(ou.previous, x.to_vec());
            assert_eq!(a, [x[0].clamp(-1.0, 1.0), x[1].clamp(-1.0, 1.0)]);
        }
        ou.reset(1);
        assert_eq!(ou.previous[1], 0.0);
        assert_eq!(ou.previous[0], x[0]);
    }
}
