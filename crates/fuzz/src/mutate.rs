//! The checkpoint mutator: turns a valid checkpoint into a damaged or subtly wrong one.
//!
//! Byte-level damage (bit flips, truncation, stray bytes, a wrong header length) tests the
//! safetensors framing; header edits (dtypes, shapes and offsets that disagree with the data)
//! test its validation; and semantic edits re-encoded into a well-formed file (tensors
//! renamed, dropped or reshaped, non-finite weights, any value of the run state replaced by
//! one of the wrong type or range, version strings) test what engram does with a checkpoint
//! that reads but should not be trusted. One to three mutations are stacked per case.

use engram::runtime::Checkpoint;
use rand::seq::SliceRandom;
use rand::Rng;
use serde_json::{json, Value};
use std::path::Path;

/// A mutated copy of `original` (the bytes of a checkpoint).
pub fn mutate(original: &[u8], rng: &mut impl Rng) -> Vec<u8> {
    let rounds = if rng.gen_bool(0.7) {
        1
    } else {
        rng.gen_range(2..=3)
    };
    let mut bytes = original.to_vec();
    for _ in 0..rounds {
        // Semantic edits most often: framing damage is refused at the first check, and the
        // layers behind it (config, architecture, state) are where the subtle cases are.
        bytes = match rng.gen_range(0..20) {
            0..=1 => flip_bits(bytes, rng),
            2 => truncate(bytes, rng),
            3 => insert_bytes(bytes, rng),
            4 => header_length(bytes, rng),
            5..=7 => edit_header(&bytes, rng).unwrap_or_else(|| flip_bits(bytes, rng)),
            _ => edit_checkpoint(&bytes, rng).unwrap_or_else(|| flip_bits(bytes, rng)),
        };
    }
    bytes
}

fn flip_bits(mut bytes: Vec<u8>, rng: &mut impl Rng) -> Vec<u8> {
    if bytes.is_empty() {
        return bytes;
    }
    for _ in 0..rng.gen_range(1..=8) {
        let i = rng.gen_range(0..bytes.len());
        bytes[i] ^= 1 << rng.gen_range(0..8);
    }
    bytes
}

fn truncate(mut bytes: Vec<u8>, rng: &mut impl Rng) -> Vec<u8> {
    let keep = rng.gen_range(0..=bytes.len());
    bytes.truncate(keep);
    bytes
}

fn insert_bytes(mut bytes: Vec<u8>, rng: &mut impl Rng) -> Vec<u8> {
    let at = rng.gen_range(0..=bytes.len());
    let extra: Vec<u8> = (0..rng.gen_range(1..64)).map(|_| rng.gen()).collect();
    bytes.splice(at..at, extra);
    bytes
}

fn header_length(mut bytes: Vec<u8>, rng: &mut impl Rng) -> Vec<u8> {
    if bytes.len() < 8 {
        return bytes;
    }
    let mut n = [0u8; 8];
    n.copy_from_slice(&bytes[..8]);
    let n = u64::from_le_bytes(n);
    let new = *[
        0,
        1,
        n.wrapping_sub(1),
        n.wrapping_add(1),
        n.wrapping_mul(2),
        u64::MAX,
        u64::MAX / 2,
        bytes.len() as u64,
        rng.gen(),
    ]
    .choose(rng)
    .unwrap_or(&0);
    bytes[..8].copy_from_slice(&new.to_le_bytes());
    bytes
}

/// Splits safetensors bytes into the header object and the data.
fn split(bytes: &[u8]) -> Option<(serde_json::Map<String, Value>, &[u8])> {
    let n = u64::from_le_bytes(bytes.get(..8)?.try_into().ok()?);
    let end = 8usize.checked_add(usize::try_from(n).ok()?)?;
    let header: Value = serde_json::from_slice(bytes.get(8..end)?).ok()?;
    match header {
        Value::Object(map) => Some((map, &bytes[end..])),
        _ => None,
    }
}

fn join(header: &serde_json::Map<String, Value>, data: &[u8]) -> Vec<u8> {
    let text = serde_json::to_vec(header).unwrap_or_default();
    let mut out = (text.len() as u64).to_le_bytes().to_vec();
    out.extend_from_slice(&text);
    out.extend_from_slice(data);
    out
}

