//! TD3 (Fujimoto et al. 2018, "Addressing Function Approximation Error in Actor-Critic
//! Methods") with SB3's semantics; DDPG (ddpg.rs) is its named variant, as in SB3.
//!
//! The loop is `offpolicy::driver`'s: actions are the deterministic actor's `tanh(mu(s))` plus
//! `action_noise` (Gaussian or Ornstein-Uhlenbeck with `noise_std`, in [-1, 1] units, clipped),
//! rescaled to the Box bounds. One gradient step is SB3's `TD3.train` body:
//! 1. target policy smoothing: `a' = clip(mu'(s') + clip(N(0, target_policy_noise),
//!    -target_noise_clip, target_noise_clip), -1, 1)` with the target actor;
//! 2. the critics (`n_critics`, clipped double Q) regress on `r + gamma (1 - done) min_k Q'_k(s', a')`
//!    (loss: the sum of their MSEs);
//! 3. every `policy_delay` gradient steps (over the whole run) the actor maximises
//!    `Q_0(s, mu(s))` (the first critic), and the target actor and critics move by Polyak `tau`.

use super::RunConfig;
use crate::agent::continuous::{Pass, PolicyHead, QActorCritic, Shape};
use crate::agent::Act;
use crate::config::{check, invalid, ConfigError};
use crate::error::TrainError;
use crate::offpolicy::driver::{
    self, layers_or, polyak, validate_loop, Guard, Learner, LoopConfig, MAX_BATCH,
};
use crate::offpolicy::exploration::NoiseKind;
use crate::offpolicy::replay::{Batch, ReplayBuffer};
use crate::offpolicy::split_store::{self, SplitStore, Start};
use crate::runtime::checkpoint::param_tensors;
use crate::runtime::{Session, StopReason, Tensor};
use engram_nn::dist::standard_normal;
use engram_nn::optim::OptimizerState;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

pub const NAME: &str = "td3";
pub const DESCRIPTION: &str =
    "Twin Delayed DDPG: twin critics, delayed actor updates, target policy smoothing";
pub const ACTOR_CRITIC: bool = false;

/// TD3's options, with SB3's names and defaults.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub n_envs: usize,
    pub buffer_size: usize,
    pub learning_starts: u64,
    pub batch_size: usize,
    pub tau: f64,
    pub gamma: f64,
    pub train_freq: u64,
    pub gradient_steps: i64,
    pub policy_delay: u64,
    pub target_policy_noise: f64,
    pub target_noise_clip: f64,
    pub n_critics: usize,
    pub actor_layers: Vec<usize>,
    pub critic_layers: Vec<usize>,
    pub action_noise: NoiseKind,
    pub noise_std: f64,
    pub ou_theta: f64,
    pub save_replay_buffer: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            n_envs: 1,
            buffer_size: 1_000_000,
            learning_starts: 100,
            batch_size: 256,
            tau: 0.005,
            gamma: 0.99,
            train_freq: 1,
            gradient_steps: 1,
            policy_delay: 2,
            target_policy_noise: 0.2,
            target_noise_clip: 0.5,
            n_critics: 2,
            actor_layers: Vec::new(),
            critic_layers: Vec::new(),
            action_noise: NoiseKind::None,
            noise_std: 0.1,
            ou_theta: 0.15,
            save_replay_buffer: false,
        }
    }
}

impl Config {
    pub fn validate(&self, _rc: &RunConfig) -> Result<(), ConfigError> {
        validate_loop(
            self.n_envs,
            self.buffer_size,
            self.batch_size,
            self.tau,
            self.gamma,
            self.train_freq,
            self.gradient_steps,
            self.noise_std,
            self.ou_theta,
        )?;
        debug_assert!(self.batch_size <= MAX_BATCH);
        if self.policy_delay == 0 {
            return Err(invalid(
                "policy_delay",
                "must be at least 1 (1 = update the actor every step)",
            ));
        }
        for (key, v) in [
            ("target_policy_noise", self.target_policy_noise),
            ("target_noise_clip", self.target_noise_clip),
        ] {
            if !(v.is_finite() && v >= 0.0) {
                return Err(invalid(
                    key,
                    format!("must be zero or positive (in [-1, 1] action units; 0 = no smoothing), got {v}"),
                ));
            }
        }
        check::count("n_critics", self.n_critics, 10, "critics")
    }

