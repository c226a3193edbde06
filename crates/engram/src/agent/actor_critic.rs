//! The actor-critic: observation encoding -> `nn::Network` (encoder -> LSTM/GRU/none) -> a policy
//! head and a value head, with the action distribution the action space calls for.
//!
//! * Observations go through the [`Encoder`] (Box parts as they are, discrete parts one-hot
//!   or embedded).
//! * Discrete actions: a categorical; MultiDiscrete: independent categoricals (one per
//!   component); Box: a diagonal Gaussian with a state-independent log-std parameter, or with
//!   `use_sde` generalized state-dependent exploration ([`engram_nn::dist::Gsde`]): the noise
//!   is the actor's latent features times an exploration matrix the [`Actor`] redraws every
//!   `sde_sample_freq` steps and whenever its owner calls [`Actor::reset_noise`].
//!
//! [`Actor`] acts one step at a time (no allocation); [`SequencePass`] runs sequences forward
//! and backward through time for the losses, which live with their algorithms. The recurrent
//! state travels as a flat `[batch * state_size]` buffer (`h` then `c` per row), so collectors
//! can store, reset and checkpoint it per row.

use super::action::ActionKind;
use super::encode::Encoder;
use super::{Act, Player};
use crate::config::{ActorCriticConfig, NetConfig, PolicyKind};
use crate::error::TrainError;
use engram_env::Space;
use engram_nn::dist::{DiagGaussian, Gsde, MultiCategorical};
use engram_nn::network::{
    CoreInit, Network, NetworkConfig, NetworkStepScratch, NetworkTape, OnnxState,
};
use engram_nn::onnx::{Attr, Dim, ElemType, Graph};
use engram_nn::recurrent::RecurrentState;
use engram_nn::{Init, ParamLayout, Slot};
use rand::Rng;
use rand_chacha::ChaCha8Rng;

/// The action distribution, built once so that acting never allocates.
#[derive(Clone, Debug)]
enum ActionDist {
    /// Discrete and MultiDiscrete actions: independent categoricals (one component for a
    /// Discrete space) over the policy head's logits.
    Categorical(MultiCategorical),
    /// Box actions: the policy head's means and a state-independent `log_std` `[dim]`.
    Gaussian { dist: DiagGaussian, log_std: Slot },
    /// Box actions with gSDE over the actor's features: `log_std` `[latent x dim]`, and how
    /// often acting redraws the exploration matrices (`None`: only on [`Actor::reset_noise`]).
    Gsde {
        gsde: Gsde,
        log_std: Slot,
        sample_freq: Option<usize>,
    },
}

/// The actor-critic network and its parameter layout.
pub struct ActorCritic {
    pub layout: ParamLayout,
    /// One network with both heads, or (`separate_critic`) an actor network with the policy
    /// head and a critic network of the same shape with the value head.
    pub nets: Vec<Network>,
    /// `(network, head)` of the policy and of the value outputs.
    pi: (usize, usize),
    vf: (usize, usize),
    pub action_kind: ActionKind,
    encoder: Encoder,
    dist: ActionDist,
    action_dim: usize,
    hidden: usize,
    has_cell: bool,
}

impl ActorCritic {
    pub fn new(
        obs_space: &Space,
        action_space: &Space,
        net: &NetConfig,
        ac: &ActorCriticConfig,
    ) -> Result<ActorCritic, TrainError> {
        let mut layout = ParamLayout::new();
        let encoder = Encoder::new(obs_space, net, &mut layout)?;
        let input_dim = encoder.input_dim();
        let Some(action_kind) = ActionKind::of(action_space) else {
            return Err(TrainError::Policy(format!(
                "action space {action_space} is not supported: use Discrete, MultiDiscrete or Box actions"
            )));
        };
        let (head_size, action_dim) = (action_kind.head_width(), action_kind.action_dim());
        let activation = net.activation.to_nn();
        let conv = super::encode::conv_spec(obs_space, net)?;
        // SB3's ortho_init: sqrt 2 for hidden layers, 0.01 for the policy head (near-uniform
        // first actions), 1 for the value head.
        let init = |gain: f32| {
            if net.ortho_init {
                Init::Orthogonal { gain }
            } else {
                Init::UniformFanIn
            }
        };
        let trunk = |heads: &[(&str, usize, f32)]| {
            let mut net_config = NetworkConfig::new(input_dim).encoder(
                &net.encoder_layers,
                activation,
                init(std::f32::consts::SQRT_2),
            );
            if let Some(conv) = &conv {
                net_config = net_config.conv(conv.clone());
            }
            for &(name, size, gain) in heads {
                net_config = net_config.head(name, size, init(gain));
            }
            match net.policy {
                PolicyKind::Lstm => net_config.lstm(net.hidden_size).core_init(CoreInit {
                    weight_ih: Init::UniformFanIn,
                    weight_hh: Init::UniformFanIn,
                    bias: Init::LstmBias { forget: 1.0 },
                }),
                PolicyKind::Gru => net_config.gru(net.hidden_size),
                PolicyKind::Mlp => net_config,
            }
        };
        let pi_head = ("pi", head_size, 0.01);
        let vf_head = ("vf", 1, 1.0);
        let build = |layout: &mut ParamLayout, prefix: &str, config: &NetworkConfig| {
            Network::new(layout, prefix, config).map_err(|e| TrainError::Policy(e.to_string()))
        };
        let (nets, pi, vf) = if ac.separate_critic {
            let actor = build(&mut layout, "actor", &trunk(&[pi_head]))?;
            let critic = build(&mut layout, "critic", &trunk(&[vf_head]))?;
            (vec![actor, critic], (0, 0), (1, 0))
        } else {
            (
                vec![build(&mut layout, "net", &trunk(&[pi_head, vf_head]))?],
                (0, 0),
                (0, 1),
            )
        };
        let latent = nets[pi.0].feature_size;
        let log_std_init = Init::Constant(ac.log_std_init as f32);
        let dist = match (&action_kind, ac.use_sde) {
            (ActionKind::Categorical { n, .. }, false) => {
                ActionDist::Categorical(MultiCategorical::new(&[*n]))
            }
            (ActionKind::MultiCategorical { nvec }, false) => {
                ActionDist::Categorical(MultiCategorical::new(nvec))
            }
            (ActionKind::Gaussian { dim, .. }, false) => ActionDist::Gaussian {
                dist: DiagGaussian::new(*dim),
                log_std: layout.vector("log_std", *dim, log_std_init),
            },
            // SB3's layout for gSDE's log_std: [latent, action dim].
            (ActionKind::Gaussian { dim, .. }, true) => ActionDist::Gsde {
                gsde: Gsde::new(latent, *dim),
                log_std: layout.matrix("log_std", latent, *dim, log_std_init),
                sample_freq: usize::try_from(ac.sde_sample_freq).ok(),
            },
            (_, true) => {
                return Err(TrainError::Policy(format!(
                    "use_sde needs continuous (Box) actions, and this environment's action space \
                     is {action_space}: remove use_sde (--set use_sde=false)"
                )))
            }
        };
        let has_cell = net.policy == PolicyKind::Lstm;
        Ok(ActorCritic {
            dist,
            action_dim,
            hidden: nets[0].state_size(),
            has_cell,
            layout,
            nets,
            pi,
            vf,
            action_kind,
            encoder,
        })
    }

