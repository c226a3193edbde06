//! The random source of environments: a port of numpy's `SeedSequence` + `PCG64` + the
//! `Generator` methods Gymnasium's environments call, and a replay mode that hands out recorded
//! draws instead.
//!
//! Gymnasium seeds `env.np_random = Generator(PCG64(SeedSequence(seed)))` on `reset(seed=...)`.
//! [`EnvRng::seed`] does the same, bit for bit, so `reset(Some(seed))` gives Gymnasium's very
//! first observation. The golden files record every draw as `[method, args, kwargs, result]`;
//! [`EnvRng::inject`] queues such draws so that an environment consumes them instead of its
//! generator, which proves the dynamics independently of the generator port.
//!
//! Draw methods never fail (they sit on stepping paths). In replay mode a draw that does not
//! match the queue (other method, queue exhausted, value not among the choices) records a
//! *sticky error*, returns a fallback value, and [`EnvRng::finish_injected`] reports it.

use serde_json::{json, Value};
use std::collections::VecDeque;

// ------------------------------------------------------------------------------ SeedSequence

const POOL_SIZE: usize = 4;
const INIT_A: u32 = 0x43b0_d7e5;
const MULT_A: u32 = 0x931e_8875;
const INIT_B: u32 = 0x8b51_f9dd;
const MULT_B: u32 = 0x58f3_8ded;
const MIX_MULT_L: u32 = 0xca01_f9dd;
const MIX_MULT_R: u32 = 0x4973_f715;
const XSHIFT: u32 = 16;

/// numpy's `SeedSequence(entropy)` (no spawn key, pool size 4): hashes the entropy words into a
/// 128-bit pool from which [`SeedSequence::generate_state`] derives seeding words.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SeedSequence {
    pool: [u32; POOL_SIZE],
}

fn hashmix(value: u32, hash_const: &mut u32) -> u32 {
    let mut v = value ^ *hash_const;
    *hash_const = hash_const.wrapping_mul(MULT_A);
    v = v.wrapping_mul(*hash_const);
    v ^ (v >> XSHIFT)
}

fn mix(x: u32, y: u32) -> u32 {
    let r = MIX_MULT_L
        .wrapping_mul(x)
        .wrapping_sub(MIX_MULT_R.wrapping_mul(y));
    r ^ (r >> XSHIFT)
}

impl SeedSequence {
    /// `SeedSequence(entropy)` for a non-negative integer entropy (split into 32-bit words,
    /// lowest first; 0 is one word).
    pub fn new(entropy: u128) -> Self {
        let mut words = [0u32; 4];
        let mut len = 0;
        let mut n = entropy;
        if n == 0 {
            len = 1;
        }
        while n > 0 {
            words[len] = n as u32;
            len += 1;
            n >>= 32;
        }
        Self::from_words(&words[..len])
    }

    /// `SeedSequence(entropy_words)` where the entropy is already a list of `u32` words.
    pub fn from_words(entropy: &[u32]) -> Self {
        let mut pool = [0u32; POOL_SIZE];
        let mut hash_const = INIT_A;
        for (i, slot) in pool.iter_mut().enumerate() {
            *slot = hashmix(entropy.get(i).copied().unwrap_or(0), &mut hash_const);
        }
        for src in 0..POOL_SIZE {
            for dst in 0..POOL_SIZE {
                if src != dst {
                    let h = hashmix(pool[src], &mut hash_const);
                    pool[dst] = mix(pool[dst], h);
                }
            }
        }
        for &word in entropy.iter().skip(POOL_SIZE) {
            for slot in pool.iter_mut() {
                let h = hashmix(word, &mut hash_const);
                *slot = mix(*slot, h);
            }
        }
        SeedSequence { pool }
    }

    /// `generate_state(n, np.uint32)`.
    pub fn generate_state_u32(&self, n_words: usize) -> Vec<u32> {
        let mut words = vec![0; n_words];
        self.fill_state_u32(&mut words);
        words
    }

