//! Checkpoints: tensors as safetensors (loadable with `safetensors.torch.load_file`), with
//! engram's JSON metadata (config, counters, RNG and wrapper state) in the safetensors header.
//!
//! Beside the file format, this module knows what engram stores in it: parameters under their
//! PyTorch-style names, optimizer statistics as `<prefix>.<buffer>.<name>`, and the run's
//! state ([`RunState`]) as JSON; it writes them only after checking every parameter is finite.
//!
//! One file per checkpoint keeps saving atomic: it is written to a temporary file, fsynced, and
//! renamed over the old one, so a crash or a kill at any moment leaves either the old or the new
//! checkpoint, never a torn one. A readable copy of the metadata is written beside it
//! (`<name>.json`) for people; loading reads only the safetensors file.

use safetensors::tensor::{Dtype, SafeTensors, TensorView};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use super::monitor::MonitorState;
use crate::error::TrainError;
pub use crate::error::{CheckpointError, CHECKPOINT_FORMAT as FORMAT};
use engram_env::wrappers::RunningMeanStd;
use engram_nn::optim::OptimizerState;
use engram_nn::ParamLayout;

const META_KEY: &str = "engram";

/// One named `f32` tensor.
#[derive(Clone, Debug, PartialEq)]
pub struct Tensor {
    pub name: String,
    pub shape: Vec<usize>,
    pub data: Vec<f32>,
}

/// Everything a checkpoint holds.
#[derive(Clone, Debug, PartialEq)]
pub struct Checkpoint {
    pub tensors: Vec<Tensor>,
    /// engram's metadata; [`Checkpoint::save`] fills `format` and `engram_version`.
    pub meta: Meta,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Meta {
    pub format: String,
    pub engram_version: String,
    /// `ParamLayout::signature()` of the model: names and shapes of every parameter tensor.
    pub architecture: String,
    /// Algorithm-specific state: config, counters, RNG streams, normaliser statistics, ...
    pub state: serde_json::Value,
}

impl Meta {
    pub fn new(architecture: String, state: serde_json::Value) -> Meta {
        Meta {
            format: FORMAT.into(),
            engram_version: env!("CARGO_PKG_VERSION").into(),
            architecture,
            state,
        }
    }
}

impl Checkpoint {
    pub fn tensor(&self, name: &str) -> Option<&Tensor> {
        self.tensors.iter().find(|t| t.name == name)
    }

    /// Serialises to safetensors bytes (deterministic: same content, same bytes).
    pub fn to_bytes(&self) -> Result<Vec<u8>, String> {
        let byte_data: Vec<Vec<u8>> = self
            .tensors
            .iter()
            .map(|t| t.data.iter().flat_map(|v| v.to_le_bytes()).collect())
            .collect();
        let mut views = Vec::with_capacity(self.tensors.len());
        for (t, bytes) in self.tensors.iter().zip(&byte_data) {
            let view = TensorView::new(Dtype::F32, t.shape.clone(), bytes)
                .map_err(|e| format!("tensor `{}`: {e}", t.name))?;
            views.push((t.name.clone(), view));
        }
        let meta = serde_json::to_string(&self.meta).map_err(|e| e.to_string())?;
        let header = HashMap::from([(META_KEY.to_string(), meta)]);
        safetensors::serialize(views, Some(header)).map_err(|e| e.to_string())
    }

    pub fn from_bytes(bytes: &[u8], path: &Path) -> Result<Checkpoint, CheckpointError> {
        let corrupt = |reason: String| CheckpointError::Corrupt {
            path: path.to_path_buf(),
            reason,
        };
        let (_, header) = SafeTensors::read_metadata(bytes).map_err(|e| corrupt(e.to_string()))?;
        let meta_text = header
            .metadata()
            .as_ref()
            .and_then(|m| m.get(META_KEY))
            .ok_or_else(|| corrupt("no engram metadata in the safetensors header".into()))?;
        let meta: Meta = serde_json::from_str(meta_text)
            .map_err(|e| corrupt(format!("unreadable engram metadata: {e}")))?;
        if meta.format != FORMAT || !same_minor(&meta.engram_version, env!("CARGO_PKG_VERSION")) {
            return Err(CheckpointError::Version {
                path: path.to_path_buf(),
                found: meta.engram_version,
                found_format: meta.format,
                expected: env!("CARGO_PKG_VERSION").into(),
            });
        }
        let st = SafeTensors::deserialize(bytes).map_err(|e| corrupt(e.to_string()))?;
        let mut names: Vec<String> = st.names().into_iter().map(String::from).collect();
        names.sort();
        let mut tensors = Vec::with_capacity(names.len());
        for name in names {
            let view = st.tensor(&name).map_err(|e| corrupt(e.to_string()))?;
            if view.dtype() != Dtype::F32 {
                return Err(corrupt(format!(
                    "tensor `{name}` has dtype {:?}, expected F32",
                    view.dtype()
                )));
            }
            let data = view
                .data()
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect();
            tensors.push(Tensor {
                name,
                shape: view.shape().to_vec(),
                data,
            });
        }
        Ok(Checkpoint { tensors, meta })
    }

