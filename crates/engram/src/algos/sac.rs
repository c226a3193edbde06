//! Soft Actor-Critic (Haarnoja et al. 2018, "Soft Actor-Critic Algorithms and Applications")
//! with SB3's semantics, and for Discrete action spaces discrete SAC (Christodoulou 2019).
//!
//! The loop is `offpolicy::driver`'s (SB3's `OffPolicyAlgorithm`); one gradient step is SB3's
//! `SAC.train` body, in its order:
//! 1. the actor samples `a ~ pi(.|s)` by reparameterisation (tanh-squashed Gaussian, log-std
//!    clamped to [-20, 2]) with its log-probability (tanh correction included);
//! 2. with `ent_coef = "auto"` (or `"auto_0.1"`: initial value 0.1), the entropy coefficient
//!    `alpha = exp(log_ent_coef)` takes an Adam step on `-log_ent_coef * mean(log pi + target_entropy)`
//!    (`target_entropy` default `-dim(A)`); the step's losses use alpha from before that step;
//! 3. twin critics (`n_critics`) regress on `r + gamma (1 - done) (min_k Q'_k(s', a') - alpha log pi(a'|s'))`
//!    with `a' ~ pi(.|s')` and the target critics (loss `0.5 * sum_k MSE`);
//! 4. the actor minimises `mean(alpha log pi(a|s) - min_k Q_k(s, a))` through the updated
//!    critics;
//! 5. every `target_update_interval` gradient steps the target critics move by Polyak `tau`.
//!
//! Discrete SAC (CleanRL's `sac_atari`): a categorical actor and critics `Q(s, .)`; the
//! expectations over actions are exact (no sampling): the target is
//! `sum_a pi(a|s') (min_k Q'_k(s', a) - alpha log pi(a|s'))`, the actor loss
//! `sum_a pi(a|s) (alpha log pi(a|s) - min_k Q_k(s, a))` and `target_entropy` defaults to
//! `target_entropy_scale * ln |A|` (0.89 as CleanRL; the paper uses 0.98).
//!
//! Actions live in [-1, 1] inside SAC (replay buffer, critics) and are rescaled to the Box
//! bounds for the environment. Where engram differs from SB3: `target_update_interval` counts
//! gradient steps over the whole run (SB3: within one `train` call).
//!
//! gSDE (`use_sde`, SB3's `StateDependentNoiseDistribution` as SAC uses it): the actor has a
//! mean head clipped to [-2, 2] and a `log_std` matrix `[last hidden layer x dim(A)]`; actions
//! are `tanh(mean + z^T E)` with `z` the actor's last hidden layer (learned: gradients flow
//! into it) and `E ~ N(0, std^2)` elementwise. Acting draws one `E` per env at the start of
//! each collection and every `sde_sample_freq` steps; each gradient step draws one `E` for
//! the batch (and the next observations' actions) by reparameterisation, as SB3's `train`.
//! `use_sde_at_warmup` acts with it before `learning_starts`; `use_expln` is SB3's.

use super::RunConfig;
use crate::agent::continuous::{
    GsdePart, Pass, PolicyHead, QActorCritic, Shape, GSDE_CLIP_MEAN, LOG_STD_MAX, LOG_STD_MIN,
};
use crate::agent::Act;
use crate::config::{check, invalid, ConfigError};
use crate::error::TrainError;
use crate::offpolicy::driver::{
    self, layers_or, polyak, validate_loop, Guard, Learner, LoopConfig,
};
use crate::offpolicy::exploration::NoiseKind;
use crate::offpolicy::replay::{Batch, ReplayBuffer};
use crate::offpolicy::split_store::{self, SplitStore, Start};
use crate::runtime::checkpoint::param_tensors;
use crate::runtime::{Session, StopReason, Tensor};
use engram_nn::dist::{softplus, standard_normal, Categorical, Gsde, TanhGaussian};
use engram_nn::kernels::Trans;
use engram_nn::optim::OptimizerState;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

pub const NAME: &str = "sac";
pub const DESCRIPTION: &str =
    "Soft Actor-Critic: twin critics, learned entropy coefficient; discrete SAC on Discrete actions";
pub const ACTOR_CRITIC: bool = false;

/// `ent_coef`: a fixed number, or `"auto"` / `"auto_<init>"` to learn it (SB3's forms).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum EntCoef {
    Fixed(f64),
    Learned(String),
}

impl EntCoef {
    /// `Some(initial value)` when learned, `None` when fixed.
    pub fn learned(&self) -> Result<Option<f64>, ConfigError> {
        match self {
            EntCoef::Fixed(v) => {
                check::non_negative("ent_coef", *v)?;
                Ok(None)
            }
            EntCoef::Learned(s) => {
                let init = match s.as_str() {
                    "auto" => Some(1.0),
                    _ => s
                        .strip_prefix("auto_")
                        .and_then(|v| v.parse::<f64>().ok())
                        .filter(|v| v.is_finite() && *v > 0.0 && *v <= 1e6),
                };
                init.map(Some).ok_or_else(|| {
                    invalid(
                        "ent_coef",
                        format!(
                            "must be a number >= 0, \"auto\" or \"auto_<initial value>\" (e.g. \"auto_0.1\"), got {s:?}"
                        ),
                    )
                })
            }
        }
    }
}

/// SAC's options, with SB3's names and defaults.
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
    pub ent_coef: EntCoef,
    pub target_update_interval: u64,
    /// Unset: `-dim(A)` (continuous) or `target_entropy_scale * ln |A|` (discrete).
    pub target_entropy: Option<f64>,
    pub target_entropy_scale: f64,
    pub n_critics: usize,
    pub actor_layers: Vec<usize>,
    pub critic_layers: Vec<usize>,
    pub action_noise: NoiseKind,
    pub noise_std: f64,
    pub ou_theta: f64,
    pub save_replay_buffer: bool,
    pub use_sde: bool,
    pub sde_sample_freq: i64,
    pub use_sde_at_warmup: bool,
    pub log_std_init: f64,
    pub use_expln: bool,
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
            ent_coef: EntCoef::Learned("auto".into()),
            target_update_interval: 1,
            target_entropy: None,
            target_entropy_scale: 0.89,
            n_critics: 2,
            actor_layers: Vec::new(),
            critic_layers: Vec::new(),
            action_noise: NoiseKind::None,
            noise_std: 0.1,
            ou_theta: 0.15,
            save_replay_buffer: false,
            use_sde: false,
            sde_sample_freq: -1,
            use_sde_at_warmup: false,
            log_std_init: -3.0,
            use_expln: false,
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
        self.ent_coef.learned()?;
        if self.target_update_interval == 0 {
            return Err(invalid("target_update_interval", "must be at least 1"));
        }
        if let Some(t) = self.target_entropy {
            if !t.is_finite() {
                return Err(invalid(
                    "target_entropy",
                    format!("must be a finite number, got {t}"),
                ));
            }
        }
        check::positive("target_entropy_scale", self.target_entropy_scale)?;
        crate::config::ActorCriticConfig {
            log_std_init: self.log_std_init,
            sde_sample_freq: self.sde_sample_freq,
            ..Default::default()
        }
        .validate()?;
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