    fn loop_config(&self) -> LoopConfig {
        LoopConfig {
            n_envs: self.n_envs,
            buffer_size: self.buffer_size,
            learning_starts: self.learning_starts,
            batch_size: self.batch_size,
            gamma: self.gamma,
            train_freq: self.train_freq,
            gradient_steps: self.gradient_steps,
            save_replay_buffer: self.save_replay_buffer,
            action_noise: self.action_noise,
            noise_std: self.noise_std,
            ou_theta: self.ou_theta,
        }
    }
}

/// The deterministic actor and critics of `c` on `probe`'s spaces (`algo`: who asks).
pub fn agent(
    rc: &RunConfig,
    c: &Config,
    probe: &dyn engram_env::Env,
    algo: &str,
) -> Result<Arc<QActorCritic>, TrainError> {
    Ok(Arc::new(QActorCritic::new(
        probe.observation_space(),
        probe.action_space(),
        &rc.net,
        &Shape {
            head: PolicyHead::Deterministic,
            actor_layers: layers_or(&c.actor_layers, &rc.net.encoder_layers),
            critic_layers: layers_or(&c.critic_layers, &rc.net.encoder_layers),
            n_critics: c.n_critics,
            learned_ent_coef: None,
            gsde_log_std_init: None,
            gsde_expln: false,
            algo,
        },
    )?))
}

/// The check TD3 and DDPG share.
pub fn check_agent(
    rc: &RunConfig,
    c: &Config,
    probe: &dyn engram_env::Env,
    algo: &str,
) -> Result<(), TrainError> {
    let a = agent(rc, c, probe, algo)?;
    ReplayBuffer::check_size(c.buffer_size, c.n_envs, a.obs_dim(), a.action_dim())
        .map_err(TrainError::Usage)
}

impl super::Algorithm for Config {
    const EXAMPLE_ENV: &'static str = "Pendulum-v1";

    fn agent(
        &self,
        rc: &RunConfig,
        probe: &dyn engram_env::Env,
    ) -> Result<Arc<dyn Act>, TrainError> {
        Ok(agent(rc, self, probe, NAME)?)
    }

    fn check(&self, rc: &RunConfig, probe: &dyn engram_env::Env) -> Result<(), TrainError> {
        check_agent(rc, self, probe, NAME)
    }
}

/// Runs TD3.
pub fn run(session: Session, rc: &RunConfig, c: &Config) -> Result<StopReason, TrainError> {
    run_as(session, rc, c, NAME)
}

/// Runs TD3 with `c` (DDPG: one critic, no delay, no smoothing) under the name `algo`.
pub fn run_as(
    session: Session,
    rc: &RunConfig,
    c: &Config,
    algo: &str,
) -> Result<StopReason, TrainError> {
    let probe = rc.common.make_env()?;
    let agent = agent(rc, c, &*probe, algo)?;
    let mut learner = Td3Learner::new(Start::Session(&session), rc, c, agent)?;
    driver::run(
        session,
        &rc.common,
        &rc.optim,
        &c.loop_config(),
        &mut learner,
    )
}

const TARGET: &str = "target";

#[derive(Clone, Debug, Serialize, Deserialize)]
struct Td3State {
    n_updates: u64,
}

pub struct Td3Learner {
    agent: Arc<QActorCritic>,
    store: SplitStore,
    /// Target actor and critics.
    target: Vec<f32>,
    tau: f32,
    policy_delay: u64,
    target_policy_noise: f32,
    target_noise_clip: f32,
    max_grad_norm: f32,
    n_updates: u64,
    s: Scratch,
}

