//! Experience replay for off-policy learners (DQN and friends): a ring buffer of transitions from
//! `n_envs` environments stepped in lockstep, with n-step returns computed at sample time.
//!
//! The layout follows Stable-Baselines3's `ReplayBuffer`: `capacity` (SB3's `buffer_size`) counts
//! transitions, stored as `positions = max(capacity / n_envs, 1)` rows of `n_envs` columns.
//! Slot `pos * n_envs + env` holds the step environment `env` took at row `pos`; one
//! [`ReplayBuffer::add`] writes one row, and the rows form a ring. Every array is allocated
//! once, at construction, so neither adding nor sampling allocates.
//!
//! Each slot keeps `obs`, `action` (a discrete action as its index in an `f32`), `reward`,
//! `next_obs`, `terminated` and `done`:
//! - `next_obs` is the observation the step led to. When the step ended the episode it is the
//!   episode's *final* observation, not the reset observation that follows: a truncated step
//!   bootstraps from it.
//! - `terminated`: the episode really ended, nothing to bootstrap. `done = terminated ||
//!   truncated`: the episode ended one way or the other, so an n-step window stops there.
//!
//! n-step returns (as SB3's `NStepReplayBuffer`) are computed when sampling, so one buffer serves
//! any `n_step` and `gamma`. For slot (t, env) the window walks t, t+1, ... down the same column
//! and ends after `n_step` steps, at the first `done` step, or before the write position. The
//! learner's target is `R + discount * max_a Q(next_obs, a)` with `R = sum_k gamma^k r_{t+k}`,
//! `next_obs` that of the window's last step, and `discount = gamma^(k_last + 1)`, or 0 when that
//! last step terminated. With `n_step = 1` this is the 1-step DQN target
//! `r + gamma * (1 - terminated) * max_a Q(s', a)`.

use rand::Rng;
use serde::{Deserialize, Serialize};
use std::ops::Range;

/// The most `f32`s one array may hold (2^31, i.e. 8 GiB): beyond that `buffer_size` is surely a
/// mistake, and saying so beats an out-of-memory kill.
pub const MAX_ARRAY_FLOATS: usize = 1 << 31;

/// The names of the arrays [`ReplayBuffer::arrays`] lends and [`ReplayBuffer::restore`] reads.
pub const ARRAY_NAMES: [&str; 6] = [
    "obs",
    "next_obs",
    "actions",
    "rewards",
    "terminated",
    "done",
];

/// Ring buffer of transitions; see the module documentation.
#[derive(Debug, Clone, PartialEq)]
pub struct ReplayBuffer {
    positions: usize,
    n_envs: usize,
    obs_dim: usize,
    action_dim: usize,
    /// The row the next `add` writes: once `full`, also the oldest row.
    pos: usize,
    full: bool,
    obs: Vec<f32>,
    next_obs: Vec<f32>,
    actions: Vec<f32>,
    rewards: Vec<f32>,
    /// 1.0 where the step terminated, else 0.0 (kept as `f32` so `arrays` can lend it as it is).
    terminated: Vec<f32>,
    /// 1.0 where the step terminated or was truncated, else 0.0.
    done: Vec<f32>,
}

/// A sampled minibatch, preallocated once with [`Batch::new`] and refilled in place.
/// Row `i` describes the transition at slot `indices[i]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Batch {
    pub obs_dim: usize,
    pub action_dim: usize,
    /// Buffer slots (`pos * n_envs + env`), e.g. to update priorities.
    pub indices: Vec<usize>,
    /// `[batch, obs_dim]`.
    pub obs: Vec<f32>,
    /// `[batch, action_dim]`.
    pub actions: Vec<f32>,
    /// The n-step discounted reward sums `R`.
    pub rewards: Vec<f32>,
    /// `[batch, obs_dim]`: the observation to bootstrap from.
    pub next_obs: Vec<f32>,
    /// `gamma^(k_last + 1)`, or 0 after a termination: the target is `R + discount * V(next_obs)`.
    pub discounts: Vec<f32>,
}

impl Batch {
    pub fn new(batch_size: usize, obs_dim: usize, action_dim: usize) -> Batch {
        Batch {
            obs_dim,
            action_dim,
            indices: vec![0; batch_size],
            obs: vec![0.0; batch_size * obs_dim],
            actions: vec![0.0; batch_size * action_dim],
            rewards: vec![0.0; batch_size],
            next_obs: vec![0.0; batch_size * obs_dim],
            discounts: vec![0.0; batch_size],
        }
    }

