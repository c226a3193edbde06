//! Composition: encoder (MLP, optional) -> recurrent core (LSTM | GRU | none) -> linear heads.
//!
//! A [`Network`] knows nothing of RL: it maps observations to any number of head outputs
//! (e.g. policy logits and a value) over a sequence ([`Network::forward_seq`] /
//! [`Network::backward_seq`], for updates) or one step at a time ([`Network::step`], for acting).

use crate::activation::Activation;
use crate::error::{nonzero, NnError};
use crate::gru::{Gru, GruStepScratch, GruTape};
use crate::linear::Linear;
use crate::lstm::{Lstm, LstmStepScratch, LstmTape};
use crate::mlp::{join, Sequential, SequentialTape};
use crate::recurrent::RecurrentState;
use crate::{Init, ParamLayout};

/// Which recurrent core sits between encoder and heads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CoreKind {
    None,
    Lstm { hidden: usize },
    Gru { hidden: usize },
}

/// Initialisers of the recurrent core's tensors.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CoreInit {
    pub weight_ih: Init,
    pub weight_hh: Init,
    /// `Init::LstmBias { forget }` sets the LSTM forget-gate bias.
    pub bias: Init,
}

impl Default for CoreInit {
    /// Uniform in `±1/sqrt(fan_in)` (close to PyTorch's default), zero bias.
    fn default() -> Self {
        Self {
            weight_ih: Init::UniformFanIn,
            weight_hh: Init::UniformFanIn,
            bias: Init::ZEROS,
        }
    }
}

/// One linear output head.
#[derive(Clone, Debug, PartialEq)]
pub struct HeadSpec {
    pub name: String,
    pub size: usize,
    pub weight_init: Init,
}

/// One convolution of a convolutional encoder (`kernel x kernel`, dilation 1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConvLayerSpec {
    pub filters: usize,
    pub kernel: usize,
    pub stride: usize,
    pub padding: usize,
}

/// Convolutions that read the input as an `image` `[height, width, channels]` (channels last,
/// see [`crate::conv`]), each followed by the encoder's activation, before its dense layers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConvEncoderSpec {
    pub image: [usize; 3],
    pub layers: Vec<ConvLayerSpec>,
}

/// Description of a [`Network`]; build with [`NetworkConfig::new`] and the builder methods.
#[derive(Clone, Debug, PartialEq)]
pub struct NetworkConfig {
    pub input_size: usize,
    /// Widths of the encoder's hidden layers (empty: observations go straight to the core).
    pub encoder: Vec<usize>,
    /// Convolutions before the encoder's dense layers (`None`: a plain MLP encoder).
    pub conv: Option<ConvEncoderSpec>,
    pub activation: Activation,
    pub encoder_init: Init,
    pub core: CoreKind,
    pub core_init: CoreInit,
    pub heads: Vec<HeadSpec>,
}

impl NetworkConfig {
    pub fn new(input_size: usize) -> Self {
        Self {
            input_size,
            encoder: Vec::new(),
            conv: None,
            activation: Activation::Relu,
            encoder_init: Init::UniformFanIn,
            core: CoreKind::None,
            core_init: CoreInit::default(),
            heads: Vec::new(),
        }
    }

    pub fn encoder(mut self, hidden: &[usize], activation: Activation, init: Init) -> Self {
        self.encoder = hidden.to_vec();
        self.activation = activation;
        self.encoder_init = init;
        self
    }

    /// Puts convolutions in front of the encoder's dense layers (same activation and init).
    pub fn conv(mut self, conv: ConvEncoderSpec) -> Self {
        self.conv = Some(conv);
        self
    }

    pub fn lstm(mut self, hidden: usize) -> Self {
        self.core = CoreKind::Lstm { hidden };
        self
    }

    pub fn gru(mut self, hidden: usize) -> Self {
        self.core = CoreKind::Gru { hidden };
        self
    }

    pub fn core_init(mut self, init: CoreInit) -> Self {
        self.core_init = init;
        self
    }

    pub fn head(mut self, name: &str, size: usize, weight_init: Init) -> Self {
        self.heads.push(HeadSpec {
            name: name.to_string(),
            size,
            weight_init,
        });
        self
    }
}

/// The recurrent core of a [`Network`].
#[derive(Clone, Debug)]
pub enum Core {
    None,
    Lstm(Lstm),
    Gru(Gru),
}

