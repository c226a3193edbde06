//! `JacksCarRental-v0`, Sutton & Barto Example 4.2 (Figure 4.2).
//!
//! Two locations hold 0-20 cars each at the end of a day (state `n1 * 21 + n2`). Overnight
//! Jack moves up to 5 cars between them (action `m` in -5..=5, a Discrete space starting at
//! -5: positive moves go from the first location to the second) at $2 a car. The next day
//! each location rents `min(requests, cars)` at $10 a car, requests Poisson with mean 3 and
//! 4, then receives returns, Poisson with mean 3 and 2, available the day after; cars beyond
//! 20 at the end of the day are returned to the nationwide company. As in the book's own
//! program (its location tables run over 0-25 morning cars), the cap applies to the day's
//! end: a location may open with up to 25 cars after a move. The book discounts with
//! gamma = 0.9.
//!
//! The model is exact: requests above the cars on hand all count as renting every car (the
//! Poisson tail `P(X >= cars)` in one outcome), and returns that would exceed 20 all count as
//! 20, so each location's next-day distribution sums to one with no truncated tail. The two
//! locations are independent, so `P(s' | s, a)` is the product of theirs; an outcome's reward
//! is the expected reward given `(s, a, s')`, which keeps the expected reward `r(s, a)` and
//! hence every Bellman equation exact (the sampled environment pays whole dollars).
//!
//! A move of more cars than the source holds is not allowed (the model's action mask, which
//! dynamic programming maximises over); if played it moves the cars there are.

use super::table::sample_start;
use crate::builtin::{invalid_action, obs_array, Phase};
use crate::env::{Env, EnvError, Info, InfoValue, Step};
use crate::model::{Model, ModelBuilder};
use crate::registry::Options;
use crate::rng::EnvRng;
use crate::space::{Action, Space};
use std::sync::{Arc, OnceLock};

pub const MAX_CARS: usize = 20;
pub const MAX_MOVE: i64 = 5;
const RENT: f64 = 10.0;
const MOVE_COST: f64 = 2.0;
const REQUESTS: [f64; 2] = [3.0, 4.0];
const RETURNS: [f64; 2] = [3.0, 2.0];
const SIDE: usize = MAX_CARS + 1;
/// Cars a location can open the day with (20 plus a night's moves).
const MORNING: usize = MAX_CARS + MAX_MOVE as usize + 1;
const N_STATES: usize = SIDE * SIDE;
const N_ACTIONS: usize = (2 * MAX_MOVE + 1) as usize;

fn poisson_pmf(lambda: f64, up_to: usize) -> Vec<f64> {
    let mut p = vec![(-lambda).exp(); up_to + 1];
    for k in 1..=up_to {
        p[k] = p[k - 1] * lambda / k as f64;
    }
    p
}

/// `P(X >= k)` for each k, from the pmf (1 minus the sum below k).
fn tail(pmf: &[f64], k: usize) -> f64 {
    (1.0 - pmf[..k].iter().sum::<f64>()).max(0.0)
}

/// One location's next day from `cars` on hand: `(P(next = j), E[rented | next = j])`.
fn location_day(cars: usize, requests: f64, returns: f64) -> (Vec<f64>, Vec<f64>) {
    let req = poisson_pmf(requests, MORNING + 1);
    let ret = poisson_pmf(returns, MORNING + 1);
    let mut prob = vec![0.0; SIDE];
    let mut rented_mass = vec![0.0; SIDE];
    for rented in 0..=cars {
        let p_rent = if rented < cars {
            req[rented]
        } else {
            tail(&req, cars)
        };
        let left = cars - rented;
        if left >= MAX_CARS {
            // Every return goes back to the nationwide company.
            prob[MAX_CARS] += p_rent;
            rented_mass[MAX_CARS] += p_rent * rented as f64;
            continue;
        }
        for next in left..=MAX_CARS {
            let back = next - left;
            let p_back = if next < MAX_CARS {
                ret[back]
            } else {
                tail(&ret, back)
            };
            prob[next] += p_rent * p_back;
            rented_mass[next] += p_rent * p_back * rented as f64;
        }
    }
    let expected = prob
        .iter()
        .zip(&rented_mass)
        .map(|(p, m)| if *p > 0.0 { m / p } else { 0.0 })
        .collect();
    (prob, expected)
}

