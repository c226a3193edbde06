//! Actor-critic losses with gradients.
//!
//! Each function returns the loss value and *overwrites* `d_*` with the gradient of that
//! (unweighted) loss with respect to its first input. Combine them by scaling the gradients:
//! for A2C's `L = pg + vf_coef * value + ent_coef * entropy_bonus`, pass `d_log_probs` from
//! [`policy_gradient_loss`] and `ent_coef * d_entropy` from [`entropy_bonus`] to
//! [`crate::dist::Categorical::backward`], and `vf_coef * d_values` to the critic's head.
//!
//! [`Reduction::Mean`] averages over the elements (A2C, PPO, SB3, CleanRL); [`Reduction::Sum`]
//! sums them (the original A3C and ikostrikov's pytorch-a3c sum over the rollout's steps).

/// How per-element losses are combined.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reduction {
    Mean,
    Sum,
}

impl Reduction {
    fn scale(self, n: usize) -> f32 {
        match self {
            Reduction::Mean if n > 0 => 1.0 / n as f32,
            Reduction::Mean => 0.0,
            Reduction::Sum => 1.0,
        }
    }
}

fn check(what: &str, a: usize, b: usize, d: usize) {
    assert!(
        a == b && a == d,
        "{what}: inputs have {a} and {b} elements and the gradient buffer {d}; they must match (one per sample)"
    );
}

/// Policy-gradient loss with given advantages: `-mean(advantages * log_probs)` (or the sum).
/// The advantages are constants (no gradient): compute them without the critic's gradient.
/// d/d log_probs = `-advantages * scale`.
pub fn policy_gradient_loss(
    log_probs: &[f32],
    advantages: &[f32],
    reduction: Reduction,
    d_log_probs: &mut [f32],
) -> f32 {
    check(
        "policy_gradient_loss",
        log_probs.len(),
        advantages.len(),
        d_log_probs.len(),
    );
    let s = reduction.scale(log_probs.len());
    let mut sum = 0.0f64;
    for ((&lp, &adv), d) in log_probs.iter().zip(advantages).zip(d_log_probs) {
        sum += (adv * lp) as f64;
        *d = -adv * s;
    }
    (-sum * s as f64) as f32
}

/// Value loss `0.5 * mean((values - returns)^2)` (or the sum). The 0.5 makes the gradient
/// plain `values - returns` (CleanRL, the A3C papers' code). SB3 uses `F.mse_loss` without the
/// 0.5: its `vf_coef = c` equals `2c` here.
pub fn value_mse_loss(
    values: &[f32],
    returns: &[f32],
    reduction: Reduction,
    d_values: &mut [f32],
) -> f32 {
    check(
        "value_mse_loss",
        values.len(),
        returns.len(),
        d_values.len(),
    );
    let s = reduction.scale(values.len());
    let mut sum = 0.0f64;
    for ((&v, &r), d) in values.iter().zip(returns).zip(d_values) {
        let e = v - r;
        sum += 0.5 * (e as f64) * (e as f64);
        *d = e * s;
    }
    (sum * s as f64) as f32
}

/// Huber loss of `values - returns` with threshold `delta`, as `torch.nn.HuberLoss`:
/// `0.5 e^2` where `|e| <= delta`, else `delta (|e| - 0.5 delta)`; mean (or sum).
/// With `delta = 1` it equals `smooth_l1_loss` (DQN's loss in SB3); in general
/// `smooth_l1(beta) = huber(delta = beta) / beta`. The gradient is `e` clipped to `±delta`.
pub fn value_huber_loss(
    values: &[f32],
    returns: &[f32],
    delta: f32,
    reduction: Reduction,
    d_values: &mut [f32],
) -> f32 {
    check(
        "value_huber_loss",
        values.len(),
        returns.len(),
        d_values.len(),
    );
    assert!(
        delta > 0.0,
        "value_huber_loss: delta must be positive, got {delta}"
    );
    let s = reduction.scale(values.len());
    let mut sum = 0.0f64;
    for ((&v, &r), d) in values.iter().zip(returns).zip(d_values) {
        let e = v - r;
        let (l, g) = if e.abs() <= delta {
            (0.5 * e * e, e)
        } else {
            (delta * (e.abs() - 0.5 * delta), delta * e.signum())
        };
        sum += l as f64;
        *d = g * s;
    }
    (sum * s as f64) as f32
}