    pub fn len(&self) -> usize {
        self.indices.len()
    }

    pub fn is_empty(&self) -> bool {
        self.indices.is_empty()
    }
}

/// What, besides the arrays, a saved buffer needs to be restored exactly.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplayState {
    pub pos: usize,
    pub full: bool,
    /// Total slots, `positions * n_envs` (which may differ from the `buffer_size` asked for).
    pub capacity: usize,
    pub n_envs: usize,
    pub obs_dim: usize,
    pub action_dim: usize,
}

impl ReplayBuffer {
    /// A buffer of `capacity` transitions (SB3's `buffer_size`) for `n_envs` lockstep environments.
    /// `capacity` is rounded down to a multiple of `n_envs` (but at least one row), as SB3 does;
    /// [`ReplayBuffer::capacity`] tells the result.
    pub fn new(
        capacity: usize,
        n_envs: usize,
        obs_dim: usize,
        action_dim: usize,
    ) -> Result<ReplayBuffer, String> {
        let (positions, slots) = Self::shape(capacity, n_envs, obs_dim, action_dim)?;
        let too_big = || too_big(capacity, slots, obs_dim, action_dim);
        // Reserve fallibly, then write the zeros: a buffer that does not fit fails here, with a
        // message, instead of aborting (or being killed) hours into training.
        let zeroed = |len: usize| -> Result<Vec<f32>, String> {
            let mut v = Vec::new();
            v.try_reserve_exact(len).map_err(|_| too_big())?;
            v.resize(len, 0.0);
            Ok(v)
        };
        Ok(ReplayBuffer {
            positions,
            n_envs,
            obs_dim,
            action_dim,
            pos: 0,
            full: false,
            obs: zeroed(slots * obs_dim)?,
            next_obs: zeroed(slots * obs_dim)?,
            actions: zeroed(slots * action_dim)?,
            rewards: zeroed(slots)?,
            terminated: zeroed(slots)?,
            done: zeroed(slots)?,
        })
    }

    /// Checks that a buffer of this size can be made, without making it: the limits of
    /// [`ReplayBuffer::new`] and a fallible reservation of all its memory, released untouched
    /// (so a run can refuse a buffer that does not fit before it starts, at no cost).
    pub fn check_size(
        capacity: usize,
        n_envs: usize,
        obs_dim: usize,
        action_dim: usize,
    ) -> Result<(), String> {
        let (_, slots) = Self::shape(capacity, n_envs, obs_dim, action_dim)?;
        let floats = bytes_for(slots, obs_dim, action_dim) / std::mem::size_of::<f32>();
        Vec::<f32>::new()
            .try_reserve_exact(floats)
            .map_err(|_| too_big(capacity, slots, obs_dim, action_dim))
    }

    /// `(positions, slots)` of a buffer of this size, or why it cannot be made.
    fn shape(
        capacity: usize,
        n_envs: usize,
        obs_dim: usize,
        action_dim: usize,
    ) -> Result<(usize, usize), String> {
        if capacity == 0 {
            return Err("buffer_size must be at least 1 (got 0)".into());
        }
        if n_envs == 0 || obs_dim == 0 || action_dim == 0 {
            return Err(format!(
                "replay buffer: n_envs ({n_envs}), obs_dim ({obs_dim}) and action_dim \
                 ({action_dim}) must all be at least 1"
            ));
        }
        let positions = (capacity / n_envs).max(1);
        let slots = positions * n_envs; // at most max(capacity, n_envs): no overflow
        if slots
            .checked_mul(obs_dim.max(action_dim))
            .is_none_or(|n| n > MAX_ARRAY_FLOATS)
        {
            return Err(too_big(capacity, slots, obs_dim, action_dim));
        }
        Ok((positions, slots))
    }

    /// Total slots: `positions() * n_envs()`.
    pub fn capacity(&self) -> usize {
        self.positions * self.n_envs
    }

    pub fn n_envs(&self) -> usize {
        self.n_envs
    }

    /// Rows in the ring.
    pub fn positions(&self) -> usize {
        self.positions
    }

    pub fn obs_dim(&self) -> usize {
        self.obs_dim
    }

    pub fn action_dim(&self) -> usize {
        self.action_dim
    }

    /// The row the next `add` writes.
    pub fn pos(&self) -> usize {
        self.pos
    }