    /// Floats in one flat observation.
    pub fn obs_dim(&self) -> usize {
        self.encoder.obs_dim()
    }

    /// The parts of the flat parameter vector that shape the greedy action: everything but
    /// the value head (or the separate critic) and the action distribution's `log_std`.
    /// Gradient-free policy search perturbs only these.
    pub fn greedy_action_params(&self) -> Vec<std::ops::Range<usize>> {
        let is_critic = |name: &str| {
            name.starts_with("critic.") || name.starts_with("net.vf.") || name == "log_std"
        };
        let mut ranges: Vec<std::ops::Range<usize>> = Vec::new();
        for spec in self.layout.specs().iter().filter(|s| !is_critic(&s.name)) {
            let (start, end) = (spec.slot.offset, spec.slot.offset + spec.slot.len());
            match ranges.last_mut() {
                Some(last) if last.end == start => last.end = end,
                _ => ranges.push(start..end),
            }
        }
        ranges
    }

    /// Floats in one flat action.
    pub fn action_dim(&self) -> usize {
        self.action_dim
    }

    /// Floats of recurrent state per environment (`h`, and `c` for an LSTM, of each network).
    pub fn state_size(&self) -> usize {
        self.net_state_size() * self.nets.len()
    }

    fn net_state_size(&self) -> usize {
        self.hidden * if self.has_cell { 2 } else { 1 }
    }

    /// Unpacks the flat per-row state (`[h, c]` of each network in turn) into the networks'
    /// states.
    fn load_state(&self, flat: &[f32], rows: usize, states: &mut [RecurrentState]) {
        let (h, s, one) = (self.hidden, self.state_size(), self.net_state_size());
        for (k, state) in states.iter_mut().enumerate() {
            for r in 0..rows {
                let at = r * s + k * one;
                state.h[r * h..(r + 1) * h].copy_from_slice(&flat[at..at + h]);
                if self.has_cell {
                    state.c[r * h..(r + 1) * h].copy_from_slice(&flat[at + h..at + 2 * h]);
                }
            }
        }
    }

    fn store_state(&self, states: &[RecurrentState], rows: usize, flat: &mut [f32]) {
        let (h, s, one) = (self.hidden, self.state_size(), self.net_state_size());
        for (k, state) in states.iter().enumerate() {
            for r in 0..rows {
                let at = r * s + k * one;
                flat[at..at + h].copy_from_slice(&state.h[r * h..(r + 1) * h]);
                if self.has_cell {
                    flat[at + h..at + 2 * h].copy_from_slice(&state.c[r * h..(r + 1) * h]);
                }
            }
        }
    }
}

/// Scratch of the action distribution: log-softmax rows and action indices (discrete), the
/// log-std gradient (Gaussian), and gSDE's per-row log-std with its gradient.
struct DistScratch {
    log_probs: Vec<f32>,
    indices: Vec<usize>,
    d_log_std: Vec<f32>,
    log_sigma: Vec<f32>,
    d_log_sigma: Vec<f32>,
}

impl DistScratch {
    fn new(policy: &ActorCritic, rows: usize) -> DistScratch {
        let (log_std_len, sde_rows) = match &policy.dist {
            ActionDist::Categorical(_) => (0, 0),
            ActionDist::Gaussian { log_std, .. } => (log_std.len(), 0),
            ActionDist::Gsde { log_std, .. } => (log_std.len(), rows),
        };
        DistScratch {
            log_probs: vec![0.0; rows * policy.head_width()],
            indices: vec![0; rows * policy.action_dim],
            d_log_std: vec![0.0; log_std_len],
            log_sigma: vec![0.0; sde_rows * policy.action_dim],
            d_log_sigma: vec![0.0; sde_rows * policy.action_dim],
        }
    }
}

impl ActorCritic {
    /// Width of the policy head: logits of every categorical component, or Gaussian means.
    fn head_width(&self) -> usize {
        self.action_kind.head_width()
    }