    /// `generate_state(words.len(), np.uint32)` into `words`.
    fn fill_state_u32(&self, words: &mut [u32]) {
        let mut hash_const = INIT_B;
        for (i, word) in words.iter_mut().enumerate() {
            let mut v = self.pool[i % POOL_SIZE] ^ hash_const;
            hash_const = hash_const.wrapping_mul(MULT_B);
            v = v.wrapping_mul(hash_const);
            *word = v ^ (v >> XSHIFT);
        }
    }

    /// `generate_state(n, np.uint64)`: pairs of `u32` words, little-endian.
    pub fn generate_state_u64(&self, n_words: usize) -> Vec<u64> {
        self.generate_state_u32(2 * n_words)
            .chunks(2)
            .map(|w| w[0] as u64 | ((w[1] as u64) << 32))
            .collect()
    }
}

// ------------------------------------------------------------------------------------ PCG64

const PCG_MULT: u128 = (2549297995355413924u128 << 64) | 4865540595714422341u128;

/// numpy's `PCG64` bit generator: a 128-bit LCG with the XSL-RR output function, plus numpy's
/// buffered 32-bit half (`next_uint32` hands out the low then the high half of one output).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pcg64 {
    pub state: u128,
    pub inc: u128,
    has_uint32: bool,
    uinteger: u32,
}

impl Pcg64 {
    /// `PCG64(SeedSequence(seed))`.
    pub fn from_seed_sequence(seq: &SeedSequence) -> Self {
        // generate_state_u64(4) without its allocations (a tabular run reseeds every episode).
        let mut halves = [0u32; 8];
        seq.fill_state_u32(&mut halves);
        let w: [u64; 4] =
            std::array::from_fn(|i| halves[2 * i] as u64 | ((halves[2 * i + 1] as u64) << 32));
        let init_state = ((w[0] as u128) << 64) | w[1] as u128;
        let init_seq = ((w[2] as u128) << 64) | w[3] as u128;
        let mut rng = Pcg64 {
            state: 0,
            inc: (init_seq << 1) | 1,
            has_uint32: false,
            uinteger: 0,
        };
        rng.step();
        rng.state = rng.state.wrapping_add(init_state);
        rng.step();
        rng
    }

    #[inline]
    fn step(&mut self) {
        self.state = self.state.wrapping_mul(PCG_MULT).wrapping_add(self.inc);
    }

    /// `random_raw()`: one 64-bit output.
    #[inline]
    pub fn next_u64(&mut self) -> u64 {
        self.step();
        let s = self.state;
        let rot = (s >> 122) as u32;
        (((s >> 64) as u64) ^ (s as u64)).rotate_right(rot)
    }

    #[inline]
    pub fn next_u32(&mut self) -> u32 {
        if self.has_uint32 {
            self.has_uint32 = false;
            return self.uinteger;
        }
        let next = self.next_u64();
        self.has_uint32 = true;
        self.uinteger = (next >> 32) as u32;
        next as u32
    }