pub fn build_agent(
    rc: &RunConfig,
    c: &Config,
    probe: &dyn engram_env::Env,
) -> Result<Arc<QActorCritic>, TrainError> {
    let head = match probe.action_space() {
        engram_env::Space::Discrete { .. } => PolicyHead::Categorical,
        _ => PolicyHead::Squashed,
    };
    let learned = c
        .ent_coef
        .learned()
        .map_err(|e| TrainError::Usage(e.to_string()))?;
    Ok(Arc::new(QActorCritic::new(
        probe.observation_space(),
        probe.action_space(),
        &rc.net,
        &Shape {
            head,
            actor_layers: layers_or(&c.actor_layers, &rc.net.encoder_layers),
            critic_layers: layers_or(&c.critic_layers, &rc.net.encoder_layers),
            n_critics: c.n_critics,
            learned_ent_coef: learned.map(|v| v as f32),
            gsde_log_std_init: c.use_sde.then_some(c.log_std_init as f32),
            gsde_expln: c.use_expln,
            algo: NAME,
        },
    )?))
}

impl super::Algorithm for Config {
    const EXAMPLE_ENV: &'static str = "Pendulum-v1";

    fn agent(
        &self,
        rc: &RunConfig,
        probe: &dyn engram_env::Env,
    ) -> Result<Arc<dyn Act>, TrainError> {
        Ok(build_agent(rc, self, probe)?)
    }

    fn check(&self, rc: &RunConfig, probe: &dyn engram_env::Env) -> Result<(), TrainError> {
        let a = build_agent(rc, self, probe)?;
        ReplayBuffer::check_size(self.buffer_size, self.n_envs, a.obs_dim(), a.action_dim())
            .map_err(TrainError::Usage)
    }
}

const TARGET: &str = "target";

/// Runs SAC (discrete SAC on a Discrete action space).
pub fn run(session: Session, rc: &RunConfig, c: &Config) -> Result<StopReason, TrainError> {
    let probe = rc.common.make_env()?;
    let agent = build_agent(rc, c, &*probe)?;
    let mut learner = SacLearner::new(Start::Session(&session), rc, c, agent)?;
    driver::run(
        session,
        &rc.common,
        &rc.optim,
        &c.loop_config(),
        &mut learner,
    )
}

/// What a checkpoint stores of SAC besides tensors.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct SacState {
    n_updates: u64,
}

/// SAC's networks, optimizers and the scratch of one gradient step.
pub struct SacLearner {
    agent: Arc<QActorCritic>,
    store: SplitStore,
    /// Target parameters (the critics' range is used).
    target: Vec<f32>,
    fixed_ent_coef: f32,
    target_entropy: f32,
    tau: f32,
    target_update_interval: u64,
    max_grad_norm: f32,
    n_updates: u64,
    /// gSDE: redraw the acting matrices every this many steps (None: once per collection).
    sde_sample_freq: Option<u64>,
    use_sde_at_warmup: bool,
    /// gSDE acting steps since the last redraw.
    collected: u64,
    s: Scratch,
}

/// Buffers of one gradient step over `batch_size` rows.
struct Scratch {
    grads: Vec<f32>,
    enc_obs: Vec<f32>,
    enc_next: Vec<f32>,
    pi: crate::agent::continuous::Pass,
    pi_next: crate::agent::continuous::Pass,
    /// One per critic: target on s', online on (s, a), online on (s, a_pi).
    q_target: Vec<crate::agent::continuous::Pass>,
    q: Vec<crate::agent::continuous::Pass>,
    q_pi: Vec<crate::agent::continuous::Pass>,
    acting: crate::agent::continuous::Pass,
    enc_acting: Vec<f32>,
    noise: Vec<f32>,
    actions_pi: Vec<f32>,
    log_prob: Vec<f32>,
    noise_next: Vec<f32>,
    actions_next: Vec<f32>,
    log_prob_next: Vec<f32>,
    log_std: Vec<f32>,
    y: Vec<f32>,
    d_q: Vec<f32>,
    min_q: Vec<f32>,
    argmin: Vec<usize>,
    /// Rows of the batch a critic is the minimum of, and their critic input gradients.
    rows: Vec<usize>,
    d_input: Vec<f32>,
    d_actions: Vec<f32>,
    d_log_prob: Vec<f32>,
    d_mean: Vec<f32>,
    d_log_std: Vec<f32>,
    probs: Vec<f32>,
    /// Discrete: log pi(.|s) and log pi(.|s') `[b * n]`.
    log_pi: Vec<f32>,
    log_pi_next: Vec<f32>,
    gsde: GsdeScratch,
}

/// gSDE's buffers: one exploration matrix per gradient step (`E = exp(log_std) * eps`, SB3's
/// `reset_noise` in `train`) and one per env for acting.
struct GsdeScratch {
    eps: Vec<f32>,
    /// `std(log_std)` `[latent x dim]` of this gradient step.
    std: Vec<f32>,
    explore: Vec<f32>,
    acting: Vec<f32>,
    acting_noise: Vec<f32>,
    /// `z^T E` and `ln s` of the batch's rows (`s^2 = sum_i z_i^2 exp(2 log_std_ij) + eps`).
    noise: Vec<f32>,
    log_sigma: Vec<f32>,
    d_features: Vec<f32>,
    d_log_std: Vec<f32>,
}