    /// Picks actions from the policy head's output `out` (`rows` rows): sampled with `rng`,
    /// greedy without; writes flat `actions` and their log-probabilities. With gSDE the
    /// sample is `mean + features^T E` with each row's exploration matrix from `exploration`.
    #[allow(clippy::too_many_arguments)]
    fn choose<R: Rng>(
        &self,
        p: &[f32],
        out: &[f32],
        features: &[f32],
        exploration: &[f32],
        rng: Option<&mut R>,
        scratch: &mut DistScratch,
        actions: &mut [f32],
        log_probs: &mut [f32],
    ) {
        match &self.dist {
            ActionDist::Categorical(dist) => {
                dist.log_softmax(out, None, &mut scratch.log_probs);
                match rng {
                    Some(rng) => dist.sample(&scratch.log_probs, rng, &mut scratch.indices),
                    None => dist.mode(&scratch.log_probs, &mut scratch.indices),
                }
                dist.log_prob(&scratch.log_probs, &scratch.indices, log_probs);
                for (a, &i) in actions.iter_mut().zip(&scratch.indices) {
                    *a = i as f32;
                }
            }
            ActionDist::Gaussian { dist, log_std } => {
                let log_std = log_std.of(p);
                match rng {
                    Some(rng) => dist.sample(out, log_std, rng, actions),
                    None => dist.mode(out, actions),
                }
                dist.log_prob(out, log_std, actions, log_probs);
            }
            ActionDist::Gsde { gsde, log_std, .. } => {
                let dist = DiagGaussian::new(gsde.dim);
                gsde.log_sigma(features, log_std.of(p), &mut scratch.log_sigma);
                match rng {
                    Some(_) => {
                        gsde.noise(features, exploration, actions);
                        for (a, &m) in actions.iter_mut().zip(out) {
                            *a += m;
                        }
                    }
                    None => dist.mode(out, actions),
                }
                dist.log_prob(out, &scratch.log_sigma, actions, log_probs);
            }
        }
    }

    /// `log pi(actions)` and the entropy of each row of the policy head's output (`features`:
    /// what the head read, for gSDE).
    #[allow(clippy::too_many_arguments)]
    fn evaluate(
        &self,
        p: &[f32],
        out: &[f32],
        features: &[f32],
        actions: &[f32],
        scratch: &mut DistScratch,
        logp: &mut [f32],
        entropy: &mut [f32],
    ) {
        match &self.dist {
            ActionDist::Categorical(dist) => {
                dist.log_softmax(out, None, &mut scratch.log_probs);
                for (i, a) in scratch.indices.iter_mut().zip(actions) {
                    *i = *a as usize;
                }
                dist.log_prob(&scratch.log_probs, &scratch.indices, logp);
                dist.entropy(&scratch.log_probs, entropy);
            }
            ActionDist::Gaussian { dist, log_std } => {
                let log_std = log_std.of(p);
                dist.log_prob(out, log_std, actions, logp);
                dist.entropy(log_std, entropy);
            }
            ActionDist::Gsde { gsde, log_std, .. } => {
                let dist = DiagGaussian::new(gsde.dim);
                gsde.log_sigma(features, log_std.of(p), &mut scratch.log_sigma);
                dist.log_prob(out, &scratch.log_sigma, actions, logp);
                dist.entropy(&scratch.log_sigma, entropy);
            }
        }
    }

    /// Backward of [`ActorCritic::evaluate`]: `d_head` from `d_logp` and `d_entropy`; the
    /// log-std gradient goes straight into `g`.
    #[allow(clippy::too_many_arguments)]
    fn evaluate_backward(
        &self,
        p: &[f32],
        g: &mut [f32],
        out: &[f32],
        features: &[f32],
        actions: &[f32],
        scratch: &mut DistScratch,
        d_logp: &[f32],
        d_entropy: &[f32],
        d_head: &mut [f32],
    ) {
        let log_std = match &self.dist {
            ActionDist::Categorical(dist) => {
                dist.backward(
                    &scratch.log_probs,
                    &scratch.indices,
                    d_logp,
                    d_entropy,
                    d_head,
                );
                return;
            }
            ActionDist::Gaussian { dist, log_std } => {
                dist.backward(
                    out,
                    log_std.of(p),
                    actions,
                    d_logp,
                    d_entropy,
                    d_head,
                    &mut scratch.d_log_std,
                );
                log_std
            }
            ActionDist::Gsde { gsde, log_std, .. } => {
                // The features are constants here (SB3's learn_features = False): the
                // gradient reaches the mean head and log_std only.
                DiagGaussian::new(gsde.dim).backward(
                    out,
                    &scratch.log_sigma,
                    actions,
                    d_logp,
                    d_entropy,
                    d_head,
                    &mut scratch.d_log_sigma,
                );
                gsde.backward(
                    features,
                    log_std.of(p),
                    &scratch.log_sigma,
                    &scratch.d_log_sigma,
                    &mut scratch.d_log_std,
                );
                log_std
            }
        };
        for (gv, d) in log_std.of_mut(g).iter_mut().zip(&scratch.d_log_std) {
            *gv += d;
        }
    }
}

/// One parameter vector's action distributions on the rows of a [`SequencePass`]: the policy
/// head's outputs (logits, Gaussian means) and, for gSDE, each row's `ln sigma`
/// ([`SequencePass::dist_rows`]).
#[derive(Clone, Copy, Debug)]
pub struct DistRows<'a> {
    pub params: &'a [f32],
    pub head: &'a [f32],
    /// gSDE: `[rows * action dim]`; empty for other distributions.
    pub log_sigma: &'a [f32],
}