    /// `Generator.random()`: 53 random bits as a double in [0, 1).
    #[inline]
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / 9007199254740992.0)
    }

    /// numpy's bounded integer in `[0, rng]` (closed), Lemire's method: the 32-bit variant for
    /// ranges that fit, as `random_bounded_uint64_fill` does.
    pub fn bounded(&mut self, rng: u64) -> u64 {
        if rng == 0 {
            0
        } else if rng <= 0xFFFF_FFFF {
            if rng == 0xFFFF_FFFF {
                return self.next_u32() as u64;
            }
            let rng32 = rng as u32;
            let excl = rng32 + 1;
            let mut m = self.next_u32() as u64 * excl as u64;
            let mut leftover = m as u32;
            if leftover < excl {
                let threshold = (u32::MAX - rng32) % excl;
                while leftover < threshold {
                    m = self.next_u32() as u64 * excl as u64;
                    leftover = m as u32;
                }
            }
            m >> 32
        } else if rng == u64::MAX {
            self.next_u64()
        } else {
            let excl = rng + 1;
            let mut m = self.next_u64() as u128 * excl as u128;
            let mut leftover = m as u64;
            if leftover < excl {
                let threshold = (u64::MAX - rng) % excl;
                while leftover < threshold {
                    m = self.next_u64() as u128 * excl as u128;
                    leftover = m as u64;
                }
            }
            (m >> 64) as u64
        }
    }

    /// numpy's `random_interval(max)`: a masked rejection draw in `[0, max]`, used by `shuffle`.
    pub fn interval(&mut self, max: u64) -> u64 {
        if max == 0 {
            return 0;
        }
        let mut mask = max;
        for s in [1, 2, 4, 8, 16, 32] {
            mask |= mask >> s;
        }
        if max <= 0xFFFF_FFFF {
            loop {
                let v = self.next_u32() as u64 & mask;
                if v <= max {
                    return v;
                }
            }
        }
        loop {
            let v = self.next_u64() & mask;
            if v <= max {
                return v;
            }
        }
    }
}

// ------------------------------------------------------------------------------------ draws

/// One draw as the golden files record it: `[method, args, kwargs, result]`.
#[derive(Clone, Debug, PartialEq)]
pub struct Draw {
    pub method: String,
    pub args: Value,
    pub kwargs: Value,
    pub result: Value,
}

impl Draw {
    /// Parses a golden `rng` entry.
    pub fn from_json(v: &Value) -> Result<Draw, String> {
        let a = v.as_array().filter(|a| a.len() == 4).ok_or_else(|| {
            format!("an rng draw must be [method, args, kwargs, result], got {v}")
        })?;
        let method = a[0]
            .as_str()
            .ok_or_else(|| format!("rng draw method must be a string, got {}", a[0]))?;
        Ok(Draw {
            method: method.to_string(),
            args: a[1].clone(),
            kwargs: a[2].clone(),
            result: a[3].clone(),
        })
    }

    fn new(method: &str, args: Value, kwargs: Value, result: Value) -> Draw {
        Draw {
            method: method.to_string(),
            args,
            kwargs,
            result,
        }
    }
}

impl std::fmt::Display for Draw {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "[\"{}\", {}, {}, {}]",
            self.method, self.args, self.kwargs, self.result
        )
    }
}

/// Values that `choice` and `shuffle` can hand out: comparable with a recorded JSON value.
pub trait DrawValue: Copy {
    fn to_json(&self) -> Value;
    /// Whether the recorded value `v` denotes this item.
    fn matches(&self, v: &Value) -> bool;
}

impl DrawValue for i64 {
    fn to_json(&self) -> Value {
        json!(*self)
    }
    fn matches(&self, v: &Value) -> bool {
        v.as_i64() == Some(*self) || v.as_f64() == Some(*self as f64)
    }
}

impl DrawValue for usize {
    fn to_json(&self) -> Value {
        json!(*self)
    }
    fn matches(&self, v: &Value) -> bool {
        v.as_u64() == Some(*self as u64)
    }
}

impl DrawValue for f64 {
    fn to_json(&self) -> Value {
        json!(*self)
    }
    fn matches(&self, v: &Value) -> bool {
        v.as_f64().map(f64::to_bits) == Some(self.to_bits())
    }
}

impl DrawValue for bool {
    fn to_json(&self) -> Value {
        json!(*self)
    }
    fn matches(&self, v: &Value) -> bool {
        v.as_bool() == Some(*self) || v.as_i64() == Some(*self as i64)
    }
}

impl DrawValue for &'static str {
    fn to_json(&self) -> Value {
        json!(*self)
    }
    fn matches(&self, v: &Value) -> bool {
        v.as_str() == Some(*self)
    }
}