struct Scratch {
    grads: Vec<f32>,
    enc_obs: Vec<f32>,
    enc_next: Vec<f32>,
    pi: Pass,
    pi_next: Pass,
    q_target: Vec<Pass>,
    q: Vec<Pass>,
    q_pi: Pass,
    acting: Pass,
    enc_acting: Vec<f32>,
    actions_next: Vec<f32>,
    actions_pi: Vec<f32>,
    y: Vec<f32>,
    d_q: Vec<f32>,
    d_mu: Vec<f32>,
    /// 0..batch, the critic's input gradients and d Q / d action of the actor's loss.
    all_rows: Vec<usize>,
    d_input: Vec<f32>,
    d_actions: Vec<f32>,
}

impl Td3Learner {
    /// TD3's (DDPG's) networks from `start` (a run's session, or a seed for benchmarks and
    /// tests).
    pub fn new(
        start: Start,
        rc: &RunConfig,
        c: &Config,
        agent: Arc<QActorCritic>,
    ) -> Result<Td3Learner, TrainError> {
        let (store, target) = split_store::with_target(
            start,
            &agent.layout,
            &rc.optim,
            &[
                ("actor", agent.actor_range.clone()),
                ("critic", agent.critic_range.clone()),
            ],
            TARGET,
        )?;
        Ok(Self::from_store(rc, c, agent, store, target))
    }

    fn from_store(
        rc: &RunConfig,
        c: &Config,
        agent: Arc<QActorCritic>,
        store: SplitStore,
        target: Vec<f32>,
    ) -> Self {
        let (b, n, e) = (c.batch_size, agent.n_out(), agent.enc_dim());
        let nc = agent.n_critics();
        let s = Scratch {
            grads: agent.layout.zeros(),
            enc_obs: vec![0.0; b * e],
            enc_next: vec![0.0; b * e],
            pi: agent.actor_pass(b),
            pi_next: agent.actor_pass(b),
            q_target: (0..nc).map(|_| agent.critic_pass(b, false)).collect(),
            q: (0..nc).map(|_| agent.critic_pass(b, false)).collect(),
            q_pi: agent.critic_pass(b, false),
            acting: agent.actor_pass(c.n_envs),
            enc_acting: vec![0.0; c.n_envs * e],
            actions_next: vec![0.0; b * n],
            actions_pi: vec![0.0; b * n],
            y: vec![0.0; b],
            d_q: vec![0.0; b],
            d_mu: vec![0.0; b * n],
            all_rows: (0..b).collect(),
            d_input: vec![0.0; b * (e + n)],
            d_actions: vec![0.0; b * n],
        };
        Td3Learner {
            agent,
            store,
            target,
            tau: c.tau as f32,
            policy_delay: c.policy_delay,
            target_policy_noise: c.target_policy_noise as f32,
            target_noise_clip: c.target_noise_clip as f32,
            max_grad_norm: rc.optim.max_grad_norm as f32,
            n_updates: 0,
            s,
        }
    }

    /// The smoothed target actions `a'` of the batch's next observations (step 1), into
    /// `actions_next`.
    fn target_actions(&mut self, rng: &mut ChaCha8Rng) {
        let s = &mut self.s;
        self.agent
            .actor_forward(&self.target, &s.enc_next, &mut s.pi_next);
        smoothed_target_actions(
            s.pi_next.tape.head(0),
            self.target_policy_noise,
            self.target_noise_clip,
            rng,
            &mut s.actions_next,
        );
    }