/// encoder -> core -> heads. Parameter names: `{prefix}.encoder.{i}.*`, `{prefix}.core.*`,
/// `{prefix}.{head name}.*`.
#[derive(Clone, Debug)]
pub struct Network {
    pub input_size: usize,
    pub encoder: Option<Sequential>,
    pub core: Core,
    pub heads: Vec<Linear>,
    pub head_names: Vec<String>,
    /// Width of what the heads read (core hidden size, or encoder output without a core).
    pub feature_size: usize,
}

enum CoreTape {
    None,
    Lstm(LstmTape),
    Gru(GruTape),
}

/// Forward record and backward scratch of [`Network::forward_seq`], for up to `t_max` steps
/// of `batch_max` rows. Build once with [`Network::tape`], reuse every update.
pub struct NetworkTape {
    t_max: usize,
    batch_max: usize,
    steps: usize,
    batch: usize,
    encoder: Option<SequentialTape>,
    core: CoreTape,
    heads: Vec<Vec<f32>>,
    head_sizes: Vec<usize>,
    d_features: Vec<f32>,
    d_encoded: Vec<f32>,
}

impl NetworkTape {
    /// Output of head `i` of the last forward pass, `[steps, batch, size_i]`.
    pub fn head(&self, i: usize) -> &[f32] {
        &self.heads[i][..self.steps * self.batch * self.head_sizes[i]]
    }

    /// Steps and batch rows of the last forward pass.
    pub fn shape(&self) -> (usize, usize) {
        (self.steps, self.batch)
    }

    /// What the heads read in the last forward pass, `[steps, batch, feature_size]`: the
    /// core's outputs, else the encoder's, else the input `xs` itself.
    pub fn features<'a>(&'a self, xs: &'a [f32]) -> &'a [f32] {
        match (&self.core, &self.encoder) {
            (CoreTape::Lstm(t), _) => t.outputs(),
            (CoreTape::Gru(t), _) => t.outputs(),
            (CoreTape::None, Some(t)) => t.output(),
            (CoreTape::None, None) => xs,
        }
    }
}

enum CoreStep {
    None,
    Lstm(LstmStepScratch),
    Gru(GruStepScratch),
}

/// Scratch of [`Network::step`] for up to `batch_max` rows.
pub struct NetworkStepScratch {
    batch_max: usize,
    batch: usize,
    encoder: Option<SequentialTape>,
    core: CoreStep,
    heads: Vec<Vec<f32>>,
    head_sizes: Vec<usize>,
}

impl NetworkStepScratch {
    /// Output of head `i` of the last step, `[batch, size_i]`.
    pub fn head(&self, i: usize) -> &[f32] {
        &self.heads[i][..self.batch * self.head_sizes[i]]
    }

    /// The recurrent core's gates in the last step, after their non-linearities, with their
    /// names: LSTM `[batch, 4H]` (i, f, g, o), GRU `[batch, 3H]` (r, z, n); `None` without a
    /// core. See [`LstmStepScratch::gates`], [`GruStepScratch::gates`].
    pub fn core_gates(&self) -> Option<(&'static [&'static str], &[f32])> {
        match &self.core {
            CoreStep::Lstm(s) => Some((&["i", "f", "g", "o"], s.gates(self.batch))),
            CoreStep::Gru(s) => Some((&["r", "z", "n"], s.gates(self.batch))),
            CoreStep::None => None,
        }
    }

    /// What the heads read in the last step, `[batch, feature_size]`: the recurrent core's
    /// new hidden state `state.h`, else the encoder's output, else the input `x` itself.
    pub fn features<'a>(&'a self, x: &'a [f32], state: &'a RecurrentState) -> &'a [f32] {
        match (&self.core, &self.encoder) {
            (CoreStep::Lstm(_) | CoreStep::Gru(_), _) => &state.h,
            (CoreStep::None, Some(t)) => t.output(),
            (CoreStep::None, None) => x,
        }
    }
}

