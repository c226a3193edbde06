//! The networks of the actor-critic off-policy algorithms (SAC, discrete SAC, TD3, DDPG): an
//! actor and `n_critics` Q-networks in one flat parameter vector, laid out actor first, then
//! the critics, then SAC's learned `log_ent_coef`, so that each part is one contiguous range
//! with its own optimizer (SB3 has one Adam per part).
//!
//! * Actor (`actor.*`): observation encoding -> MLP (`actor_layers`) -> heads:
//!   [`PolicyHead::Squashed`] (SAC): `mu` and `log_std` (clamped to [-20, 2] as SB3's
//!   `LOG_STD_MIN/MAX`), `a = tanh(mu + exp(log_std) * noise)` ([`TanhGaussian`]);
//!   [`PolicyHead::Deterministic`] (TD3, DDPG): `a = tanh(mu)`;
//!   [`PolicyHead::Categorical`] (discrete SAC): logits over the Discrete actions.
//! * Critics (`qf0.*`, `qf1.*`, SB3's names): continuous actions: `Q(s, a)` from the encoded
//!   observation concatenated with the action; discrete: `Q(s, .)` for every action.
//! * `encoder = conv` (image observations, discrete SAC only): the actor and every critic get
//!   their own convolutions in front of their dense layers, as CleanRL's `sac_atari` (no
//!   shared encoder whose gradients the actor and critics would both write).
//!
//! Continuous actions live in [-1, 1] inside the algorithms (replay buffer, critics), as in
//! SB3; [`QActorCritic::unscale`] maps them to the Box bounds for the environment. SB3's
//! initialisation (PyTorch's default: fan-in uniform weights; biases here start at zero).

use super::action::ActionKind;
use super::encode::{conv_spec, Encoder};
use super::{Act, Player};
use crate::config::{DiscreteEncoding, NetConfig, PolicyKind};
use crate::error::TrainError;
use engram_env::Space;
use engram_nn::dist::{standard_normal, Categorical, Gsde, TanhGaussian};
use engram_nn::network::{Network, NetworkConfig, NetworkTape};
use engram_nn::onnx::{Attr, Dim, ElemType, Graph};
use engram_nn::recurrent::RecurrentState;
use engram_nn::{Init, ParamLayout, Slot};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use std::ops::Range;

/// SB3's bounds of the squashed Gaussian's log-std.
pub const LOG_STD_MIN: f32 = -20.0;
pub const LOG_STD_MAX: f32 = 2.0;

/// What the actor outputs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PolicyHead {
    Squashed,
    Deterministic,
    Categorical,
}

/// How to build a [`QActorCritic`].
#[derive(Clone, Debug)]
pub struct Shape<'a> {
    pub head: PolicyHead,
    pub actor_layers: &'a [usize],
    pub critic_layers: &'a [usize],
    pub n_critics: usize,
    /// Initial value of a learned entropy coefficient (registers `log_ent_coef`), or none.
    pub learned_ent_coef: Option<f32>,
    /// SAC's gSDE (`use_sde`): the initial value of the exploration log-std matrix; the
    /// actor then has only the `mu` head.
    pub gsde_log_std_init: Option<f32>,
    /// gSDE: SB3's `use_expln`.
    pub gsde_expln: bool,
    /// Who asks, for error messages.
    pub algo: &'a str,
}

/// SB3's `clip_mean`: with gSDE the actor's mean is clipped to [-2, 2] (`nn.Hardtanh`).
pub const GSDE_CLIP_MEAN: f32 = 2.0;

/// SAC's gSDE: the distribution and its `actor.log_std` `[latent x dim]` parameter.
#[derive(Clone, Copy, Debug)]
pub struct GsdePart {
    pub dist: Gsde,
    pub log_std: Slot,
    /// SB3's `use_expln`: the standard deviation grows as `ln(1 + x) + 1` above `x = 0`
    /// instead of `exp(x)`.
    pub expln: bool,
}

impl GsdePart {
    /// SB3's `get_std`: `exp(x)`, or with `use_expln` `ln(1 + x + 1e-6) + 1` for `x > 0`.
    pub fn std(&self, log_std: f32) -> f32 {
        if self.expln && log_std > 0.0 {
            (log_std + Gsde::EPS).ln_1p() + 1.0
        } else {
            log_std.exp()
        }
    }