    /// One gradient step; returns whether it was finite.
    pub fn step(
        &mut self,
        batch: &Batch,
        rng: &mut ChaCha8Rng,
        lr: f32,
        guard: &dyn Guard,
        sums: &mut [(f64, u64)],
    ) -> bool {
        let agent = self.agent.clone();
        let (b, n, nc) = (batch.len(), agent.n_out(), agent.n_critics());
        self.n_updates += 1;
        agent.encode(&batch.obs, b, &mut self.s.enc_obs);
        agent.encode(&batch.next_obs, b, &mut self.s.enc_next);
        self.target_actions(rng);
        let critic_loss = {
            let s = &mut self.s;
            let p = &self.store.params;
            for k in 0..nc {
                agent.critic_forward(
                    k,
                    &self.target,
                    &s.enc_next,
                    Some(&s.actions_next),
                    &mut s.q_target[k],
                );
            }
            for i in 0..b {
                let min_next = (0..nc)
                    .map(|k| s.q_target[k].tape.head(0)[i])
                    .fold(f32::INFINITY, f32::min);
                s.y[i] = batch.rewards[i] + batch.discounts[i] * min_next;
            }
            s.grads[agent.critic_range.clone()].fill(0.0);
            let mut loss = 0.0f64;
            for k in 0..nc {
                agent.critic_forward(k, p, &s.enc_obs, Some(&batch.actions), &mut s.q[k]);
                for i in 0..b {
                    let err = s.q[k].tape.head(0)[i] - s.y[i];
                    loss += (err * err) as f64 / b as f64;
                    s.d_q[i] = 2.0 * err / b as f32;
                }
                agent.critic_backward(k, p, &mut s.grads, &mut s.q[k], &s.d_q);
            }
            loss
        };
        if !self.apply("critic", critic_loss, lr, guard) {
            return false;
        }
        sums[1].0 += critic_loss;
        sums[1].1 += 1;
        if self.n_updates.is_multiple_of(self.policy_delay) {
            let actor_loss = {
                let s = &mut self.s;
                let p = &self.store.params;
                agent.actor_forward(p, &s.enc_obs, &mut s.pi);
                for (a, &m) in s.actions_pi.iter_mut().zip(s.pi.tape.head(0)) {
                    *a = m.tanh();
                }
                agent.critic_forward(0, p, &s.enc_obs, Some(&s.actions_pi), &mut s.q_pi);
                let loss = -s.q_pi.tape.head(0).iter().map(|&q| q as f64).sum::<f64>() / b as f64;
                // Only d Q / d action: this loss does not optimise the critic.
                s.d_q.fill(-1.0 / b as f32);
                agent.critic_action_gradient(
                    0,
                    p,
                    &mut s.q_pi,
                    &s.all_rows,
                    &s.d_q,
                    &mut s.d_input,
                    &mut s.d_actions,
                );
                for i in 0..b {
                    let row = i * n..(i + 1) * n;
                    let da = &s.d_actions[row.clone()];
                    for ((d_mu, &a), &g) in s.d_mu[row.clone()]
                        .iter_mut()
                        .zip(&s.actions_pi[row])
                        .zip(da)
                    {
                        *d_mu = g * (1.0 - a * a);
                    }
                }
                s.grads[agent.actor_range.clone()].fill(0.0);
                agent.actor_backward(p, &mut s.grads, &s.enc_obs, &mut s.pi, &[&s.d_mu]);
                loss
            };
            if !self.apply("actor", actor_loss, lr, guard) {
                return false;
            }
            sums[0].0 += actor_loss;
            sums[0].1 += 1;
            let (a, c) = (agent.actor_range.clone(), agent.critic_range.clone());
            polyak(&mut self.target[c.clone()], &self.store.params[c], self.tau);
            polyak(&mut self.target[a.clone()], &self.store.params[a], self.tau);
        }
        guard.params_are_finite(&self.store.params)
    }

    /// Clips the gradient of `part` (actor, critic) and takes its optimizer's step; false
    /// when the loss or the gradient is not finite (the run then stops).
    fn apply(&mut self, part: &str, loss: f64, lr: f32, guard: &dyn Guard) -> bool {
        let max_grad_norm = self.max_grad_norm;
        self.store
            .clip_and_apply(part, &mut self.s.grads, loss, lr, max_grad_norm, guard)
    }

    pub fn params(&self) -> &[f32] {
        &self.store.params
    }

    pub fn target(&self) -> &[f32] {
        &self.target
    }
}

