//! Configuration sections: plain, serialisable data, each validated on its own.
//!
//! A run's configuration is a flat table of keys (`--set clip_range=0.1`, a `--config` TOML
//! file, the run's `config.toml`), routed to the section that owns each key: [`CommonConfig`]
//! (what every run has), [`NetConfig`] (the network), [`ActorCriticConfig`] (the action
//! distribution of actor-critic policies), [`OptimConfig`] (the optimizer), [`TabularConfig`]
//! (step size and exploration of the sampling tabular methods) and the
//! algorithm's own `Config` beside its code in `algos/`. Each section deserialises with
//! `deny_unknown_fields`; which keys a section owns is read from its serde field list
//! ([`field_names`]), so a key is declared once, as a field, and documented once, in
//! [`keys::KEY_DOCS`].
//!
//! Layers of precedence, lowest first: the sections' defaults, the algorithm's tuned table
//! (`algos/tuned/*.toml`, rl-zoo style: `[defaults]`, then one table per environment), a
//! `--config FILE.toml`, `--set key=value` overrides, and the explicit flags.

pub mod common;
pub mod keys;
pub mod net;
pub mod optim;
pub mod tabular;

pub use crate::error::{invalid, ConfigError};
pub use common::CommonConfig;
pub use net::{
    Activation, ActorCriticConfig, DiscreteEncoding, EncoderKind, NetConfig, PolicyKind,
};
pub use optim::{OptimConfig, OptimizerKind, RmsPropStyle, ScheduleKind};
pub use tabular::{ExplorationKind, TabularConfig};

use serde::de::{self, DeserializeOwned, Visitor};
use serde::Serialize;
use std::fmt;

/// The keys of a section (every field, optional ones included), from its serde field list.
pub fn field_names<T: DeserializeOwned>() -> &'static [&'static str] {
    let mut fields = None;
    let _ = T::deserialize(FieldNames(&mut fields));
    fields.unwrap_or(&[])
}

/// A deserializer that only records the field list serde hands to `deserialize_struct`.
struct FieldNames<'a>(&'a mut Option<&'static [&'static str]>);

#[derive(Debug)]
struct Stop;

impl fmt::Display for Stop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("field names recorded")
    }
}

impl std::error::Error for Stop {}

impl de::Error for Stop {
    fn custom<T: fmt::Display>(_: T) -> Self {
        Stop
    }
}

impl<'de> de::Deserializer<'de> for FieldNames<'_> {
    type Error = Stop;

    fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Stop> {
        Err(Stop)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        _visitor: V,
    ) -> Result<V::Value, Stop> {
        *self.0 = Some(fields);
        Err(Stop)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct map enum identifier
        ignored_any
    }
}

/// A section as a TOML table (unset optional keys are absent).
pub fn to_table<T: Serialize>(section: &T) -> toml::Table {
    match toml::Value::try_from(section) {
        Ok(toml::Value::Table(t)) => t,
        // Sections are structs of plain values: they always serialise to a table.
        _ => toml::Table::new(),
    }
}

/// Overlays `overlay`'s keys on `section` (nested tables such as `env_options` are merged key
/// by key) and deserialises the result, so every value is type-checked; `origin` names where
/// the keys came from in errors.
pub fn merge_section<T: Serialize + DeserializeOwned>(
    section: &mut T,
    overlay: toml::Table,
    origin: &str,
) -> Result<(), ConfigError> {
    if overlay.is_empty() {
        return Ok(());
    }
    let mut base = to_table(section);
    for (key, value) in overlay {
        match (base.get_mut(&key), value) {
            (Some(toml::Value::Table(existing)), toml::Value::Table(new)) => existing.extend(new),
            (_, value) => {
                base.insert(key, value);
            }
        }
    }
    *section = toml::Value::Table(base)
        .try_into()
        .map_err(|e: toml::de::Error| ConfigError::Parse(format!("{origin}: {}", e.message())))?;
    Ok(())
}

