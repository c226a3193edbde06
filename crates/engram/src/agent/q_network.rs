//! The Q-network of the DQN family: observation encoding -> MLP -> `Q(s, a)` for every
//! discrete action, or with `dueling` (Wang et al. 2016) a value stream `V(s)` and an
//! advantage stream `A(s, a)` combined as `Q = V + A - mean_a A` (the paper's mean-subtracted
//! form). SB3's `QNetwork` is the plain case: `net_arch` hidden layers (engram's
//! `encoder_layers`), ReLU, PyTorch's default initialisation (`ortho_init = false`).
//!
//! The same network evaluates target parameters: the target is a second flat parameter
//! vector of the same layout, run through its own [`QPass`].
//!
//! [`QNetwork::recurrent`] puts an LSTM or GRU core between the encoder and the heads (DRQN,
//! R2D2): [`QNetwork::forward_seq`] / [`QNetwork::backward_seq`] run B sequences x T steps in
//! one batched pass through engram-nn's kernels, and the player carries the state from step
//! to step. DQN builds with [`QNetwork::new`], which refuses a recurrent core.

use super::action::ActionKind;
use super::encode::Encoder;
use super::{Act, Player};
use crate::config::{NetConfig, PolicyKind};
use crate::error::TrainError;
use engram_env::Space;
use engram_nn::network::{CoreInit, Network, NetworkConfig, NetworkTape, OnnxState};
use engram_nn::onnx::{Attr, Dim, ElemType, Graph};
use engram_nn::recurrent::RecurrentState;
use engram_nn::{Init, ParamLayout};
use rand::Rng;
use rand_chacha::ChaCha8Rng;

pub struct QNetwork {
    pub layout: ParamLayout,
    net: Network,
    encoder: Encoder,
    action_kind: ActionKind,
    n_actions: usize,
    dueling: bool,
}

/// Forward and backward scratch for up to `rows` observations.
pub struct QPass {
    rows: usize,
    steps: usize,
    input: Vec<f32>,
    d_input: Vec<f32>,
    state: RecurrentState,
    tape: NetworkTape,
    /// `Q(s, a)` of each row, `[rows * n_actions]`, after `forward` (`[steps, rows, n_actions]`
    /// after `forward_seq`).
    pub q: Vec<f32>,
    d_value: Vec<f32>,
    d_advantage: Vec<f32>,
}

impl QNetwork {
    /// `dueling`: separate value and advantage heads. An MLP only: DQN's network.
    pub fn new(
        obs_space: &Space,
        action_space: &Space,
        net: &NetConfig,
        dueling: bool,
    ) -> Result<QNetwork, TrainError> {
        // Non-discrete actions get the DQN family's message from `recurrent`.
        if net.policy != PolicyKind::Mlp && matches!(action_space, Space::Discrete { .. }) {
            return Err(TrainError::Usage(format!(
                "dqn's Q-network is an MLP: set policy = mlp (got {}); for a recurrent Q-network \
                 use --algo r2d2 --policy {} (R2D2; DRQN is r2d2 with stored_state = false, \
                 burn_in = 0, prioritized = false)",
                net.policy.name(),
                net.policy.name()
            )));
        }
        QNetwork::recurrent(obs_space, action_space, net, dueling)
    }