/// The move actually made: `m` cars, at most what the source holds.
fn feasible(n1: usize, n2: usize, m: i64) -> i64 {
    m.clamp(-(n2 as i64), n1 as i64)
}

/// The cars each location opens the day with (the 20-car cap applies at the day's end).
fn after_move(n1: usize, n2: usize, m: i64) -> (usize, usize) {
    ((n1 as i64 - m) as usize, (n2 as i64 + m) as usize)
}

/// The exact model (built once per process: 4,851 state-action pairs of 441 outcomes).
pub fn model() -> Arc<Model> {
    static MODEL: OnceLock<Arc<Model>> = OnceLock::new();
    MODEL
        .get_or_init(|| {
            let days: [Vec<(Vec<f64>, Vec<f64>)>; 2] = [0, 1].map(|l| {
                (0..MORNING)
                    .map(|cars| location_day(cars, REQUESTS[l], RETURNS[l]))
                    .collect()
            });
            let mut b = ModelBuilder::new(N_STATES, N_ACTIONS);
            let mut allowed = vec![false; N_STATES * N_ACTIONS];
            for s in 0..N_STATES {
                let (n1, n2) = (s / SIDE, s % SIDE);
                for (i, m) in (-MAX_MOVE..=MAX_MOVE).enumerate() {
                    let moved = feasible(n1, n2, m);
                    allowed[s * N_ACTIONS + i] = moved == m;
                    let (c1, c2) = after_move(n1, n2, moved);
                    let (p1, r1) = &days[0][c1];
                    let (p2, r2) = &days[1][c2];
                    let cost = MOVE_COST * moved.unsigned_abs() as f64;
                    for j1 in 0..SIDE {
                        for j2 in 0..SIDE {
                            let p = p1[j1] * p2[j2];
                            if p > 0.0 {
                                let reward = RENT * (r1[j1] + r2[j2]) - cost;
                                b.outcome(p, j1 * SIDE + j2, reward, false);
                            }
                        }
                    }
                    b.end_pair();
                }
            }
            b.allowed(allowed);
            b.initial(vec![1.0 / N_STATES as f64; N_STATES]);
            Arc::new(b.build().unwrap_or_else(|_| Model::empty()))
        })
        .clone()
}

fn poisson_sample(lambda: f64, rng: &mut EnvRng) -> usize {
    let u = rng.random();
    let mut p = (-lambda).exp();
    let (mut k, mut cdf) = (0, p);
    while u >= cdf && k < 200 {
        k += 1;
        p *= lambda / k as f64;
        cdf += p;
    }
    k
}

#[derive(Clone, Debug)]
pub struct JacksCarRental {
    cars: [usize; 2],
    rented: [usize; 2],
    phase: Phase,
    rng: EnvRng,
    observation_space: Space,
    action_space: Space,
    mask: [bool; N_ACTIONS],
}

impl JacksCarRental {
    pub fn make(_opts: &mut Options) -> Result<Box<dyn Env>, EnvError> {
        Ok(Box::new(JacksCarRental {
            cars: [0; 2],
            rented: [0; 2],
            phase: Phase::NotReset,
            rng: EnvRng::default(),
            observation_space: Space::discrete(N_STATES as u64),
            action_space: Space::Discrete {
                n: N_ACTIONS as u64,
                start: -MAX_MOVE,
            },
            mask: [true; N_ACTIONS],
        }))
    }

    fn state_index(&self) -> usize {
        self.cars[0] * SIDE + self.cars[1]
    }

    fn update_mask(&mut self) {
        for (i, m) in (-MAX_MOVE..=MAX_MOVE).enumerate() {
            self.mask[i] = feasible(self.cars[0], self.cars[1], m) == m;
        }
    }
}

impl Env for JacksCarRental {
    fn observation_space(&self) -> &Space {
        &self.observation_space
    }

    fn action_space(&self) -> &Space {
        &self.action_space
    }