/// The convolutional encoder: each convolution then the activation, then the dense layers.
fn conv_encoder(
    layout: &mut ParamLayout,
    prefix: &str,
    config: &NetworkConfig,
    conv: &ConvEncoderSpec,
) -> Result<Sequential, NnError> {
    let ctx = format!("convolutional encoder `{prefix}`");
    let pixels: usize = conv.image.iter().product();
    if pixels != config.input_size {
        return Err(NnError::shape(
            &ctx,
            format!(
                "the image {}x{}x{} has {pixels} values but the input has {}",
                conv.image[0], conv.image[1], conv.image[2], config.input_size
            ),
        ));
    }
    if conv.layers.is_empty() {
        return Err(NnError::config(&ctx, "no convolution layers"));
    }
    let mut seq = Sequential::new(prefix, config.input_size);
    let mut image = conv.image;
    for l in &conv.layers {
        seq.push_conv2d(
            layout,
            image,
            l.filters,
            l.kernel,
            l.stride,
            l.padding,
            config.encoder_init,
            Init::ZEROS,
        )?;
        seq.push_activation(config.activation);
        if let Some(crate::mlp::Layer::Conv2d(c)) = seq.layers.iter().rev().nth(1) {
            image = [c.out_height, c.out_width, c.out_channels];
        }
    }
    for &h in &config.encoder {
        seq.push_linear(layout, h, config.encoder_init, Init::ZEROS)?;
        seq.push_activation(config.activation);
    }
    Ok(seq)
}

impl Network {
    /// Registers every parameter in `layout` and checks that the parts fit together.
    pub fn new(
        layout: &mut ParamLayout,
        prefix: &str,
        config: &NetworkConfig,
    ) -> Result<Self, NnError> {
        let ctx = format!("Network `{prefix}`");
        nonzero(&ctx, "input_size", config.input_size)?;
        if config.heads.is_empty() {
            return Err(NnError::config(
                &ctx,
                "no output heads; add at least one with NetworkConfig::head",
            ));
        }
        for (i, h) in config.heads.iter().enumerate() {
            nonzero(&ctx, &format!("size of head `{}`", h.name), h.size)?;
            if h.name.is_empty() || h.name == "encoder" || h.name == "core" {
                return Err(NnError::config(
                    &ctx,
                    format!(
                        "head name `{}` is empty or reserved (encoder, core)",
                        h.name
                    ),
                ));
            }
            if config.heads[..i].iter().any(|o| o.name == h.name) {
                return Err(NnError::config(
                    &ctx,
                    format!("two heads named `{}`", h.name),
                ));
            }
        }
        let encoder = if let Some(conv) = &config.conv {
            Some(conv_encoder(
                layout,
                &join(prefix, "encoder"),
                config,
                conv,
            )?)
        } else if config.encoder.is_empty() {
            None
        } else {
            Some(Sequential::mlp(
                layout,
                &join(prefix, "encoder"),
                config.input_size,
                &config.encoder,
                config.activation,
                config.encoder_init,
            )?)
        };
        let encoded = encoder.as_ref().map_or(config.input_size, |e| e.out_size);
        let ci = config.core_init;
        let core_name = join(prefix, "core");
        let (core, feature_size) = match config.core {
            CoreKind::None => (Core::None, encoded),
            CoreKind::Lstm { hidden } => (
                Core::Lstm(Lstm::with_init(
                    layout,
                    &core_name,
                    encoded,
                    hidden,
                    ci.weight_ih,
                    ci.weight_hh,
                    ci.bias,
                )?),
                hidden,
            ),
            CoreKind::Gru { hidden } => (
                Core::Gru(Gru::with_init(
                    layout,
                    &core_name,
                    encoded,
                    hidden,
                    ci.weight_ih,
                    ci.weight_hh,
                    ci.bias,
                )?),
                hidden,
            ),
        };
        let mut heads = Vec::new();
        for h in &config.heads {
            heads.push(Linear::new(
                layout,
                &join(prefix, &h.name),
                feature_size,
                h.size,
                h.weight_init,
                Init::ZEROS,
            )?);
        }
        Ok(Self {
            input_size: config.input_size,
            encoder,
            core,
            heads,
            head_names: config.heads.iter().map(|h| h.name.clone()).collect(),
            feature_size,
        })
    }

    /// Index of the head called `name`.
    pub fn head_index(&self, name: &str) -> Option<usize> {
        self.head_names.iter().position(|n| n == name)
    }

    /// Hidden size of the core (0 without a core).
    pub fn state_size(&self) -> usize {
        match &self.core {
            Core::None => 0,
            Core::Lstm(l) => l.hidden_size,
            Core::Gru(g) => g.hidden_size,
        }
    }

    /// A zero recurrent state for `batch` rows (empty vectors without a core).
    pub fn initial_state(&self, batch: usize) -> RecurrentState {
        RecurrentState::zeros(batch, self.state_size(), matches!(self.core, Core::Lstm(_)))
    }