/// What TRPO needs of the action distribution, on the policy head's rows: the exact
/// KL(old || new) between two parameter vectors' distributions, and its Hessian at equal
/// distributions (the Fisher information) applied to a change of the parameters.
impl ActorCritic {
    /// The action distribution's `log_std` parameters (`[dim]` for a state-independent
    /// Gaussian, `[latent x dim]` for gSDE), if the policy has them.
    pub fn log_std_slot(&self) -> Option<Slot> {
        match &self.dist {
            ActionDist::Gaussian { log_std, .. } | ActionDist::Gsde { log_std, .. } => {
                Some(*log_std)
            }
            ActionDist::Categorical(_) => None,
        }
    }

    /// Categorical component widths (one for Discrete); empty for Gaussian policies.
    fn components(&self) -> Vec<usize> {
        match &self.action_kind {
            ActionKind::Categorical { n, .. } => vec![*n],
            ActionKind::MultiCategorical { nvec } => nvec.clone(),
            ActionKind::Gaussian { .. } => Vec::new(),
        }
    }

    /// The mean over rows of KL(old || new) (swap the arguments for KL(new || old)), from the
    /// same rows' distributions under two parameter vectors (a state-independent `log_std` is read from each vector, gSDE's
    /// per-row `ln sigma` from the rows).
    pub fn mean_kl(&self, old: DistRows, new: DistRows) -> f64 {
        let width = self.head_width();
        let rows = old.head.len() / width.max(1);
        // KL between two univariate Gaussians from means and log-stds.
        let gaussian = |mo: f32, so: f32, mn: f32, sn: f32| {
            let (mo, so, mn, sn) = (mo as f64, so as f64, mn as f64, sn as f64);
            sn - so + ((2.0 * so).exp() + (mo - mn).powi(2)) / (2.0 * (2.0 * sn).exp()) - 0.5
        };
        let mut total = 0.0f64;
        match &self.dist {
            ActionDist::Categorical(_) => {
                let comps = self.components();
                for r in 0..rows {
                    let mut at = r * width;
                    for &n in &comps {
                        let lo = log_softmax_f64(&old.head[at..at + n]);
                        let ln = log_softmax_f64(&new.head[at..at + n]);
                        total += lo
                            .iter()
                            .zip(&ln)
                            .map(|(o, q)| o.exp() * (o - q))
                            .sum::<f64>();
                        at += n;
                    }
                }
            }
            ActionDist::Gaussian { log_std, .. } => {
                let (so, sn) = (log_std.of(old.params), log_std.of(new.params));
                for r in 0..rows {
                    for d in 0..width {
                        let i = r * width + d;
                        total += gaussian(old.head[i], so[d], new.head[i], sn[d]);
                    }
                }
            }
            ActionDist::Gsde { .. } => {
                for i in 0..rows * width {
                    total += gaussian(old.head[i], old.log_sigma[i], new.head[i], new.log_sigma[i]);
                }
            }
        }
        total / rows.max(1) as f64
    }

    /// `w = F u` on every row: the Hessian of KL(old || new) with respect to the new head's
    /// outputs, at new = old = `at`, applied to `u` (`[rows * head width]` each).
    /// Categorical: `F = diag(p) - p p^T` per component; Gaussian means: `F = 1 / sigma^2`
    /// (gSDE: each row's own sigma).
    pub fn head_fisher_product(&self, at: DistRows, u: &[f32], w: &mut [f32]) {
        let width = self.head_width();
        let rows = at.head.len() / width.max(1);
        match &self.dist {
            ActionDist::Categorical(_) => {
                let comps = self.components();
                for r in 0..rows {
                    let mut k = r * width;
                    for &n in &comps {
                        let lp = log_softmax_f64(&at.head[k..k + n]);
                        let pu: f64 = lp
                            .iter()
                            .zip(&u[k..k + n])
                            .map(|(l, u)| l.exp() * *u as f64)
                            .sum();
                        for i in 0..n {
                            w[k + i] = (lp[i].exp() * (u[k + i] as f64 - pu)) as f32;
                        }
                        k += n;
                    }
                }
            }
            ActionDist::Gaussian { log_std, .. } => {
                let s = log_std.of(at.params);
                for (w_row, u_row) in w.chunks_mut(width).zip(u.chunks(width)).take(rows) {
                    for ((w, u), s) in w_row.iter_mut().zip(u_row).zip(s) {
                        *w = u * (-2.0 * s).exp();
                    }
                }
            }
            ActionDist::Gsde { .. } => {
                for ((w, u), ls) in w.iter_mut().zip(u).zip(at.log_sigma).take(rows * width) {
                    *w = u * (-2.0 * ls).exp();
                }
            }
        }
    }