    /// Writes atomically: temp file, fsync, rename, fsync of the directory. Also writes a
    /// human-readable `<stem>.json` copy of the metadata the same way.
    pub fn save(&self, path: &Path) -> Result<(), CheckpointError> {
        self.save_unless_unchanged(path, &mut None)
    }

    /// [`Checkpoint::save`], except when its bytes equal `previous` (the last ones saved to
    /// `path`, which still holds them): then nothing is written. A run that checkpointed at
    /// its last step (the bandit's interval is its budget) would otherwise replace both
    /// files with the same bytes at its end, four fsyncs per run. `previous` keeps the bytes
    /// written (checkpoints up to [`Checkpoint::KEEP_BYTES`]; larger ones are always written).
    pub fn save_unless_unchanged(
        &self,
        path: &Path,
        previous: &mut Option<Vec<u8>>,
    ) -> Result<(), CheckpointError> {
        let bytes = self.to_bytes().map_err(|reason| CheckpointError::Corrupt {
            path: path.to_path_buf(),
            reason,
        })?;
        if previous.as_deref() == Some(&bytes[..])
            && path.exists()
            && path.with_extension("json").exists()
        {
            return Ok(());
        }
        *previous = None;
        self.write_files(path, &bytes)?;
        if bytes.len() <= Self::KEEP_BYTES {
            *previous = Some(bytes);
        }
        Ok(())
    }

    /// Checkpoints up to this size are remembered by [`Checkpoint::save_unless_unchanged`].
    pub const KEEP_BYTES: usize = 1 << 20;