/// Numeric equality of two JSON values (ints and floats compare by value; arrays elementwise).
pub fn json_values_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_i64(), y.as_i64()) {
            (Some(i), Some(j)) => i == j,
            _ => x.as_f64().map(f64::to_bits) == y.as_f64().map(f64::to_bits),
        },
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| json_values_equal(p, q))
        }
        (Value::Bool(x), Value::Number(y)) | (Value::Number(y), Value::Bool(x)) => {
            y.as_i64() == Some(*x as i64)
        }
        _ => a == b,
    }
}

// ------------------------------------------------------------------------------------ EnvRng

/// The random source every environment draws from.
///
/// Normally a numpy `Generator(PCG64(...))`; optionally logs its draws (for checking them against
/// a recording) or hands out injected, recorded draws instead of generating them.
#[derive(Clone, Debug)]
pub struct EnvRng {
    gen: Pcg64,
    /// Recorded draws to hand out instead of generating (replay mode).
    injected: Option<VecDeque<Draw>>,
    /// Draws made so far, when logging is on.
    log: Option<Vec<Draw>>,
    /// First replay problem since the last [`EnvRng::finish_injected`].
    error: Option<String>,
    /// A draw was made with a method whose numpy algorithm is not ported bit-exactly.
    inexact: bool,
}

impl Default for EnvRng {
    /// Seeded from OS entropy, like Gymnasium's `np_random` before any `reset(seed=...)`.
    fn default() -> Self {
        Self::from_entropy()
    }
}

impl EnvRng {
    /// `Generator(PCG64(SeedSequence(seed)))`.
    pub fn new(seed: u64) -> Self {
        EnvRng {
            gen: Pcg64::from_seed_sequence(&SeedSequence::new(seed as u128)),
            injected: None,
            log: None,
            error: None,
            inexact: false,
        }
    }

    /// Seeded with 128 bits from the OS, as numpy does for `SeedSequence(None)`.
    pub fn from_entropy() -> Self {
        let entropy: u128 = rand::random();
        let mut rng = Self::new(0);
        rng.gen = Pcg64::from_seed_sequence(&SeedSequence::new(entropy));
        rng
    }

    /// Reseeds the generator (Gymnasium's `reset(seed=seed)`); replay and logging settings stay.
    pub fn seed(&mut self, seed: u64) {
        self.gen = Pcg64::from_seed_sequence(&SeedSequence::new(seed as u128));
    }

    /// The underlying bit generator.
    pub fn bit_generator(&mut self) -> &mut Pcg64 {
        &mut self.gen
    }

    // ------------------------------------------------------------------ replay and logging

    /// Queues recorded draws: the next draws return them, in order, instead of generating.
    /// Replay mode stays on (with an empty queue) until [`EnvRng::stop_injecting`].
    pub fn inject(&mut self, draws: impl IntoIterator<Item = Draw>) {
        self.injected
            .get_or_insert_with(VecDeque::new)
            .extend(draws);
    }

    pub fn stop_injecting(&mut self) {
        self.injected = None;
    }

    pub fn is_injecting(&self) -> bool {
        self.injected.is_some()
    }

    /// Ends one reset/step of a replay: errors if a draw did not match the recording, or if
    /// recorded draws were left unconsumed (the environment drew less than the reference).
    pub fn finish_injected(&mut self) -> Result<(), String> {
        if let Some(e) = self.error.take() {
            if let Some(q) = self.injected.as_mut() {
                q.clear();
            }
            return Err(e);
        }
        if let Some(q) = self.injected.as_mut() {
            if !q.is_empty() {
                let left: Vec<String> = q.iter().map(Draw::to_string).collect();
                q.clear();
                return Err(format!(
                    "the environment made fewer random draws than recorded; unconsumed: {}",
                    left.join(", ")
                ));
            }
        }
        Ok(())
    }

    /// Starts recording every draw (see [`EnvRng::take_log`]).
    pub fn start_log(&mut self) {
        self.log = Some(Vec::new());
    }