    /// d std / d log_std.
    pub fn d_std(&self, log_std: f32) -> f32 {
        if self.expln && log_std > 0.0 {
            1.0 / (1.0 + log_std + Gsde::EPS)
        } else {
            log_std.exp()
        }
    }

    /// Exploration matrices `std(log_std) * N(0, 1)`, `matrices.len() / (latent * dim)` of them.
    pub fn sample_exploration(&self, log_std: &[f32], rng: &mut ChaCha8Rng, matrices: &mut [f32]) {
        for m in matrices.chunks_exact_mut(self.dist.matrix_len()) {
            for (e, &ls) in m.iter_mut().zip(log_std) {
                *e = self.std(ls) * standard_normal(rng);
            }
        }
    }
}

pub struct QActorCritic {
    pub layout: ParamLayout,
    pub head: PolicyHead,
    encoder: Encoder,
    actor: Network,
    critics: Vec<Network>,
    /// `log_ent_coef` `[1]` when the entropy coefficient is learned.
    pub log_ent_coef: Option<Slot>,
    /// gSDE exploration (SAC with `use_sde`).
    pub gsde: Option<GsdePart>,
    pub actor_range: Range<usize>,
    pub critic_range: Range<usize>,
    pub ent_coef_range: Range<usize>,
    action_kind: ActionKind,
    /// Action dimensions (continuous) or number of actions (discrete).
    n_out: usize,
    low: Vec<f32>,
    high: Vec<f32>,
}

/// Forward and backward scratch of one network over up to `rows` rows.
pub struct Pass {
    rows: usize,
    /// The network input (critics: encoded observation then action), kept for backward.
    pub input: Vec<f32>,
    d_input: Vec<f32>,
    state: RecurrentState,
    pub tape: NetworkTape,
}

impl Pass {
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// After a critic's backward with input gradients: d loss / d action of row `r`.
    pub fn d_action(&self, r: usize, action_dim: usize) -> &[f32] {
        let width = self.input.len() / self.rows;
        &self.d_input[r * width + width - action_dim..(r + 1) * width]
    }
}

