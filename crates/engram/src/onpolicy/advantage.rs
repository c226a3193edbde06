//! Returns and advantages of on-policy rollouts, shared by A3C, A2C and PPO.
//!
//! Rollouts are time-major: entry `t * n_envs + e` is step `t` of environment `e`, the layout the
//! recurrent layers consume. Episodes end inside rollouts, in two ways that must not be
//! confused (Pardo et al. 2018, "Time Limits in Reinforcement Learning"):
//! * **terminated**: the MDP reached a terminal state; the future is worth 0.
//! * **truncated**: the episode was cut (time limit); the future is still worth `V(s_final)`,
//!   so we bootstrap from the value of the final observation, which the caller computed.

/// One rollout's per-step inputs, all `[t_max * n_envs]`, time-major.
pub struct RolloutView<'a> {
    pub rewards: &'a [f32],
    /// `V(s_t)` as predicted while acting.
    pub values: &'a [f32],
    pub terminated: &'a [bool],
    pub truncated: &'a [bool],
    /// `V(s_final)` of the observation a truncated episode ended in (read only where truncated).
    pub final_values: &'a [f32],
    /// `V(s_T)` of the observation after the rollout's last step, per env (`[n_envs]`).
    pub bootstrap_values: &'a [f32],
    pub n_envs: usize,
}

/// Generalised advantage estimation (Schulman et al. 2016). With `lambda = 1` this is the
/// n-step advantage of A3C (Mnih et al. 2016): `R_t = r_t + gamma r_{t+1} + ... + gamma^n V(s_{t+n})`.
/// Writes `advantages` and `returns = advantages + values` (the value targets).
pub fn compute_gae(
    r: &RolloutView,
    gamma: f32,
    lambda: f32,
    advantages: &mut [f32],
    returns: &mut [f32],
) {
    let n = r.n_envs;
    let len = r.rewards.len();
    assert!(
        n > 0 && len.is_multiple_of(n),
        "rollout length {len} is not a multiple of n_envs {n}"
    );
    for buf in [
        r.values.len(),
        r.terminated.len(),
        r.truncated.len(),
        r.final_values.len(),
        advantages.len(),
        returns.len(),
    ] {
        assert_eq!(
            buf, len,
            "every rollout buffer must hold t_max * n_envs entries"
        );
    }
    assert_eq!(
        r.bootstrap_values.len(),
        n,
        "one bootstrap value per environment"
    );
    let steps = len / n;
    for e in 0..n {
        let mut next_value = r.bootstrap_values[e];
        let mut next_advantage = 0.0f32;
        for t in (0..steps).rev() {
            let i = t * n + e;
            let (value_after, chain) = if r.terminated[i] {
                (0.0, 0.0)
            } else if r.truncated[i] {
                (r.final_values[i], 0.0)
            } else {
                (next_value, 1.0)
            };
            let delta = r.rewards[i] + gamma * value_after - r.values[i];
            next_advantage = delta + gamma * lambda * chain * next_advantage;
            advantages[i] = next_advantage;
            returns[i] = next_advantage + r.values[i];
            next_value = r.values[i];
        }
    }
}

/// Shifts and scales to zero mean, unit variance (PPO/A2C's optional advantage normalisation).
pub fn normalize(x: &mut [f32]) {
    if x.len() < 2 {
        return;
    }
    let n = x.len() as f64;
    let mean = x.iter().map(|&v| v as f64).sum::<f64>() / n;
    let var = x.iter().map(|&v| (v as f64 - mean).powi(2)).sum::<f64>() / (n - 1.0);
    let scale = 1.0 / (var.sqrt() + 1e-8);
    for v in x {
        *v = ((*v as f64 - mean) * scale) as f32;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One env, 5 steps: a termination at t=1 and a truncation at t=3, worked out by hand.
    #[test]
    fn gae_matches_hand_computation_with_termination_and_truncation() {
        let rewards = [1.0, 2.0, 0.5, 1.0, 3.0];
        let values = [0.5, 1.0, 0.2, 0.4, 2.0];
        let terminated = [false, true, false, false, false];
        let truncated = [false, false, false, true, false];
        let final_values = [0.0, 0.0, 0.0, 10.0, 0.0];
        let bootstrap = [4.0];
        let (g, l) = (0.9f32, 0.5f32);
        let view = RolloutView {
            rewards: &rewards,
            values: &values,
            terminated: &terminated,
            truncated: &truncated,
            final_values: &final_values,
            bootstrap_values: &bootstrap,
            n_envs: 1,
        };
        let mut adv = [0.0; 5];
        let mut ret = [0.0; 5];
        compute_gae(&view, g, l, &mut adv, &mut ret);
        // t=4: delta = 3 + 0.9*4 - 2 = 4.6
        let a4 = 4.6;
        // t=3 truncated: delta = 1 + 0.9*10 - 0.4 = 9.6, chain cut
        let a3 = 9.6;
        // t=2: delta = 0.5 + 0.9*0.4 - 0.2 = 0.66; A = 0.66 + 0.45*9.6 = 4.98
        let a2 = 0.66 + 0.45 * 9.6;
        // t=1 terminated: delta = 2 - 1 = 1
        let a1 = 1.0;
        // t=0: delta = 1 + 0.9*1.0 - 0.5 = 1.4; A = 1.4 + 0.45*1 = 1.85
        let a0 = 1.4 + 0.45 * 1.0;
        let expected = [a0, a1, a2, a3, a4];
        for t in 0..5 {
            assert!(
                (adv[t] - expected[t]).abs() < 1e-5,
                "t={t}: {} vs {}",
                adv[t],
                expected[t]
            );
            assert!((ret[t] - (expected[t] + values[t])).abs() < 1e-5);
        }
    }

    #[test]
    fn lambda_one_gives_n_step_returns_per_env() {
        // Two envs interleaved time-major; no episode ends: R_t = sum gamma^k r + gamma^n V.
        let rewards = [1.0, 0.0, 1.0, 0.0, 1.0, 1.0];
        let values = [0.0; 6];
        let flags = [false; 6];
        let bootstrap = [2.0, 3.0];
        let view = RolloutView {
            rewards: &rewards,
            values: &values,
            terminated: &flags,
            truncated: &flags,
            final_values: &values,
            bootstrap_values: &bootstrap,
            n_envs: 2,
        };
        let mut adv = [0.0; 6];
        let mut ret = [0.0; 6];
        compute_gae(&view, 0.5, 1.0, &mut adv, &mut ret);
        // env 0: rewards 1,1,1 then V=2: R0 = 1 + .5 + .25 + .125*2 = 2.0
        assert!((ret[0] - 2.0).abs() < 1e-6);
        // env 1: rewards 0,0,1 then V=3: R0 = 0 + 0 + .25 + .125*3 = 0.625
        assert!((ret[1] - 0.625).abs() < 1e-6);
        assert_eq!(adv, ret);
    }

    #[test]
    fn normalize_gives_zero_mean_unit_std() {
        let mut x = [1.0, 2.0, 3.0, 4.0];
        normalize(&mut x);
        let mean: f32 = x.iter().sum::<f32>() / 4.0;
        let var: f32 = x.iter().map(|v| (v - mean).powi(2)).sum::<f32>() / 3.0;
        assert!(mean.abs() < 1e-6 && (var - 1.0).abs() < 1e-4);
    }
}
