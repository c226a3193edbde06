//! Checkpoints: tensors as safetensors (loadable with `safetensors.torch.load_file`), with
//! engram's JSON metadata (config, counters, RNG and wrapper state) in the safetensors header.
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
use std::sync::atomic::{AtomicU64, Ordering};

/// Bumped whenever the meaning of the stored tensors or metadata changes.
pub const FORMAT: &str = "engram-checkpoint/1";
const META_KEY: &str = "engram";

#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    #[error("no checkpoint at {0}")]
    NotFound(PathBuf),
    #[error("cannot read or write checkpoint {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("checkpoint {path} is corrupt ({reason}); use another checkpoint (e.g. best.safetensors) or start a new run")]
    Corrupt { path: PathBuf, reason: String },
    #[error(
        "checkpoint {path} was written by engram {found} (format {found_format}); this is engram {expected} \
         (format {FORMAT}): retrain, or use engram {found} to continue it"
    )]
    Version {
        path: PathBuf,
        found: String,
        found_format: String,
        expected: String,
    },
    #[error(
        "checkpoint {path} holds another architecture:\n  checkpoint: {found}\n  this model: {expected}\n\
         the config (policy, hidden_size, encoder_layers, env) must match the run that wrote it"
    )]
    Architecture {
        path: PathBuf,
        found: String,
        expected: String,
    },
}

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
        let bytes = self.to_bytes().map_err(|reason| CheckpointError::Corrupt {
            path: path.to_path_buf(),
            reason,
        })?;
        write_atomic(path, &bytes)?;
        let pretty = serde_json::to_vec_pretty(&self.meta).unwrap_or_default();
        write_atomic(&path.with_extension("json"), &pretty)
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
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), CheckpointError> {
    let io = |source| CheckpointError::Io {
        path: path.to_path_buf(),
        source,
    };
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    fs::create_dir_all(dir).map_err(io)?;
    let mut tmp_name = path
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    // Unique per write: several workers (and the evaluator) may save at the same moment.
    static WRITES: AtomicU64 = AtomicU64::new(0);
    let n = WRITES.fetch_add(1, Ordering::Relaxed);
    tmp_name.push(format!(".{}.{n}.tmp", std::process::id()));
    let tmp = dir.join(tmp_name);
    let result = (|| {
        let mut file = File::create(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        drop(file);
        fs::rename(&tmp, path)?;
        // Make the rename itself durable.
        if let Ok(d) = File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result.map_err(io)
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