impl QActorCritic {
    pub fn new(
        obs_space: &Space,
        action_space: &Space,
        net: &NetConfig,
        shape: &Shape,
    ) -> Result<QActorCritic, TrainError> {
        let algo = shape.algo;
        let kind = ActionKind::of(action_space).ok_or_else(|| {
            TrainError::Usage(format!(
                "{algo}: action space {action_space} is not supported"
            ))
        })?;
        let (n_out, low, high) = match (&kind, shape.head) {
            (
                ActionKind::Gaussian { dim, low, high },
                PolicyHead::Squashed | PolicyHead::Deterministic,
            ) => {
                if let Some(i) = (0..*dim)
                    .find(|&i| !(low[i].is_finite() && high[i].is_finite() && low[i] < high[i]))
                {
                    return Err(TrainError::Usage(format!(
                        "{algo} squashes actions into the Box bounds, and dimension {i} of this action space \
                         is [{}, {}]: it needs finite bounds with low < high (wrap the environment to \
                         rescale its actions, or use ppo)",
                        low[i], high[i]
                    )));
                }
                (*dim, low.clone(), high.clone())
            }
            (ActionKind::Categorical { n, .. }, PolicyHead::Categorical) => {
                (*n, Vec::new(), Vec::new())
            }
            (ActionKind::Categorical { .. }, _) => {
                return Err(TrainError::Usage(format!(
                "{algo} needs a Box action space, and this environment's is {action_space}: for \
                     Discrete actions use sac (discrete SAC) or dqn"
            )))
            }
            _ => {
                return Err(TrainError::Usage(format!(
                "{algo} needs a Box (continuous) or Discrete action space, and this environment's \
                     is {action_space}: use ppo, a2c or a3c"
            )))
            }
        };
        if net.policy != PolicyKind::Mlp {
            return Err(TrainError::Usage(format!(
                "{algo}'s actor and critics are MLPs: set policy = mlp (got {})",
                net.policy.name()
            )));
        }
        if net.discrete_encoding == DiscreteEncoding::Embedding {
            return Err(TrainError::Usage(format!(
                "{algo}: discrete_encoding = embedding is not supported (actor and critics would \
                 share the embedding's gradients): use discrete_encoding = onehot"
            )));
        }
        for (key, layers) in [
            ("actor_layers", shape.actor_layers),
            ("critic_layers", shape.critic_layers),
        ] {
            if layers.is_empty() || layers.contains(&0) {
                return Err(TrainError::Usage(format!(
                    "{key} must list at least one hidden layer of at least 1 unit, e.g. [256, 256]"
                )));
            }
        }
        let conv = conv_spec(obs_space, net)?;
        if conv.is_some() && shape.head != PolicyHead::Categorical {
            return Err(TrainError::Usage(format!(
                "{algo}: encoder = conv is supported for Discrete actions (discrete SAC) only: on \
                 {action_space} the critics read the observation and the action together; use \
                 encoder = mlp (--set encoder=mlp), or ppo, a2c or a3c for images with Box actions"
            )));
        }
        let mut layout = ParamLayout::new();
        let encoder = Encoder::new(obs_space, net, &mut layout)?;
        let enc = encoder.input_dim();
        let activation = net.activation.to_nn();
        let with_conv = |config: NetworkConfig| match &conv {
            Some(spec) => config.conv(spec.clone()),
            None => config,
        };
        let init = |gain: f32| {
            if net.ortho_init {
                Init::Orthogonal { gain }
            } else {
                Init::UniformFanIn
            }
        };
        let hidden_init = init(std::f32::consts::SQRT_2);
        let mut actor_config =
            with_conv(NetworkConfig::new(enc).encoder(shape.actor_layers, activation, hidden_init));
        if shape.gsde_log_std_init.is_some() && shape.head != PolicyHead::Squashed {
            return Err(TrainError::Usage(format!(
                "use_sde (gSDE) is for SAC's squashed Gaussian on Box actions; {algo} on \
                 {action_space} cannot use it: remove use_sde (--set use_sde=false)"
            )));
        }
        actor_config = match shape.head {
            PolicyHead::Squashed if shape.gsde_log_std_init.is_some() => {
                actor_config.head("mu", n_out, init(0.01))
            }
            PolicyHead::Squashed => {
                actor_config
                    .head("mu", n_out, init(0.01))
                    .head("log_std", n_out, init(0.01))
            }
            PolicyHead::Deterministic => actor_config.head("mu", n_out, init(0.01)),
            PolicyHead::Categorical => actor_config.head("logits", n_out, init(0.01)),
        };
        let nn_err = |e: engram_nn::NnError| TrainError::Policy(e.to_string());
        let actor = Network::new(&mut layout, "actor", &actor_config).map_err(nn_err)?;
        let gsde = shape.gsde_log_std_init.map(|init| {
            let latent = actor.feature_size;
            GsdePart {
                dist: Gsde::new(latent, n_out),
                log_std: layout.matrix("actor.log_std", latent, n_out, Init::Constant(init)),
                expln: shape.gsde_expln,
            }
        });
        let actor_end = layout.len();
        let (critic_in, critic_out) = match shape.head {
            PolicyHead::Categorical => (enc, n_out),
            _ => (enc + n_out, 1),
        };
        let mut critics = Vec::new();
        for k in 0..shape.n_critics {
            let config = with_conv(NetworkConfig::new(critic_in).encoder(
                shape.critic_layers,
                activation,
                hidden_init,
            ))
            .head("q", critic_out, init(1.0));
            critics.push(Network::new(&mut layout, &format!("qf{k}"), &config).map_err(nn_err)?);
        }
        let critic_end = layout.len();
        let log_ent_coef = shape
            .learned_ent_coef
            .map(|init| layout.vector("log_ent_coef", 1, Init::Constant(init.ln())));
        let len = layout.len();
        Ok(QActorCritic {
            layout,
            head: shape.head,
            encoder,
            actor,
            critics,
            log_ent_coef,
            gsde,
            actor_range: 0..actor_end,
            critic_range: actor_end..critic_end,
            ent_coef_range: critic_end..len,
            action_kind: kind,
            n_out,
            low,
            high,
        })
    }

    /// Action dimensions (continuous) or number of actions (discrete).
    pub fn n_out(&self) -> usize {
        self.n_out
    }