    /// A tape for sequences of up to `t_max` steps and `batch_max` rows.
    pub fn tape(&self, t_max: usize, batch_max: usize) -> NetworkTape {
        let rows = t_max * batch_max;
        let encoded = self
            .encoder
            .as_ref()
            .map_or(self.input_size, |e| e.out_size);
        NetworkTape {
            t_max,
            batch_max,
            steps: 0,
            batch: 0,
            encoder: self.encoder.as_ref().map(|e| e.tape(rows)),
            core: match &self.core {
                Core::None => CoreTape::None,
                Core::Lstm(l) => CoreTape::Lstm(l.tape(t_max, batch_max)),
                Core::Gru(g) => CoreTape::Gru(g.tape(t_max, batch_max)),
            },
            heads: self
                .heads
                .iter()
                .map(|h| vec![0.0; rows * h.out_features])
                .collect(),
            head_sizes: self.heads.iter().map(|h| h.out_features).collect(),
            d_features: vec![0.0; rows * self.feature_size],
            d_encoded: vec![0.0; rows * encoded],
        }
    }

    /// Scratch for [`step`](Self::step) with up to `batch_max` rows.
    pub fn step_scratch(&self, batch_max: usize) -> NetworkStepScratch {
        NetworkStepScratch {
            batch_max,
            batch: 0,
            encoder: self.encoder.as_ref().map(|e| e.tape(batch_max)),
            core: match &self.core {
                Core::None => CoreStep::None,
                Core::Lstm(l) => CoreStep::Lstm(LstmStepScratch::new(batch_max, l.hidden_size)),
                Core::Gru(g) => CoreStep::Gru(GruStepScratch::new(batch_max, g.hidden_size)),
            },
            heads: self
                .heads
                .iter()
                .map(|h| vec![0.0; batch_max * h.out_features])
                .collect(),
            head_sizes: self.heads.iter().map(|h| h.out_features).collect(),
        }
    }

    /// Runs `steps` steps over `xs` `[steps, batch, input]` (`batch = state.batch`), from the
    /// initial `state` (replaced by the final state), resetting row `b` before step `t` where
    /// `starts[t * batch + b]`. Head outputs: [`NetworkTape::head`].
    pub fn forward_seq(
        &self,
        p: &[f32],
        xs: &[f32],
        steps: usize,
        starts: Option<&[bool]>,
        state: &mut RecurrentState,
        tape: &mut NetworkTape,
    ) {
        let batch = state.batch;
        let rows = steps * batch;
        assert!(
            steps <= tape.t_max && batch <= tape.batch_max,
            "Network::forward_seq: tape sized for {} steps x {} rows, called with {steps} x {batch}",
            tape.t_max,
            tape.batch_max
        );
        assert_eq!(
            xs.len(),
            rows * self.input_size,
            "Network::forward_seq: xs must be [steps={steps}, batch={batch}, input={}]",
            self.input_size
        );
        tape.steps = steps;
        tape.batch = batch;
        let encoded: &[f32] = match (&self.encoder, &mut tape.encoder) {
            (Some(e), Some(t)) => {
                e.forward(p, xs, rows, t);
                t.output()
            }
            _ => xs,
        };
        let features: &[f32] = match (&self.core, &mut tape.core) {
            (Core::Lstm(l), CoreTape::Lstm(t)) => {
                l.forward_seq(p, encoded, steps, starts, state, t);
                t.outputs()
            }
            (Core::Gru(g), CoreTape::Gru(t)) => {
                g.forward_seq(p, encoded, steps, starts, state, t);
                t.outputs()
            }
            _ => encoded,
        };
        for (head, out) in self.heads.iter().zip(tape.heads.iter_mut()) {
            head.forward(p, features, rows, &mut out[..rows * head.out_features]);
        }
    }

    /// Backward through the last [`forward_seq`](Self::forward_seq): `d_heads[i]` is
    /// d loss / d (head i output), same shape as [`NetworkTape::head`]. Adds the parameter
    /// gradients into `g`, d loss / d xs into `dxs` and d loss / d (initial state) into
    /// `d_initial` when given.
    #[allow(clippy::too_many_arguments)]
    pub fn backward_seq(
        &self,
        p: &[f32],
        g: &mut [f32],
        xs: &[f32],
        d_heads: &[&[f32]],
        tape: &mut NetworkTape,
        dxs: Option<&mut [f32]>,
        d_initial: Option<&mut RecurrentState>,
    ) {
        self.backward_with_features(p, g, xs, d_heads, None, tape, dxs, d_initial);
    }