impl Scratch {
    fn new(agent: &QActorCritic, b: usize, n_envs: usize) -> Scratch {
        let n = agent.n_out();
        let (e, nc) = (agent.enc_dim(), agent.n_critics());
        Scratch {
            grads: agent.layout.zeros(),
            enc_obs: vec![0.0; b * e],
            enc_next: vec![0.0; b * e],
            pi: agent.actor_pass(b),
            pi_next: agent.actor_pass(b),
            q_target: (0..nc).map(|_| agent.critic_pass(b, false)).collect(),
            q: (0..nc).map(|_| agent.critic_pass(b, false)).collect(),
            q_pi: (0..nc).map(|_| agent.critic_pass(b, false)).collect(),
            acting: agent.actor_pass(n_envs),
            enc_acting: vec![0.0; n_envs * e],
            noise: vec![0.0; b * n],
            actions_pi: vec![0.0; b * n],
            log_prob: vec![0.0; b],
            noise_next: vec![0.0; b * n],
            actions_next: vec![0.0; b * n],
            log_prob_next: vec![0.0; b],
            log_std: vec![0.0; b * n],
            y: vec![0.0; b],
            d_q: vec![0.0; b * n],
            min_q: vec![0.0; b * n],
            argmin: vec![0; b],
            rows: Vec::with_capacity(b),
            d_input: vec![0.0; b * (e + n)],
            d_actions: vec![0.0; b * n],
            d_log_prob: vec![0.0; b],
            d_mean: vec![0.0; b * n],
            d_log_std: vec![0.0; b * n],
            probs: vec![0.0; b * n],
            log_pi: vec![0.0; b * n],
            log_pi_next: vec![0.0; b * n],
            gsde: {
                let (latent, m) = agent
                    .gsde
                    .map_or((0, 0), |g| (g.dist.latent, g.dist.matrix_len()));
                GsdeScratch {
                    eps: vec![0.0; m],
                    std: vec![0.0; m],
                    explore: vec![0.0; m],
                    acting: vec![0.0; n_envs * m],
                    acting_noise: vec![0.0; n_envs * n],
                    noise: vec![0.0; b * n],
                    log_sigma: vec![0.0; b * n],
                    d_features: vec![0.0; b * latent],
                    d_log_std: vec![0.0; m],
                }
            },
        }
    }
}

