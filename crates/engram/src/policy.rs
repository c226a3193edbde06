//! The actor-critic: observation encoding -> `nn::Network` (encoder -> LSTM/GRU/none) -> a policy
//! head and a value head, with the action distribution the action space calls for.
//!
//! * Box observations go in as they are; Discrete and MultiDiscrete parts (also inside Tuples)
//!   are one-hot encoded, or looked up in learned embeddings (`discrete_encoding = "embedding"`).
//! * Discrete actions: a categorical; MultiDiscrete: independent categoricals (one per
//!   component); Box: a diagonal Gaussian with a state-independent log-std parameter, or with
//!   `use_sde` generalized state-dependent exploration ([`engram_nn::dist::Gsde`]): the noise
//!   is the actor's latent features times an exploration matrix the [`Actor`] redraws every
//!   `sde_sample_freq` steps and whenever its owner calls [`Actor::reset_noise`].
//!
//! [`Actor`] acts one step at a time (no allocation), [`Learner`] runs the whole rollout forward
//! and backward through time. The recurrent state travels as a flat `[batch * state_size]`
//! buffer (`h` then `c` per row), so collectors can store, reset and checkpoint it per row.

use crate::config::{Activation, DiscreteEncoding, PolicyKind, TrainConfig};
use crate::ppo::MiniBatch;
use crate::rollout::Rollout;
use crate::runtime::UpdateStats;
use crate::train::TrainError;
use engram_env::Space;
use engram_nn::activation::Activation as NnActivation;
use engram_nn::dist::{DiagGaussian, Gsde, MultiCategorical};
use engram_nn::embedding::Embedding;
use engram_nn::loss::{entropy_bonus, policy_gradient_loss, value_mse_loss, Reduction};
use engram_nn::network::{CoreInit, Network, NetworkConfig, NetworkStepScratch, NetworkTape};
use engram_nn::recurrent::RecurrentState;
use engram_nn::{Init, ParamLayout, Slot};
use rand::Rng;

/// The action distribution, from the action space.
#[derive(Clone, Debug, PartialEq)]
pub enum ActionKind {
    Categorical {
        n: usize,
        start: i64,
    },
    MultiCategorical {
        nvec: Vec<usize>,
    },
    Gaussian {
        dim: usize,
        low: Vec<f32>,
        high: Vec<f32>,
    },
}

/// How one piece of the flat observation becomes network input.
#[derive(Clone, Debug)]
enum Segment {
    Copy {
        len: usize,
    },
    OneHot {
        n: usize,
        start: i64,
    },
    Embed {
        n: usize,
        start: i64,
        table: Embedding,
    },
}

impl Segment {
    fn flat_len(&self) -> usize {
        match self {
            Segment::Copy { len } => *len,
            _ => 1,
        }
    }

    fn input_len(&self) -> usize {
        match self {
            Segment::Copy { len } => *len,
            Segment::OneHot { n, .. } => *n,
            Segment::Embed { table, .. } => table.dim,
        }
    }
}

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
    segments: Vec<Segment>,
    dist: ActionDist,
    obs_dim: usize,
    input_dim: usize,
    action_dim: usize,
    hidden: usize,
    has_cell: bool,
}