    /// Floats of one action in the replay buffer (1 for a discrete index).
    pub fn action_dim(&self) -> usize {
        match self.head {
            PolicyHead::Categorical => 1,
            _ => self.n_out,
        }
    }

    pub fn n_critics(&self) -> usize {
        self.critics.len()
    }

    pub fn obs_dim(&self) -> usize {
        self.encoder.obs_dim()
    }

    /// Floats of one encoded observation.
    pub fn enc_dim(&self) -> usize {
        self.encoder.input_dim()
    }

    /// Encodes `rows` flat observations (one-hot discrete parts) into `out`.
    pub fn encode(&self, obs: &[f32], rows: usize, out: &mut [f32]) {
        self.encoder.encode(&[], obs, rows, out);
    }

    /// Environment action from a [-1, 1] one: `low + (a + 1) / 2 * (high - low)` (SB3's
    /// `unscale_action`).
    pub fn unscale(&self, scaled: &[f32], out: &mut [f32]) {
        for (i, (o, &a)) in out.iter_mut().zip(scaled).enumerate() {
            let d = i % self.n_out;
            *o = self.low[d] + 0.5 * (a + 1.0) * (self.high[d] - self.low[d]);
        }
    }

    /// [-1, 1] action from an environment one (SB3's `scale_action`).
    pub fn scale(&self, action: &[f32], out: &mut [f32]) {
        for (i, (o, &a)) in out.iter_mut().zip(action).enumerate() {
            let d = i % self.n_out;
            *o = 2.0 * (a - self.low[d]) / (self.high[d] - self.low[d]) - 1.0;
        }
    }

    pub fn actor_pass(&self, rows: usize) -> Pass {
        Pass {
            rows,
            input: Vec::new(),
            d_input: Vec::new(),
            state: self.actor.initial_state(rows),
            tape: self.actor.tape(1, rows),
        }
    }

    /// `d_actions`: the critic computes d loss / d action in backward.
    pub fn critic_pass(&self, rows: usize, d_actions: bool) -> Pass {
        let width = match self.head {
            PolicyHead::Categorical => self.enc_dim(),
            _ => self.enc_dim() + self.n_out,
        };
        Pass {
            rows,
            input: vec![0.0; rows * width],
            d_input: vec![0.0; if d_actions { rows * width } else { 0 }],
            state: self.critics[0].initial_state(rows),
            tape: self.critics[0].tape(1, rows),
        }
    }

    /// The actor's heads on encoded observations `enc` `[rows * enc_dim]`
    /// (`pass.tape.head(i)`).
    pub fn actor_forward(&self, p: &[f32], enc: &[f32], pass: &mut Pass) {
        self.actor
            .forward_seq(p, enc, 1, None, &mut pass.state, &mut pass.tape);
    }

    /// Adds the actor's parameter gradients for head gradients `d_heads` into `g`.
    pub fn actor_backward(
        &self,
        p: &[f32],
        g: &mut [f32],
        enc: &[f32],
        pass: &mut Pass,
        d_heads: &[&[f32]],
    ) {
        self.actor
            .backward_seq(p, g, enc, d_heads, &mut pass.tape, None, None);
    }

    /// Critic `k`'s Q-values on `enc` (and `actions` `[rows * n_out]` in [-1, 1] for
    /// continuous actions): `[rows]`, or `[rows * n]` for discrete (`pass.tape.head(0)`).
    pub fn critic_forward(
        &self,
        k: usize,
        p: &[f32],
        enc: &[f32],
        actions: Option<&[f32]>,
        pass: &mut Pass,
    ) {
        let (e, rows) = (self.enc_dim(), pass.rows);
        match actions {
            Some(a) => {
                let w = e + self.n_out;
                for r in 0..rows {
                    let row = &mut pass.input[r * w..(r + 1) * w];
                    row[..e].copy_from_slice(&enc[r * e..(r + 1) * e]);
                    row[e..].copy_from_slice(&a[r * self.n_out..(r + 1) * self.n_out]);
                }
            }
            None => pass.input.copy_from_slice(&enc[..rows * e]),
        }
        self.critics[k].forward_seq(p, &pass.input, 1, None, &mut pass.state, &mut pass.tape);
    }

