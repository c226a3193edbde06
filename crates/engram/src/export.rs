//! ONNX export of a trained policy (`engram export RUN --onnx FILE`, `model.export_onnx`).
//!
//! The graph is the greedy forward pass of one step for a batch of environments, in the shape
//! Sample Factory and TorchRL export:
//!
//! * inputs: `obs` `[batch, obs_dim]` (the flat observation, as engram's environments give it;
//!   discrete parts as their integer value), and for recurrent policies `state_in`
//!   `[batch, state_size]` (zeros at an episode's start; `h` then `c` of each network);
//! * outputs: `action` `[batch, action_dim]` (the greedy action: a discrete action's index,
//!   a Box action's mean, not clipped to the bounds), then `logits` (discrete) or `mean` (and
//!   `log_std` for a Gaussian), `value` `[batch, 1]` for actor-critics or `q_values` for the
//!   DQN family, and `state_out` for recurrent policies.
//!
//! Observation normalisation the run trained with is part of the graph. The model's metadata
//! names the run's algorithm, environment, spaces and outputs.

use crate::error::TrainError;
use crate::play::{self, Loaded};
use crate::runtime::checkpoint::write_atomic;
use crate::runtime::evaluator::{NORMALIZE_CLIP, NORMALIZE_EPS};
use engram_nn::onnx::{Dim, Graph};
use std::path::{Path, PathBuf};

/// What an export wrote.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Exported {
    /// The checkpoint exported.
    pub checkpoint: PathBuf,
    pub path: PathBuf,
    pub bytes: usize,
    pub inputs: Vec<String>,
    pub outputs: Vec<String>,
}

/// A serialised ONNX model and the names of its inputs and outputs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OnnxModel {
    pub bytes: Vec<u8>,
    pub inputs: Vec<String>,
    pub outputs: Vec<String>,
}

/// The ONNX model of a loaded checkpoint's policy.
pub fn onnx_model(loaded: &Loaded) -> Result<OnnxModel, TrainError> {
    let agent = &loaded.agent;
    let mut g = Graph::new("engram_policy");
    let obs_dim = agent.obs_dim();
    let mut obs = g.input("obs", vec![Dim::batch(), Dim::Fixed(obs_dim)]);
    if let Some(stats) = &loaded.obs_stats {
        if stats.mean.len() != obs_dim || stats.var.len() != obs_dim {
            return Err(TrainError::Usage(format!(
                "{}: its observation statistics have {} entries for {obs_dim} observation numbers",
                loaded.path.display(),
                stats.mean.len()
            )));
        }
        let mean: Vec<f32> = stats.mean.iter().map(|&m| m as f32).collect();
        let scale: Vec<f32> = stats
            .var
            .iter()
            .map(|&v| (1.0 / (v + NORMALIZE_EPS).sqrt()) as f32)
            .collect();
        let mean = g.constant("obs_mean", &[obs_dim], &mean);
        let scale = g.constant("obs_inv_std", &[obs_dim], &scale);
        let low = g.constant("obs_clip_low", &[], &[-NORMALIZE_CLIP]);
        let high = g.constant("obs_clip_high", &[], &[NORMALIZE_CLIP]);
        let centred = g.op("Sub", &[&obs, &mean], Vec::new());
        let scaled = g.op("Mul", &[&centred, &scale], Vec::new());
        obs = g.op("Clip", &[&scaled, &low, &high], Vec::new());
    }
    agent.onnx(&mut g, &loaded.params, &obs)?;
    let config = &loaded.config;
    g.metadata("engram_version", env!("CARGO_PKG_VERSION"));
    g.metadata("algo", &config.common.algo);
    g.metadata("env", &config.common.env);
    g.metadata("observation_space", &loaded.observation_space.to_string());
    g.metadata("action_space", &loaded.action_space.to_string());
    g.metadata(
        "normalized_observations",
        &loaded.obs_stats.is_some().to_string(),
    );
    let outputs: Vec<String> = g.output_names().iter().map(|s| s.to_string()).collect();
    g.metadata("outputs", &outputs.join(","));
    let mut inputs = vec!["obs".to_string()];
    if outputs.iter().any(|o| o == "state_out") {
        inputs.push("state_in".to_string());
    }
    Ok(OnnxModel {
        bytes: g.to_model_bytes("engram", env!("CARGO_PKG_VERSION")),
        inputs,
        outputs,
    })
}

/// Exports the policy of `run` (a run directory's best checkpoint, its latest with `latest`,
/// or a checkpoint file) to the ONNX file `out`, written atomically.
pub fn export_onnx(run: &Path, latest: bool, out: &Path) -> Result<Exported, TrainError> {
    check_target(out)?;
    let loaded = play::load(run, latest)?;
    let OnnxModel {
        bytes,
        inputs,
        outputs,
    } = onnx_model(&loaded)?;
    write_atomic(out, &bytes)
        .map_err(|e| TrainError::Usage(format!("cannot write {}: {e}", out.display())))?;
    Ok(Exported {
        checkpoint: loaded.path,
        path: out.to_path_buf(),
        bytes: bytes.len(),
        inputs,
        outputs,
    })
}

/// Refuses targets an export must not replace: a directory, anything but a regular file (a
/// device such as /dev/null, a pipe, a link: the atomic write would replace the node itself),
/// and names without `.onnx` (which also keeps a run's own checkpoints out of reach).
fn check_target(out: &Path) -> Result<(), TrainError> {
    if out.is_dir() {
        return Err(TrainError::Usage(format!(
            "{} is a directory: give the ONNX file to write, e.g. {}",
            out.display(),
            out.join("policy.onnx").display()
        )));
    }
    if out.extension().and_then(|e| e.to_str()) != Some("onnx") {
        return Err(TrainError::Usage(format!(
            "{}: name the ONNX file with the .onnx extension, e.g. policy.onnx",
            out.display()
        )));
    }
    if let Ok(meta) = std::fs::symlink_metadata(out) {
        if !meta.file_type().is_file() {
            return Err(TrainError::Usage(format!(
                "{} exists and is not a regular file (a link, device or pipe): choose another path",
                out.display()
            )));
        }
    }
    Ok(())
}