    /// The `log_std` block of the Fisher, mean over the rows, applied to `v` (a whole
    /// parameter-space direction; only its `log_std` coordinates are read) and added to
    /// `out`'s `log_std` coordinates. A state-independent Gaussian: the KL's Hessian in
    /// `log_std` is `2` per coordinate, so `2 v`. gSDE: `ln sigma_bj` depends on `log_std`
    /// through `sigma_bj^2 = sum_i z_bi^2 exp(2 log_std_ij) + eps` with the features `z`
    /// held constant (SB3's `learn_features = False`, so sb3-contrib's autograd Hessian has no
    /// feature term either): `(1/N) J^T 2 J v` with `J_bj,ij = z_bi^2 exp(2 log_std_ij) /
    /// sigma_bj^2`, the KL's Hessian in `ln sigma` being `2`. `features` and `log_sigma` are
    /// the rows' at `params`. Mean and `ln sigma` have no cross term at equal distributions.
    pub fn log_std_fisher_product(
        &self,
        params: &[f32],
        features: &[f32],
        log_sigma: &[f32],
        v: &[f64],
        out: &mut [f64],
    ) {
        match &self.dist {
            ActionDist::Categorical(_) => {}
            ActionDist::Gaussian { log_std, .. } => {
                for i in log_std.offset..log_std.offset + log_std.len() {
                    out[i] += 2.0 * v[i];
                }
            }
            ActionDist::Gsde { gsde, log_std, .. } => {
                let (latent, dim, at) = (gsde.latent, gsde.dim, log_std.offset);
                let var: Vec<f64> = log_std
                    .of(params)
                    .iter()
                    .map(|ls| (2.0 * *ls as f64).exp())
                    .collect();
                let rows = log_sigma.len() / dim;
                let mut acc = vec![0.0f64; latent * dim];
                for (z, lsig) in features
                    .chunks_exact(latent)
                    .zip(log_sigma.chunks_exact(dim))
                    .take(rows)
                {
                    for (j, &ls) in lsig.iter().enumerate() {
                        let inv_var = (-2.0 * ls as f64).exp();
                        // (J v)_bj, then 2 (J v)_bj pulled back through J^T.
                        let jv: f64 = (0..latent)
                            .map(|i| (z[i] as f64).powi(2) * var[i * dim + j] * v[at + i * dim + j])
                            .sum::<f64>()
                            * inv_var;
                        let w = 2.0 * jv * inv_var;
                        for i in 0..latent {
                            acc[i * dim + j] += (z[i] as f64).powi(2) * w;
                        }
                    }
                }
                let inv_n = 1.0 / rows.max(1) as f64;
                for (k, a) in acc.iter().enumerate() {
                    out[at + k] += a * var[k] * inv_n;
                }
            }
        }
    }
}

fn log_softmax_f64(logits: &[f32]) -> Vec<f64> {
    let max = logits.iter().cloned().fold(f32::NEG_INFINITY, f32::max) as f64;
    let sum: f64 = logits.iter().map(|&z| (z as f64 - max).exp()).sum();
    let log_z = max + sum.ln();
    logits.iter().map(|&z| z as f64 - log_z).collect()
}

/// Acting scratch for `batch` environments.
pub struct Actor {
    batch: usize,
    input: Vec<f32>,
    states: Vec<RecurrentState>,
    scratches: Vec<NetworkStepScratch>,
    dist: DistScratch,
    /// Log-probability of each row's action of the last [`Actor::act`] (PPO's old log-probs).
    chosen_log_probs: Vec<f32>,
    /// gSDE: one exploration matrix per row, and the sampled steps since they were drawn
    /// (`None`: draw before the next sampled action).
    exploration: Vec<f32>,
    noise_age: Option<usize>,
}

impl Actor {
    pub fn new(policy: &ActorCritic, batch: usize) -> Actor {
        Actor {
            batch,
            input: vec![0.0; batch * policy.encoder.input_dim()],
            states: policy.nets.iter().map(|n| n.initial_state(batch)).collect(),
            scratches: policy.nets.iter().map(|n| n.step_scratch(batch)).collect(),
            dist: DistScratch::new(policy, batch),
            chosen_log_probs: vec![0.0; batch],
            exploration: match &policy.dist {
                ActionDist::Gsde { gsde, .. } => vec![0.0; batch * gsde.matrix_len()],
                _ => Vec::new(),
            },
            noise_age: None,
        }
    }

    /// gSDE: redraw the exploration matrices before the next sampled action (collectors call
    /// this at the start of each rollout, as SB3 does; REINFORCE and evaluation at the start
    /// of each episode). Nothing to do for other policies.
    pub fn reset_noise(&mut self) {
        self.noise_age = None;
    }

    /// `log pi(a | s)` of the actions chosen by the last [`Actor::act`], one per row.
    pub fn action_log_probs(&self) -> &[f32] {
        &self.chosen_log_probs
    }

    /// One step for all rows: advances `state`, writes flat `actions` and `values`.
    /// `rng = None` acts greedily (argmax / Gaussian mean).
    #[allow(clippy::too_many_arguments)]
    pub fn act<R: Rng>(
        &mut self,
        policy: &ActorCritic,
        p: &[f32],
        obs: &[f32],
        state: &mut [f32],
        rng: Option<&mut R>,
        actions: &mut [f32],
        values: &mut [f32],
    ) {
        let b = self.batch;
        self.step(policy, p, obs, state);
        policy.store_state(&self.states, b, state);
        values.copy_from_slice(&self.head(policy.vf)[..b]);
        let rng = match (&policy.dist, rng) {
            (
                ActionDist::Gsde {
                    gsde,
                    log_std,
                    sample_freq,
                },
                Some(rng),
            ) => {
                let stale = match (self.noise_age, sample_freq) {
                    (None, _) => true,
                    (Some(age), Some(freq)) => age >= *freq,
                    (Some(_), None) => false,
                };
                if stale {
                    gsde.sample_exploration(log_std.of(p), rng, &mut self.exploration);
                    self.noise_age = Some(0);
                }
                self.noise_age = self.noise_age.map(|age| age + 1);
                Some(rng)
            }
            (_, rng) => rng,
        };
        let (net, head) = policy.pi;
        let scratch = &self.scratches[net];
        policy.choose(
            p,
            scratch.head(head),
            scratch.features(&self.input, &self.states[net]),
            &self.exploration,
            rng,
            &mut self.dist,
            actions,
            &mut self.chosen_log_probs,
        );
    }

    /// `V(obs)` for all rows from `state`, which is left as it was.
    pub fn values(
        &mut self,
        policy: &ActorCritic,
        p: &[f32],
        obs: &[f32],
        state: &[f32],
        values: &mut [f32],
    ) {
        self.step(policy, p, obs, state);
        let b = self.batch;
        values.copy_from_slice(&self.head(policy.vf)[..b]);
    }