    /// Adds critic `k`'s parameter gradients for `d_q` into `g`; with a pass made for action
    /// gradients, also d loss / d action ([`Pass::d_action`]).
    pub fn critic_backward(
        &self,
        k: usize,
        p: &[f32],
        g: &mut [f32],
        pass: &mut Pass,
        d_q: &[f32],
    ) {
        let d_input = if pass.d_input.is_empty() {
            None
        } else {
            pass.d_input.fill(0.0);
            Some(&mut pass.d_input[..])
        };
        self.critics[k].backward_seq(p, g, &pass.input, &[d_q], &mut pass.tape, d_input, None);
    }

    /// gSDE actions in [-1, 1] after [`Self::actor_forward`] on `rows` rows:
    /// `tanh(clip(mu) + z^T E_r)` with row `r`'s exploration matrix `E_r` from `matrices`
    /// (`rows * latent * dim`, drawn by [`Gsde::sample_exploration`]), `z` the actor's last
    /// hidden layer.
    pub fn gsde_actions(&self, pass: &Pass, matrices: &[f32], noise: &mut [f32], out: &mut [f32]) {
        let Some(g) = self.gsde else {
            return;
        };
        g.dist.noise(pass.tape.features(&[]), matrices, noise);
        for ((o, &m), &e) in out.iter_mut().zip(pass.tape.head(0)).zip(noise.iter()) {
            *o = (m.clamp(-GSDE_CLIP_MEAN, GSDE_CLIP_MEAN) + e).tanh();
        }
    }

    /// Adds the actor's parameter gradients for head gradients `d_heads` plus a gradient
    /// `d_features` on its last hidden layer (gSDE's learned features) into `g`.
    pub fn actor_backward_with_features(
        &self,
        p: &[f32],
        g: &mut [f32],
        enc: &[f32],
        pass: &mut Pass,
        d_heads: &[&[f32]],
        d_features: &[f32],
    ) {
        self.actor.backward_with_features(
            p,
            g,
            enc,
            d_heads,
            Some(d_features),
            &mut pass.tape,
            None,
            None,
        );
    }

    /// d loss / d action only (no parameter gradients: the actor's loss needs nothing else
    /// from a critic) for the rows `rows` of critic `k`'s last forward on `pass`, with
    /// `d_q[j]` d loss / d Q of row `rows[j]`; writes row `rows[j]`'s action gradient into
    /// `d_actions` `[pass rows * n_out]` (other rows untouched). `d_input` is scratch of at
    /// least `rows.len()` critic input rows.
    #[allow(clippy::too_many_arguments)]
    pub fn critic_action_gradient(
        &self,
        k: usize,
        p: &[f32],
        pass: &mut Pass,
        rows: &[usize],
        d_q: &[f32],
        d_input: &mut [f32],
        d_actions: &mut [f32],
    ) {
        let width = pass.input.len() / pass.rows;
        let n = self.n_out;
        let d_input = &mut d_input[..rows.len() * width];
        d_input.fill(0.0);
        self.critics[k].input_gradient_rows(p, &mut pass.tape, rows, &[d_q], d_input);
        for (j, &r) in rows.iter().enumerate() {
            d_actions[r * n..(r + 1) * n]
                .copy_from_slice(&d_input[j * width + width - n..(j + 1) * width]);
        }
    }