    /// A Q-network with `net.policy`'s core (LSTM, GRU, or none for mlp): DRQN's and R2D2's.
    pub fn recurrent(
        obs_space: &Space,
        action_space: &Space,
        net: &NetConfig,
        dueling: bool,
    ) -> Result<QNetwork, TrainError> {
        let (n_actions, action_kind) = match action_space {
            Space::Discrete { n, .. } => (*n as usize, ActionKind::of(action_space)),
            _ => {
                return Err(TrainError::Usage(format!(
                    "the DQN family needs Discrete actions, and this environment's action space is \
                     {action_space}: for other action spaces use ppo, a2c or a3c (e.g. --algo ppo)"
                )))
            }
        };
        let action_kind = action_kind.ok_or_else(|| {
            TrainError::Usage(format!("action space {action_space} is not supported"))
        })?;
        let mut layout = ParamLayout::new();
        let encoder = Encoder::new(obs_space, net, &mut layout)?;
        let init = |gain: f32| {
            if net.ortho_init {
                Init::Orthogonal { gain }
            } else {
                Init::UniformFanIn
            }
        };
        let mut config = NetworkConfig::new(encoder.input_dim()).encoder(
            &net.encoder_layers,
            net.activation.to_nn(),
            init(std::f32::consts::SQRT_2),
        );
        if let Some(conv) = super::encode::conv_spec(obs_space, net)? {
            config = config.conv(conv);
        }
        config = if dueling {
            config
                .head("v", 1, init(1.0))
                .head("a", n_actions, init(1.0))
        } else {
            config.head("q", n_actions, init(1.0))
        };
        config = match net.policy {
            // As the actor-critic's core: forget-gate bias 1.
            PolicyKind::Lstm => config.lstm(net.hidden_size).core_init(CoreInit {
                weight_ih: Init::UniformFanIn,
                weight_hh: Init::UniformFanIn,
                bias: Init::LstmBias { forget: 1.0 },
            }),
            PolicyKind::Gru => config.gru(net.hidden_size),
            PolicyKind::Mlp => config,
        };
        let net = Network::new(&mut layout, "q_net", &config)
            .map_err(|e| TrainError::Policy(e.to_string()))?;
        Ok(QNetwork {
            layout,
            net,
            encoder,
            action_kind,
            n_actions,
            dueling,
        })
    }

    pub fn n_actions(&self) -> usize {
        self.n_actions
    }

    pub fn obs_dim(&self) -> usize {
        self.encoder.obs_dim()
    }

    /// Floats of one row's recurrent state: `h`, then `c` for an LSTM (0 without a core).
    pub fn state_size(&self) -> usize {
        self.net.state_size() * if self.has_cell() { 2 } else { 1 }
    }

    fn has_cell(&self) -> bool {
        matches!(self.net.core, engram_nn::network::Core::Lstm(_))
    }

    /// A zero recurrent state of `rows` rows.
    pub fn initial_state(&self, rows: usize) -> RecurrentState {
        self.net.initial_state(rows)
    }

    /// Row `row` of `state` as one flat vector (`h` then `c`, [`QNetwork::state_size`]).
    pub fn state_row(&self, state: &RecurrentState, row: usize, out: &mut [f32]) {
        let h = state.hidden;
        out[..h].copy_from_slice(&state.h[row * h..(row + 1) * h]);
        if self.has_cell() {
            out[h..2 * h].copy_from_slice(&state.c[row * h..(row + 1) * h]);
        }
    }

    /// Sets row `row` of `state` from a flat vector of [`QNetwork::state_row`]'s layout.
    pub fn set_state_row(&self, state: &mut RecurrentState, row: usize, flat: &[f32]) {
        let h = state.hidden;
        state.h[row * h..(row + 1) * h].copy_from_slice(&flat[..h]);
        if self.has_cell() {
            state.c[row * h..(row + 1) * h].copy_from_slice(&flat[h..2 * h]);
        }
    }

    /// Scratch for one step of `rows` observations ([`QNetwork::forward`]).
    pub fn pass(&self, rows: usize) -> QPass {
        self.seq_pass(1, rows)
    }

    /// Scratch for sequences of up to `steps` steps of `rows` rows ([`QNetwork::forward_seq`]).
    pub fn seq_pass(&self, steps: usize, rows: usize) -> QPass {
        let cells = steps * rows;
        QPass {
            rows,
            steps,
            input: vec![0.0; cells * self.encoder.input_dim()],
            d_input: vec![
                0.0;
                if self.encoder.has_embeddings() {
                    cells * self.encoder.input_dim()
                } else {
                    0
                }
            ],
            state: self.net.initial_state(rows),
            tape: self.net.tape(steps, rows),
            q: vec![0.0; cells * self.n_actions],
            d_value: vec![0.0; if self.dueling { cells } else { 0 }],
            d_advantage: vec![0.0; cells * self.n_actions],
        }
    }

    /// `Q(obs, .)` of the pass's rows with parameters `p`, into `pass.q`; the pass carries
    /// its own recurrent state from call to call (reset it with [`QPass::reset_state`]).
    pub fn forward(&self, p: &[f32], obs: &[f32], pass: &mut QPass) {
        let mut state = std::mem::replace(&mut pass.state, RecurrentState::zeros(0, 0, false));
        self.forward_seq(p, obs, 1, None, &mut state, pass);
        pass.state = state;
    }

