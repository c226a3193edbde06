//! numpy `Generator` methods that POPGym calls and the shared [`EnvRng`] does not provide:
//! array draws (`integers(n, size=k)`, `random(k, dtype=float32)`, `normal(loc, scale_array)`)
//! and `choice(n, size=k, replace=False)`. Each generates exactly as numpy 2.x does (except
//! `normal`, whose generator is not ported) and, in replay mode, hands out the recorded array.

use crate::rng::{Draw, EnvRng};
use serde_json::{json, Value};

impl EnvRng {
    /// `integers(low, high, size=out.len())`: numpy fills arrays with the same bounded draw as
    /// scalars, one after another.
    pub fn integers_fill(&mut self, low: i64, high: i64, out: &mut [i64]) {
        if self.is_injecting() {
            if let Some(d) = self.popgym_injected("integers") {
                if let Some(values) = ints_of(&d.result, out.len()) {
                    out.copy_from_slice(&values);
                    return;
                }
                self.popgym_fail(format!(
                    "recorded draw {d} does not hold {} integers",
                    out.len()
                ));
            }
            out.fill(low);
            return;
        }
        let range = (high - low - 1).max(0) as u64;
        for o in out.iter_mut() {
            *o = low + self.bit_generator().bounded(range) as i64;
        }
        self.popgym_record(|| {
            draw(
                "integers",
                json!([low, high]),
                json!({"size": out.len()}),
                json!(out),
            )
        });
    }

    /// `random(out.len(), dtype=np.float32)`: 24 random bits per value (`next_uint32 >> 8`).
    pub fn random_f32_fill(&mut self, out: &mut [f32]) {
        if self.is_injecting() {
            if let Some(d) = self.popgym_injected("random") {
                if let Some(values) = floats_of(&d.result, out.len()) {
                    for (o, v) in out.iter_mut().zip(values) {
                        *o = v as f32;
                    }
                    return;
                }
                self.popgym_fail(format!(
                    "recorded draw {d} does not hold {} floats",
                    out.len()
                ));
            }
            out.fill(0.0);
            return;
        }
        for o in out.iter_mut() {
            *o = (self.bit_generator().next_u32() >> 8) as f32 * (1.0 / 16_777_216.0);
        }
        self.popgym_record(|| {
            // As the golden files print float32: 9 significant digits (round-trips exactly).
            let values: Vec<f64> = out
                .iter()
                .map(|&v| format!("{:.8e}", v as f64).parse().unwrap_or(f64::NAN))
                .collect();
            draw(
                "random",
                json!([out.len()]),
                json!({"dtype": "float32"}),
                json!(values),
            )
        });
    }

    /// `choice(arange(population), size=out.len(), replace=False)`: numpy's Floyd sampling
    /// (each `j` in `population-k..population` draws from `[0, j]`, taking `j` itself on a
    /// repeat), then a Fisher-Yates shuffle of the sample with bounded draws.
    pub fn choice_without_replacement(&mut self, population: usize, out: &mut [i64]) {
        assert!(
            out.len() <= population,
            "cannot choose {} of {population} without replacement",
            out.len()
        );
        if self.is_injecting() {
            if let Some(d) = self.popgym_injected("choice") {
                match ints_of(&d.result, out.len()) {
                    Some(values)
                        if values.iter().all(|&v| v >= 0 && (v as usize) < population)
                            && (1..values.len()).all(|i| !values[..i].contains(&values[i])) =>
                    {
                        out.copy_from_slice(&values);
                        return;
                    }
                    _ => self.popgym_fail(format!(
                        "recorded draw {d} is not {} distinct values below {population}",
                        out.len()
                    )),
                }
            }
            for (i, o) in out.iter_mut().enumerate() {
                *o = i as i64;
            }
            return;
        }
        let size = out.len();
        for (slot, j) in (population - size..population).enumerate() {
            let val = self.bit_generator().bounded(j as u64) as i64;
            out[slot] = if out[..slot].contains(&val) {
                j as i64
            } else {
                val
            };
        }
        for i in (1..size).rev() {
            let j = self.bit_generator().bounded(i as u64) as usize;
            out.swap(i, j);
        }
        self.popgym_record(|| {
            let items: Vec<usize> = (0..population).collect();
            draw(
                "choice",
                json!([items]),
                json!({"size": size, "replace": false}),
                json!(out),
            )
        });
    }