/// Entropy bonus as a loss to minimise: `-mean(entropy)` (or minus the sum), so
/// `L = pg + vf_coef * value + ent_coef * entropy_bonus`. d/d entropy = `-scale`.
pub fn entropy_bonus(entropy: &[f32], reduction: Reduction, d_entropy: &mut [f32]) -> f32 {
    check(
        "entropy_bonus",
        entropy.len(),
        entropy.len(),
        d_entropy.len(),
    );
    let s = reduction.scale(entropy.len());
    let mut sum = 0.0f64;
    for (&h, d) in entropy.iter().zip(d_entropy) {
        sum += h as f64;
        *d = -s;
    }
    (-sum * s as f64) as f32
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gradcheck::check_gradient;

    const X: [f32; 5] = [0.3, -1.2, 2.5, 0.05, -0.7];
    const Y: [f32; 5] = [0.1, 0.4, -0.5, 0.0, -3.0];

    #[test]
    fn values_by_hand() {
        let mut d = [0.0; 2];
        // -(2 * -0.5 + -1 * 1.0) / 2 = 1
        let l = policy_gradient_loss(&[-0.5, 1.0], &[2.0, -1.0], Reduction::Mean, &mut d);
        assert_eq!(l, 1.0);
        assert_eq!(d, [-1.0, 0.5]);
        let l = policy_gradient_loss(&[-0.5, 1.0], &[2.0, -1.0], Reduction::Sum, &mut d);
        assert_eq!(l, 2.0);
        assert_eq!(d, [-2.0, 1.0]);
        // 0.5 * (1 + 4) / 2
        let l = value_mse_loss(&[1.0, 0.0], &[0.0, 2.0], Reduction::Mean, &mut d);
        assert_eq!(l, 1.25);
        assert_eq!(d, [0.5, -1.0]);
        // e = 0.5 (quadratic: 0.125), e = -3 (linear: 1 * (3 - 0.5) = 2.5)
        let l = value_huber_loss(&[0.5, 0.0], &[0.0, 3.0], 1.0, Reduction::Sum, &mut d);
        assert_eq!(l, 2.625);
        assert_eq!(d, [0.5, -1.0]);
        // delta 2: e = -3 -> 2 * (3 - 1) = 4
        let l = value_huber_loss(&[0.0], &[3.0], 2.0, Reduction::Mean, &mut d[..1]);
        assert_eq!(l, 4.0);
        assert_eq!(d[0], -2.0);
        let l = entropy_bonus(&[0.5, 1.5], Reduction::Mean, &mut d);
        assert_eq!(l, -1.0);
        assert_eq!(d, [-0.5, -0.5]);
    }

    fn sum(f: impl Fn(&mut [f32]) -> f32) -> f64 {
        let mut scratch = [0.0; 5];
        f(&mut scratch) as f64
    }

    #[test]
    fn gradients_match_finite_differences() {
        for red in [Reduction::Mean, Reduction::Sum] {
            let mut d = [0.0; 5];
            policy_gradient_loss(&X, &Y, red, &mut d);
            check_gradient(
                |x| sum(|s| policy_gradient_loss(x, &Y, red, s)),
                &X,
                &d,
                1e-2,
                1e-3,
                1e-2,
            )
            .unwrap();
            value_mse_loss(&X, &Y, red, &mut d);
            check_gradient(
                |x| sum(|s| value_mse_loss(x, &Y, red, s)),
                &X,
                &d,
                1e-2,
                1e-3,
                1e-2,
            )
            .unwrap();
            // Errors X - Y = 0.2, -1.6, 3.0, 0.05, 2.3: both Huber branches, none at the kink.
            value_huber_loss(&X, &Y, 1.0, red, &mut d);
            check_gradient(
                |x| sum(|s| value_huber_loss(x, &Y, 1.0, red, s)),
                &X,
                &d,
                1e-2,
                1e-3,
                1e-2,
            )
            .unwrap();
            entropy_bonus(&X, red, &mut d);
            check_gradient(
                |x| sum(|s| entropy_bonus(x, red, s)),
                &X,
                &d,
                1e-2,
                1e-3,
                1e-2,
            )
            .unwrap();
        }
    }

    #[test]
    #[should_panic(expected = "must match")]
    fn length_mismatch_is_a_clear_error() {
        value_mse_loss(&[0.0; 2], &[0.0; 3], Reduction::Mean, &mut [0.0; 2]);
    }
}