    /// The draws made since logging started or since the last call.
    pub fn take_log(&mut self) -> Vec<Draw> {
        self.log.as_mut().map(std::mem::take).unwrap_or_default()
    }

    /// Whether a draw used a method whose numpy algorithm is not ported exactly (currently
    /// `normal`), so generated streams are not numpy's.
    pub fn used_inexact_method(&self) -> bool {
        self.inexact
    }

    /// Takes the next injected draw, checking its method; `None` when not replaying (or on a
    /// mismatch, which is recorded as the sticky error).
    #[inline]
    fn next_injected(&mut self, method: &str) -> Option<Draw> {
        let queue = self.injected.as_mut()?;
        match queue.pop_front() {
            Some(d) if d.method == method => Some(d),
            Some(d) => {
                self.fail(format!(
                    "the environment asked for a `{method}` draw but the recording has {d} next"
                ));
                None
            }
            None => {
                self.fail(format!(
                    "the environment asked for a `{method}` draw but the recording has no more draws for this reset/step"
                ));
                None
            }
        }
    }

    fn fail(&mut self, message: String) {
        if self.error.is_none() {
            self.error = Some(message);
        }
    }

    #[inline]
    fn record(&mut self, make: impl FnOnce() -> Draw) {
        if let Some(log) = self.log.as_mut() {
            log.push(make());
        }
    }

    fn injected_f64(&mut self, d: &Draw) -> Option<f64> {
        let v = d.result.as_f64();
        if v.is_none() {
            self.fail(format!("recorded draw {d} has a non-numeric result"));
        }
        v
    }

    fn injected_f64s(&mut self, d: &Draw, out: &mut [f64]) -> bool {
        match d.result.as_array() {
            Some(a) if a.len() == out.len() && a.iter().all(Value::is_number) => {
                for (o, v) in out.iter_mut().zip(a) {
                    *o = v.as_f64().unwrap_or(f64::NAN);
                }
                true
            }
            _ => {
                self.fail(format!(
                    "recorded draw {d} does not hold {} numbers",
                    out.len()
                ));
                false
            }
        }
    }

    // ------------------------------------------------------------------ Generator methods

    /// `Generator.random()`.
    #[inline]
    pub fn random(&mut self) -> f64 {
        // Replaying or logging is the cold path: kept out of line, so that the generator's
        // draw inlines into the environments' steps.
        if self.injected.is_some() || self.log.is_some() {
            return self.random_replayed_or_logged();
        }
        self.gen.next_f64()
    }

    #[cold]
    #[inline(never)]
    fn random_replayed_or_logged(&mut self) -> f64 {
        if self.injected.is_some() {
            if let Some(d) = self.next_injected("random") {
                if let Some(v) = self.injected_f64(&d) {
                    return v;
                }
            }
            return 0.0;
        }
        let v = self.gen.next_f64();
        self.record(|| Draw::new("random", json!([]), json!({}), json!(v)));
        v
    }

    /// `Generator.uniform(low, high)`: `low + (high - low) * random()`.
    pub fn uniform(&mut self, low: f64, high: f64) -> f64 {
        if self.injected.is_some() {
            if let Some(d) = self.next_injected("uniform") {
                if let Some(v) = self.injected_f64(&d) {
                    return v;
                }
            }
            return low;
        }
        let v = low + (high - low) * self.gen.next_f64();
        self.record(|| {
            Draw::new(
                "uniform",
                json!([]),
                json!({"low": low, "high": high}),
                json!(v),
            )
        });
        v
    }

    /// `Generator.uniform(low, high, size=out.len())`.
    pub fn uniform_fill(&mut self, low: f64, high: f64, out: &mut [f64]) {
        if self.injected.is_some() {
            if let Some(d) = self.next_injected("uniform") {
                if self.injected_f64s(&d, out) {
                    return;
                }
            }
            out.fill(low);
            return;
        }
        let range = high - low;
        for o in out.iter_mut() {
            *o = low + range * self.gen.next_f64();
        }
        self.record(|| {
            Draw::new(
                "uniform",
                json!([]),
                json!({"low": low, "high": high, "size": [out.len()]}),
                json!(out),
            )
        });
    }