    /// `Q` over `steps` steps of `obs` `[steps, batch, obs_dim]` (`batch = state.batch`) from
    /// the initial `state` (replaced by the final one), zeroing row `b`'s state before step `t`
    /// where `starts[t * batch + b]`; into `pass.q[..steps * batch * n_actions]`.
    pub fn forward_seq(
        &self,
        p: &[f32],
        obs: &[f32],
        steps: usize,
        starts: Option<&[bool]>,
        state: &mut RecurrentState,
        pass: &mut QPass,
    ) {
        let rows = steps * state.batch;
        assert!(
            steps <= pass.steps && state.batch <= pass.rows,
            "QNetwork::forward_seq: pass sized for {} x {}, called with {steps} x {}",
            pass.steps,
            pass.rows,
            state.batch
        );
        let input = &mut pass.input[..rows * self.encoder.input_dim()];
        self.encoder.encode(p, obs, rows, input);
        self.net
            .forward_seq(p, input, steps, starts, state, &mut pass.tape);
        let n = self.n_actions;
        if self.dueling {
            let (v, a) = (pass.tape.head(0), pass.tape.head(1));
            for r in 0..rows {
                let adv = &a[r * n..(r + 1) * n];
                let mean = adv.iter().sum::<f32>() / n as f32;
                for (q, x) in pass.q[r * n..(r + 1) * n].iter_mut().zip(adv) {
                    *q = v[r] + x - mean;
                }
            }
        } else {
            pass.q[..rows * n].copy_from_slice(pass.tape.head(0));
        }
    }

    /// Adds to `g` the gradient of a loss whose gradient with respect to the last forward
    /// pass's Q-values is `d_q` (after [`QNetwork::forward`] or [`QNetwork::forward_seq`] with
    /// the same `p` and `obs`). The initial state gets no gradient: BPTT stops there.
    pub fn backward(&self, p: &[f32], g: &mut [f32], obs: &[f32], pass: &mut QPass, d_q: &[f32]) {
        let (steps, batch) = pass.tape.shape();
        let (rows, n) = (steps * batch, self.n_actions);
        let width = self.encoder.input_dim();
        let embeddings = self.encoder.has_embeddings();
        if embeddings {
            pass.d_input[..rows * width].fill(0.0);
        }
        let input = &pass.input[..rows * width];
        let d_input = if embeddings {
            Some(&mut pass.d_input[..rows * width])
        } else {
            None
        };
        if self.dueling {
            // Q_a = V + A_a - mean_b A_b: dV = sum_a dQ_a, dA_b = dQ_b - mean_a dQ_a.
            for r in 0..rows {
                let dq = &d_q[r * n..(r + 1) * n];
                let sum: f32 = dq.iter().sum();
                pass.d_value[r] = sum;
                for (da, &d) in pass.d_advantage[r * n..(r + 1) * n].iter_mut().zip(dq) {
                    *da = d - sum / n as f32;
                }
            }
            self.net.backward_seq(
                p,
                g,
                input,
                &[&pass.d_value[..rows], &pass.d_advantage[..rows * n]],
                &mut pass.tape,
                d_input,
                None,
            );
        } else {
            self.net.backward_seq(
                p,
                g,
                input,
                &[&d_q[..rows * n]],
                &mut pass.tape,
                d_input,
                None,
            );
        }
        if embeddings {
            self.encoder
                .backward(g, obs, rows, &pass.d_input[..rows * width]);
        }
    }
}

impl QPass {
    /// Zeroes the state [`QNetwork::forward`] carries (every row starts an episode).
    pub fn reset_state(&mut self) {
        self.state.reset();
    }
}

/// The greedy action of each row of `q` (`[rows * n]`), the first of ties (PyTorch's argmax).
pub fn argmax_rows(q: &[f32], n: usize, out: &mut [usize]) {
    for (row, o) in q.chunks_exact(n).zip(out.iter_mut()) {
        let mut best = 0;
        for (i, &v) in row.iter().enumerate() {
            if v > row[best] {
                best = i;
            }
        }
        *o = best;
    }
}