    /// [`backward_seq`](Self::backward_seq) with a gradient `d_features` with respect to
    /// [`NetworkTape::features`] added to what the heads pass down (a loss that reads the
    /// features directly, such as SAC's gSDE with learned features).
    #[allow(clippy::too_many_arguments)]
    pub fn backward_with_features(
        &self,
        p: &[f32],
        g: &mut [f32],
        xs: &[f32],
        d_heads: &[&[f32]],
        extra_d_features: Option<&[f32]>,
        tape: &mut NetworkTape,
        dxs: Option<&mut [f32]>,
        d_initial: Option<&mut RecurrentState>,
    ) {
        let (steps, batch) = (tape.steps, tape.batch);
        let rows = steps * batch;
        assert_eq!(
            d_heads.len(),
            self.heads.len(),
            "Network::backward_seq: one gradient per head ({})",
            self.heads.len()
        );
        assert_eq!(
            xs.len(),
            rows * self.input_size,
            "Network::backward_seq: xs differs from the forward pass"
        );
        let encoded: &[f32] = match &tape.encoder {
            Some(t) => t.output(),
            None => xs,
        };
        let features: &[f32] = match &tape.core {
            CoreTape::Lstm(t) => t.outputs(),
            CoreTape::Gru(t) => t.outputs(),
            CoreTape::None => encoded,
        };
        let d_features = &mut tape.d_features[..rows * self.feature_size];
        // Without an extra gradient the first head writes d_features rather than adding to
        // zeros (a pass over the widest buffer saved).
        let mut first_overwrites = match extra_d_features {
            Some(extra) => {
                assert_eq!(
                    extra.len(),
                    rows * self.feature_size,
                    "Network::backward_with_features: d_features must be [steps, batch, {}]",
                    self.feature_size
                );
                d_features.copy_from_slice(extra);
                false
            }
            None if self.heads.is_empty() => {
                d_features.fill(0.0);
                false
            }
            None => true,
        };
        for (i, head) in self.heads.iter().enumerate() {
            assert_eq!(
                d_heads[i].len(),
                rows * head.out_features,
                "Network::backward_seq: gradient of head `{}` must be [steps, batch, {}]",
                self.head_names[i],
                head.out_features
            );
            if std::mem::take(&mut first_overwrites) {
                head.backward_overwriting_dx(p, g, features, d_heads[i], rows, d_features);
            } else {
                head.backward(p, g, features, d_heads[i], rows, Some(d_features));
            }
        }
        let encoded_width = self
            .encoder
            .as_ref()
            .map_or(self.input_size, |e| e.out_size);
        // Without an encoder the core's input gradient is only needed if the caller asks.
        let need_d_encoded = self.encoder.is_some() || dxs.is_some();
        let d_encoded: &[f32] = match (&self.core, &mut tape.core) {
            (Core::Lstm(l), CoreTape::Lstm(t)) => {
                let de = &mut tape.d_encoded[..rows * encoded_width];
                de.fill(0.0);
                let de_wanted = need_d_encoded.then_some(&mut *de);
                l.backward_seq(p, g, encoded, d_features, None, t, de_wanted, d_initial);
                de
            }
            (Core::Gru(gru), CoreTape::Gru(t)) => {
                let de = &mut tape.d_encoded[..rows * encoded_width];
                de.fill(0.0);
                let de_wanted = need_d_encoded.then_some(&mut *de);
                gru.backward_seq(p, g, encoded, d_features, None, t, de_wanted, d_initial);
                de
            }
            _ => d_features,
        };
        match (&self.encoder, &mut tape.encoder) {
            (Some(e), Some(t)) => e.backward(p, g, xs, t, d_encoded, dxs),
            _ => {
                if let Some(dxs) = dxs {
                    dxs.iter_mut().zip(d_encoded).for_each(|(a, b)| *a += b);
                }
            }
        }
    }