/// Splits `key=value` into a one-key overlay table (`env_options.is_slippery=false` becomes
/// `env_options = { is_slippery = false }`). The value is read as TOML (numbers, booleans,
/// arrays), or as a plain string otherwise.
pub fn parse_assignment(assignment: &str) -> Result<toml::Table, ConfigError> {
    let (key, raw) = assignment
        .split_once('=')
        .ok_or_else(|| ConfigError::BadAssignment(assignment.to_string()))?;
    let key = key.trim();
    if key.is_empty() {
        return Err(ConfigError::BadAssignment(assignment.to_string()));
    }
    let value = parse_value(raw.trim());
    let mut overlay = toml::Table::new();
    match key.split_once('.') {
        Some(("env_options", option)) => {
            let mut options = toml::Table::new();
            options.insert(option.to_string(), value);
            overlay.insert("env_options".into(), toml::Value::Table(options));
        }
        Some(_) => {
            return Err(invalid(
                key,
                "only `env_options.<name>` keys may contain a dot",
            ));
        }
        None => {
            overlay.insert(key.to_string(), value);
        }
    }
    Ok(overlay)
}

fn parse_value(raw: &str) -> toml::Value {
    // `toml` parses documents, not bare values: wrap it in one.
    toml::from_str::<toml::Table>(&format!("v = {raw}"))
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(raw.to_string()))
}

/// Reads a TOML file as a table.
pub fn read_table(path: &std::path::Path) -> Result<toml::Table, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
        path: path.display().to_string(),
        source,
    })?;
    toml::from_str(&text)
        .map_err(|e| ConfigError::Parse(format!("{}: {}", path.display(), e.message())))
}

/// Checks shared by the sections' `validate`: each error names the key and the valid range.
pub mod check {
    use super::{invalid, ConfigError};

    pub fn positive(key: &str, v: f64) -> Result<(), ConfigError> {
        if v.is_finite() && v > 0.0 {
            Ok(())
        } else {
            Err(invalid(key, format!("must be a positive number, got {v}")))
        }
    }

    pub fn non_negative(key: &str, v: f64) -> Result<(), ConfigError> {
        if v.is_finite() && v >= 0.0 {
            Ok(())
        } else {
            Err(invalid(key, format!("must be zero or positive, got {v}")))
        }
    }

    /// `v` in [0, 1] (`open_low`: (0, 1]).
    pub fn unit(key: &str, v: f64, open_low: bool) -> Result<(), ConfigError> {
        let ok = if open_low {
            v > 0.0 && v <= 1.0
        } else {
            (0.0..=1.0).contains(&v)
        };
        if ok {
            Ok(())
        } else {
            let range = if open_low { "(0, 1]" } else { "[0, 1]" };
            Err(invalid(key, format!("must be in {range}, got {v}")))
        }
    }

    pub fn at_least_one(key: &str, v: usize) -> Result<(), ConfigError> {
        if v >= 1 {
            Ok(())
        } else {
            Err(invalid(key, "must be at least 1"))
        }
    }

    /// `v` in `1..=max`; `max` is a documented cap (memory, threads) named in the message.
    pub fn count(key: &str, v: usize, max: usize, why: &str) -> Result<(), ConfigError> {
        at_least_one(key, v)?;
        if v > max {
            return Err(invalid(
                key,
                format!("must be at most {max} ({why}), got {v}"),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_names_include_optional_fields() {
        let names = field_names::<CommonConfig>();
        assert!(names.contains(&"env") && names.contains(&"env_options"));
        assert!(field_names::<OptimConfig>().contains(&"learning_rate"));
    }

    #[test]
    fn assignments_parse_typed_values_and_env_options() {
        let t = parse_assignment("learning_rate=1e-3").unwrap();
        assert_eq!(t["learning_rate"], toml::Value::Float(1e-3));
        let t = parse_assignment("encoder_layers=[32, 32]").unwrap();
        assert_eq!(t["encoder_layers"].as_array().map(|a| a.len()), Some(2));
        let t = parse_assignment("env_options.map_name=8x8").unwrap();
        assert_eq!(
            t["env_options"]["map_name"],
            toml::Value::String("8x8".into())
        );
        assert!(parse_assignment("novalue").is_err());
        assert!(parse_assignment("a.b=1").is_err());
    }
}