/// Greedy play, or epsilon-greedy with [`EVAL_EPSILON`] when sampling.
struct QPlayer<'a> {
    q: &'a QNetwork,
    params: &'a [f32],
    pass: QPass,
    best: [usize; 1],
    /// The carried state, flat (`h` then `c`), after each step.
    state: Vec<f32>,
}

/// The exploration rate of sampled (`--stochastic`) evaluation: the usual final training rate.
pub const EVAL_EPSILON: f64 = 0.05;

impl Player for QPlayer<'_> {
    fn reset(&mut self) {
        self.pass.reset_state();
        self.state.fill(0.0);
    }

    fn act(&mut self, obs: &[f32], rng: Option<&mut ChaCha8Rng>, action: &mut [f32]) {
        // The forward pass runs even for a random action: a recurrent core must see every
        // observation.
        self.q.forward(self.params, obs, &mut self.pass);
        if !self.state.is_empty() {
            self.q.state_row(&self.pass.state, 0, &mut self.state);
        }
        if let Some(rng) = rng {
            if rng.gen::<f64>() < EVAL_EPSILON {
                action[0] = rng.gen_range(0..self.q.n_actions) as f32;
                return;
            }
        }
        argmax_rows(&self.pass.q, self.q.n_actions, &mut self.best);
        action[0] = self.best[0] as f32;
    }

    fn recurrent_state(&self) -> &[f32] {
        &self.state
    }

    fn set_recurrent_state(&mut self, state: &[f32]) {
        if state.len() == self.state.len() && !state.is_empty() {
            self.state.copy_from_slice(state);
            self.q.set_state_row(&mut self.pass.state, 0, state);
        }
    }

    fn outputs(&self) -> Vec<(&'static str, Vec<f32>)> {
        vec![("q_values", self.pass.q.clone())]
    }
}