    /// `normal(loc, [scale] * out.len())`: one draw per component. Replays exactly; generated
    /// values come from [`EnvRng::normal`] (not numpy's ziggurat).
    pub fn normal_fill(&mut self, loc: f64, scale: f64, out: &mut [f64]) {
        if self.is_injecting() {
            if let Some(d) = self.popgym_injected("normal") {
                if let Some(values) = floats_of(&d.result, out.len()) {
                    out.copy_from_slice(&values);
                    return;
                }
                self.popgym_fail(format!(
                    "recorded draw {d} does not hold {} floats",
                    out.len()
                ));
            }
            out.fill(loc);
            return;
        }
        for o in out.iter_mut() {
            *o = self.normal(loc, scale);
        }
    }
}

fn draw(method: &str, args: Value, kwargs: Value, result: Value) -> Draw {
    Draw {
        method: method.to_string(),
        args,
        kwargs,
        result,
    }
}

fn ints_of(v: &Value, n: usize) -> Option<Vec<i64>> {
    let a = v.as_array().filter(|a| a.len() == n)?;
    a.iter().map(Value::as_i64).collect()
}

fn floats_of(v: &Value, n: usize) -> Option<Vec<f64>> {
    let a = v.as_array().filter(|a| a.len() == n)?;
    a.iter().map(Value::as_f64).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    // Expected values are the draws POPGym made right after `reset(seed=0)` (golden files).

    #[test]
    fn integers_fill_matches_numpy() {
        // popgym-BattleshipEasy-v0, seed 0: integers(8, size=2), integers(2, size=2), ...
        let mut rng = EnvRng::new(0);
        let mut out = [0i64; 2];
        rng.integers_fill(0, 8, &mut out);
        assert_eq!(out, [6, 5]);
        rng.integers_fill(0, 2, &mut out);
        assert_eq!(out, [1, 0]);
        rng.integers_fill(0, 8, &mut out);
        assert_eq!(out, [2, 0]);
    }

    #[test]
    fn random_f32_fill_matches_numpy() {
        // popgym-MultiarmedBanditEasy-v0, seed 0: random(10, dtype=float32).
        let mut rng = EnvRng::new(0);
        let mut out = [0f32; 10];
        rng.random_f32_fill(&mut out);
        // As printed in the file (9 significant digits, which round-trip float32).
        let expected: [f64; 10] = [
            0.850624204,
            0.636961639,
            0.511136472,
            0.269786656,
            0.30782938,
            0.0409734845,
            0.0752401352,
            0.0165275931,
            0.175267279,
            0.813270211,
        ];
        let expected = expected.map(|v| v as f32);
        assert_eq!(out, expected);
    }

    #[test]
    fn choice_without_replacement_matches_numpy() {
        // popgym-MineSweeperEasy-v0: seed 0 -> [12, 10]; seed 1000 -> [3, 8].
        let mut out = [0i64; 2];
        EnvRng::new(0).choice_without_replacement(16, &mut out);
        assert_eq!(out, [12, 10]);
        EnvRng::new(1000).choice_without_replacement(16, &mut out);
        assert_eq!(out, [3, 8]);
    }

    #[test]
    fn replayed_arrays_are_handed_out() {
        let mut rng = EnvRng::new(0);
        rng.inject([draw(
            "integers",
            json!([8]),
            json!({"size": 2}),
            json!([7, 1]),
        )]);
        let mut out = [0i64; 2];
        rng.integers_fill(0, 8, &mut out);
        assert_eq!(out, [7, 1]);
        assert!(rng.finish_injected().is_ok());
        rng.inject([draw("choice", json!([]), json!({}), json!([3, 3]))]);
        rng.choice_without_replacement(16, &mut out);
        assert!(
            rng.finish_injected().is_err(),
            "a repeated value must be refused"
        );
    }
}