    pub fn is_full(&self) -> bool {
        self.full
    }

    /// Stored transitions. The stored slots are always `0..len()`.
    pub fn len(&self) -> usize {
        if self.full {
            self.capacity()
        } else {
            self.pos * self.n_envs
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The slots the next `add` will write (e.g. for `PrioritizedSampler::on_add`).
    pub fn write_range(&self) -> Range<usize> {
        self.pos * self.n_envs..(self.pos + 1) * self.n_envs
    }

    /// Bytes held by the arrays (allocated up front, whatever is stored).
    pub fn bytes(&self) -> usize {
        bytes_for(self.capacity(), self.obs_dim, self.action_dim)
    }

    /// Bytes of the arrays a save writes ([`ReplayBuffer::arrays`]: the stored slots only).
    pub fn saved_bytes(&self) -> usize {
        bytes_for(self.len(), self.obs_dim, self.action_dim)
    }

    /// Stores one lockstep step of all `n_envs` environments; every slice holds `n_envs` rows.
    /// `next_obs` must be the final observation for environments whose episode just ended.
    ///
    /// # Panics
    /// If a slice has the wrong length.
    pub fn add(
        &mut self,
        obs: &[f32],
        next_obs: &[f32],
        actions: &[f32],
        rewards: &[f32],
        terminated: &[bool],
        truncated: &[bool],
    ) {
        let (n, od, ad) = (self.n_envs, self.obs_dim, self.action_dim);
        let check = |what: &str, got: usize, want: usize| {
            assert_eq!(
                got, want,
                "ReplayBuffer::add: {what} has {got} values, expected {want}"
            );
        };
        check("obs", obs.len(), n * od);
        check("next_obs", next_obs.len(), n * od);
        check("actions", actions.len(), n * ad);
        check("rewards", rewards.len(), n);
        check("terminated", terminated.len(), n);
        check("truncated", truncated.len(), n);

        let first = self.pos * n;
        self.obs[first * od..(first + n) * od].copy_from_slice(obs);
        self.next_obs[first * od..(first + n) * od].copy_from_slice(next_obs);
        self.actions[first * ad..(first + n) * ad].copy_from_slice(actions);
        self.rewards[first..first + n].copy_from_slice(rewards);
        for e in 0..n {
            self.terminated[first + e] = flag(terminated[e]);
            self.done[first + e] = flag(terminated[e] || truncated[e]);
        }
        self.pos += 1;
        if self.pos == self.positions {
            self.pos = 0;
            self.full = true;
        }
    }

    /// Fills `out` with `batch_size` transitions drawn uniformly, with replacement, from the
    /// stored ones, with `n_step` returns (see [`ReplayBuffer::fill`]).
    ///
    /// # Panics
    /// If the buffer is empty, or as [`ReplayBuffer::fill`].
    pub fn sample_uniform(
        &self,
        batch_size: usize,
        n_step: usize,
        gamma: f32,
        rng: &mut impl Rng,
        out: &mut Batch,
    ) {
        let len = self.len();
        assert!(len > 0, "cannot sample from an empty replay buffer");
        out.indices.clear();
        out.indices
            .extend((0..batch_size).map(|_| rng.gen_range(0..len)));
        self.fill(n_step, gamma, out);
    }

    /// Fills `out` with the transitions at `indices` (see [`ReplayBuffer::fill`]).
    pub fn gather(&self, indices: &[usize], n_step: usize, gamma: f32, out: &mut Batch) {
        out.indices.clear();
        out.indices.extend_from_slice(indices);
        self.fill(n_step, gamma, out);
    }

    /// Fills `out` for the slots already in `out.indices` (so a sampler can write them there
    /// directly): observation and action of each slot, and its `n_step` return, discount and
    /// bootstrap observation as the module documentation describes. Allocates nothing once `out`
    /// has held a batch this large.
    ///
    /// The window also ends before the write position: the newest row has no successor yet, and
    /// past it (once the ring wrapped) lies the oldest data, from another time. SB3 cuts the window
    /// there too; here the cut bootstraps, from the last available `next_obs` with
    /// `gamma^(k_last + 1)`, which is still an unbiased (shorter) n-step target. So the newest
    /// transitions need not be excluded from sampling.
    ///
    /// # Panics
    /// If `n_step` is 0, an index is not a stored slot, or `out` has other dimensions.
    pub fn fill(&self, n_step: usize, gamma: f32, out: &mut Batch) {
        assert!(n_step >= 1, "n_step must be at least 1");
        let (n, od, ad) = (self.n_envs, self.obs_dim, self.action_dim);
        assert!(
            out.obs_dim == od && out.action_dim == ad,
            "batch is for obs_dim {} / action_dim {}, the buffer has {od} / {ad}",
            out.obs_dim,
            out.action_dim
        );
        let Batch {
            indices,
            obs,
            actions,
            rewards,
            next_obs,
            discounts,
            ..
        } = out;
        let b = indices.len();
        obs.resize(b * od, 0.0);
        actions.resize(b * ad, 0.0);
        rewards.resize(b, 0.0);
        next_obs.resize(b * od, 0.0);
        discounts.resize(b, 0.0);

        let len = self.len();
        let gamma = f64::from(gamma);
        for (i, &slot) in indices.iter().enumerate() {
            assert!(
                slot < len,
                "slot {slot} is not stored (the buffer holds {len})"
            );
            let (row, env) = (slot / n, slot % n);
            let steps = n_step.min(self.rows_available(row));
            let (mut ret, mut discount, mut last) = (0.0f64, 1.0f64, slot);
            for k in 0..steps {
                let j = ((row + k) % self.positions) * n + env;
                ret += discount * f64::from(self.rewards[j]);
                discount *= gamma;
                last = j;
                if self.done[j] != 0.0 {
                    break;
                }
            }
            if self.terminated[last] != 0.0 {
                discount = 0.0;
            }
            rewards[i] = ret as f32;
            discounts[i] = discount as f32;
            obs[i * od..(i + 1) * od].copy_from_slice(&self.obs[slot * od..(slot + 1) * od]);
            actions[i * ad..(i + 1) * ad]
                .copy_from_slice(&self.actions[slot * ad..(slot + 1) * ad]);
            next_obs[i * od..(i + 1) * od]
                .copy_from_slice(&self.next_obs[last * od..(last + 1) * od]);
        }
    }

    /// Rows from `row` (stored) on that hold consecutive steps: up to, not including, the write
    /// position. Once full, the row at the write position is the oldest, so it gets the whole ring.
    fn rows_available(&self, row: usize) -> usize {
        (self.pos + self.positions - row - 1) % self.positions + 1
    }

    /// What a checkpoint needs besides [`ReplayBuffer::arrays`].
    pub fn state(&self) -> ReplayState {
        ReplayState {
            pos: self.pos,
            full: self.full,
            capacity: self.capacity(),
            n_envs: self.n_envs,
            obs_dim: self.obs_dim,
            action_dim: self.action_dim,
        }
    }

    /// The stored part of each array (slots `0..len()`), named as in [`ARRAY_NAMES`], for the
    /// caller to write as tensors. `obs`/`next_obs` are `[len, obs_dim]`, `actions` is
    /// `[len, action_dim]`, the others `[len]`; `terminated` and `done` hold 0.0 or 1.0.
    pub fn arrays(&self) -> Vec<(&'static str, &[f32])> {
        let len = self.len();
        let (od, ad) = (self.obs_dim, self.action_dim);
        vec![
            ("obs", &self.obs[..len * od]),
            ("next_obs", &self.next_obs[..len * od]),
            ("actions", &self.actions[..len * ad]),
            ("rewards", &self.rewards[..len]),
            ("terminated", &self.terminated[..len]),
            ("done", &self.done[..len]),
        ]
    }

    /// Rebuilds a buffer from [`ReplayBuffer::state`] and [`ReplayBuffer::arrays`], exactly.
    /// Arrays with other names are ignored (the caller may keep them in the same file).
    pub fn restore(
        state: ReplayState,
        arrays: &[(String, Vec<f32>)],
    ) -> Result<ReplayBuffer, String> {
        let mut buf = ReplayBuffer::new(
            state.capacity,
            state.n_envs,
            state.obs_dim,
            state.action_dim,
        )
        .map_err(|e| format!("saved replay buffer: {e}"))?;
        if buf.capacity() != state.capacity {
            return Err(format!(
                "saved replay buffer: capacity {} is not a multiple of n_envs {}",
                state.capacity, state.n_envs
            ));
        }
        if state.pos >= buf.positions {
            return Err(format!(
                "saved replay buffer: pos {} is out of range (it has {} rows)",
                state.pos, buf.positions
            ));
        }
        buf.pos = state.pos;
        buf.full = state.full;
        let len = buf.len();
        let (od, ad) = (buf.obs_dim, buf.action_dim);
        for name in ARRAY_NAMES {
            let mut found = arrays.iter().filter(|(n, _)| n == name);
            let data = match (found.next(), found.next()) {
                (Some((_, data)), None) => data,
                (None, _) => return Err(format!("saved replay buffer: array `{name}` is missing")),
                (Some(_), Some(_)) => {
                    return Err(format!("saved replay buffer: array `{name}` appears twice"))
                }
            };
            let (dest, width) = match name {
                "obs" => (&mut buf.obs, od),
                "next_obs" => (&mut buf.next_obs, od),
                "actions" => (&mut buf.actions, ad),
                "rewards" => (&mut buf.rewards, 1),
                "terminated" => (&mut buf.terminated, 1),
                _ => (&mut buf.done, 1),
            };
            if data.len() != len * width {
                return Err(format!(
                    "saved replay buffer: array `{name}` has {} values, expected {} \
                     ({len} transitions x {width})",
                    data.len(),
                    len * width
                ));
            }
            dest[..data.len()].copy_from_slice(data);
        }
        let flags_ok = buf.terminated[..len]
            .iter()
            .zip(&buf.done[..len])
            .all(|(&t, &d)| (t == 0.0 || t == 1.0) && (d == 0.0 || d == 1.0) && d >= t);
        if !flags_ok {
            return Err(
                "saved replay buffer: `terminated`/`done` must hold 0 or 1, with done set \
                 wherever terminated is"
                    .into(),
            );
        }
        Ok(buf)
    }
}

fn flag(b: bool) -> f32 {
    if b {
        1.0
    } else {
        0.0
    }
}

/// Bytes of the arrays for `slots` transitions (saturating, for messages about absurd sizes).
/// Why a buffer of `capacity` transitions cannot be made, naming `buffer_size`.
fn too_big(capacity: usize, slots: usize, obs_dim: usize, action_dim: usize) -> String {
    let gib = bytes_for(slots, obs_dim, action_dim) as f64 / (1u64 << 30) as f64;
    format!(
        "buffer_size = {capacity} is too large for {obs_dim}-float observations and \
         {action_dim}-float actions: one array would hold {} floats (the limit is 2^31) and the \
         buffer would take {gib:.1} GiB; use a smaller buffer_size",
        slots as u128 * obs_dim.max(action_dim) as u128
    )
}

fn bytes_for(slots: usize, obs_dim: usize, action_dim: usize) -> usize {
    let per_slot = (2 * obs_dim as u128) + action_dim as u128 + 3; // + reward, terminated, done
    let bytes = slots as u128 * per_slot * std::mem::size_of::<f32>() as u128;
    usize::try_from(bytes).unwrap_or(usize::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    /// Observation of env `e` at step `t`: `[100 e + t, -(100 e + t)]`; `next_obs` adds 0.5 so it
    /// is told apart from the next step's `obs` (as a final observation is from a reset one).
    fn obs_at(e: usize, t: usize) -> [f32; 2] {
        let v = (100 * e + t) as f32;
        [v, -v]
    }

    fn next_obs_at(e: usize, t: usize) -> [f32; 2] {
        let [v, _] = obs_at(e, t);
        [v + 0.5, -(v + 0.5)]
    }

    /// Adds steps `ts` for two envs: env 0 earns `t + 1`, env 1 earns `10 (t + 1)`; `ends(e, t)`
    /// says (terminated, truncated).
    fn add_steps(
        buf: &mut ReplayBuffer,
        ts: Range<usize>,
        ends: impl Fn(usize, usize) -> (bool, bool),
    ) {
        let n = buf.n_envs();
        for t in ts {
            let obs: Vec<f32> = (0..n).flat_map(|e| obs_at(e, t)).collect();
            let next: Vec<f32> = (0..n).flat_map(|e| next_obs_at(e, t)).collect();
            let actions: Vec<f32> = (0..n).map(|e| (t % 3 + e) as f32).collect();
            let rewards: Vec<f32> = (0..n)
                .map(|e| (t + 1) as f32 * if e == 0 { 1.0 } else { 10.0 })
                .collect();
            let term: Vec<bool> = (0..n).map(|e| ends(e, t).0).collect();
            let trunc: Vec<bool> = (0..n).map(|e| ends(e, t).1).collect();
            buf.add(&obs, &next, &actions, &rewards, &term, &trunc);
        }
    }

    /// The hand example: n_envs = 2, six steps. Env 0 is truncated at t = 1 and terminates at
    /// t = 4; env 1 terminates at t = 2. Rows 0..6 are written, the write position is row 6.
    fn hand_buffer() -> ReplayBuffer {
        let mut buf = ReplayBuffer::new(16, 2, 2, 1).unwrap();
        add_steps(&mut buf, 0..6, |e, t| match (e, t) {
            (0, 1) => (false, true),
            (0, 4) | (1, 2) => (true, false),
            _ => (false, false),
        });
        buf
    }

    /// (env, t, n-step reward, discount, t of the bootstrap next_obs) for n_step = 3, gamma = 0.5.
    const HAND_3STEP: [(usize, usize, f32, f32, usize); 12] = [
        // env 0: rewards 1..6, truncated at t = 1, terminated at t = 4, cut at the write position.
        (0, 0, 1.0 + 0.5 * 2.0, 0.25, 1), // truncation: bootstrap from the final obs of t = 1
        (0, 1, 2.0, 0.5, 1),
        (0, 2, 3.0 + 0.5 * 4.0 + 0.25 * 5.0, 0.0, 4), // termination: no bootstrap
        (0, 3, 4.0 + 0.5 * 5.0, 0.0, 4),
        (0, 4, 5.0, 0.0, 4),
        (0, 5, 6.0, 0.5, 5), // newest row: the window stops at the write position, bootstraps
        // env 1: rewards 10..60, terminated at t = 2.
        (1, 0, 10.0 + 0.5 * 20.0 + 0.25 * 30.0, 0.0, 2),
        (1, 1, 20.0 + 0.5 * 30.0, 0.0, 2),
        (1, 2, 30.0, 0.0, 2),
        (1, 3, 40.0 + 0.5 * 50.0 + 0.25 * 60.0, 0.125, 5), // full window
        (1, 4, 50.0 + 0.5 * 60.0, 0.25, 5),
        (1, 5, 60.0, 0.5, 5),
    ];

    #[test]
    fn n_step_targets_match_hand_computed_episode() {
        let buf = hand_buffer();
        assert_eq!((buf.len(), buf.pos(), buf.is_full()), (12, 6, false));
        let indices: Vec<usize> = HAND_3STEP.iter().map(|&(e, t, ..)| t * 2 + e).collect();
        let mut batch = Batch::new(4, 2, 1);
        buf.gather(&indices, 3, 0.5, &mut batch);
        assert_eq!(batch.len(), 12);
        for (i, &(e, t, reward, discount, last)) in HAND_3STEP.iter().enumerate() {
            let what = format!("env {e} t {t}");
            assert_eq!(batch.indices[i], t * 2 + e, "{what}");
            assert_eq!(batch.rewards[i], reward, "{what}");
            assert_eq!(batch.discounts[i], discount, "{what}");
            assert_eq!(&batch.obs[2 * i..2 * i + 2], &obs_at(e, t), "{what}");
            assert_eq!(batch.actions[i], (t % 3 + e) as f32, "{what}");
            assert_eq!(
                &batch.next_obs[2 * i..2 * i + 2],
                &next_obs_at(e, last),
                "{what}"
            );
        }
    }

    #[test]
    fn one_step_is_the_dqn_target() {
        let buf = hand_buffer();
        let indices: Vec<usize> = (0..buf.len()).collect();
        let mut batch = Batch::new(indices.len(), 2, 1);
        buf.gather(&indices, 1, 0.5, &mut batch);
        for (i, &slot) in indices.iter().enumerate() {
            let (t, e) = (slot / 2, slot % 2);
            let terminated = matches!((e, t), (0, 4) | (1, 2));
            let r = (t + 1) as f32 * if e == 0 { 1.0 } else { 10.0 };
            assert_eq!(batch.rewards[i], r);
            assert_eq!(batch.discounts[i], 0.5 * if terminated { 0.0 } else { 1.0 });
            assert_eq!(&batch.next_obs[2 * i..2 * i + 2], &next_obs_at(e, t));
        }
    }

    #[test]
    fn window_never_crosses_the_write_position_after_wrap_around() {
        // 4 rows, 1 env, 6 steps: rows 0..4 hold t = 4, 5, 2, 3; the write position (row 2) holds
        // the oldest step, t = 2, and the newest is t = 5 in row 1.
        let mut buf = ReplayBuffer::new(4, 1, 2, 1).unwrap();
        for t in 0..6 {
            buf.add(
                &obs_at(0, t),
                &next_obs_at(0, t),
                &[0.0],
                &[(1 << t) as f32],
                &[false],
                &[false],
            );
        }
        assert_eq!((buf.len(), buf.pos(), buf.is_full()), (4, 2, true));
        let r = |t: usize| (1 << t) as f32;
        // (slot, reward, discount, t of next_obs), n_step = 3 and gamma = 0.5.
        let expect = [
            (2, r(2) + 0.5 * r(3) + 0.25 * r(4), 0.125, 4), // oldest: full window, wraps the ring
            (3, r(3) + 0.5 * r(4) + 0.25 * r(5), 0.125, 5),
            (0, r(4) + 0.5 * r(5), 0.25, 5), // stops before row 2 (old t = 2)
            (1, r(5), 0.5, 5),               // newest: nothing after it
        ];
        let mut batch = Batch::new(4, 2, 1);
        let slots: Vec<usize> = expect.iter().map(|e| e.0).collect();
        buf.gather(&slots, 3, 0.5, &mut batch);
        for (i, &(slot, reward, discount, last)) in expect.iter().enumerate() {
            assert_eq!(batch.rewards[i], reward, "slot {slot}");
            assert_eq!(batch.discounts[i], discount, "slot {slot}");
            assert_eq!(&batch.next_obs[2 * i..2 * i + 2], &next_obs_at(0, last));
        }
        // A window longer than the ring still stops at the newest step.
        buf.gather(&[2], 10, 0.5, &mut batch);
        assert_eq!(
            batch.rewards[0],
            r(2) + 0.5 * r(3) + 0.25 * r(4) + 0.125 * r(5)
        );
        assert_eq!(batch.discounts[0], 0.0625);
        assert_eq!(&batch.next_obs[..2], &next_obs_at(0, 5));
    }

    #[test]
    fn layout_rows_of_envs_and_capacity_rounding() {
        let buf = ReplayBuffer::new(7, 2, 3, 2).unwrap();
        assert_eq!((buf.positions(), buf.capacity(), buf.n_envs()), (3, 6, 2));
        assert_eq!(buf.bytes(), 6 * (2 * 3 + 2 + 3) * 4);
        assert_eq!(buf.saved_bytes(), 0);
        assert!(buf.is_empty());
        // Fewer transitions than environments: still one row.
        let buf = ReplayBuffer::new(3, 8, 1, 1).unwrap();
        assert_eq!((buf.positions(), buf.capacity()), (1, 8));

        let mut buf = hand_buffer();
        assert_eq!(buf.write_range(), 12..14);
        assert_eq!(buf.saved_bytes(), 12 * (2 * 2 + 1 + 3) * 4);
        add_steps(&mut buf, 6..8, |_, _| (false, false));
        assert_eq!((buf.len(), buf.pos(), buf.is_full()), (16, 0, true));
        assert_eq!(buf.write_range(), 0..2);
    }

    #[test]
    fn uniform_sampling_covers_stored_slots_only() {
        let buf = hand_buffer();
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let mut batch = Batch::new(256, 2, 1);
        let mut seen = [0usize; 12];
        for _ in 0..40 {
            buf.sample_uniform(256, 3, 0.5, &mut rng, &mut batch);
            assert_eq!(batch.len(), 256);
            for &slot in &batch.indices {
                seen[slot] += 1; // panics if slot >= 12
            }
        }
        // 10240 draws over 12 slots: each about 853, far from 0.
        assert!(seen.iter().all(|&c| (700..1000).contains(&c)), "{seen:?}");
        // The batch rows agree with gathering the same slots.
        let mut again = Batch::new(256, 2, 1);
        buf.gather(&batch.indices.clone(), 3, 0.5, &mut again);
        assert_eq!(again, batch);
        // Same seed, same batch.
        let mut a = Batch::new(8, 2, 1);
        let mut b = Batch::new(8, 2, 1);
        buf.sample_uniform(8, 3, 0.5, &mut ChaCha8Rng::seed_from_u64(1), &mut a);
        buf.sample_uniform(8, 3, 0.5, &mut ChaCha8Rng::seed_from_u64(1), &mut b);
        assert_eq!(a, b);
    }

    fn round_trip(buf: &ReplayBuffer) -> ReplayBuffer {
        let json = serde_json::to_string(&buf.state()).unwrap();
        let state: ReplayState = serde_json::from_str(&json).unwrap();
        let mut arrays: Vec<(String, Vec<f32>)> = buf
            .arrays()
            .into_iter()
            .map(|(n, a)| (n.to_string(), a.to_vec()))
            .collect();
        arrays.push(("unrelated".into(), vec![1.0])); // ignored
        ReplayBuffer::restore(state, &arrays).unwrap()
    }

    #[test]
    fn save_restore_round_trip_is_exact() {
        // Partly filled: only the stored rows are saved.
        let mut buf = hand_buffer();
        let mut back = round_trip(&buf);
        assert_eq!(back, buf);
        add_steps(&mut buf, 6..11, |e, t| (e == 1 && t == 9, false));
        add_steps(&mut back, 6..11, |e, t| (e == 1 && t == 9, false));
        assert_eq!(back, buf);
        // Wrapped.
        assert!(buf.is_full());
        let back = round_trip(&buf);
        assert_eq!(back, buf);
        let all: Vec<usize> = (0..buf.len()).collect();
        let (mut x, mut y) = (Batch::new(16, 2, 1), Batch::new(16, 2, 1));
        buf.gather(&all, 3, 0.9, &mut x);
        back.gather(&all, 3, 0.9, &mut y);
        assert_eq!(x, y);
        // Empty.
        let empty = ReplayBuffer::new(10, 1, 3, 1).unwrap();
        assert_eq!(round_trip(&empty), empty);
    }

    #[test]
    fn restore_rejects_bad_input() {
        let buf = hand_buffer();
        let arrays: Vec<(String, Vec<f32>)> = buf
            .arrays()
            .into_iter()
            .map(|(n, a)| (n.to_string(), a.to_vec()))
            .collect();
        let err = |state: ReplayState, arrays: &[(String, Vec<f32>)]| {
            ReplayBuffer::restore(state, arrays).unwrap_err()
        };
        assert!(err(buf.state(), &arrays[1..]).contains("`obs` is missing"));
        let mut short = arrays.clone();
        short[3].1.pop();
        assert!(err(buf.state(), &short).contains("`rewards` has 11 values, expected 12"));
        let mut flags = arrays.clone();
        flags[4].1[0] = 1.0; // terminated without done
        assert!(err(buf.state(), &flags).contains("terminated"));
        let mut twice = arrays.clone();
        twice.push(arrays[0].clone());
        assert!(err(buf.state(), &twice).contains("twice"));
        let state = ReplayState {
            pos: 8,
            ..buf.state()
        };
        assert!(err(state, &arrays).contains("pos 8"));
        let state = ReplayState {
            capacity: 15,
            ..buf.state()
        };
        assert!(err(state, &arrays).contains("multiple of n_envs"));
    }

    #[test]
    fn constructor_errors_name_buffer_size() {
        let e = ReplayBuffer::new(0, 1, 4, 1).unwrap_err();
        assert!(e.contains("buffer_size"), "{e}");
        let e = ReplayBuffer::new(1 << 30, 1, 4, 1).unwrap_err();
        assert!(
            e.contains("buffer_size") && e.contains("smaller buffer_size"),
            "{e}"
        );
        let e = ReplayBuffer::new(usize::MAX, 1, 3, 1).unwrap_err();
        assert!(e.contains("smaller buffer_size"), "{e}");
        assert!(ReplayBuffer::new(10, 0, 4, 1)
            .unwrap_err()
            .contains("n_envs"));
        assert!(ReplayBuffer::new(10, 1, 0, 1)
            .unwrap_err()
            .contains("obs_dim"));
        // One float over the limit is refused (by arithmetic, before allocating).
        let e = ReplayBuffer::new((1 << 31) + 1, 1, 1, 1).unwrap_err();
        assert!(e.contains("2^31"), "{e}");
    }

    #[test]
    #[should_panic(expected = "expected 4")]
    fn add_checks_lengths() {
        let mut buf = ReplayBuffer::new(10, 2, 2, 1).unwrap();
        buf.add(
            &[0.0; 3],
            &[0.0; 4],
            &[0.0; 2],
            &[0.0; 2],
            &[false; 2],
            &[false; 2],
        );
    }
}