    fn step(&mut self, policy: &ActorCritic, p: &[f32], obs: &[f32], state: &[f32]) {
        let b = self.batch;
        policy.encoder.encode(p, obs, b, &mut self.input);
        policy.load_state(state, b, &mut self.states);
        for ((net, state), scratch) in policy
            .nets
            .iter()
            .zip(&mut self.states)
            .zip(&mut self.scratches)
        {
            net.step(p, &self.input, state, scratch);
        }
    }

    fn head(&self, (net, head): (usize, usize)) -> &[f32] {
        self.scratches[net].head(head)
    }

    /// `V(obs)` of one observation with one row's state (the final observation of a truncated
    /// episode).
    pub fn value_one(
        &mut self,
        policy: &ActorCritic,
        p: &[f32],
        obs: &[f32],
        state: &[f32],
    ) -> f32 {
        let mut v = [0.0];
        if self.batch == 1 {
            self.values(policy, p, obs, state, &mut v);
        } else {
            // Truncations are rare (once per episode): a small allocation is fine here.
            Actor::new(policy, 1).values(policy, p, obs, state, &mut v);
        }
        v[0]
    }
}

/// Which networks a [`SequencePass`] runs: everything, or with `separate_critic` only the
/// actor's (`Policy`: TRPO's Fisher products and line search) or only the critic's (`Value`:
/// TRPO's critic steps). With one shared network every part runs it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Part {
    Both,
    Policy,
    Value,
}

impl Part {
    /// Whether network `k` of `policy` takes part.
    fn runs(self, policy: &ActorCritic, k: usize) -> bool {
        match self {
            Part::Both => true,
            Part::Policy => policy.pi.0 == k,
            Part::Value => policy.vf.0 == k,
        }
    }
}

/// Forward and backward through time over `steps` steps of `batch` environment sequences,
/// shared by every on-policy loss: the loss-specific code (in the algorithm's file, or in
/// `onpolicy::pg_loss`) only fills `d_logp`, `d_entropy` and `d_values` between
/// [`SequencePass::forward`] and [`SequencePass::backward`].
pub struct SequencePass {
    input: Vec<f32>,
    d_input: Vec<f32>,
    states: Vec<RecurrentState>,
    tapes: Vec<NetworkTape>,
    /// `(network, head)` of the values.
    vf: (usize, usize),
    dist: DistScratch,
    /// `log pi(a | s)` of each row, after `forward`.
    pub logp: Vec<f32>,
    /// Entropy of each row's action distribution, after `forward`.
    pub entropy: Vec<f32>,
    /// Gradients of the loss with respect to `logp`, `entropy` and the values, filled by the
    /// loss before `backward`.
    pub d_logp: Vec<f32>,
    pub d_entropy: Vec<f32>,
    pub d_values: Vec<f32>,
    d_head: Vec<f32>,
}

impl SequencePass {
    pub fn new(policy: &ActorCritic, steps: usize, batch: usize) -> SequencePass {
        let rows = steps * batch;
        let embeddings = policy.encoder.has_embeddings();
        SequencePass {
            input: vec![0.0; rows * policy.encoder.input_dim()],
            d_input: vec![
                0.0;
                if embeddings {
                    rows * policy.encoder.input_dim()
                } else {
                    0
                }
            ],
            states: policy.nets.iter().map(|n| n.initial_state(batch)).collect(),
            tapes: policy.nets.iter().map(|n| n.tape(steps, batch)).collect(),
            vf: policy.vf,
            dist: DistScratch::new(policy, rows),
            logp: vec![0.0; rows],
            entropy: vec![0.0; rows],
            d_logp: vec![0.0; rows],
            d_entropy: vec![0.0; rows],
            d_values: vec![0.0; rows],
            d_head: vec![0.0; rows * policy.head_width()],
        }
    }

    /// Runs the sequences from their initial states (resetting at episode starts) and
    /// evaluates the taken actions: fills `logp`, `entropy` and the values.
    #[allow(clippy::too_many_arguments)]
    pub fn forward(
        &mut self,
        policy: &ActorCritic,
        p: &[f32],
        obs: &[f32],
        actions: &[f32],
        initial_state: &[f32],
        starts: &[bool],
        steps: usize,
        batch: usize,
    ) {
        self.forward_part(
            Part::Both,
            policy,
            p,
            obs,
            actions,
            initial_state,
            starts,
            steps,
            batch,
        );
    }

    /// [`SequencePass::forward`] of only the networks `part` needs: with `separate_critic`,
    /// `Part::Policy` skips the critic network (the values are stale afterwards) and
    /// `Part::Value` the actor network and the action distribution (`logp`, `entropy` and
    /// the policy head are stale). A shared network runs whole either way.
    #[allow(clippy::too_many_arguments)]
    pub fn forward_part(
        &mut self,
        part: Part,
        policy: &ActorCritic,
        p: &[f32],
        obs: &[f32],
        actions: &[f32],
        initial_state: &[f32],
        starts: &[bool],
        steps: usize,
        batch: usize,
    ) {
        policy
            .encoder
            .encode(p, obs, steps * batch, &mut self.input);
        policy.load_state(initial_state, batch, &mut self.states);
        for (k, ((net, state), tape)) in policy
            .nets
            .iter()
            .zip(&mut self.states)
            .zip(&mut self.tapes)
            .enumerate()
        {
            if part.runs(policy, k) {
                net.forward_seq(p, &self.input, steps, Some(starts), state, tape);
            }
        }
        if part == Part::Value {
            return;
        }
        let tape = &self.tapes[policy.pi.0];
        policy.evaluate(
            p,
            tape.head(policy.pi.1),
            tape.features(&self.input),
            actions,
            &mut self.dist,
            &mut self.logp,
            &mut self.entropy,
        );
    }