    /// Policy actions for `rows` encoded observations (after [`Self::actor_forward`]): in
    /// [-1, 1] for Box spaces (indices for discrete); sampled with `rng`, else greedy.
    pub fn actions_from_heads(&self, pass: &Pass, rng: Option<&mut ChaCha8Rng>, out: &mut [f32]) {
        let n = self.n_out;
        match self.head {
            PolicyHead::Squashed if self.gsde.is_some() => {
                // Greedy: tanh of the clipped mean. Sampled play (no learner to keep the
                // exploration matrix): one fresh matrix per step from the learned log-std is
                // drawn by `gsde_actions`; here, without the parameters, the greedy action.
                let _ = rng;
                for (o, &m) in out.iter_mut().zip(pass.tape.head(0)) {
                    *o = m.clamp(-GSDE_CLIP_MEAN, GSDE_CLIP_MEAN).tanh();
                }
            }
            PolicyHead::Squashed => {
                let (mean, log_std) = (pass.tape.head(0), pass.tape.head(1));
                match rng {
                    Some(rng) => {
                        for ((o, &m), &ls) in out.iter_mut().zip(mean).zip(log_std) {
                            let ls = ls.clamp(LOG_STD_MIN, LOG_STD_MAX);
                            *o = (m + ls.exp() * standard_normal(rng)).tanh();
                        }
                    }
                    None => TanhGaussian::new(n).mode(mean, out),
                }
            }
            PolicyHead::Deterministic => {
                for (o, &m) in out.iter_mut().zip(pass.tape.head(0)) {
                    *o = m.tanh();
                }
            }
            PolicyHead::Categorical => {
                let logits = pass.tape.head(0);
                let dist = Categorical::new(n);
                let mut log_probs = vec![0.0; logits.len()];
                dist.log_softmax(logits, None, &mut log_probs);
                let mut picks = vec![0usize; out.len()];
                match rng {
                    Some(rng) => dist.sample(&log_probs, rng, &mut picks),
                    None => dist.mode(&log_probs, &mut picks),
                }
                for (o, &k) in out.iter_mut().zip(&picks) {
                    *o = k as f32;
                }
            }
        }
    }
}

/// Plays the actor: greedy (`tanh(mu)`, argmax) or sampled.
struct QacPlayer<'a> {
    agent: &'a QActorCritic,
    params: &'a [f32],
    pass: Pass,
    enc: Vec<f32>,
    scaled: Vec<f32>,
}

impl Player for QacPlayer<'_> {
    fn reset(&mut self) {}

    fn act(&mut self, obs: &[f32], rng: Option<&mut ChaCha8Rng>, action: &mut [f32]) {
        let a = self.agent;
        a.encode(obs, 1, &mut self.enc);
        a.actor_forward(self.params, &self.enc, &mut self.pass);
        match (a.gsde, rng) {
            (Some(g), Some(rng)) => {
                let mut matrix = vec![0.0; g.dist.matrix_len()];
                g.sample_exploration(g.log_std.of(self.params), rng, &mut matrix);
                let mut noise = vec![0.0; a.n_out];
                a.gsde_actions(&self.pass, &matrix, &mut noise, &mut self.scaled);
            }
            (_, rng) => a.actions_from_heads(&self.pass, rng, &mut self.scaled),
        }
        match a.head {
            PolicyHead::Categorical => action[0] = self.scaled[0],
            _ => a.unscale(&self.scaled, action),
        }
    }

    fn outputs(&self) -> Vec<(&'static str, Vec<f32>)> {
        match self.agent.head {
            PolicyHead::Categorical => vec![("logits", self.pass.tape.head(0).to_vec())],
            _ => vec![("mean", self.pass.tape.head(0).to_vec())],
        }
    }
}

impl Act for QActorCritic {
    fn layout(&self) -> &ParamLayout {
        &self.layout
    }

    fn obs_dim(&self) -> usize {
        self.encoder.obs_dim()
    }

    fn action_kind(&self) -> &ActionKind {
        &self.action_kind
    }