    /// `Generator.uniform(low_array, high_array)`: one draw per component.
    pub fn uniform_each(&mut self, low: &[f64], high: &[f64], out: &mut [f64]) {
        debug_assert!(low.len() == out.len() && high.len() == out.len());
        if self.injected.is_some() {
            if let Some(d) = self.next_injected("uniform") {
                if self.injected_f64s(&d, out) {
                    return;
                }
            }
            out.copy_from_slice(low);
            return;
        }
        for ((o, &lo), &hi) in out.iter_mut().zip(low).zip(high) {
            *o = lo + (hi - lo) * self.gen.next_f64();
        }
        self.record(|| {
            Draw::new(
                "uniform",
                json!([]),
                json!({"low": low, "high": high}),
                json!(out),
            )
        });
    }

    /// `Generator.integers(low, high)`: uniform in `[low, high)` (numpy's Lemire algorithm).
    /// `high <= low` returns `low` (numpy raises; environments never ask for it).
    pub fn integers(&mut self, low: i64, high: i64) -> i64 {
        if self.injected.is_some() {
            if let Some(d) = self.next_injected("integers") {
                if let Some(v) = d.result.as_i64() {
                    return v;
                }
                self.fail(format!("recorded draw {d} has a non-integer result"));
            }
            return low;
        }
        let v = if high <= low {
            low
        } else {
            let rng = (high as i128 - low as i128 - 1) as u64;
            (low as i128 + self.gen.bounded(rng) as i128) as i64
        };
        self.record(|| Draw::new("integers", json!([low, high]), json!({}), json!(v)));
        v
    }

    /// `Generator.choice(items)` (uniform, with replacement, one item): an index drawn with
    /// `integers(0, len)`. Returns the chosen item; in replay mode the recorded value must be
    /// one of `items`.
    pub fn choice<T: DrawValue>(&mut self, items: &[T]) -> T {
        assert!(!items.is_empty(), "choice() from an empty list");
        if self.injected.is_some() {
            if let Some(d) = self.next_injected("choice") {
                if let Some(item) = items.iter().find(|it| it.matches(&d.result)) {
                    return *item;
                }
                self.fail(format!(
                    "recorded draw {d} chose a value that is not among the environment's {} choices",
                    items.len()
                ));
            }
            return items[0];
        }
        let idx = self.gen.bounded(items.len() as u64 - 1) as usize;
        let v = items[idx];
        self.record(|| {
            let list: Vec<Value> = items.iter().map(DrawValue::to_json).collect();
            Draw::new("choice", json!([list]), json!({}), v.to_json())
        });
        v
    }

    /// `Generator.shuffle(items)` for a 1-D array (Fisher-Yates from the end, numpy's
    /// `random_interval`). In replay mode the recorded permutation is applied.
    pub fn shuffle<T: DrawValue>(&mut self, items: &mut [T]) {
        if self.injected.is_some() {
            if let Some(d) = self.next_injected("shuffle") {
                let ok = match d.result.as_array() {
                    Some(rec) if rec.len() == items.len() => {
                        let mut used = vec![false; items.len()];
                        let mut out = Vec::with_capacity(items.len());
                        for r in rec {
                            match (0..items.len()).find(|&i| !used[i] && items[i].matches(r)) {
                                Some(i) => {
                                    used[i] = true;
                                    out.push(items[i]);
                                }
                                None => break,
                            }
                        }
                        if out.len() == items.len() {
                            items.copy_from_slice(&out);
                            true
                        } else {
                            false
                        }
                    }
                    _ => false,
                };
                if !ok {
                    self.fail(format!(
                        "recorded draw {d} is not a permutation of the environment's {} items",
                        items.len()
                    ));
                }
            }
            return;
        }
        for i in (1..items.len()).rev() {
            let j = self.gen.interval(i as u64) as usize;
            items.swap(i, j);
        }
        self.record(|| {
            let list: Vec<Value> = items.iter().map(DrawValue::to_json).collect();
            Draw::new("shuffle", json!([]), json!({}), json!(list))
        });
    }