    fn write_files(&self, path: &Path, bytes: &[u8]) -> Result<(), CheckpointError> {
        write_atomic(path, bytes).map_err(|source| CheckpointError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let pretty = serde_json::to_vec_pretty(&self.meta).unwrap_or_default();
        let json = path.with_extension("json");
        write_atomic(&json, &pretty).map_err(|source| CheckpointError::Io { path: json, source })
    }

    pub fn load(path: &Path) -> Result<Checkpoint, CheckpointError> {
        if !path.exists() {
            return Err(CheckpointError::NotFound(path.to_path_buf()));
        }
        let bytes = fs::read(path).map_err(|source| CheckpointError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Checkpoint::from_bytes(&bytes, path)
    }

    /// Errors unless the checkpoint was written by a model of the same architecture.
    pub fn check_architecture(&self, expected: &str, path: &Path) -> Result<(), CheckpointError> {
        if self.meta.architecture == expected {
            Ok(())
        } else {
            Err(CheckpointError::Architecture {
                path: path.to_path_buf(),
                found: self.meta.architecture.clone(),
                expected: expected.to_string(),
            })
        }
    }
}

fn same_minor(a: &str, b: &str) -> bool {
    let key = |v: &str| v.split('.').take(2).collect::<Vec<_>>().join(".");
    key(a) == key(b)
}

/// Writes `bytes` to `path` so that readers see the old or the new content, never a mix.
/// The data is fsynced before the rename and the directory after it, so that a power loss
/// never leaves an empty file where a good one was; while a [`DeferredSync`] is active, a
/// write that creates a new file (there is no older version to lose) skips both, and the
/// guard's periodic `syncfs` makes it durable instead.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    if !dir.is_dir() {
        fs::create_dir_all(dir)?;
    }
    let mut tmp_name = path
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    // Unique per write: several workers (and the evaluator) may save at the same moment.
    static WRITES: AtomicU64 = AtomicU64::new(0);
    let n = WRITES.fetch_add(1, Ordering::Relaxed);
    tmp_name.push(format!(".{}.{n}.tmp", std::process::id()));
    let tmp = dir.join(tmp_name);
    let deferred = DEFERRING.load(Ordering::Relaxed) > 0 && !path.exists();
    let result = (|| {
        let mut file = File::create(&tmp)?;
        file.write_all(bytes)?;
        if !deferred {
            file.sync_all()?;
        }
        drop(file);
        fs::rename(&tmp, path)?;
        if deferred {
            UNSYNCED.store(true, Ordering::Relaxed);
        } else if let Ok(d) = File::open(dir) {
            // Make the rename itself durable.
            let _ = d.sync_all();
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// Active [`DeferredSync`] guards (only Linux has `syncfs`: elsewhere writes never defer).
static DEFERRING: AtomicUsize = AtomicUsize::new(0);
/// A deferred write happened since the last `syncfs`.
static UNSYNCED: AtomicBool = AtomicBool::new(false);

/// While alive, [`write_atomic`] does not fsync files it creates (replacing a file is always
/// fsynced), and a background thread makes them durable with one `syncfs` per
/// [`DeferredSync::PERIOD`]; dropping it syncs once more. Two fsyncs per new file cost about
/// 2.7 ms on an ordinary SSD: a 2,000-seed run writes four new files per seed, 20 s of fsync
/// that one `syncfs` a second replaces. A process crash loses nothing either way (the page
/// cache survives it); a power loss can lose only files created in the last period.
pub struct DeferredSync {
    stop: Arc<(Mutex<bool>, Condvar)>,
    thread: Option<std::thread::JoinHandle<()>>,
    dir: PathBuf,
}

impl DeferredSync {
    pub const PERIOD: Duration = Duration::from_secs(1);

    /// Defers the sync of new files; `dir` names the file system to sync.
    pub fn start(dir: &Path) -> DeferredSync {
        let stop = Arc::new((Mutex::new(false), Condvar::new()));
        let mut guard = DeferredSync {
            stop: stop.clone(),
            thread: None,
            dir: dir.to_path_buf(),
        };
        if !cfg!(target_os = "linux") {
            return guard;
        }
        let sync_dir = dir.to_path_buf();
        // Without its thread, nothing is deferred (every write fsyncs as usual).
        guard.thread = std::thread::Builder::new()
            .name("engram-sync".into())
            .spawn(move || {
                let (stopped, changed) = &*stop;
                let mut done = super::monitor::lock(stopped);
                while !*done {
                    done = changed
                        .wait_timeout(done, Self::PERIOD)
                        .map(|(d, _)| d)
                        .unwrap_or_else(|e| e.into_inner().0);
                    sync_file_system(&sync_dir);
                }
            })
            .ok();
        if guard.thread.is_some() {
            DEFERRING.fetch_add(1, Ordering::Relaxed);
        }
        guard
    }
}

impl Drop for DeferredSync {
    fn drop(&mut self) {
        let Some(thread) = self.thread.take() else {
            return;
        };
        DEFERRING.fetch_sub(1, Ordering::Relaxed);
        {
            let (stopped, changed) = &*self.stop;
            *super::monitor::lock(stopped) = true;
            changed.notify_all();
        }
        let _ = thread.join();
        UNSYNCED.store(true, Ordering::Relaxed);
        sync_file_system(&self.dir);
    }
}

/// Flushes the file system holding `dir` if a deferred write happened since the last call.
fn sync_file_system(dir: &Path) {
    if !UNSYNCED.swap(false, Ordering::Relaxed) {
        return;
    }
    #[cfg(target_os = "linux")]
    if let Ok(d) = File::open(dir) {
        use std::os::fd::AsRawFd;
        // SAFETY: `d` is an open file, so its descriptor is valid for the call.
        unsafe {
            libc::syncfs(d.as_raw_fd());
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = dir;
}

// ---------------------------------------------------------------------------------------------
// What engram stores in a checkpoint

/// The algorithm-independent part of the checkpoint metadata.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RunState {
    /// The algorithm's registry name.
    pub algo: String,
    pub env: String,
    /// The run's whole configuration as its flat table (what `config.toml` holds).
    pub config: toml::Table,
    pub monitor: MonitorState,
    /// Optimizer step counters, by tensor prefix (`optim`, or `optim.w0`, ... per worker).
    pub optimizers: Vec<(String, String, u64)>,
    /// The algorithm's experience collectors (one per A3C worker, one for lockstep envs),
    /// as the algorithm serialised them; `None` where a worker's state was not captured
    /// (periodic checkpoints of multi-worker A3C).
    pub collectors: Vec<Option<serde_json::Value>>,
    /// Observation normalisation statistics the policy was trained with (for evaluation).
    #[serde(default)]
    pub obs_stats: Option<RunningMeanStd>,
}

/// What an algorithm hands over to be saved: its parameters and optimizers, any tensors of
/// its own (target networks, PPO's adaptive KL coefficient, a replay buffer), its collectors.
#[derive(Default)]
pub struct CheckpointParts {
    pub params: Vec<f32>,
    /// `(tensor prefix, state)` of each optimizer.
    pub optimizers: Vec<(String, OptimizerState)>,
    pub extra: Vec<Tensor>,
    pub collectors: Vec<Option<serde_json::Value>>,
    pub obs_stats: Option<RunningMeanStd>,
}

/// Parameters, one tensor per registered name (PyTorch-style names), each prefixed with
/// `prefix.` unless `prefix` is empty (target networks are saved as `target.<name>`).
pub fn param_tensors(prefix: &str, layout: &ParamLayout, params: &[f32]) -> Vec<Tensor> {
    layout
        .specs()
        .iter()
        .map(|s| Tensor {
            name: prefixed(prefix, &s.name),
            shape: s.shape.clone(),
            data: s.slot.of(params).to_vec(),
        })
        .collect()
}

fn prefixed(prefix: &str, name: &str) -> String {
    if prefix.is_empty() {
        name.to_string()
    } else {
        format!("{prefix}.{name}")
    }
}

/// Optimizer statistics, one tensor per (buffer, parameter): `optim.exp_avg.lstm.weight_ih`.
pub fn optimizer_tensors(
    prefix: &str,
    layout: &ParamLayout,
    state: &OptimizerState,
) -> Vec<Tensor> {
    let mut out = Vec::new();
    for (buffer, data) in &state.buffers {
        out.extend(param_tensors(&format!("{prefix}.{buffer}"), layout, data));
    }
    out
}

/// The flat parameter vector of `layout` from tensors named `prefix.<name>`.
pub fn load_params(
    ckpt: &Checkpoint,
    layout: &ParamLayout,
    prefix: &str,
    path: &Path,
) -> Result<Vec<f32>, CheckpointError> {
    let mut flat = layout.zeros();
    for s in layout.specs() {
        let name = prefixed(prefix, &s.name);
        let t = ckpt.tensor(&name).ok_or_else(|| CheckpointError::Corrupt {
            path: path.to_path_buf(),
            reason: format!("tensor `{name}` is missing"),
        })?;
        if t.data.len() != s.slot.len() {
            return Err(CheckpointError::Corrupt {
                path: path.to_path_buf(),
                reason: format!(
                    "tensor `{name}` has {} values, expected {}",
                    t.data.len(),
                    s.slot.len()
                ),
            });
        }
        if let Some(i) = t.data.iter().position(|v| !v.is_finite()) {
            return Err(CheckpointError::Corrupt {
                path: path.to_path_buf(),
                reason: format!(
                    "tensor `{name}` holds {} at index {i}, not a finite number",
                    t.data[i]
                ),
            });
        }
        s.slot.of_mut(&mut flat).copy_from_slice(&t.data);
    }
    Ok(flat)
}

/// Optimizer `prefix` with the buffers `buffer_names`, at step `step`.
pub fn load_optimizer(
    ckpt: &Checkpoint,
    layout: &ParamLayout,
    prefix: &str,
    kind: &str,
    step: u64,
    buffer_names: &[String],
    path: &Path,
) -> Result<OptimizerState, CheckpointError> {
    let mut buffers = Vec::new();
    for b in buffer_names {
        buffers.push((
            b.clone(),
            load_params(ckpt, layout, &format!("{prefix}.{b}"), path)?,
        ));
    }
    Ok(OptimizerState {
        kind: kind.to_string(),
        step,
        buffers,
    })
}

/// Writes a checkpoint whose parameters are checked to be finite first: a non-finite
/// parameter never overwrites a good checkpoint.
pub fn save_checkpoint(
    path: &Path,
    layout: &ParamLayout,
    params: &[f32],
    extra: Vec<Tensor>,
    state: &RunState,
) -> Result<(), TrainError> {
    save_checkpoint_unless_unchanged(path, layout, params, extra, state, &mut None)
}

/// [`save_checkpoint`] that writes nothing when the bytes equal `previous`
/// ([`Checkpoint::save_unless_unchanged`]).
pub fn save_checkpoint_unless_unchanged(
    path: &Path,
    layout: &ParamLayout,
    params: &[f32],
    extra: Vec<Tensor>,
    state: &RunState,
    previous: &mut Option<Vec<u8>>,
) -> Result<(), TrainError> {
    if let Some(i) = params.iter().position(|v| !v.is_finite()) {
        return Err(TrainError::Policy(format!(
            "refusing to save a checkpoint with a non-finite parameter (index {i}); the previous checkpoint is kept"
        )));
    }
    let mut tensors = param_tensors("", layout, params);
    tensors.extend(extra);
    let meta = Meta::new(
        layout.signature(),
        serde_json::to_value(state)
            .map_err(|e| TrainError::Policy(format!("cannot serialise run state: {e}")))?,
    );
    Checkpoint { tensors, meta }.save_unless_unchanged(path, previous)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Checkpoint {
        Checkpoint {
            tensors: vec![
                Tensor {
                    name: "a.weight".into(),
                    shape: vec![2, 3],
                    data: vec![1.0, -2.0, 3.5, 0.0, 1e-8, f32::MAX],
                },
                Tensor {
                    name: "b".into(),
                    shape: vec![1],
                    data: vec![0.25],
                },
            ],
            meta: Meta::new(
                "a.weight:2x3;b:1".into(),
                serde_json::json!({"env_steps": 42}),
            ),
        }
    }

    #[test]
    fn an_unchanged_checkpoint_is_not_written_again() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("latest.safetensors");
        let mut previous = None;
        sample()
            .save_unless_unchanged(&path, &mut previous)
            .unwrap();
        assert!(previous.is_some());
        // Same bytes: nothing written (a removed side file would have come back).
        fs::write(path.with_extension("json"), b"marker").unwrap();
        sample()
            .save_unless_unchanged(&path, &mut previous)
            .unwrap();
        assert_eq!(fs::read(path.with_extension("json")).unwrap(), b"marker");
        // Other bytes, or a missing file: written.
        let mut other = sample();
        other.tensors[1].data[0] = 0.5;
        other.save_unless_unchanged(&path, &mut previous).unwrap();
        assert_eq!(Checkpoint::load(&path).unwrap().tensors[1].data, vec![0.5]);
        fs::remove_file(path.with_extension("json")).unwrap();
        other.save_unless_unchanged(&path, &mut previous).unwrap();
        assert!(path.with_extension("json").exists());
    }

    #[test]
    fn round_trip_is_exact_and_deterministic() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("latest.safetensors");
        let ckpt = sample();
        ckpt.save(&path).unwrap();
        let first = fs::read(&path).unwrap();
        let back = Checkpoint::load(&path).unwrap();
        assert_eq!(back, ckpt);
        ckpt.save(&path).unwrap();
        assert_eq!(
            fs::read(&path).unwrap(),
            first,
            "same content must give the same bytes"
        );
        assert!(path.with_extension("json").exists());
        let leftovers: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .file_name()
                    .to_string_lossy()
                    .ends_with(".tmp")
            })
            .collect();
        assert!(leftovers.is_empty(), "temporary files left behind");
    }

    #[test]
    fn corrupt_file_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("latest.safetensors");
        sample().save(&path).unwrap();
        let mut bytes = fs::read(&path).unwrap();
        bytes.truncate(bytes.len() - 7);
        fs::write(&path, &bytes).unwrap();
        let err = Checkpoint::load(&path).unwrap_err();
        assert!(matches!(err, CheckpointError::Corrupt { .. }), "{err}");
        fs::write(&path, b"not a checkpoint").unwrap();
        assert!(matches!(
            Checkpoint::load(&path).unwrap_err(),
            CheckpointError::Corrupt { .. }
        ));
        let missing = dir.path().join("nope.safetensors");
        assert!(matches!(
            Checkpoint::load(&missing).unwrap_err(),
            CheckpointError::NotFound(_)
        ));
    }

    #[test]
    fn other_version_and_architecture_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.safetensors");
        let mut ckpt = sample();
        ckpt.meta.engram_version = "0.0.1".into();
        ckpt.save(&path).unwrap();
        let err = Checkpoint::load(&path).unwrap_err().to_string();
        assert!(err.contains("engram 0.0.1"), "{err}");
        let ok = sample();
        let err = ok
            .check_architecture("lstm.weight_ih:256x4", &path)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("another architecture") && err.contains("lstm.weight_ih:256x4"),
            "{err}"
        );
    }
}
