//! TensorBoard event files: `tb/events.out.tfevents.<unix secs>.<host>` in the run directory,
//! holding every row of metrics.csv and evals.csv as scalars at step = env steps, under the
//! tags SB3 and CleanRL use, so that `tensorboard --logdir runs` shows engram runs beside
//! theirs. Written as training goes (each row is flushed), so a user can watch a run live.
//!
//! | column | tag |
//! |---|---|
//! | metrics.csv `mean_return`, `mean_length` | `rollout/ep_rew_mean`, `rollout/ep_len_mean` |
//! | `steps_per_second`, `wall_seconds`, `episodes` | `time/fps`, `time/time_elapsed`, `time/episodes` |
//! | `updates` | `train/n_updates` |
//! | an algorithm's `entropy` | `train/entropy_loss`, negated (SB3 logs minus the entropy) |
//! | an algorithm's `exploration_rate` | `rollout/exploration_rate` |
//! | any other algorithm metric `x` | `train/x` |
//! | evals.csv `mean_return`, `std_return`, `episodes` | `eval/mean_reward`, `eval/std_reward`, `eval/episodes` |
//!
//! The format: TFRecord framing (u64 length, masked CRC32C of the length, the data, masked
//! CRC32C of the data) around `Event` protocol buffers. The three messages engram needs are
//! written by hand here (a few lines) rather than through a protobuf code generator and the
//! TensorFlow `.proto` files, which would add a build step and dependencies for 5 fields:
//!
//! ```text
//! Event   { double wall_time = 1; int64 step = 2; string file_version = 3; Summary summary = 5; }
//! Summary { repeated Value value = 1; }
//! Value   { string tag = 1; float simple_value = 2; }
//! ```

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

/// The folder in the run directory.
pub const DIR: &str = "tb";

/// The tag and the sign of an algorithm's metric.
pub fn metric_tag(name: &str) -> (String, f64) {
    match name {
        "entropy" => ("train/entropy_loss".into(), -1.0),
        "exploration_rate" => ("rollout/exploration_rate".into(), 1.0),
        _ => (format!("train/{name}"), 1.0),
    }
}

/// Writes one event file.
pub struct EventWriter {
    file: File,
    buffer: Vec<u8>,
    path: PathBuf,
}

impl EventWriter {
    /// Creates `run_dir/tb/events.out.tfevents.<secs>.<host>` (a resumed run adds a file: the
    /// reader orders them by name and drops the steps a resume played again) and writes the
    /// file-version event.
    pub fn create(run_dir: &Path) -> io::Result<EventWriter> {
        let dir = run_dir.join(DIR);
        fs::create_dir_all(&dir)?;
        let secs = unix_now() as u64;
        let host = hostname();
        let mut n = 0;
        let (file, path) = loop {
            let name = match n {
                0 => format!("events.out.tfevents.{secs}.{host}"),
                n => format!("events.out.tfevents.{secs}.{host}.{n}"),
            };
            let path = dir.join(name);
            match OpenOptions::new().write(true).create_new(true).open(&path) {
                Ok(file) => break (file, path),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists && n < 1000 => n += 1,
                Err(e) => return Err(e),
            }
        };
        let mut writer = EventWriter {
            file,
            buffer: Vec::new(),
            path,
        };
        let mut event = Vec::new();
        put_double(&mut event, 1, unix_now());
        put_bytes(&mut event, 3, b"brain.Event:2");
        writer.record(&event);
        writer.flush()?;
        Ok(writer)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Buffers one event holding `values` (tag, value) at `step`; non-finite values are
    /// written as they are (TensorBoard shows them), `None`s are left out.
    pub fn scalars<'a>(&mut self, step: u64, values: impl IntoIterator<Item = (&'a str, f64)>) {
        let mut summary = Vec::new();
        for (tag, value) in values {
            let mut v = Vec::new();
            put_bytes(&mut v, 1, tag.as_bytes());
            put_key(&mut v, 2, 5);
            v.extend_from_slice(&(value as f32).to_le_bytes());
            put_bytes(&mut summary, 1, &v);
        }
        let mut event = Vec::new();
        put_double(&mut event, 1, unix_now());
        put_key(&mut event, 2, 0);
        put_varint(&mut event, step);
        put_bytes(&mut event, 5, &summary);
        self.record(&event);
    }

    /// Writes the buffered events in one call.
    pub fn flush(&mut self) -> io::Result<()> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        let result = self.file.write_all(&self.buffer);
        self.buffer.clear();
        result
    }

    /// Frames one record: length, its masked CRC, the data, its masked CRC.
    fn record(&mut self, data: &[u8]) {
        let len = (data.len() as u64).to_le_bytes();
        self.buffer.extend_from_slice(&len);
        self.buffer
            .extend_from_slice(&masked_crc32c(&len).to_le_bytes());
        self.buffer.extend_from_slice(data);
        self.buffer
            .extend_from_slice(&masked_crc32c(data).to_le_bytes());
    }
}

impl Drop for EventWriter {
    fn drop(&mut self) {
        let _ = self.flush();
    }
}

fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// The machine's name for the file name (as TensorFlow writers do), reduced to characters safe
/// in a file name.
fn hostname() -> String {
    let raw = fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .or_else(|| std::env::var("COMPUTERNAME").ok())
        .unwrap_or_default();
    let name: String = raw
        .trim()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        .collect();
    if name.is_empty() {
        "localhost".into()
    } else {
        name
    }
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// A field's key: its number and wire type (0 varint, 1 fixed64, 2 length-delimited, 5 fixed32).
fn put_key(out: &mut Vec<u8>, field: u64, wire_type: u64) {
    put_varint(out, field << 3 | wire_type);
}

fn put_double(out: &mut Vec<u8>, field: u64, v: f64) {
    put_key(out, field, 1);
    out.extend_from_slice(&v.to_le_bytes());
}

fn put_bytes(out: &mut Vec<u8>, field: u64, bytes: &[u8]) {
    put_key(out, field, 2);
    put_varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

/// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), one table lookup per byte: event
/// files are small, a few kilobytes per log interval.
pub fn crc32c(data: &[u8]) -> u32 {
    const TABLE: [u32; 256] = {
        let mut table = [0u32; 256];
        let mut i = 0;
        while i < 256 {
            let mut c = i as u32;
            let mut k = 0;
            while k < 8 {
                c = if c & 1 != 0 {
                    (c >> 1) ^ 0x82F6_3B78
                } else {
                    c >> 1
                };
                k += 1;
            }
            table[i] = c;
            i += 1;
        }
        table
    };
    let mut crc = !0u32;
    for &b in data {
        crc = TABLE[((crc ^ b as u32) & 0xff) as usize] ^ (crc >> 8);
    }
    !crc
}

/// TFRecord's masked CRC (a CRC stored beside the data it covers is masked so that the CRC of
/// a record holding CRCs stays well distributed).
pub fn masked_crc32c(data: &[u8]) -> u32 {
    let crc = crc32c(data);
    (crc.rotate_right(15)).wrapping_add(0xa282_ead8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32c_matches_the_known_vectors() {
        // The check value of CRC-32C, and RFC 3720 (iSCSI) B.4.
        assert_eq!(crc32c(b"123456789"), 0xE306_9283);
        assert_eq!(crc32c(&[0u8; 32]), 0x8A91_36AA);
        assert_eq!(crc32c(&[0xffu8; 32]), 0x62A8_AB43);
        let ascending: Vec<u8> = (0..32).collect();
        assert_eq!(crc32c(&ascending), 0x46DD_794E);
        assert_eq!(crc32c(b""), 0);
    }

    /// Reads the records of an event file back, checking both CRCs of each.
    fn records(bytes: &[u8]) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        let mut at = 0;
        while at < bytes.len() {
            let len_bytes = &bytes[at..at + 8];
            let len = u64::from_le_bytes(len_bytes.try_into().unwrap()) as usize;
            let len_crc = u32::from_le_bytes(bytes[at + 8..at + 12].try_into().unwrap());
            assert_eq!(len_crc, masked_crc32c(len_bytes));
            let data = &bytes[at + 12..at + 12 + len];
            let data_crc =
                u32::from_le_bytes(bytes[at + 12 + len..at + 16 + len].try_into().unwrap());
            assert_eq!(data_crc, masked_crc32c(data));
            out.push(data.to_vec());
            at += 16 + len;
        }
        out
    }

    #[test]
    fn events_are_framed_records_of_hand_written_protobufs() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = EventWriter::create(dir.path()).unwrap();
        w.scalars(300, [("train/value_loss", 0.5), ("time/fps", 1e3)]);
        w.flush().unwrap();
        let path = w.path().to_path_buf();
        assert!(path
            .file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("events.out.tfevents."));
        assert_eq!(path.parent().unwrap(), dir.path().join(DIR));
        let recs = records(&fs::read(&path).unwrap());
        assert_eq!(recs.len(), 2);
        // Event 1: wall_time (field 1, fixed64), file_version (field 3).
        assert_eq!(recs[0][0], 0x09);
        assert_eq!(&recs[0][9..], b"\x1a\x0dbrain.Event:2");
        // Event 2: wall_time, step 300 (varint 0xac 0x02), summary with two values.
        let e = &recs[1];
        assert_eq!(&e[9..12], &[0x10, 0xac, 0x02]);
        assert_eq!(e[12], 0x2a);
        let summary = &e[14..];
        assert_eq!(e[13] as usize, summary.len());
        let mut first = vec![0x0a, 16 + 2 + 5];
        first.extend_from_slice(b"\x0a\x10train/value_loss\x15");
        first.extend_from_slice(&0.5f32.to_le_bytes());
        assert_eq!(&summary[..first.len()], &first[..]);
        let mut second = vec![0x0a, 8 + 2 + 5];
        second.extend_from_slice(b"\x0a\x08time/fps\x15");
        second.extend_from_slice(&1000f32.to_le_bytes());
        assert_eq!(&summary[first.len()..], &second[..]);
    }

    #[test]
    fn a_second_writer_in_the_same_second_gets_its_own_file() {
        let dir = tempfile::tempdir().unwrap();
        let a = EventWriter::create(dir.path()).unwrap();
        let b = EventWriter::create(dir.path()).unwrap();
        assert_ne!(a.path(), b.path());
    }
}