impl ActorCritic {
    pub fn new(
        obs_space: &Space,
        action_space: &Space,
        c: &TrainConfig,
    ) -> Result<ActorCritic, TrainError> {
        let mut layout = ParamLayout::new();
        let mut segments = Vec::new();
        let mut embed_index = 0;
        encode_space(obs_space, c, &mut layout, &mut segments, &mut embed_index)?;
        let input_dim: usize = segments.iter().map(Segment::input_len).sum();
        let (action_kind, head_size, action_dim) = match action_space {
            Space::Discrete { n, start } => {
                (ActionKind::Categorical { n: *n as usize, start: *start }, *n as usize, 1)
            }
            Space::MultiDiscrete { nvec } => {
                let nvec: Vec<usize> = nvec.iter().map(|&n| n as usize).collect();
                let width = nvec.iter().sum();
                let len = nvec.len();
                (ActionKind::MultiCategorical { nvec }, width, len)
            }
            Space::Box { low, high, shape } => {
                let dim = shape.iter().product();
                (ActionKind::Gaussian { dim, low: low.clone(), high: high.clone() }, dim, dim)
            }
            Space::Tuple(_) => {
                return Err(TrainError::Policy(format!(
                    "action space {action_space} is not supported: use Discrete, MultiDiscrete or Box actions"
                )))
            }
        };
        let activation = match c.activation {
            Activation::Tanh => NnActivation::Tanh,
            Activation::Relu => NnActivation::Relu,
            Activation::Elu => NnActivation::Elu { alpha: 1.0 },
        };
        // SB3's ortho_init: sqrt 2 for hidden layers, 0.01 for the policy head (near-uniform
        // first actions), 1 for the value head.
        let init = |gain: f32| {
            if c.ortho_init {
                Init::Orthogonal { gain }
            } else {
                Init::UniformFanIn
            }
        };
        let trunk = |heads: &[(&str, usize, f32)]| {
            let mut net_config = NetworkConfig::new(input_dim).encoder(
                &c.encoder_layers,
                activation,
                init(std::f32::consts::SQRT_2),
            );
            for &(name, size, gain) in heads {
                net_config = net_config.head(name, size, init(gain));
            }
            match c.policy {
                PolicyKind::Lstm => net_config.lstm(c.hidden_size).core_init(CoreInit {
                    weight_ih: Init::UniformFanIn,
                    weight_hh: Init::UniformFanIn,
                    bias: Init::LstmBias { forget: 1.0 },
                }),
                PolicyKind::Gru => net_config.gru(c.hidden_size),
                PolicyKind::Mlp => net_config,
            }
        };
        let pi_head = ("pi", head_size, 0.01);
        let vf_head = ("vf", 1, 1.0);
        let build = |layout: &mut ParamLayout, prefix: &str, config: &NetworkConfig| {
            Network::new(layout, prefix, config).map_err(|e| TrainError::Policy(e.to_string()))
        };
        let (nets, pi, vf) = if c.separate_critic {
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
        let log_std_init = Init::Constant(c.log_std_init as f32);
        let dist = match (&action_kind, c.use_sde) {
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
                sample_freq: usize::try_from(c.sde_sample_freq).ok(),
            },
            (_, true) => {
                return Err(TrainError::Policy(format!(
                    "use_sde needs continuous (Box) actions, and this environment's action space \
                     is {action_space}: remove use_sde (--set use_sde=false)"
                )))
            }
        };
        let has_cell = c.policy == PolicyKind::Lstm;
        Ok(ActorCritic {
            dist,
            obs_dim: obs_space.flat_dim(),
            input_dim,
            action_dim,
            hidden: nets[0].state_size(),
            has_cell,
            layout,
            nets,
            pi,
            vf,
            action_kind,
            segments,
        })
    }