    /// d loss / d input only (no parameter gradients) for the rows `rows` of the last
    /// [`forward_seq`](Self::forward_seq) (one step, no recurrent core): `d_heads[i]` is
    /// d loss / d (head i output) of those rows, compacted `[rows.len(), size_i]`; `dxs`
    /// `[rows.len(), input]` receives (`+=`) their input gradients. About a third of a full
    /// backward (no weight gradients), and rows not listed cost nothing.
    pub fn input_gradient_rows(
        &self,
        p: &[f32],
        tape: &mut NetworkTape,
        rows: &[usize],
        d_heads: &[&[f32]],
        dxs: &mut [f32],
    ) {
        assert!(
            matches!(self.core, Core::None) && tape.steps == 1,
            "Network::input_gradient_rows: feed-forward networks and one step only"
        );
        let n = rows.len();
        let width = self.feature_size;
        let d_features = &mut tape.d_features[..n * width];
        for (i, head) in self.heads.iter().enumerate() {
            assert_eq!(
                d_heads[i].len(),
                n * head.out_features,
                "Network::input_gradient_rows: gradient of head `{}` must be [rows, {}]",
                self.head_names[i],
                head.out_features
            );
            crate::kernels::gemm(
                crate::kernels::Trans::No,
                crate::kernels::Trans::No,
                n,
                width,
                head.out_features,
                1.0,
                d_heads[i],
                head.out_features,
                head.weight.of(p),
                width,
                if i == 0 { 0.0 } else { 1.0 },
                d_features,
                width,
            );
        }
        match (&self.encoder, &mut tape.encoder) {
            (Some(e), Some(t)) => e.input_gradient_rows(p, t, rows, d_features, dxs),
            _ => dxs
                .iter_mut()
                .zip(d_features.iter())
                .for_each(|(a, b)| *a += b),
        }
    }

    /// One acting step on `x` `[batch, input]` (`batch = state.batch`): updates `state` and
    /// writes the head outputs ([`NetworkStepScratch::head`]). Allocates nothing. Reset rows
    /// where an episode starts beforehand with [`RecurrentState::reset_rows`].
    pub fn step(
        &self,
        p: &[f32],
        x: &[f32],
        state: &mut RecurrentState,
        scratch: &mut NetworkStepScratch,
    ) {
        let batch = state.batch;
        assert!(
            batch <= scratch.batch_max,
            "Network::step: scratch sized for {} rows, called with {batch}",
            scratch.batch_max
        );
        assert_eq!(
            x.len(),
            batch * self.input_size,
            "Network::step: x must be [batch={batch}, input={}]",
            self.input_size
        );
        scratch.batch = batch;
        let encoded: &[f32] = match (&self.encoder, &mut scratch.encoder) {
            (Some(e), Some(t)) => {
                e.forward(p, x, batch, t);
                t.output()
            }
            _ => x,
        };
        let features: &[f32] = match (&self.core, &mut scratch.core) {
            (Core::Lstm(l), CoreStep::Lstm(s)) => {
                l.step(p, encoded, state, s);
                &state.h
            }
            (Core::Gru(g), CoreStep::Gru(s)) => {
                g.step(p, encoded, state, s);
                &state.h
            }
            _ => encoded,
        };
        for (head, out) in self.heads.iter().zip(scratch.heads.iter_mut()) {
            head.forward(p, features, batch, &mut out[..batch * head.out_features]);
        }
    }
}

/// A recurrent state in an ONNX graph: `h`, and `c` for an LSTM.
#[derive(Clone, Debug)]
pub struct OnnxState {
    pub h: String,
    pub c: Option<String>,
}

impl Network {
    /// Writes [`Network::step`] into an ONNX graph: from the input `x` `[batch, input_size]`
    /// and, with a recurrent core, its state, to the heads' outputs (in head order) and the
    /// next state.
    pub fn onnx_step(
        &self,
        g: &mut crate::onnx::Graph,
        p: &[f32],
        x: &str,
        state: Option<&OnnxState>,
    ) -> (Vec<String>, Option<OnnxState>) {
        let encoded = match &self.encoder {
            Some(e) => e.onnx(g, p, x),
            None => x.to_string(),
        };
        let (features, next) = match (&self.core, state) {
            (Core::Lstm(l), Some(OnnxState { h, c: Some(c) })) => {
                let (h, c) = l.onnx_step(g, p, &encoded, h, c);
                (h.clone(), Some(OnnxState { h, c: Some(c) }))
            }
            (Core::Gru(gru), Some(state)) => {
                let h = gru.onnx_step(g, p, &encoded, &state.h);
                (h.clone(), Some(OnnxState { h, c: None }))
            }
            _ => (encoded, None),
        };
        let heads = self
            .heads
            .iter()
            .map(|head| head.onnx(g, p, &features))
            .collect();
        (heads, next)
    }
}