    fn reset(&mut self, seed: Option<u64>, obs: &mut [f32]) -> Result<(), EnvError> {
        let obs = obs_array::<1>(obs)?;
        if let Some(seed) = seed {
            self.rng.seed(seed);
        }
        let s = sample_start(&[1.0 / N_STATES as f64; N_STATES], &mut self.rng);
        self.cars = [s / SIDE, s % SIDE];
        self.rented = [0; 2];
        self.phase = Phase::Running;
        self.update_mask();
        obs[0] = s as f32;
        Ok(())
    }

    fn step(&mut self, action: Action<'_>, obs: &mut [f32]) -> Result<Step, EnvError> {
        self.phase.check_step()?;
        let m = match action {
            Action::Discrete(m) if (-MAX_MOVE..=MAX_MOVE).contains(&m) => m,
            _ => return Err(invalid_action(action, &self.action_space)),
        };
        let obs = obs_array::<1>(obs)?;
        let moved = feasible(self.cars[0], self.cars[1], m);
        let (c1, c2) = after_move(self.cars[0], self.cars[1], moved);
        let mut reward = -MOVE_COST * moved.unsigned_abs() as f64;
        for (l, cars) in [c1, c2].into_iter().enumerate() {
            let rented = poisson_sample(REQUESTS[l], &mut self.rng).min(cars);
            let back = poisson_sample(RETURNS[l], &mut self.rng);
            self.rented[l] = rented;
            self.cars[l] = (cars - rented + back).min(MAX_CARS);
            reward += RENT * rented as f64;
        }
        self.update_mask();
        obs[0] = self.state_index() as f32;
        Ok(Step {
            reward,
            terminated: false,
            truncated: false,
        })
    }

    fn info(&self) -> Info {
        vec![(
            "rented",
            InfoValue::Ints(self.rented.iter().map(|&r| r as i64).collect()),
        )]
    }

    fn action_mask(&self) -> Option<&[bool]> {
        Some(&self.mask)
    }

    fn state(&self) -> Option<Vec<f64>> {
        Some(vec![self.state_index() as f64])
    }

    fn set_state(&mut self, state: &[f64]) -> Result<(), EnvError> {
        match state {
            [s] if *s >= 0.0 && s.fract() == 0.0 && (*s as usize) < N_STATES => {
                let s = *s as usize;
                self.cars = [s / SIDE, s % SIDE];
                self.update_mask();
                self.phase = Phase::Running;
                Ok(())
            }
            _ => Err(EnvError::Other(format!(
                "JacksCarRental state is n1 * 21 + n2 in [0, 441), got {state:?}"
            ))),
        }
    }

    fn rng_mut(&mut self) -> Option<&mut EnvRng> {
        Some(&mut self.rng)
    }

    fn model(&self) -> Option<Arc<Model>> {
        Some(model())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_location_day_is_a_distribution_with_the_expected_rentals() {
        for cars in [0, 1, 7, 20, 25] {
            let (p, rented) = location_day(cars, 3.0, 3.0);
            assert!((p.iter().sum::<f64>() - 1.0).abs() < 1e-12);
            // E[min(X, cars)] for X ~ Poisson(3), from the pmf directly.
            let pmf = poisson_pmf(3.0, 60);
            let direct: f64 = pmf
                .iter()
                .enumerate()
                .map(|(k, q)| q * k.min(cars) as f64)
                .sum();
            let via: f64 = p.iter().zip(&rented).map(|(p, r)| p * r).sum();
            assert!((direct - via).abs() < 1e-12, "{cars}: {direct} vs {via}");
        }
    }

    #[test]
    fn moves_beyond_the_cars_on_hand_are_masked_and_clamped() {
        let m = model();
        let s = 2 * SIDE + 10; // 2 cars at the first location, 10 at the second
        let allowed: Vec<i64> = (-MAX_MOVE..=MAX_MOVE)
            .enumerate()
            .filter(|(i, _)| m.allowed(s, *i))
            .map(|(_, a)| a)
            .collect();
        assert_eq!(allowed, vec![-5, -4, -3, -2, -1, 0, 1, 2]);
        // Moving 5 from a location with 2 is moving 2.
        assert_eq!(m.outcomes(s, 10), m.outcomes(s, 7));
    }
}