/// Edits one tensor entry of the safetensors header, leaving the data as it is.
fn edit_header(bytes: &[u8], rng: &mut impl Rng) -> Option<Vec<u8>> {
    let (mut header, data) = split(bytes)?;
    let names: Vec<String> = header
        .keys()
        .filter(|k| *k != "__metadata__")
        .cloned()
        .collect();
    let name = names.choose(rng)?.clone();
    match rng.gen_range(0..7) {
        0 => {
            let dtype = [
                "F16", "BF16", "F64", "I32", "I64", "U8", "BOOL", "F8_E4M3", "Q4",
            ]
            .choose(rng)?;
            header[&name]["dtype"] = json!(dtype);
        }
        1 => {
            let shape = header[&name]["shape"].as_array_mut()?;
            let dim = json!(huge_or_small(rng));
            match rng.gen_range(0..3) {
                0 if !shape.is_empty() => {
                    let i = rng.gen_range(0..shape.len());
                    shape[i] = dim;
                }
                1 => shape.push(dim),
                _ => {
                    shape.pop();
                }
            }
        }
        2 => {
            let offsets = header[&name]["data_offsets"].as_array_mut()?;
            let i = rng.gen_range(0..offsets.len().max(1));
            if let Some(o) = offsets.get_mut(i) {
                *o = json!(huge_or_small(rng));
            }
        }
        3 => {
            header.remove(&name);
        }
        4 => {
            let other = names.choose(rng)?.clone();
            let entry = header.remove(&name)?;
            header.insert(other, entry);
        }
        5 => {
            let entry = header.get(&name)?.clone();
            header.insert(format!("{name}.copy"), entry);
        }
        _ => {
            let meta = header.get_mut("__metadata__")?.as_object_mut()?;
            match rng.gen_range(0..3) {
                0 => {
                    meta.remove("engram");
                }
                1 => {
                    meta.insert("engram".into(), json!("{not json"));
                }
                _ => {
                    meta.insert("engram".into(), json!(42));
                }
            }
        }
    }
    Some(join(&header, data))
}

fn huge_or_small(rng: &mut impl Rng) -> u64 {
    *[
        0u64,
        1,
        2,
        3,
        255,
        1 << 31,
        1 << 32,
        1 << 40,
        1 << 62,
        u64::MAX,
    ]
    .choose(rng)
    .unwrap_or(&0)
}

/// Decodes the checkpoint, changes its tensors or metadata, and encodes it again: a
/// well-formed file with wrong content.
fn edit_checkpoint(bytes: &[u8], rng: &mut impl Rng) -> Option<Vec<u8>> {
    let mut ckpt = Checkpoint::from_bytes(bytes, Path::new("mutated")).ok()?;
    match rng.gen_range(0..10) {
        0..=4 => mutate_json(&mut ckpt.meta.state, rng),
        5 => {
            let t = ckpt.tensors.choose_mut(rng)?;
            let special = [
                f32::NAN,
                f32::INFINITY,
                f32::NEG_INFINITY,
                f32::MAX,
                -f32::MAX,
                f32::MIN_POSITIVE / 2.0,
                -0.0,
                1e30,
            ];
            for _ in 0..rng.gen_range(1..4) {
                if t.data.is_empty() {
                    break;
                }
                let i = rng.gen_range(0..t.data.len());
                t.data[i] = *special.choose(rng)?;
            }
        }
        6 => {
            let i = rng.gen_range(0..ckpt.tensors.len().max(1));
            if i < ckpt.tensors.len() {
                ckpt.tensors.remove(i);
            }
        }
        7 => {
            // Same elements, another shape (a transposed weight), or fewer or more elements.
            let t = ckpt.tensors.choose_mut(rng)?;
            match rng.gen_range(0..3) {
                0 => t.shape.reverse(),
                1 => {
                    let keep = rng.gen_range(0..=t.data.len());
                    t.data.truncate(keep);
                    t.shape = vec![keep];
                }
                _ => {
                    t.data.extend(std::iter::repeat_n(0.5, rng.gen_range(1..9)));
                    t.shape = vec![t.data.len()];
                }
            }
        }
        8 => {
            let t = ckpt.tensors.choose(rng)?.clone();
            let other = ckpt.tensors.choose_mut(rng)?;
            let name = other.name.clone();
            *other = t;
            other.name = name;
        }
        _ => {
            let field = match rng.gen_range(0..3) {
                0 => &mut ckpt.meta.format,
                1 => &mut ckpt.meta.engram_version,
                _ => &mut ckpt.meta.architecture,
            };
            *field = random_string(field, rng);
        }
    }
    ckpt.to_bytes().ok()
}