    /// `V(s)` of each row, after `forward`.
    pub fn values(&self) -> &[f32] {
        self.tapes[self.vf.0].head(self.vf.1)
    }

    /// The values and their gradient buffer, borrowed together for the value loss.
    pub fn values_and_grad(&mut self) -> (&[f32], &mut [f32]) {
        (self.tapes[self.vf.0].head(self.vf.1), &mut self.d_values)
    }

    /// Adds to `g` the gradient given `d_logp`, `d_entropy` and `d_values`.
    pub fn backward(
        &mut self,
        policy: &ActorCritic,
        p: &[f32],
        g: &mut [f32],
        obs: &[f32],
        actions: &[f32],
    ) {
        self.backward_policy(policy, p, g, actions);
        self.backward_heads(Part::Both, policy, p, g, obs);
    }

    /// Adds to `g` the gradient of a loss of `logp` and `entropy` only (`d_values` is taken
    /// as zero): runs the actor's network alone (after a `Part::Policy` or whole forward).
    pub fn backward_logp(
        &mut self,
        policy: &ActorCritic,
        p: &[f32],
        g: &mut [f32],
        obs: &[f32],
        actions: &[f32],
    ) {
        self.d_values.fill(0.0);
        self.backward_policy(policy, p, g, actions);
        self.backward_heads(Part::Policy, policy, p, g, obs);
    }

    /// Adds to `g` the gradient of a loss of the values only (`d_values`): runs the critic's
    /// network alone (after a `Part::Value` or whole forward).
    pub fn backward_values(&mut self, policy: &ActorCritic, p: &[f32], g: &mut [f32], obs: &[f32]) {
        self.d_head.fill(0.0);
        self.backward_heads(Part::Value, policy, p, g, obs);
    }

    /// `d_head` (and the `log_std` gradient into `g`) from `d_logp` and `d_entropy`.
    fn backward_policy(&mut self, policy: &ActorCritic, p: &[f32], g: &mut [f32], actions: &[f32]) {
        let tape = &self.tapes[policy.pi.0];
        policy.evaluate_backward(
            p,
            g,
            tape.head(policy.pi.1),
            tape.features(&self.input),
            actions,
            &mut self.dist,
            &self.d_logp,
            &self.d_entropy,
            &mut self.d_head,
        );
    }

    /// The policy head's outputs of the last `forward` (logits or Gaussian means),
    /// `[rows * head width]`.
    pub fn policy_head(&self, policy: &ActorCritic) -> &[f32] {
        self.tapes[policy.pi.0].head(policy.pi.1)
    }

    /// The rows' action distributions under `p` after a forward with `p` (gSDE's `ln sigma`
    /// included).
    pub fn dist_rows<'a>(&'a self, policy: &ActorCritic, p: &'a [f32]) -> DistRows<'a> {
        DistRows {
            params: p,
            head: self.policy_head(policy),
            log_sigma: &self.dist.log_sigma,
        }
    }

    /// What the actor's head read in the last forward, `[rows * feature size]`.
    pub fn policy_features(&self, policy: &ActorCritic) -> &[f32] {
        self.tapes[policy.pi.0].features(&self.input)
    }

    /// Adds to `g` the gradient of a loss whose gradient with respect to the policy head's
    /// outputs is `d_head` (and zero with respect to the values): TRPO's Fisher-vector
    /// products. A Gaussian's `log_std` gets nothing here (it is not behind the head).
    pub fn backward_policy_head(
        &mut self,
        policy: &ActorCritic,
        p: &[f32],
        g: &mut [f32],
        obs: &[f32],
        d_head: &[f32],
    ) {
        self.d_head.copy_from_slice(d_head);
        self.d_values.fill(0.0);
        self.backward_heads(Part::Policy, policy, p, g, obs);
    }

    fn backward_heads(
        &mut self,
        part: Part,
        policy: &ActorCritic,
        p: &[f32],
        g: &mut [f32],
        obs: &[f32],
    ) {
        let embeddings = policy.encoder.has_embeddings();
        if embeddings {
            self.d_input.fill(0.0);
        }
        for (k, (net, tape)) in policy.nets.iter().zip(&mut self.tapes).enumerate() {
            if !part.runs(policy, k) {
                continue;
            }
            // Each network's head gradients in head order: the policy head before the value
            // head when they share a network.
            let mut d_heads: Vec<&[f32]> = Vec::with_capacity(2);
            if policy.pi.0 == k {
                d_heads.push(&self.d_head);
            }
            if policy.vf.0 == k {
                d_heads.push(&self.d_values);
            }
            net.backward_seq(
                p,
                g,
                &self.input,
                &d_heads,
                tape,
                embeddings.then_some(&mut self.d_input[..]),
                None,
            );
        }
        if embeddings {
            let rows = self.logp.len();
            policy.encoder.backward(g, obs, rows, &self.d_input);
        }
    }
}

/// One environment's greedy or sampled play, for evaluation.
struct ActorCriticPlayer<'a> {
    policy: &'a ActorCritic,
    params: &'a [f32],
    actor: Actor,
    state: Vec<f32>,
}

