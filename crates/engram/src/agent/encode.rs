//! Observation -> network input: Box parts are copied as they are; Discrete and MultiDiscrete
//! parts (also inside Tuples) are one-hot encoded, or looked up in learned embeddings
//! (`discrete_encoding = "embedding"`), whose gradient [`Encoder::backward`] accumulates.

use crate::config::{DiscreteEncoding, EncoderKind, NetConfig};
use crate::error::TrainError;
use engram_env::Space;
use engram_nn::embedding::Embedding;
use engram_nn::onnx::{Attr, ElemType, Graph};
use engram_nn::{ConvEncoderSpec, ConvLayerSpec, Init, ParamLayout};

/// The convolutions `net` asks for (`encoder = conv`) on the observation `space`, which must
/// be an image: a Box of shape `[height, width, channels]` (or `[height, width]`, one
/// channel). `None` for `encoder = mlp`.
pub fn conv_spec(space: &Space, net: &NetConfig) -> Result<Option<ConvEncoderSpec>, TrainError> {
    if net.encoder != EncoderKind::Conv {
        return Ok(None);
    }
    let image = match space {
        Space::Box { shape, .. } if shape.len() == 3 => [shape[0], shape[1], shape[2]],
        Space::Box { shape, .. } if shape.len() == 2 => [shape[0], shape[1], 1],
        _ => {
            return Err(TrainError::Usage(format!(
                "encoder = conv needs an image observation space (a Box of shape [height, width, \
                 channels], e.g. MinAtar's 10x10xC), and this environment's is {space}: use \
                 encoder = mlp (--set encoder=mlp)"
            )))
        }
    };
    let padded = image[0].min(image[1]) + 2 * net.conv_padding;
    if net.conv_kernel > padded {
        return Err(TrainError::Usage(format!(
            "conv_kernel {k} is larger than the {h}x{w} observation (conv_padding {p}): use a \
             conv_kernel of at most {padded} or more conv_padding",
            k = net.conv_kernel,
            h = image[0],
            w = image[1],
            p = net.conv_padding
        )));
    }
    let layers = net
        .conv_filters
        .iter()
        .map(|&filters| ConvLayerSpec {
            filters,
            kernel: net.conv_kernel,
            stride: net.conv_stride,
            padding: net.conv_padding,
        })
        .collect();
    Ok(Some(ConvEncoderSpec { image, layers }))
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

/// The encoding of one observation space (embedding tables registered in the layout).
#[derive(Clone, Debug)]
pub struct Encoder {
    segments: Vec<Segment>,
    obs_dim: usize,
    input_dim: usize,
}

impl Encoder {
    pub fn new(
        space: &Space,
        net: &NetConfig,
        layout: &mut ParamLayout,
    ) -> Result<Encoder, TrainError> {
        let mut segments = Vec::new();
        let mut embed_index = 0;
        encode_space(space, net, layout, &mut segments, &mut embed_index)?;
        Ok(Encoder {
            input_dim: segments.iter().map(Segment::input_len).sum(),
            obs_dim: space.flat_dim(),
            segments,
        })
    }

    /// Floats in one flat observation.
    pub fn obs_dim(&self) -> usize {
        self.obs_dim
    }

    /// Floats of network input per observation.
    pub fn input_dim(&self) -> usize {
        self.input_dim
    }

    pub fn has_embeddings(&self) -> bool {
        self.segments
            .iter()
            .any(|s| matches!(s, Segment::Embed { .. }))
    }

    /// Network input of `rows` flat observations.
    pub fn encode(&self, p: &[f32], obs: &[f32], rows: usize, input: &mut [f32]) {
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
    pub fn backward(&self, g: &mut [f32], obs: &[f32], rows: usize, d_input: &[f32]) {
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
}

impl Encoder {
    /// Writes [`Encoder::encode`] into an ONNX graph: from flat observations `obs`
    /// `[batch, obs_dim]` to the network input `[batch, input_dim]`.
    pub fn onnx(&self, g: &mut Graph, p: &[f32], obs: &str) -> String {
        let mut parts = Vec::new();
        let mut at = 0;
        for seg in &self.segments {
            let column = g.columns(obs, at, at + seg.flat_len());
            parts.push(match seg {
                Segment::Copy { .. } => column,
                Segment::OneHot { n, start } => {
                    let index = onnx_index(g, &column, *start, *n);
                    let depth = g.constant_i64("depth", &[1], &[*n as i64]);
                    let values = g.constant("one_hot_values", &[2], &[0.0, 1.0]);
                    g.op(
                        "OneHot",
                        &[&index, &depth, &values],
                        vec![("axis", Attr::Int(-1))],
                    )
                }
                Segment::Embed { n, start, table } => {
                    let index = onnx_index(g, &column, *start, *n);
                    table.onnx(g, p, &index)
                }
            });
            at += seg.flat_len();
        }
        g.concat_columns(&parts)
    }
}

/// [`index_of`] in ONNX: a `[batch, 1]` float column to `[batch]` int64 indices, clamped.
fn onnx_index(g: &mut Graph, column: &str, start: i64, n: usize) -> String {
    let low = g.constant("index_low", &[], &[start as f32]);
    let high = g.constant("index_high", &[], &[(start + n as i64 - 1) as f32]);
    let clipped = g.op("Clip", &[column, &low, &high], Vec::new());
    let shifted = if start == 0 {
        clipped
    } else {
        let offset = g.constant("index_start", &[], &[start as f32]);
        g.op("Sub", &[&clipped, &offset], Vec::new())
    };
    let index = g.op(
        "Cast",
        &[&shifted],
        vec![("to", Attr::Int(ElemType::I64 as i64))],
    );
    let flat = g.constant_i64("shape", &[1], &[-1]);
    g.op("Reshape", &[&index, &flat], Vec::new())
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
    net: &NetConfig,
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
            net,
            layout,
            embed_index,
        )?),
        Space::MultiDiscrete { nvec } => {
            for &n in nvec {
                out.push(discrete_segment(n as usize, 0, net, layout, embed_index)?);
            }
        }
        Space::Tuple(parts) => {
            for part in parts {
                encode_space(part, net, layout, out, embed_index)?;
            }
        }
    }
    Ok(())
}

fn discrete_segment(
    n: usize,
    start: i64,
    net: &NetConfig,
    layout: &mut ParamLayout,
    embed_index: &mut usize,
) -> Result<Segment, TrainError> {
    match net.discrete_encoding {
        DiscreteEncoding::OneHot => Ok(Segment::OneHot { n, start }),
        DiscreteEncoding::Embedding => {
            let name = format!("embed.{embed_index}");
            *embed_index += 1;
            let table = Embedding::new(
                layout,
                &name,
                n,
                net.embedding_dim,
                Init::XavierUniform { gain: 1.0 },
            )
            .map_err(|e| TrainError::Policy(e.to_string()))?;
            Ok(Segment::Embed { n, start, table })
        }
    }
}