/// Target policy smoothing: `clip(tanh(mu) + clip(N(0, sigma), -clip, clip), -1, 1)` for each
/// target actor output `mu` (no draw when `sigma` is 0: DDPG).
pub fn smoothed_target_actions(
    means: &[f32],
    sigma: f32,
    clip: f32,
    rng: &mut ChaCha8Rng,
    out: &mut [f32],
) {
    for (a, &m) in out.iter_mut().zip(means) {
        let noise = if sigma > 0.0 {
            (sigma * standard_normal(rng)).clamp(-clip, clip)
        } else {
            0.0
        };
        *a = (m.tanh() + noise).clamp(-1.0, 1.0);
    }
}

impl Learner for Td3Learner {
    fn agent(&self) -> Arc<QActorCritic> {
        self.agent.clone()
    }

    fn restore(&mut self, state: &serde_json::Value) -> Result<(), String> {
        let s: Td3State = serde_json::from_value(state.clone())
            .map_err(|e| format!("unreadable TD3 state: {e}"))?;
        self.n_updates = s.n_updates;
        Ok(())
    }

    fn act(&mut self, obs: &[f32], _rng: &mut ChaCha8Rng, out: &mut [f32]) {
        let rows = out.len() / self.agent.action_dim();
        let s = &mut self.s;
        self.agent.encode(obs, rows, &mut s.enc_acting);
        self.agent
            .actor_forward(&self.store.params, &s.enc_acting, &mut s.acting);
        self.agent.actions_from_heads(&s.acting, None, out);
    }

    fn metric_names(&self) -> &'static [&'static str] {
        &["actor_loss", "critic_loss"]
    }

    fn gradient_step(
        &mut self,
        batch: &Batch,
        rng: &mut ChaCha8Rng,
        lr: f32,
        guard: &dyn Guard,
        sums: &mut [(f64, u64)],
    ) -> bool {
        self.step(batch, rng, lr, guard, sums)
    }

    fn params(&self) -> &[f32] {
        &self.store.params
    }

    fn optimizer_states(&self) -> Vec<(String, OptimizerState)> {
        self.store.optimizer_states()
    }

    fn tensors(&self) -> Vec<Tensor> {
        param_tensors(TARGET, &self.agent.layout, &self.target)
    }

    fn state(&self) -> serde_json::Value {
        serde_json::to_value(Td3State {
            n_updates: self.n_updates,
        })
        .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn target_smoothing_clips_the_noise_then_the_action() {
        let means = [0.0f32, 2.0, -0.3, 0.1];
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let mut twin = ChaCha8Rng::seed_from_u64(7);
        let mut out = [0.0f32; 4];
        smoothed_target_actions(&means, 0.2, 0.5, &mut rng, &mut out);
        for (i, &m) in means.iter().enumerate() {
            let noise = (0.2 * standard_normal(&mut twin)).clamp(-0.5, 0.5);
            let expected = (m.tanh() + noise).clamp(-1.0, 1.0);
            assert!((out[i] - expected).abs() <= 1e-6, "{out:?} {i}: {expected}");
        }
        // A huge sigma: every noise is clipped to +-0.5, and the sum to [-1, 1].
        smoothed_target_actions(&means, 1e6, 0.5, &mut rng, &mut out);
        for (&a, &m) in out.iter().zip(&means) {
            let (lo, hi) = ((m.tanh() - 0.5).max(-1.0), (m.tanh() + 0.5).min(1.0));
            let near = |x: f32| (a - x).abs() <= 1e-6;
            assert!(near(lo) || near(hi), "{a:?} for mean {m}: {lo:?} {hi:?}");
        }
        // DDPG (sigma 0): the target actor's action, and the RNG untouched.
        let before = rng.get_word_pos();
        smoothed_target_actions(&means, 0.0, 0.0, &mut rng, &mut out);
        assert_eq!(rng.get_word_pos(), before);
        // (Within 1e-6, not bit for bit: `tanh` of the same f32 came out 1 ulp apart between
        // this test and the function, one way in debug builds and the other in release.)
        for (&a, &m) in out.iter().zip(&means) {
            assert!((a - m.tanh()).abs() <= 1e-6, "{out:?} for {means:?}");
        }
    }
}