    /// The greedy actor: `action` (Box: `low + (tanh(mu) + 1) / 2 * (high - low)`, the mean
    /// clipped to [-2, 2] first with gSDE; Discrete: the argmax as a float), then `mean` (or
    /// `logits`), as [`Player::outputs`].
    fn onnx(&self, g: &mut Graph, p: &[f32], obs: &str) -> Result<(), TrainError> {
        let input = self.encoder.onnx(g, p, obs);
        let (heads, _) = self.actor.onnx_step(g, p, &input, None);
        let n = self.n_out;
        let rows = |k: usize| vec![Dim::batch(), Dim::Fixed(k)];
        match self.head {
            PolicyHead::Categorical => {
                let best = g.op(
                    "ArgMax",
                    &[&heads[0]],
                    vec![("axis", Attr::Int(1)), ("keepdims", Attr::Int(1))],
                );
                let action = g.op(
                    "Cast",
                    &[&best],
                    vec![("to", Attr::Int(ElemType::F32 as i64))],
                );
                g.output(&action, "action", ElemType::F32, rows(1));
                g.output(&heads[0], "logits", ElemType::F32, rows(n));
            }
            PolicyHead::Squashed | PolicyHead::Deterministic => {
                let mean = match self.gsde {
                    Some(_) => {
                        let lo = g.constant("clip_min", &[], &[-GSDE_CLIP_MEAN]);
                        let hi = g.constant("clip_max", &[], &[GSDE_CLIP_MEAN]);
                        g.op("Clip", &[&heads[0], &lo, &hi], Vec::new())
                    }
                    None => heads[0].clone(),
                };
                let squashed = g.op("Tanh", &[&mean], Vec::new());
                // low + 0.5 (a + 1)(high - low) = a * half_range + centre, as `unscale`.
                let half: Vec<f32> = (0..n).map(|d| 0.5 * (self.high[d] - self.low[d])).collect();
                let centre: Vec<f32> = (0..n)
                    .map(|d| self.low[d] + 0.5 * (self.high[d] - self.low[d]))
                    .collect();
                let half = g.constant("half_range", &[n], &half);
                let centre = g.constant("centre", &[n], &centre);
                let scaled = g.op("Mul", &[&squashed, &half], Vec::new());
                let action = g.op("Add", &[&scaled, &centre], Vec::new());
                g.output(&action, "action", ElemType::F32, rows(n));
                g.output(&heads[0], "mean", ElemType::F32, rows(n));
            }
        }
        Ok(())
    }

    fn player<'a>(&'a self, params: &'a [f32]) -> Box<dyn Player + 'a> {
        Box::new(QacPlayer {
            agent: self,
            params,
            pass: self.actor_pass(1),
            enc: vec![0.0; self.enc_dim()],
            scaled: vec![0.0; self.action_dim()],
        })
    }
}