impl SacLearner {
    /// SAC's networks from `start` (a run's session, or a seed for benchmarks and tests).
    pub fn new(
        start: Start,
        rc: &RunConfig,
        c: &Config,
        agent: Arc<QActorCritic>,
    ) -> Result<SacLearner, TrainError> {
        let (store, target) = split_store::with_target(
            start,
            &agent.layout,
            &rc.optim,
            &[
                ("actor", agent.actor_range.clone()),
                ("critic", agent.critic_range.clone()),
                ("ent_coef", agent.ent_coef_range.clone()),
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
        let n = agent.n_out();
        let target_entropy = match (c.target_entropy, agent.head) {
            (Some(t), _) => t as f32,
            (None, PolicyHead::Categorical) => (c.target_entropy_scale * (n as f64).ln()) as f32,
            (None, _) => -(n as f32),
        };
        let fixed_ent_coef = match c.ent_coef {
            EntCoef::Fixed(v) => v as f32,
            EntCoef::Learned(_) => 0.0,
        };
        let s = Scratch::new(&agent, c.batch_size, c.n_envs);
        SacLearner {
            agent,
            store,
            target,
            fixed_ent_coef,
            target_entropy,
            tau: c.tau as f32,
            target_update_interval: c.target_update_interval,
            max_grad_norm: rc.optim.max_grad_norm as f32,
            n_updates: 0,
            sde_sample_freq: u64::try_from(c.sde_sample_freq).ok(),
            use_sde_at_warmup: c.use_sde && c.use_sde_at_warmup,
            collected: 0,
            s,
        }
    }

    /// gSDE: one exploration matrix per env from the current `log_std` (SB3's `reset_noise`).
    fn redraw_acting_matrices(&mut self, rng: &mut ChaCha8Rng) {
        if let Some(g) = &self.agent.gsde {
            g.sample_exploration(
                g.log_std.of(&self.store.params),
                rng,
                &mut self.s.gsde.acting,
            );
        }
    }

    /// The entropy coefficient now.
    pub fn ent_coef(&self) -> f32 {
        match &self.agent.log_ent_coef {
            Some(slot) => slot.of(&self.store.params)[0].exp(),
            None => self.fixed_ent_coef,
        }
    }

    /// Step 2: the entropy coefficient's Adam step; returns the loss.
    fn ent_coef_step(&mut self, mean_log_prob: f64, lr: f32) -> f64 {
        let Some(slot) = self.agent.log_ent_coef else {
            return f64::NAN;
        };
        let log_alpha = slot.of(&self.store.params)[0] as f64;
        let (loss, grad) = ent_coef_loss(log_alpha, mean_log_prob, self.target_entropy as f64);
        self.s.grads[slot.offset] = grad as f32;
        self.store.apply("ent_coef", &self.s.grads, lr);
        loss
    }

    /// One continuous SAC gradient step; metrics: actor, critic and entropy losses, alpha.
    pub fn continuous_step(
        &mut self,
        batch: &Batch,
        rng: &mut ChaCha8Rng,
        lr: f32,
        guard: &dyn Guard,
        sums: &mut [(f64, u64)],
    ) -> bool {
        let agent = self.agent.clone();
        let (b, n) = (batch.len(), agent.n_out());
        let dist = TanhGaussian::new(n);
        agent.encode(&batch.obs, b, &mut self.s.enc_obs);
        agent.encode(&batch.next_obs, b, &mut self.s.enc_next);
        // 1. a ~ pi(.|s) (gSDE: a fresh exploration matrix for this step, as SB3's train).
        match agent.gsde {
            Some(_) => {
                for e in self.s.gsde.eps.iter_mut() {
                    *e = standard_normal(rng);
                }
                gsde_explore(&agent, &self.store.params, &mut self.s);
            }
            None => {
                for e in self.s.noise.iter_mut() {
                    *e = standard_normal(rng);
                }
            }
        }
        sample_policy(&agent, &self.store.params, &mut self.s);
        // 2. The entropy coefficient (the losses below use its value from before the step).
        let alpha = self.ent_coef();
        let mean_log_prob = mean(&self.s.log_prob);
        let ent_coef_loss = self.ent_coef_step(mean_log_prob, lr);
        // 3. Critics.
        let critic_loss = {
            let s = &mut self.s;
            let p = &self.store.params;
            agent.actor_forward(p, &s.enc_next, &mut s.pi_next);
            match &agent.gsde {
                // The same exploration matrix as pi(.|s) (SB3's exploration_mat).
                Some(g) => gsde_sample(
                    g,
                    &s.gsde.std,
                    &s.pi_next,
                    &s.gsde.explore,
                    &mut s.noise_next,
                    &mut s.log_std,
                    &mut s.actions_next,
                    &mut s.log_prob_next,
                ),
                None => {
                    clamp_log_std(s.pi_next.tape.head(1), &mut s.log_std);
                    for e in s.noise_next.iter_mut() {
                        *e = standard_normal(rng);
                    }
                    dist.rsample(
                        s.pi_next.tape.head(0),
                        &s.log_std,
                        &s.noise_next,
                        &mut s.actions_next,
                        &mut s.log_prob_next,
                    );
                }
            }
            for k in 0..agent.n_critics() {
                agent.critic_forward(
                    k,
                    &self.target,
                    &s.enc_next,
                    Some(&s.actions_next),
                    &mut s.q_target[k],
                );
            }
            for i in 0..b {
                let min_next = (0..agent.n_critics())
                    .map(|k| s.q_target[k].tape.head(0)[i])
                    .fold(f32::INFINITY, f32::min);
                s.y[i] =
                    batch.rewards[i] + batch.discounts[i] * (min_next - alpha * s.log_prob_next[i]);
            }
            s.grads[agent.critic_range.clone()].fill(0.0);
            let mut loss = 0.0f64;
            for k in 0..agent.n_critics() {
                agent.critic_forward(k, p, &s.enc_obs, Some(&batch.actions), &mut s.q[k]);
                for i in 0..b {
                    let err = s.q[k].tape.head(0)[i] - s.y[i];
                    loss += 0.5 * (err * err) as f64 / b as f64;
                    s.d_q[i] = err / b as f32;
                }
                agent.critic_backward(k, p, &mut s.grads, &mut s.q[k], &s.d_q[..b]);
            }
            loss
        };
        if !self.apply("critic", critic_loss, lr, guard) {
            return false;
        }
        // 4. Actor, through the updated critics.
        let actor_loss = continuous_actor_loss(&agent, &self.store.params, alpha, &mut self.s);
        if !self.apply("actor", actor_loss, lr, guard) {
            return false;
        }
        self.after_step(
            guard,
            [actor_loss, critic_loss, ent_coef_loss, alpha as f64],
            sums,
        )
    }

    /// One discrete SAC gradient step (exact expectations over the actions).
    pub fn discrete_step(
        &mut self,
        batch: &Batch,
        lr: f32,
        guard: &dyn Guard,
        sums: &mut [(f64, u64)],
    ) -> bool {
        let agent = self.agent.clone();
        let (b, n) = (batch.len(), agent.n_out());
        let dist = Categorical::new(n);
        agent.encode(&batch.obs, b, &mut self.s.enc_obs);
        agent.encode(&batch.next_obs, b, &mut self.s.enc_next);
        // 1. pi(.|s) and its log-probabilities.
        let mean_log_prob = discrete_policy(&agent, &self.store.params, &mut self.s);
        // 2. The entropy coefficient.
        let alpha = self.ent_coef();
        let ent_coef_loss = self.ent_coef_step(mean_log_prob, lr);
        // 3. Critics.
        let critic_loss = {
            let s = &mut self.s;
            let p = &self.store.params;
            agent.actor_forward(p, &s.enc_next, &mut s.pi_next);
            dist.log_softmax(s.pi_next.tape.head(0), None, &mut s.log_pi_next);
            for k in 0..agent.n_critics() {
                agent.critic_forward(k, &self.target, &s.enc_next, None, &mut s.q_target[k]);
            }
            for i in 0..b {
                let mut v = 0.0f32;
                for a in 0..n {
                    let j = i * n + a;
                    let min_next = (0..agent.n_critics())
                        .map(|k| s.q_target[k].tape.head(0)[j])
                        .fold(f32::INFINITY, f32::min);
                    let lp = s.log_pi_next[j];
                    v += lp.exp() * (min_next - alpha * lp);
                }
                s.y[i] = batch.rewards[i] + batch.discounts[i] * v;
            }
            s.grads[agent.critic_range.clone()].fill(0.0);
            let mut loss = 0.0f64;
            for k in 0..agent.n_critics() {
                agent.critic_forward(k, p, &s.enc_obs, None, &mut s.q[k]);
                s.d_q.fill(0.0);
                for i in 0..b {
                    let a = batch.actions[i] as usize;
                    let err = s.q[k].tape.head(0)[i * n + a] - s.y[i];
                    loss += 0.5 * (err * err) as f64 / b as f64;
                    s.d_q[i * n + a] = err / b as f32;
                }
                agent.critic_backward(k, p, &mut s.grads, &mut s.q[k], &s.d_q);
            }
            loss
        };
        if !self.apply("critic", critic_loss, lr, guard) {
            return false;
        }
        // 4. Actor: sum_a pi (alpha log pi - min_k Q_k), gradient p_j (c_j - E[c]) per logit.
        let actor_loss = discrete_actor_loss(&agent, &self.store.params, alpha, &mut self.s);
        if !self.apply("actor", actor_loss, lr, guard) {
            return false;
        }
        self.after_step(
            guard,
            [actor_loss, critic_loss, ent_coef_loss, alpha as f64],
            sums,
        )
    }

    fn after_step(
        &mut self,
        guard: &dyn Guard,
        metrics: [f64; 4],
        sums: &mut [(f64, u64)],
    ) -> bool {
        self.n_updates += 1;
        if self.n_updates.is_multiple_of(self.target_update_interval) {
            let r = self.agent.critic_range.clone();
            polyak(&mut self.target[r.clone()], &self.store.params[r], self.tau);
        }
        for (s, m) in sums.iter_mut().zip(metrics) {
            if !m.is_nan() {
                s.0 += m;
                s.1 += 1;
            }
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

/// Step 1 of continuous SAC: `a = tanh(mu + sigma * noise)` on `s.enc_obs` with the noise
/// already in `s.noise`; fills `s.pi`, `s.log_std`, `s.actions_pi` and `s.log_prob`.
fn sample_policy(agent: &QActorCritic, p: &[f32], s: &mut Scratch) {
    agent.actor_forward(p, &s.enc_obs, &mut s.pi);
    if let Some(g) = &agent.gsde {
        let gs = &mut s.gsde;
        gsde_sample(
            g,
            &gs.std,
            &s.pi,
            &gs.explore,
            &mut gs.noise,
            &mut gs.log_sigma,
            &mut s.actions_pi,
            &mut s.log_prob,
        );
        return;
    }
    clamp_log_std(s.pi.tape.head(1), &mut s.log_std);
    TanhGaussian::new(agent.n_out()).rsample(
        s.pi.tape.head(0),
        &s.log_std,
        &s.noise,
        &mut s.actions_pi,
        &mut s.log_prob,
    );
}

/// Step 4 of continuous SAC after [`sample_policy`]: returns `mean(alpha log pi - min_k Q_k(s, a))`
/// and writes its gradient into the actor's range of `s.grads` (the critics' range is left
/// with scrap).
fn continuous_actor_loss(agent: &QActorCritic, p: &[f32], alpha: f32, s: &mut Scratch) -> f64 {
    let (b, n) = (s.log_prob.len(), agent.n_out());
    let dist = TanhGaussian::new(n);
    let actor_loss = {
        for k in 0..agent.n_critics() {
            agent.critic_forward(k, p, &s.enc_obs, Some(&s.actions_pi), &mut s.q_pi[k]);
        }
        let mut loss = 0.0f64;
        for i in 0..b {
            let (mut best, mut kmin) = (f32::INFINITY, 0);
            for k in 0..agent.n_critics() {
                let q = s.q_pi[k].tape.head(0)[i];
                if q < best {
                    best = q;
                    kmin = k;
                }
            }
            s.argmin[i] = kmin;
            loss += (alpha * s.log_prob[i] - best) as f64 / b as f64;
        }
        // d loss / d a_pi through the critic that is the minimum of each row: each critic
        // takes only its rows, and only the input gradient (the critics' parameters are not
        // optimised by this loss).
        for k in 0..agent.n_critics() {
            s.rows.clear();
            s.rows.extend((0..b).filter(|&i| s.argmin[i] == k));
            s.d_q[..s.rows.len()].fill(-1.0 / b as f32);
            agent.critic_action_gradient(
                k,
                p,
                &mut s.q_pi[k],
                &s.rows,
                &s.d_q[..s.rows.len()],
                &mut s.d_input,
                &mut s.d_actions,
            );
        }
        if agent.gsde.is_some() {
            gsde_actor_backward(agent, p, alpha / b as f32, s);
            return loss;
        }
        s.d_log_prob.fill(alpha / b as f32);
        clamp_log_std(s.pi.tape.head(1), &mut s.log_std);
        dist.backward(
            &s.log_std,
            &s.noise,
            &s.actions_pi,
            &s.d_actions,
            &s.d_log_prob,
            &mut s.d_mean,
            &mut s.d_log_std,
        );
        // The clamp passes no gradient outside [LOG_STD_MIN, LOG_STD_MAX] (torch.clamp).
        for (d, &raw) in s.d_log_std.iter_mut().zip(s.pi.tape.head(1)) {
            if !(LOG_STD_MIN..=LOG_STD_MAX).contains(&raw) {
                *d = 0.0;
            }
        }
        s.grads[agent.actor_range.clone()].fill(0.0);
        agent.actor_backward(
            p,
            &mut s.grads,
            &s.enc_obs,
            &mut s.pi,
            &[&s.d_mean, &s.d_log_std],
        );
        loss
    };
    actor_loss
}

/// gSDE: this gradient step's exploration matrix `E = exp(log_std) * eps` from `s.gsde.eps`.
fn gsde_explore(agent: &QActorCritic, p: &[f32], s: &mut Scratch) {
    if let Some(g) = &agent.gsde {
        let gs = &mut s.gsde;
        for (((e, sd), &eps), &ls) in gs
            .explore
            .iter_mut()
            .zip(gs.std.iter_mut())
            .zip(&gs.eps)
            .zip(g.log_std.of(p))
        {
            *sd = g.std(ls);
            *e = *sd * eps;
        }
    }
}

/// SAC's gSDE sample (SB3's `StateDependentNoiseDistribution` with `squash_output`, learned
/// features) after the actor's forward on `pass`: `u = clip(mu, -2, 2) + z E` with `z` the
/// actor's last hidden layer and one matrix `E` for every row, `a = tanh(u)`, and
/// `log pi(a) = log N(u; clip(mu), s) - sum log(1 - tanh(u)^2)` with
/// `s_j^2 = sum_i z_i^2 std_ij^2 + 1e-6` (`std` from [`GsdePart::std`]). Keeps `z E` in `noise` and `ln s` in
/// `log_sigma` for the backward pass. (SB3 takes the log-probability of `atanh(a)`, which
/// is `u` up to rounding and its clamp near saturation.)
#[allow(clippy::too_many_arguments)]
fn gsde_sample(
    g: &GsdePart,
    std: &[f32],
    pass: &Pass,
    explore: &[f32],
    noise: &mut [f32],
    log_sigma: &mut [f32],
    actions: &mut [f32],
    log_prob: &mut [f32],
) {
    let (latent, n) = (g.dist.latent, g.dist.dim);
    let z = pass.tape.features(&[]);
    let b = z.len() / latent;
    engram_nn::kernels::gemm(
        Trans::No,
        Trans::No,
        b,
        n,
        latent,
        1.0,
        z,
        latent,
        explore,
        n,
        0.0,
        noise,
        n,
    );
    log_sigma[..b * n].fill(0.0);
    for (zr, ls) in z.chunks_exact(latent).zip(log_sigma.chunks_exact_mut(n)) {
        for (&zi, sd) in zr.iter().zip(std.chunks_exact(n)) {
            for (l, &sd) in ls.iter_mut().zip(sd) {
                *l += zi * zi * sd * sd;
            }
        }
    }
    for l in log_sigma[..b * n].iter_mut() {
        *l = 0.5 * (*l + Gsde::EPS).ln();
    }
    let half_ln_2pi = 0.5 * (2.0 * std::f32::consts::PI).ln();
    let mean = pass.tape.head(0);
    for (i, lp_row) in log_prob[..b].iter_mut().enumerate() {
        let mut lp = 0.0f32;
        for j in i * n..(i + 1) * n {
            let u = mean[j].clamp(-GSDE_CLIP_MEAN, GSDE_CLIP_MEAN) + noise[j];
            actions[j] = u.tanh();
            let scaled = noise[j] * (-log_sigma[j]).exp();
            lp += -0.5 * scaled * scaled - log_sigma[j] - half_ln_2pi - log1m_tanh_sq(u);
        }
        *lp_row = lp;
    }
}

/// `log(1 - tanh(u)^2)` in the stable form `2 (ln 2 - u - softplus(-2u))`.
fn log1m_tanh_sq(u: f32) -> f32 {
    2.0 * (std::f32::consts::LN_2 - u - softplus(-2.0 * u))
}

/// The actor's gradient of `mean(alpha log pi - min Q)` under gSDE, given d loss / d action
/// in `s.d_actions` and `w = alpha / b` = d loss / d log pi per row: into the mean head, the
/// features (learned, as SB3's SAC) and `log_std` (through `s` and through `E`'s
/// reparameterisation).
fn gsde_actor_backward(agent: &QActorCritic, p: &[f32], w: f32, s: &mut Scratch) {
    let Some(g) = &agent.gsde else {
        return;
    };
    let (latent, n) = (g.dist.latent, g.dist.dim);
    let b = s.log_prob.len();
    let gs = &mut s.gsde;
    let z = s.pi.tape.features(&[]);
    let mean = s.pi.tape.head(0);
    let log_std = g.log_std.of(p);
    gs.d_features[..b * latent].fill(0.0);
    gs.d_log_std.fill(0.0);
    for r in 0..b {
        let zr = &z[r * latent..(r + 1) * latent];
        let dz = &mut gs.d_features[r * latent..(r + 1) * latent];
        for j in 0..n {
            let k = r * n + j;
            let (a, noise) = (s.actions_pi[k], gs.noise[k]);
            let inv_var = (-2.0 * gs.log_sigma[k]).exp();
            let d_u = s.d_actions[k] * (1.0 - a * a) + w * 2.0 * a;
            let raw = mean[k];
            s.d_mean[k] = if raw > -GSDE_CLIP_MEAN && raw < GSDE_CLIP_MEAN {
                d_u
            } else {
                0.0
            };
            let d_noise = d_u - w * noise * inv_var;
            let d_var = w * 0.5 * (noise * noise * inv_var * inv_var - inv_var);
            for i in 0..latent {
                let (e, sd) = (gs.explore[i * n + j], gs.std[i * n + j]);
                dz[i] += d_noise * e + d_var * 2.0 * zr[i] * sd * sd;
                // d loss / d std_ij, through E = std * eps and through s^2.
                gs.d_log_std[i * n + j] +=
                    zr[i] * d_noise * gs.eps[i * n + j] + d_var * zr[i] * zr[i] * 2.0 * sd;
            }
        }
    }
    s.grads[agent.actor_range.clone()].fill(0.0);
    agent.actor_backward_with_features(
        p,
        &mut s.grads,
        &s.enc_obs,
        &mut s.pi,
        &[&s.d_mean],
        &gs.d_features[..b * latent],
    );
    for ((d, &v), &ls) in g
        .log_std
        .of_mut(&mut s.grads)
        .iter_mut()
        .zip(&gs.d_log_std)
        .zip(log_std)
    {
        *d += v * g.d_std(ls);
    }
}

/// Step 1 of discrete SAC: `pi(.|s)` on `s.enc_obs` into `s.probs` and `s.log_pi`; returns
/// the batch mean of `E_pi[log pi]`.
fn discrete_policy(agent: &QActorCritic, p: &[f32], s: &mut Scratch) -> f64 {
    let b = s.log_prob.len();
    agent.actor_forward(p, &s.enc_obs, &mut s.pi);
    Categorical::new(agent.n_out()).log_softmax(s.pi.tape.head(0), None, &mut s.log_pi);
    for (p, &lp) in s.probs.iter_mut().zip(&s.log_pi) {
        *p = lp.exp();
    }
    s.probs
        .iter()
        .zip(&s.log_pi)
        .map(|(&p, &lp)| (p * lp) as f64)
        .sum::<f64>()
        / b as f64
}

/// Step 4 of discrete SAC after [`discrete_policy`] (and the critics' update): returns
/// `mean_b sum_a pi (alpha log pi - min_k Q_k)` and writes its gradient into the actor's range
/// of `s.grads`.
fn discrete_actor_loss(agent: &QActorCritic, p: &[f32], alpha: f32, s: &mut Scratch) -> f64 {
    let (b, n) = (s.log_prob.len(), agent.n_out());
    let actor_loss = {
        for k in 0..agent.n_critics() {
            agent.critic_forward(k, p, &s.enc_obs, None, &mut s.q[k]);
        }
        let mut loss = 0.0f64;
        for i in 0..b {
            let row = i * n..(i + 1) * n;
            let mut expected = 0.0f32;
            for j in row.clone() {
                let min_q = (0..agent.n_critics())
                    .map(|k| s.q[k].tape.head(0)[j])
                    .fold(f32::INFINITY, f32::min);
                s.min_q[j] = alpha * s.log_pi[j] - min_q;
                expected += s.probs[j] * s.min_q[j];
            }
            for j in row {
                s.d_mean[j] = s.probs[j] * (s.min_q[j] - expected) / b as f32;
            }
            loss += expected as f64 / b as f64;
        }
        s.grads[agent.actor_range.clone()].fill(0.0);
        agent.actor_backward(p, &mut s.grads, &s.enc_obs, &mut s.pi, &[&s.d_mean]);
        loss
    };
    actor_loss
}

/// SB3's entropy-coefficient loss `-log_alpha * (E[log pi] + target_entropy)` (batch mean of
/// `E[log pi]` given) and its derivative with respect to `log_alpha`.
fn ent_coef_loss(log_alpha: f64, mean_log_prob: f64, target_entropy: f64) -> (f64, f64) {
    let gap = mean_log_prob + target_entropy;
    (-log_alpha * gap, -gap)
}

fn clamp_log_std(raw: &[f32], out: &mut [f32]) {
    for (o, &r) in out.iter_mut().zip(raw) {
        *o = r.clamp(LOG_STD_MIN, LOG_STD_MAX);
    }
}

fn mean(v: &[f32]) -> f64 {
    v.iter().map(|&x| x as f64).sum::<f64>() / v.len().max(1) as f64
}

impl Learner for SacLearner {
    fn agent(&self) -> Arc<QActorCritic> {
        self.agent.clone()
    }

    fn restore(&mut self, state: &serde_json::Value) -> Result<(), String> {
        let s: SacState = serde_json::from_value(state.clone())
            .map_err(|e| format!("unreadable SAC state: {e}"))?;
        self.n_updates = s.n_updates;
        Ok(())
    }

    fn start_collection(&mut self, rng: &mut ChaCha8Rng) {
        self.collected = 0;
        self.redraw_acting_matrices(rng);
    }

    fn acts_during_warmup(&self) -> bool {
        self.use_sde_at_warmup
    }

    fn act(&mut self, obs: &[f32], rng: &mut ChaCha8Rng, out: &mut [f32]) {
        let rows = out.len() / self.agent.action_dim();
        if self.agent.gsde.is_some() {
            // SB3: every sde_sample_freq collected steps, counting from the collection's start.
            if self
                .sde_sample_freq
                .is_some_and(|f| self.collected.is_multiple_of(f))
            {
                self.redraw_acting_matrices(rng);
            }
            self.collected += 1;
        }
        let s = &mut self.s;
        self.agent.encode(obs, rows, &mut s.enc_acting);
        self.agent
            .actor_forward(&self.store.params, &s.enc_acting, &mut s.acting);
        match self.agent.gsde {
            Some(_) => self.agent.gsde_actions(
                &s.acting,
                &s.gsde.acting[..rows * s.gsde.eps.len()],
                &mut s.gsde.acting_noise[..out.len()],
                out,
            ),
            None => self.agent.actions_from_heads(&s.acting, Some(rng), out),
        }
    }

    fn metric_names(&self) -> &'static [&'static str] {
        &["actor_loss", "critic_loss", "ent_coef_loss", "ent_coef"]
    }

    fn gradient_step(
        &mut self,
        batch: &Batch,
        rng: &mut ChaCha8Rng,
        lr: f32,
        guard: &dyn Guard,
        sums: &mut [(f64, u64)],
    ) -> bool {
        match self.agent.head {
            PolicyHead::Categorical => self.discrete_step(batch, lr, guard, sums),
            _ => self.continuous_step(batch, rng, lr, guard, sums),
        }
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
        serde_json::to_value(SacState {
            n_updates: self.n_updates,
        })
        .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agent::continuous::Shape;
    use crate::config::{NetConfig, PolicyKind};
    use engram_env::Space;
    use rand::{Rng, SeedableRng};

    fn tiny(head: PolicyHead, action_space: &Space) -> QActorCritic {
        let net = NetConfig {
            policy: PolicyKind::Mlp,
            encoder_layers: vec![8],
            activation: crate::config::Activation::Tanh,
            ..NetConfig::default()
        };
        let obs = Space::Box {
            low: vec![-1.0; 3],
            high: vec![1.0; 3],
            shape: vec![3],
        };
        QActorCritic::new(
            &obs,
            action_space,
            &net,
            &Shape {
                head,
                actor_layers: &[8, 6],
                critic_layers: &[7],
                n_critics: 2,
                learned_ent_coef: Some(1.0),
                gsde_log_std_init: None,
                gsde_expln: false,
                algo: NAME,
            },
        )
        .unwrap()
    }

    /// Directional derivatives of `loss` at `p` against `grad`, in the actor's range.
    fn check_directions(
        p: &[f32],
        grad: &[f32],
        range: std::ops::Range<usize>,
        loss: &mut dyn FnMut(&[f32]) -> f64,
        rng: &mut ChaCha8Rng,
    ) {
        for _ in 0..5 {
            let mut d = vec![0.0f32; p.len()];
            for x in &mut d[range.clone()] {
                *x = rng.gen_range(-1.0..1.0);
            }
            let h = 1e-3f32;
            let plus: Vec<f32> = p.iter().zip(&d).map(|(a, b)| a + h * b).collect();
            let minus: Vec<f32> = p.iter().zip(&d).map(|(a, b)| a - h * b).collect();
            let numeric = (loss(&plus) - loss(&minus)) / (2.0 * h as f64);
            let analytic: f64 = grad
                .iter()
                .zip(&d)
                .map(|(a, b)| *a as f64 * *b as f64)
                .sum();
            assert!(
                (numeric - analytic).abs() < 0.02 * numeric.abs().max(analytic.abs()) + 2e-4,
                "analytic {analytic} vs numeric {numeric}"
            );
        }
    }

    #[test]
    fn continuous_actor_loss_gradient_matches_finite_differences() {
        let space = Space::Box {
            low: vec![-2.0, 0.0],
            high: vec![2.0, 1.0],
            shape: vec![2],
        };
        let agent = tiny(PolicyHead::Squashed, &space);
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let p = agent.layout.initialize(&mut rng);
        let b = 5;
        let mut s = Scratch::new(&agent, b, 1);
        for x in s.enc_obs.iter_mut() {
            *x = rng.gen_range(-1.0..1.0);
        }
        for e in s.noise.iter_mut() {
            *e = standard_normal(&mut rng);
        }
        let alpha = 0.3;
        sample_policy(&agent, &p, &mut s);
        continuous_actor_loss(&agent, &p, alpha, &mut s);
        let grad = s.grads.clone();
        let mut loss = |q: &[f32]| {
            sample_policy(&agent, q, &mut s);
            continuous_actor_loss(&agent, q, alpha, &mut s)
        };
        check_directions(&p, &grad, agent.actor_range.clone(), &mut loss, &mut rng);
    }

    #[test]
    fn gsde_actor_loss_gradient_matches_finite_differences() {
        // Through the mean (clipped), the learned features and log_std (in s and in E).
        let space = Space::Box {
            low: vec![-2.0, 0.0],
            high: vec![2.0, 1.0],
            shape: vec![2],
        };
        let net = NetConfig {
            policy: PolicyKind::Mlp,
            encoder_layers: vec![8],
            activation: crate::config::Activation::Tanh,
            ..NetConfig::default()
        };
        let obs = Space::Box {
            low: vec![-1.0; 3],
            high: vec![1.0; 3],
            shape: vec![3],
        };
        let agent = QActorCritic::new(
            &obs,
            &space,
            &net,
            &Shape {
                head: PolicyHead::Squashed,
                actor_layers: &[8, 6],
                critic_layers: &[7],
                n_critics: 2,
                learned_ent_coef: Some(1.0),
                gsde_log_std_init: Some(-0.5),
                gsde_expln: true,
                algo: NAME,
            },
        )
        .unwrap();
        let g = agent.gsde.unwrap();
        assert!(g.log_std.range().end <= agent.actor_range.end);
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        let mut p = agent.layout.initialize(&mut rng);
        // Both sides of expln's switch at 0.
        for x in g.log_std.of_mut(&mut p) {
            *x = rng.gen_range(-1.0..0.8);
        }
        let b = 5;
        let mut s = Scratch::new(&agent, b, 1);
        for x in s.enc_obs.iter_mut() {
            *x = rng.gen_range(-1.0..1.0);
        }
        for e in s.gsde.eps.iter_mut() {
            *e = standard_normal(&mut rng);
        }
        let alpha = 0.3;
        let run = |q: &[f32], s: &mut Scratch| {
            gsde_explore(&agent, q, s);
            sample_policy(&agent, q, s);
            continuous_actor_loss(&agent, q, alpha, s)
        };
        run(&p, &mut s);
        // The log-probability by hand for row 0: a Gaussian around clip(mu) with variance s^2.
        let (latent, n) = (g.dist.latent, 2);
        let z = s.pi.tape.features(&[]).to_vec();
        let mut lp = 0.0f64;
        for j in 0..n {
            let mut noise = 0.0f64;
            let mut var = 1e-6f64;
            for (i, &zi) in z.iter().enumerate().take(latent) {
                let e = s.gsde.explore[i * n + j] as f64;
                noise += zi as f64 * e;
                var += (zi as f64 * g.std(g.log_std.of(&p)[i * n + j]) as f64).powi(2);
            }
            let u = (s.pi.tape.head(0)[j] as f64).clamp(-2.0, 2.0) + noise;
            lp += -0.5 * noise * noise / var
                - 0.5 * var.ln()
                - 0.5 * (2.0 * std::f64::consts::PI).ln()
                - (1.0 - u.tanh().powi(2)).ln();
        }
        assert!(
            (lp - s.log_prob[0] as f64).abs() < 1e-3,
            "{lp} vs {}",
            s.log_prob[0]
        );
        let grad = s.grads.clone();
        assert!(g.log_std.of(&grad).iter().any(|&v| v != 0.0));
        let mut loss = |q: &[f32]| run(q, &mut s);
        check_directions(&p, &grad, agent.actor_range.clone(), &mut loss, &mut rng);
    }

    #[test]
    fn discrete_actor_loss_gradient_matches_finite_differences() {
        let agent = tiny(PolicyHead::Categorical, &Space::Discrete { n: 4, start: 0 });
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let p = agent.layout.initialize(&mut rng);
        let mut s = Scratch::new(&agent, 6, 1);
        for x in s.enc_obs.iter_mut() {
            *x = rng.gen_range(-1.0..1.0);
        }
        let alpha = 0.7;
        discrete_policy(&agent, &p, &mut s);
        let value = discrete_actor_loss(&agent, &p, alpha, &mut s);
        // The loss by hand: sum_a pi (alpha log pi - min(Q0, Q1)), averaged over rows.
        let mut expected = 0.0;
        for i in 0..6 {
            for a in 0..4 {
                let j = i * 4 + a;
                let q = s.q[0].tape.head(0)[j].min(s.q[1].tape.head(0)[j]);
                expected += (s.probs[j] * (alpha * s.log_pi[j] - q)) as f64 / 6.0;
            }
        }
        assert!((value - expected).abs() < 1e-5, "{value} vs {expected}");
        let grad = s.grads.clone();
        let mut loss = |q: &[f32]| {
            discrete_policy(&agent, q, &mut s);
            discrete_actor_loss(&agent, q, alpha, &mut s)
        };
        check_directions(&p, &grad, agent.actor_range.clone(), &mut loss, &mut rng);
    }

    #[test]
    fn alpha_loss_gradient_matches_finite_differences() {
        // -log_alpha * (E[log pi] + target): the learned coefficient grows while the policy's
        // entropy is below the target and shrinks above it.
        for (mean_log_prob, target) in [(-0.5, -2.0), (1.2, -1.0), (-3.0, 0.8)] {
            let loss = |la: f64| ent_coef_loss(la, mean_log_prob, target).0;
            let (value, grad) = ent_coef_loss(0.2, mean_log_prob, target);
            assert_eq!(value, loss(0.2));
            let h = 1e-4;
            let numeric = (loss(0.2 + h) - loss(0.2 - h)) / (2.0 * h);
            assert!((numeric - grad).abs() < 1e-6, "{grad} vs {numeric}");
            // entropy = -E[log pi] below the target -> gradient negative -> alpha grows.
            assert_eq!(grad < 0.0, -mean_log_prob < target);
        }
    }

    #[test]
    fn ent_coef_forms_are_sb3s() {
        assert_eq!(
            EntCoef::Learned("auto".into()).learned().unwrap(),
            Some(1.0)
        );
        assert_eq!(
            EntCoef::Learned("auto_0.1".into()).learned().unwrap(),
            Some(0.1)
        );
        assert_eq!(EntCoef::Fixed(0.2).learned().unwrap(), None);
        for bad in ["automatic", "auto_-1", "auto_nan", ""] {
            let err = EntCoef::Learned(bad.into())
                .learned()
                .unwrap_err()
                .to_string();
            assert!(
                err.contains("ent_coef") && err.contains("auto_0.1"),
                "{err}"
            );
        }
        assert!(EntCoef::Fixed(-0.1).learned().is_err());
    }
}