    /// Floats in one flat observation.
    pub fn obs_dim(&self) -> usize {
        self.obs_dim
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

    /// Network input of `rows` flat observations.
    fn encode(&self, p: &[f32], obs: &[f32], rows: usize, input: &mut [f32]) {
        let mut at_obs = 0;
        let mut at_in = 0;
        for seg in &self.segments {
            for r in 0..rows {
                let src = &obs[r * self.obs_dim + at_obs..];
                let dst = &mut input
                    [r * self.input_dim + at_in..r * self.input_dim + at_in + seg.input_len()];
                match seg {
                    Segment::Copy { len } => dst.copy_from_slice(&src[..*len]),
                    Segment::OneHot { n, start } => {
                        dst.fill(0.0);
                        dst[index_of(src[0], *start, *n)] = 1.0;
                    }
                    Segment::Embed { n, start, table } => {
                        let i = index_of(src[0], *start, *n);
                        dst.copy_from_slice(
                            &table.weight.of(p)[i * table.dim..(i + 1) * table.dim],
                        );
                    }
                }
            }
            at_obs += seg.flat_len();
            at_in += seg.input_len();
        }
    }

    /// Accumulates the embeddings' gradients from the gradient of the network input.
    fn encode_backward(&self, g: &mut [f32], obs: &[f32], rows: usize, d_input: &[f32]) {
        let mut at_obs = 0;
        let mut at_in = 0;
        for seg in &self.segments {
            if let Segment::Embed { n, start, table } = seg {
                let gw = table.weight.of_mut(g);
                for r in 0..rows {
                    let i = index_of(obs[r * self.obs_dim + at_obs], *start, *n);
                    let d = &d_input
                        [r * self.input_dim + at_in..r * self.input_dim + at_in + table.dim];
                    for (w, dv) in gw[i * table.dim..(i + 1) * table.dim].iter_mut().zip(d) {
                        *w += dv;
                    }
                }
            }
            at_obs += seg.flat_len();
            at_in += seg.input_len();
        }
    }

    fn has_embeddings(&self) -> bool {
        self.segments
            .iter()
            .any(|s| matches!(s, Segment::Embed { .. }))
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

fn index_of(v: f32, start: i64, n: usize) -> usize {
    let i = v as i64 - start;
    debug_assert!(
        i >= 0 && (i as usize) < n,
        "discrete observation {v} outside its space"
    );
    i.clamp(0, n as i64 - 1) as usize
}

fn encode_space(
    space: &Space,
    c: &TrainConfig,
    layout: &mut ParamLayout,
    out: &mut Vec<Segment>,
    embed_index: &mut usize,
) -> Result<(), TrainError> {
    match space {
        Space::Box { shape, .. } => out.push(Segment::Copy {
            len: shape.iter().product(),
        }),
        Space::Discrete { n, start } => out.push(discrete_segment(
            *n as usize,
            *start,
            c,
            layout,
            embed_index,
        )?),
        Space::MultiDiscrete { nvec } => {
            for &n in nvec {
                out.push(discrete_segment(n as usize, 0, c, layout, embed_index)?);
            }
        }
        Space::Tuple(parts) => {
            for part in parts {
                encode_space(part, c, layout, out, embed_index)?;
            }
        }
    }
    Ok(())
}

fn discrete_segment(
    n: usize,
    start: i64,
    c: &TrainConfig,
    layout: &mut ParamLayout,
    embed_index: &mut usize,
) -> Result<Segment, TrainError> {
    match c.discrete_encoding {
        DiscreteEncoding::OneHot => Ok(Segment::OneHot { n, start }),
        DiscreteEncoding::Embedding => {
            let name = format!("embed.{embed_index}");
            *embed_index += 1;
            let table = Embedding::new(
                layout,
                &name,
                n,
                c.embedding_dim,
                Init::XavierUniform { gain: 1.0 },
            )
            .map_err(|e| TrainError::Policy(e.to_string()))?;
            Ok(Segment::Embed { n, start, table })
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
        match &self.action_kind {
            ActionKind::Categorical { n, .. } => *n,
            ActionKind::MultiCategorical { nvec } => nvec.iter().sum(),
            ActionKind::Gaussian { dim, .. } => *dim,
        }
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
            input: vec![0.0; batch * policy.input_dim],
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
        policy.encode(p, obs, b, &mut self.input);
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

/// Forward and backward through time over `steps` steps of `batch` environment sequences,
/// shared by every on-policy learner: the loss-specific code only fills `d_logp`,
/// `d_entropy` and `d_values` between [`SequencePass::forward`] and [`SequencePass::backward`].
struct SequencePass {
    input: Vec<f32>,
    d_input: Vec<f32>,
    states: Vec<RecurrentState>,
    tapes: Vec<NetworkTape>,
    /// `(network, head)` of the values.
    vf: (usize, usize),
    dist: DistScratch,
    logp: Vec<f32>,
    entropy: Vec<f32>,
    d_logp: Vec<f32>,
    d_entropy: Vec<f32>,
    d_values: Vec<f32>,
    d_head: Vec<f32>,
}

impl SequencePass {
    fn new(policy: &ActorCritic, steps: usize, batch: usize) -> SequencePass {
        let rows = steps * batch;
        let embeddings = policy.has_embeddings();
        SequencePass {
            input: vec![0.0; rows * policy.input_dim],
            d_input: vec![
                0.0;
                if embeddings {
                    rows * policy.input_dim
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
    fn forward(
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
        policy.encode(p, obs, steps * batch, &mut self.input);
        policy.load_state(initial_state, batch, &mut self.states);
        for ((net, state), tape) in policy
            .nets
            .iter()
            .zip(&mut self.states)
            .zip(&mut self.tapes)
        {
            net.forward_seq(p, &self.input, steps, Some(starts), state, tape);
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

    fn values(&self) -> &[f32] {
        self.tapes[self.vf.0].head(self.vf.1)
    }

    /// Adds to `g` the gradient given `d_logp`, `d_entropy` and `d_values`.
    fn backward(
        &mut self,
        policy: &ActorCritic,
        p: &[f32],
        g: &mut [f32],
        obs: &[f32],
        actions: &[f32],
    ) {
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
        let embeddings = policy.has_embeddings();
        if embeddings {
            self.d_input.fill(0.0);
        }
        for (k, (net, tape)) in policy.nets.iter().zip(&mut self.tapes).enumerate() {
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
            policy.encode_backward(g, obs, rows, &self.d_input);
        }
    }
}

/// Loss weights.
#[derive(Clone, Copy, Debug)]
pub struct LossCoefs {
    pub vf_coef: f32,
    pub ent_coef: f32,
    pub normalize_advantage: bool,
}

/// A2C/A3C/REINFORCE's forward and backward over whole rollouts of `t_max` steps of `batch`
/// environments.
pub struct Learner {
    pass: SequencePass,
    advantages: Vec<f32>,
}

impl Learner {
    pub fn new(policy: &ActorCritic, t_max: usize, batch: usize) -> Learner {
        Learner {
            pass: SequencePass::new(policy, t_max, batch),
            advantages: vec![0.0; t_max * batch],
        }
    }

    /// Adds the gradient of `policy_loss + vf_coef * value_loss - ent_coef * entropy` over the
    /// rollout to `g`. Means over all steps; `value_loss = 0.5 * mean((V - R)^2)`.
    pub fn compute_gradients(
        &mut self,
        policy: &ActorCritic,
        p: &[f32],
        g: &mut [f32],
        rollout: &Rollout,
        coefs: &LossCoefs,
    ) -> UpdateStats {
        let pass = &mut self.pass;
        pass.forward(
            policy,
            p,
            &rollout.obs,
            &rollout.actions,
            &rollout.initial_state,
            &rollout.starts,
            rollout.t_max,
            rollout.n_envs,
        );
        self.advantages.copy_from_slice(&rollout.advantages);
        if coefs.normalize_advantage {
            crate::advantage::normalize(&mut self.advantages);
        }
        let value_loss = value_mse_loss(
            pass.tapes[pass.vf.0].head(pass.vf.1),
            &rollout.returns,
            Reduction::Mean,
            &mut pass.d_values,
        );
        for d in &mut pass.d_values {
            *d *= coefs.vf_coef;
        }
        let policy_loss = policy_gradient_loss(
            &pass.logp,
            &self.advantages,
            Reduction::Mean,
            &mut pass.d_logp,
        );
        let entropy = -entropy_bonus(&pass.entropy, Reduction::Mean, &mut pass.d_entropy);
        for d in &mut pass.d_entropy {
            *d *= coefs.ent_coef;
        }
        pass.backward(policy, p, g, &rollout.obs, &rollout.actions);
        UpdateStats {
            policy_loss: policy_loss as f64,
            value_loss: value_loss as f64,
            entropy: entropy as f64,
            ..UpdateStats::default()
        }
    }
}

/// PPO's loss settings for one minibatch.
#[derive(Clone, Copy, Debug)]
pub struct PpoCoefs {
    /// Surrogate clip range epsilon (after its schedule).
    pub clip_range: f32,
    /// Value clipping around the rollout's values, if any.
    pub clip_range_vf: Option<f32>,
    pub vf_coef: f32,
    pub ent_coef: f32,
    /// KL-penalty coefficient beta (0 = the clipped objective alone).
    pub kl_coef: f32,
    pub normalize_advantage: bool,
}

/// Losses and diagnostics of one PPO minibatch (means over its steps).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct PpoStats {
    /// `-mean(min(ratio * A, clip(ratio) * A))`.
    pub policy_loss: f64,
    /// `0.5 * mean((V - R)^2)` (with value clipping, the larger of the clipped and unclipped).
    pub value_loss: f64,
    pub entropy: f64,
    /// `mean((ratio - 1) - log ratio)`, the low-variance KL(old || new) estimator
    /// (Schulman's k3; also SB3's and CleanRL's).
    pub approx_kl: f64,
    /// Fraction of steps whose ratio is outside `[1 - clip_range, 1 + clip_range]`.
    pub clip_fraction: f64,
    pub ratio_mean: f64,
    /// `kl_coef * approx_kl`, the KL-penalty variant's term.
    pub kl_penalty: f64,
}

impl PpoStats {
    /// The minimised objective.
    pub fn loss(&self, coefs: &PpoCoefs) -> f64 {
        self.policy_loss + self.kl_penalty + coefs.vf_coef as f64 * self.value_loss
            - coefs.ent_coef as f64 * self.entropy
    }
}

/// PPO's forward and backward over one minibatch: `batch` env sequences of `steps` steps,
/// time-major (`steps = 1` for a shuffled batch of single steps of a memoryless policy).
pub struct PpoLearner {
    pass: SequencePass,
    advantages: Vec<f32>,
}

impl PpoLearner {
    pub fn new(policy: &ActorCritic, steps: usize, batch: usize) -> PpoLearner {
        PpoLearner {
            pass: SequencePass::new(policy, steps, batch),
            advantages: vec![0.0; steps * batch],
        }
    }

    /// Runs the minibatch forward from its stored initial states, resetting at episode
    /// starts: fills [`PpoLearner::action_log_probs`], [`PpoLearner::values`] and the entropies.
    pub fn forward(&mut self, policy: &ActorCritic, p: &[f32], mb: &MiniBatch) {
        self.pass.forward(
            policy,
            p,
            &mb.obs,
            &mb.actions,
            &mb.initial_state,
            &mb.starts,
            mb.steps,
            mb.batch,
        );
    }

    /// `log pi(a | s)` of the last forward, `[steps * batch]`.
    pub fn action_log_probs(&self) -> &[f32] {
        &self.pass.logp
    }

    /// `V(s)` of the last forward, `[steps * batch]`.
    pub fn values(&self) -> &[f32] {
        self.pass.values()
    }

    /// Adds the gradient of the PPO loss over the minibatch to `g`:
    /// `-min(r A, clip(r, 1-eps, 1+eps) A) + kl_coef * KL + vf_coef * value_loss - ent_coef * H`
    /// (means over steps), with `r = exp(log pi - old log pi)`.
    pub fn compute_gradients(
        &mut self,
        policy: &ActorCritic,
        p: &[f32],
        g: &mut [f32],
        mb: &MiniBatch,
        coefs: &PpoCoefs,
    ) -> PpoStats {
        self.forward(policy, p, mb);
        let pass = &mut self.pass;
        let rows = mb.steps * mb.batch;
        let inv_n = 1.0 / rows as f32;
        self.advantages.copy_from_slice(&mb.advantages);
        if coefs.normalize_advantage {
            crate::advantage::normalize(&mut self.advantages);
        }
        let eps = coefs.clip_range;
        let mut stats = PpoStats::default();
        for i in 0..rows {
            let log_ratio = pass.logp[i] - mb.old_log_probs[i];
            let ratio = log_ratio.exp();
            let adv = self.advantages[i];
            let unclipped = adv * ratio;
            let clipped = adv * ratio.clamp(1.0 - eps, 1.0 + eps);
            // The gradient flows through the unclipped term whenever it is the minimum.
            let mut d = if unclipped <= clipped {
                -unclipped * inv_n
            } else {
                0.0
            };
            let kl = (ratio - 1.0) - log_ratio;
            if coefs.kl_coef > 0.0 {
                // d/d log pi of (r - 1) - log r = r - 1.
                d += coefs.kl_coef * (ratio - 1.0) * inv_n;
            }
            pass.d_logp[i] = d;
            pass.d_entropy[i] = -coefs.ent_coef * inv_n;
            stats.policy_loss -= unclipped.min(clipped) as f64;
            stats.approx_kl += kl as f64;
            stats.ratio_mean += ratio as f64;
            stats.entropy += pass.entropy[i] as f64;
            if (ratio - 1.0).abs() > eps {
                stats.clip_fraction += 1.0;
            }
        }
        let values = pass.tapes[pass.vf.0].head(pass.vf.1);
        for (i, (&v, &ret)) in values.iter().zip(&mb.returns).enumerate() {
            let err = v - ret;
            let (loss, d) = match coefs.clip_range_vf {
                Some(c) => {
                    let old = mb.old_values[i];
                    let v_clipped = old + (v - old).clamp(-c, c);
                    let err_clipped = v_clipped - ret;
                    if err * err >= err_clipped * err_clipped {
                        (err * err, err)
                    } else {
                        // The clipped prediction is constant in V: no gradient.
                        (err_clipped * err_clipped, 0.0)
                    }
                }
                None => (err * err, err),
            };
            stats.value_loss += 0.5 * loss as f64;
            pass.d_values[i] = coefs.vf_coef * d * inv_n;
        }
        let n = rows as f64;
        stats.policy_loss /= n;
        stats.value_loss /= n;
        stats.entropy /= n;
        stats.approx_kl /= n;
        stats.ratio_mean /= n;
        stats.clip_fraction /= n;
        stats.kl_penalty = coefs.kl_coef as f64 * stats.approx_kl;
        pass.backward(policy, p, g, &mb.obs, &mb.actions);
        stats
    }
}