impl Player for ActorCriticPlayer<'_> {
    fn reset(&mut self) {
        self.state.fill(0.0);
        self.actor.reset_noise();
    }

    fn act(&mut self, obs: &[f32], rng: Option<&mut ChaCha8Rng>, action: &mut [f32]) {
        let mut value = [0.0f32];
        self.actor.act(
            self.policy,
            self.params,
            obs,
            &mut self.state,
            rng,
            action,
            &mut value,
        );
    }

    fn recurrent_state(&self) -> &[f32] {
        &self.state
    }

    fn set_recurrent_state(&mut self, state: &[f32]) {
        if state.len() == self.state.len() {
            self.state.copy_from_slice(state);
        }
    }

    fn outputs(&self) -> Vec<(&'static str, Vec<f32>)> {
        let policy = self.policy;
        let pi = self.actor.head(policy.pi).to_vec();
        let mut outputs = match &policy.dist {
            ActionDist::Categorical(_) => vec![("logits", pi)],
            ActionDist::Gaussian { .. } | ActionDist::Gsde { .. } => vec![("mean", pi)],
        };
        outputs.push(("value", self.actor.head(policy.vf).to_vec()));
        if let ActionDist::Gaussian { log_std, .. } = &policy.dist {
            outputs.push(("log_std", log_std.of(self.params).to_vec()));
        }
        outputs
    }

    fn core_record(&self) -> Vec<(String, Vec<f32>)> {
        let mut record = Vec::new();
        let (h, one) = (self.policy.hidden, self.policy.net_state_size());
        for (k, scratch) in self.actor.scratches.iter().enumerate() {
            let Some((names, gates)) = scratch.core_gates() else {
                continue;
            };
            let prefix = if k == 0 { "" } else { "critic." };
            let state = &self.state[k * one..(k + 1) * one];
            record.push((format!("{prefix}h"), state[..h].to_vec()));
            if self.policy.has_cell {
                record.push((format!("{prefix}c"), state[h..2 * h].to_vec()));
            }
            for (block, name) in names.iter().enumerate() {
                record.push((
                    format!("{prefix}{name}"),
                    gates[block * h..(block + 1) * h].to_vec(),
                ));
            }
        }
        record
    }
}

impl Act for ActorCritic {
    fn layout(&self) -> &ParamLayout {
        &self.layout
    }

    fn obs_dim(&self) -> usize {
        self.encoder.obs_dim()
    }

    fn action_kind(&self) -> &ActionKind {
        &self.action_kind
    }

    fn player<'a>(&'a self, params: &'a [f32]) -> Box<dyn Player + 'a> {
        Box::new(ActorCriticPlayer {
            policy: self,
            params,
            actor: Actor::new(self, 1),
            state: vec![0.0; self.state_size()],
        })
    }

    fn onnx(&self, g: &mut Graph, p: &[f32], obs: &str) -> Result<(), TrainError> {
        let input = self.encoder.onnx(g, p, obs);
        let state_in = (self.state_size() > 0).then(|| {
            g.input(
                "state_in",
                vec![Dim::batch(), Dim::Fixed(self.state_size())],
            )
        });
        let (h, one) = (self.hidden, self.net_state_size());
        let mut heads = Vec::new();
        let mut next_state = Vec::new();
        for (k, net) in self.nets.iter().enumerate() {
            let state = state_in.as_ref().map(|s| OnnxState {
                h: g.columns(s, k * one, k * one + h),
                c: self
                    .has_cell
                    .then(|| g.columns(s, k * one + h, k * one + 2 * h)),
            });
            let (net_heads, next) = net.onnx_step(g, p, &input, state.as_ref());
            if let Some(next) = next {
                next_state.push(next.h);
                next_state.extend(next.c);
            }
            heads.push(net_heads);
        }
        let pi = heads[self.pi.0][self.pi.1].clone();
        let vf = heads[self.vf.0][self.vf.1].clone();
        let batch = || Dim::batch();
        let rows = |n: usize| vec![Dim::batch(), Dim::Fixed(n)];
        match &self.dist {
            ActionDist::Categorical(_) => {
                let nvec: Vec<usize> = match &self.action_kind {
                    ActionKind::Categorical { n, .. } => vec![*n],
                    ActionKind::MultiCategorical { nvec } => nvec.clone(),
                    ActionKind::Gaussian { .. } => Vec::new(),
                };
                let mut actions = Vec::new();
                let mut at = 0;
                for &n in &nvec {
                    let logits = if nvec.len() == 1 {
                        pi.clone()
                    } else {
                        g.columns(&pi, at, at + n)
                    };
                    let best = g.op(
                        "ArgMax",
                        &[&logits],
                        vec![("axis", Attr::Int(1)), ("keepdims", Attr::Int(1))],
                    );
                    actions.push(g.op(
                        "Cast",
                        &[&best],
                        vec![("to", Attr::Int(ElemType::F32 as i64))],
                    ));
                    at += n;
                }
                let action = g.concat_columns(&actions);
                g.output(&action, "action", ElemType::F32, rows(nvec.len()));
                g.output(&pi, "logits", ElemType::F32, rows(at));
            }
            ActionDist::Gaussian { .. } | ActionDist::Gsde { .. } => {
                g.output(&pi, "action", ElemType::F32, rows(self.action_dim));
                g.output(&pi, "mean", ElemType::F32, rows(self.action_dim));
            }
        }
        g.output(&vf, "value", ElemType::F32, rows(1));
        if let ActionDist::Gaussian { log_std, .. } = &self.dist {
            let value = g.constant("log_std", &[self.action_dim], log_std.of(p));
            g.output(
                &value,
                "log_std",
                ElemType::F32,
                vec![Dim::Fixed(self.action_dim)],
            );
        }
        if !next_state.is_empty() {
            let state_out = g.concat_columns(&next_state);
            g.output(
                &state_out,
                "state_out",
                ElemType::F32,
                vec![batch(), Dim::Fixed(self.state_size())],
            );
        }
        Ok(())
    }
}