impl Act for QNetwork {
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
        Box::new(QPlayer {
            q: self,
            params,
            pass: self.pass(1),
            best: [0],
            state: vec![0.0; self.state_size()],
        })
    }

    fn onnx(&self, g: &mut Graph, p: &[f32], obs: &str) -> Result<(), TrainError> {
        let input = self.encoder.onnx(g, p, obs);
        let h = self.net.state_size();
        let state_in = (h > 0).then(|| {
            let s = g.input(
                "state_in",
                vec![Dim::batch(), Dim::Fixed(self.state_size())],
            );
            OnnxState {
                h: g.columns(&s, 0, h),
                c: self.has_cell().then(|| g.columns(&s, h, 2 * h)),
            }
        });
        let (heads, next) = self.net.onnx_step(g, p, &input, state_in.as_ref());
        let q = if self.dueling {
            let mean = g.op(
                "ReduceMean",
                &[&heads[1]],
                vec![("axes", Attr::Ints(vec![1])), ("keepdims", Attr::Int(1))],
            );
            let centred = g.op("Sub", &[&heads[1], &mean], Vec::new());
            g.op("Add", &[&heads[0], &centred], Vec::new())
        } else {
            heads[0].clone()
        };
        let best = g.op(
            "ArgMax",
            &[&q],
            vec![("axis", Attr::Int(1)), ("keepdims", Attr::Int(1))],
        );
        let action = g.op(
            "Cast",
            &[&best],
            vec![("to", Attr::Int(ElemType::F32 as i64))],
        );
        g.output(
            &action,
            "action",
            ElemType::F32,
            vec![Dim::batch(), Dim::Fixed(1)],
        );
        g.output(
            &q,
            "q_values",
            ElemType::F32,
            vec![Dim::batch(), Dim::Fixed(self.n_actions)],
        );
        if let Some(next) = next {
            let mut parts = vec![next.h];
            parts.extend(next.c);
            let state_out = g.concat_columns(&parts);
            g.output(
                &state_out,
                "state_out",
                ElemType::F32,
                vec![Dim::batch(), Dim::Fixed(self.state_size())],
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn net(dueling: bool, obs: &Space) -> QNetwork {
        let config = NetConfig {
            policy: PolicyKind::Mlp,
            encoder_layers: vec![8, 8],
            activation: crate::config::Activation::Tanh,
            ..NetConfig::default()
        };
        QNetwork::new(obs, &Space::Discrete { n: 3, start: 0 }, &config, dueling).unwrap()
    }

    #[test]
    fn dueling_combines_value_and_mean_subtracted_advantage() {
        let obs = Space::Box {
            low: vec![-1.0; 2],
            high: vec![1.0; 2],
            shape: vec![2],
        };
        let q = net(true, &obs);
        let p = q.layout.initialize(&mut ChaCha8Rng::seed_from_u64(1));
        let mut pass = q.pass(2);
        q.forward(&p, &[0.3, -0.2, 0.9, 0.1], &mut pass);
        for r in 0..2 {
            let v = pass.tape.head(0)[r];
            let a = &pass.tape.head(1)[r * 3..(r + 1) * 3];
            let mean = (a[0] + a[1] + a[2]) / 3.0;
            for (q, x) in pass.q[r * 3..(r + 1) * 3].iter().zip(a) {
                assert!((q - (v + x - mean)).abs() < 1e-6);
            }
            // The advantages' mean is removed: the Qs average to V.
            let q_mean: f32 = pass.q[r * 3..(r + 1) * 3].iter().sum::<f32>() / 3.0;
            assert!((q_mean - v).abs() < 1e-5);
        }
    }

    #[test]
    fn gradient_matches_finite_differences() {
        let boxed = Space::Box {
            low: vec![-1.0; 3],
            high: vec![1.0; 3],
            shape: vec![3],
        };
        let discrete = Space::Discrete { n: 5, start: 0 };
        for (dueling, space, obs) in [
            (false, &boxed, vec![0.3, -0.2, 0.5, 0.9, 0.1, -0.7]),
            (true, &boxed, vec![0.3, -0.2, 0.5, 0.9, 0.1, -0.7]),
            (true, &discrete, vec![1.0, 4.0]),
        ] {
            let q = net(dueling, space);
            let mut rng = ChaCha8Rng::seed_from_u64(2);
            let p = q.layout.initialize(&mut rng);
            // A weighted sum of the Qs as the loss: d loss / d Q = w.
            let w: Vec<f32> = (0..6).map(|_| rng.gen_range(-1.0..1.0)).collect();
            let loss = |p: &[f32]| {
                let mut pass = q.pass(2);
                q.forward(p, &obs, &mut pass);
                pass.q
                    .iter()
                    .zip(&w)
                    .map(|(a, b)| (a * b) as f64)
                    .sum::<f64>()
            };
            let mut pass = q.pass(2);
            q.forward(&p, &obs, &mut pass);
            let mut g = q.layout.zeros();
            q.backward(&p, &mut g, &obs, &mut pass, &w);
            for _ in 0..4 {
                let d: Vec<f32> = (0..p.len()).map(|_| rng.gen_range(-1.0..1.0)).collect();
                let h = 1e-3f32;
                let plus: Vec<f32> = p.iter().zip(&d).map(|(a, b)| a + h * b).collect();
                let minus: Vec<f32> = p.iter().zip(&d).map(|(a, b)| a - h * b).collect();
                let numeric = (loss(&plus) - loss(&minus)) / (2.0 * h as f64);
                let analytic: f64 = g.iter().zip(&d).map(|(a, b)| *a as f64 * *b as f64).sum();
                assert!(
                    (numeric - analytic).abs() < 0.02 * numeric.abs().max(analytic.abs()) + 1e-3,
                    "dueling {dueling}: {analytic} vs {numeric}"
                );
            }
        }
    }

    #[test]
    fn continuous_actions_and_recurrent_cores_are_refused_with_the_fix() {
        let obs = Space::Box {
            low: vec![-1.0],
            high: vec![1.0],
            shape: vec![1],
        };
        let err = QNetwork::new(&obs, &obs, &NetConfig::default(), false)
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("use ppo, a2c or a3c"), "{err}");
        let err = QNetwork::new(
            &obs,
            &Space::Discrete { n: 2, start: 0 },
            &NetConfig::default(),
            false,
        )
        .err()
        .unwrap()
        .to_string();
        assert!(err.contains("policy = mlp"), "{err}");
    }

    #[test]
    fn argmax_takes_the_first_of_ties() {
        let mut out = [9; 2];
        argmax_rows(&[1.0, 3.0, 3.0, -1.0, -2.0, -1.0], 3, &mut out);
        assert_eq!(out, [1, 0]);
    }
}