fn random_string(old: &str, rng: &mut impl Rng) -> String {
    match rng.gen_range(0..4) {
        0 => String::new(),
        1 => format!("{old}x"),
        2 => old.chars().rev().collect(),
        _ => old.replace(|c: char| c.is_ascii_digit(), "9"),
    }
}

/// Replaces, removes or resizes one value somewhere in a JSON document: a checkpoint's run
/// state (its config half the time: it decides the network and the run), a trajectory file.
pub fn mutate_json(state: &mut Value, rng: &mut impl Rng) {
    let mut paths = Vec::new();
    collect_paths(state, String::new(), &mut paths);
    let in_config: Vec<&String> = paths.iter().filter(|p| p.starts_with("/config/")).collect();
    let path = if !in_config.is_empty() && rng.gen_bool(0.5) {
        in_config.choose(rng).map(|p| (*p).clone())
    } else {
        paths.choose(rng).cloned()
    };
    let Some(path) = path else { return };
    if rng.gen_ratio(1, 6) {
        if let Some((parent, key)) = path.rsplit_once('/') {
            match state.pointer_mut(parent) {
                Some(Value::Object(map)) => {
                    map.remove(key);
                }
                Some(Value::Array(items)) => {
                    if let Ok(i) = key.parse::<usize>() {
                        if i < items.len() {
                            items.remove(i);
                        }
                    }
                }
                _ => {}
            }
        }
        return;
    }
    let Some(slot) = state.pointer_mut(&path) else {
        return;
    };
    let new = match rng.gen_range(0..18) {
        0 => Value::Null,
        1 => json!(true),
        2 => json!(-1),
        3 => json!(0),
        4 => json!(1),
        5 => json!(9_007_199_254_740_993u64),
        6 => json!(u64::MAX),
        7 => json!(i64::MIN),
        8 => json!(1e308),
        9 => json!(-1e308),
        10 => json!(0.5),
        11 => json!(""),
        12 => json!("cartpole"),
        13 => json!([]),
        14 => json!({}),
        15 => json!([1, 2, 3]),
        16 => match &*slot {
            Value::Number(n) => json!(n.as_f64().unwrap_or(0.0) * 1000.0 + 1.0),
            Value::Array(items) => {
                let mut grown = items.clone();
                grown.extend(items.iter().cloned());
                Value::Array(grown)
            }
            other => other.clone(),
        },
        _ => match &*slot {
            Value::Number(n) => json!(-(n.as_f64().unwrap_or(0.0))),
            Value::Array(items) => Value::Array(items.iter().take(1).cloned().collect()),
            Value::String(s) => json!(random_string(s, rng)),
            other => other.clone(),
        },
    };
    *slot = new;
}

fn collect_paths(value: &Value, at: String, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                let p = format!("{at}/{}", k.replace('~', "~0").replace('/', "~1"));
                out.push(p.clone());
                collect_paths(v, p, out);
            }
        }
        Value::Array(items) => {
            // Long arrays (replay buffers, action histories) are sampled, not listed whole.
            let step = (items.len() / 16).max(1);
            for (i, v) in items.iter().enumerate().step_by(step) {
                let p = format!("{at}/{i}");
                out.push(p.clone());
                collect_paths(v, p, out);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn mutations_change_the_bytes_and_some_still_parse() {
        let ckpt = Checkpoint {
            tensors: vec![engram::runtime::checkpoint::Tensor {
                name: "w".into(),
                shape: vec![2, 2],
                data: vec![1.0, 2.0, 3.0, 4.0],
            }],
            meta: engram::runtime::checkpoint::Meta::new(
                "w:2x2".into(),
                json!({"config": {"seed": 3, "algo": "a2c"}, "monitor": {"steps": [1, 2]}}),
            ),
        };
        let bytes = ckpt.to_bytes().unwrap();
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let (mut changed, mut parsed) = (0, 0);
        for _ in 0..500 {
            let m = mutate(&bytes, &mut rng);
            changed += usize::from(m != bytes);
            parsed += usize::from(Checkpoint::from_bytes(&m, Path::new("m")).is_ok());
        }
        // Most mutations change something; a good share still reads (semantic edits), so
        // that the layers behind the framing get exercised too.
        assert!(changed > 450, "{changed}");
        assert!(parsed > 150 && parsed < 475, "{parsed}");
    }
}