/// Uniformly random actions in the buffer's space ([-1, 1), or indices).
pub fn random_actions(agent: &QActorCritic, rng: &mut ChaCha8Rng, out: &mut [f32]) {
    match agent.head {
        PolicyHead::Categorical => {
            for o in out.iter_mut() {
                *o = rng.gen_range(0..agent.n_out) as f32;
            }
        }
        _ => {
            for o in out.iter_mut() {
                *o = rng.gen_range(-1.0f32..1.0);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn agent(head: PolicyHead) -> QActorCritic {
        let net = NetConfig {
            policy: PolicyKind::Mlp,
            encoder_layers: vec![4],
            ..NetConfig::default()
        };
        let obs = Space::Box {
            low: vec![-1.0; 2],
            high: vec![1.0; 2],
            shape: vec![2],
        };
        let actions = Space::Box {
            low: vec![-2.0, 0.5],
            high: vec![2.0, 3.0],
            shape: vec![2],
        };
        let shape = Shape {
            head,
            actor_layers: &[5],
            critic_layers: &[6],
            n_critics: 2,
            learned_ent_coef: None,
            gsde_log_std_init: None,
            gsde_expln: false,
            algo: "sac",
        };
        QActorCritic::new(&obs, &actions, &net, &shape).unwrap()
    }

    #[test]
    fn actions_rescale_exactly_at_the_bounds() {
        let a = agent(PolicyHead::Squashed);
        let mut out = [0.0f32; 4];
        a.unscale(&[-1.0, -1.0, 1.0, 1.0], &mut out);
        assert_eq!(out, [-2.0, 0.5, 2.0, 3.0]);
        a.unscale(&[0.0, 0.0, 0.5, -0.5], &mut out);
        assert_eq!(out, [0.0, 1.75, 1.0, 1.125]);
        let mut back = [0.0f32; 4];
        a.scale(&out, &mut back);
        assert_eq!(back, [0.0, 0.0, 0.5, -0.5]);
        a.scale(&[-2.0, 0.5, 2.0, 3.0], &mut back);
        assert_eq!(back, [-1.0, -1.0, 1.0, 1.0]);
        // Played actions stay inside the box, greedy or sampled, even saturated.
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        let mut p = a.layout.initialize(&mut rng);
        for x in &mut p[a.actor_range.clone()] {
            *x *= 50.0;
        }
        for head in [PolicyHead::Squashed, PolicyHead::Deterministic] {
            let a = agent(head);
            let mut player = a.player(&p[..a.layout.len()]);
            let mut action = [0.0f32; 2];
            for obs in [[1.0, -1.0], [-1.0, 1.0], [0.3, 0.2]] {
                player.act(&obs, Some(&mut rng), &mut action);
                assert!((-2.0..=2.0).contains(&action[0]) && (0.5..=3.0).contains(&action[1]));
                player.act(&obs, None, &mut action);
                assert!((-2.0..=2.0).contains(&action[0]) && (0.5..=3.0).contains(&action[1]));
            }
        }
    }

    /// Discrete SAC on images: the actor and each critic own a convolution (16 filters 3x3 on
    /// a 5x5x2 image: 16 x 18 weights) before their dense layers; with Box actions (critics
    /// reading observation and action together) `encoder = conv` is refused, naming the fix.
    #[test]
    fn conv_encoder_gives_actor_and_critics_their_own_convolutions() {
        let net = NetConfig {
            policy: PolicyKind::Mlp,
            encoder: crate::config::EncoderKind::Conv,
            conv_filters: vec![16],
            conv_kernel: 3,
            ..NetConfig::default()
        };
        let image = Space::Box {
            low: vec![0.0; 50],
            high: vec![1.0; 50],
            shape: vec![5, 5, 2],
        };
        let shape = |head| Shape {
            head,
            actor_layers: &[8],
            critic_layers: &[8],
            n_critics: 2,
            learned_ent_coef: Some(1.0),
            gsde_log_std_init: None,
            gsde_expln: false,
            algo: "sac",
        };
        let discrete = Space::Discrete { n: 3, start: 0 };
        let a =
            QActorCritic::new(&image, &discrete, &net, &shape(PolicyHead::Categorical)).unwrap();
        for part in ["actor", "qf0", "qf1"] {
            let conv = a.layout.get(&format!("{part}.encoder.0.weight")).unwrap();
            assert_eq!(conv.shape, vec![16, 18], "{part}");
            // The dense layer reads the 3x3x16 convolution output.
            let dense = a.layout.get(&format!("{part}.encoder.2.weight")).unwrap();
            assert_eq!(dense.shape, vec![8, 144], "{part}");
        }
        // Acting runs the convolutions (a batch-1 pass over an image).
        let p = a.layout.initialize(&mut ChaCha8Rng::seed_from_u64(1));
        let mut player = a.player(&p);
        let mut action = [0.0f32];
        player.act(&[0.5; 50], None, &mut action);
        assert!((0.0..3.0).contains(&action[0]));
        let boxed = Space::Box {
            low: vec![-1.0],
            high: vec![1.0],
            shape: vec![1],
        };
        for head in [PolicyHead::Squashed, PolicyHead::Deterministic] {
            let err = QActorCritic::new(&image, &boxed, &net, &shape(head))
                .err()
                .unwrap()
                .to_string();
            assert!(
                err.contains("encoder = conv is supported for Discrete actions")
                    && err.contains("--set encoder=mlp"),
                "{err}"
            );
        }
    }

    #[test]
    fn unsupported_spaces_are_refused_naming_the_fix() {
        let net = NetConfig {
            policy: PolicyKind::Mlp,
            ..NetConfig::default()
        };
        let obs = Space::Box {
            low: vec![-1.0],
            high: vec![1.0],
            shape: vec![1],
        };
        let shape = |head| Shape {
            head,
            actor_layers: &[4],
            critic_layers: &[4],
            n_critics: 1,
            learned_ent_coef: None,
            gsde_log_std_init: None,
            gsde_expln: false,
            algo: "td3",
        };
        let err = |space: &Space, head| {
            QActorCritic::new(&obs, space, &net, &shape(head))
                .err()
                .unwrap()
                .to_string()
        };
        let e = err(
            &Space::Discrete { n: 3, start: 0 },
            PolicyHead::Deterministic,
        );
        assert!(e.contains("Box action space") && e.contains("dqn"), "{e}");
        let e = err(
            &Space::MultiDiscrete { nvec: vec![2, 3] },
            PolicyHead::Squashed,
        );
        assert!(e.contains("use ppo"), "{e}");
        let unbounded = Space::Box {
            low: vec![f32::NEG_INFINITY],
            high: vec![f32::INFINITY],
            shape: vec![1],
        };
        let e = err(&unbounded, PolicyHead::Squashed);
        assert!(e.contains("finite bounds"), "{e}");
    }
}