    /// `Generator.normal(loc, scale)`. Replays exactly; when generating, uses Box-Muller
    /// rather than numpy's ziggurat, so the stream differs from numpy's (flagged by
    /// [`EnvRng::used_inexact_method`]).
    pub fn normal(&mut self, loc: f64, scale: f64) -> f64 {
        if self.injected.is_some() {
            if let Some(d) = self.next_injected("normal") {
                if let Some(v) = self.injected_f64(&d) {
                    return v;
                }
            }
            return loc;
        }
        self.inexact = true;
        let u1 = 1.0 - self.gen.next_f64();
        let u2 = self.gen.next_f64();
        let z = (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos();
        let v = loc + scale * z;
        self.record(|| {
            Draw::new(
                "normal",
                json!([]),
                json!({"loc": loc, "scale": scale}),
                json!(v),
            )
        });
        v
    }
}

// ------------------------------------------------------------ hooks for env-specific draws

/// Crate-internal access to replay/logging, so that environments can add numpy methods of
/// their own (`popgym/rng_ext.rs`) without touching the generator's internals.
impl EnvRng {
    /// The next injected draw, which must be a `method` draw (`None` when generating).
    pub(crate) fn popgym_injected(&mut self, method: &str) -> Option<Draw> {
        self.next_injected(method)
    }

    /// Records a replay problem (reported by [`EnvRng::finish_injected`]).
    pub(crate) fn popgym_fail(&mut self, message: String) {
        self.fail(message)
    }

    /// Logs a generated draw when logging is on.
    pub(crate) fn popgym_record(&mut self, make: impl FnOnce() -> Draw) {
        self.record(make)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_zero_matches_numpy_first_values() {
        // From numpy 2.x: np.random.default_rng(0).random() == 0.6369616873214543
        let mut rng = EnvRng::new(0);
        assert_eq!(rng.random(), 0.6369616873214543);
        assert_eq!(rng.random(), 0.2697867137638703);
    }

    #[test]
    fn injected_draws_are_handed_out_and_checked() {
        let mut rng = EnvRng::new(0);
        rng.inject([Draw::new("random", json!([]), json!({}), json!(0.25))]);
        assert_eq!(rng.random(), 0.25);
        assert!(rng.finish_injected().is_ok());
        rng.inject([Draw::new("random", json!([]), json!({}), json!(0.25))]);
        let _ = rng.integers(0, 3);
        let err = rng.finish_injected().unwrap_err();
        assert!(err.contains("`integers`"), "{err}");
        let _ = rng.random();
        let err = rng.finish_injected().unwrap_err();
        assert!(err.contains("no more draws"), "{err}");
        rng.inject([Draw::new("random", json!([]), json!({}), json!(0.5))]);
        let err = rng.finish_injected().unwrap_err();
        assert!(err.contains("fewer random draws"), "{err}");
    }

    #[test]
    fn choice_replay_maps_values_to_items() {
        let mut rng = EnvRng::new(0);
        rng.inject([Draw::new("choice", json!([]), json!({}), json!("Q"))]);
        assert_eq!(rng.choice(&["J", "Q", "K"]), "Q");
        assert!(rng.finish_injected().is_ok());
    }

    #[test]
    fn shuffle_is_a_permutation() {
        let mut rng = EnvRng::new(3);
        let mut v: Vec<i64> = (0..20).collect();
        rng.shuffle(&mut v);
        let mut s = v.clone();
        s.sort();
        assert_eq!(s, (0..20).collect::<Vec<_>>());
        assert_ne!(v, (0..20).collect::<Vec<_>>());
    }
}
