//! Sequence replay for recurrent Q-learning (DRQN, Hausknecht & Stone 2015; R2D2, Kapturowski
//! et al. 2019): a ring of fixed-length sequences, each with the recurrent state the actor had
//! at its first step.
//!
//! Each environment fills a builder step by step: the observation, the actor's state *before*
//! the step (the state that read that observation), the action and the reward. A builder
//! becomes a stored sequence when it holds `length` steps, or when the episode ends:
//! - a sequence never crosses an episode boundary: an episode's last sequence is padded after
//!   its last step (mask 0 there) and the episode's end is recorded (`terminated`: nothing to
//!   bootstrap; a truncated end bootstraps from the final observation);
//! - consecutive sequences of an episode overlap by `overlap` steps: after a full sequence the
//!   builder keeps its last `overlap` steps (and their states), so the next sequence starts
//!   `length - overlap` steps later with the state the actor had there;
//! - an episode's end emits the builder only if it holds steps no stored sequence has yet.
//!
//! A sequence slot holds `length + 1` observations: step `t`'s next observation is observation
//! `t + 1` (the final observation after the last valid step), so n-step targets inside the
//! sequence need no second copy. `episode_start` records whether the sequence begins at an
//! episode's first step: its stored state is then exactly the zero state.
//!
//! Batches come out time-major (`[steps, batch, ..]`), the layout of engram-nn's batched
//! recurrent kernels. Nothing allocates after construction except the caller's batches.

use rand::Rng;
use serde::{Deserialize, Serialize};

/// The largest `sequence_length`.
pub const MAX_LENGTH: usize = 10_000;

/// One environment's sequence in progress.
#[derive(Clone, Debug)]
struct Builder {
    /// `[length, obs_dim]`
    obs: Vec<f32>,
    actions: Vec<f32>,
    rewards: Vec<f32>,
    /// `[length, state_dim]`: the actor's state before each step.
    states: Vec<f32>,
    steps: usize,
    /// Steps not yet in a stored sequence.
    fresh: usize,
    episode_start: bool,
}

/// What a checkpoint stores of a [`SequenceReplay`] besides its arrays.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SequenceReplayState {
    pub capacity: usize,
    pub n_envs: usize,
    pub length: usize,
    pub overlap: usize,
    pub obs_dim: usize,
    pub state_dim: usize,
    pub pos: usize,
    pub len: usize,
    /// Per builder: steps held, fresh steps, whether it starts an episode.
    pub builders: Vec<(usize, usize, bool)>,
}

pub struct SequenceReplay {
    capacity: usize,
    length: usize,
    overlap: usize,
    obs_dim: usize,
    state_dim: usize,
    /// `[capacity, length + 1, obs_dim]`
    obs: Vec<f32>,
    /// `[capacity, length]`
    actions: Vec<f32>,
    rewards: Vec<f32>,
    /// `[capacity]`: valid steps (the rest is padding).
    lengths: Vec<f32>,
    /// `[capacity]`: 1 when the last valid step terminated the episode.
    terminated: Vec<f32>,
    /// `[capacity]`: 1 when the sequence starts at an episode's first step.
    episode_start: Vec<f32>,
    /// `[capacity, state_dim]`
    states: Vec<f32>,
    pos: usize,
    len: usize,
    builders: Vec<Builder>,
}

/// A batch of sequences, time-major, for up to `batch_max` rows.
#[derive(Clone, Debug)]
pub struct SequenceBatch {
    /// Rows in use (the last [`SequenceReplay::fill`]).
    pub rows: usize,
    pub length: usize,
    /// The slots the rows came from.
    pub indices: Vec<usize>,
    /// `[length + 1, rows, obs_dim]`
    pub obs: Vec<f32>,
    /// `[length, rows]`
    pub actions: Vec<f32>,
    pub rewards: Vec<f32>,
    /// `[length, rows]`: 1 on valid steps, 0 on padding.
    pub mask: Vec<f32>,
    /// `[rows]`
    pub lengths: Vec<usize>,
    pub terminated: Vec<bool>,
    pub episode_start: Vec<bool>,
    /// `[rows, state_dim]`: the stored state at each sequence's start.
    pub states: Vec<f32>,
}

impl SequenceBatch {
    pub fn new(batch_max: usize, length: usize, obs_dim: usize, state_dim: usize) -> Self {
        SequenceBatch {
            rows: 0,
            length,
            indices: Vec::with_capacity(batch_max),
            obs: vec![0.0; (length + 1) * batch_max * obs_dim],
            actions: vec![0.0; length * batch_max],
            rewards: vec![0.0; length * batch_max],
            mask: vec![0.0; length * batch_max],
            lengths: vec![0; batch_max],
            terminated: vec![false; batch_max],
            episode_start: vec![false; batch_max],
            states: vec![0.0; batch_max * state_dim],
        }
    }
}

fn floats_per_slot(length: usize, obs_dim: usize, state_dim: usize) -> Option<usize> {
    (length + 1)
        .checked_mul(obs_dim)?
        .checked_add(2 * length + 3)?
        .checked_add(state_dim)
}

impl SequenceReplay {
    /// A replay of `capacity` sequences of `length` steps from `n_envs` environments.
    pub fn new(
        capacity: usize,
        n_envs: usize,
        length: usize,
        overlap: usize,
        obs_dim: usize,
        state_dim: usize,
    ) -> Result<SequenceReplay, String> {
        Self::check_size(capacity, n_envs, length, overlap, obs_dim, state_dim)?;
        let builder = Builder {
            obs: vec![0.0; length * obs_dim],
            actions: vec![0.0; length],
            rewards: vec![0.0; length],
            states: vec![0.0; length * state_dim],
            steps: 0,
            fresh: 0,
            episode_start: true,
        };
        Ok(SequenceReplay {
            capacity,
            length,
            overlap,
            obs_dim,
            state_dim,
            obs: vec![0.0; capacity * (length + 1) * obs_dim],
            actions: vec![0.0; capacity * length],
            rewards: vec![0.0; capacity * length],
            lengths: vec![0.0; capacity],
            terminated: vec![0.0; capacity],
            episode_start: vec![0.0; capacity],
            states: vec![0.0; capacity * state_dim],
            pos: 0,
            len: 0,
            builders: vec![builder; n_envs],
        })
    }

    /// Whether a replay of this shape can be made (sizes, and memory), with the fix if not.
    pub fn check_size(
        capacity: usize,
        n_envs: usize,
        length: usize,
        overlap: usize,
        obs_dim: usize,
        state_dim: usize,
    ) -> Result<(), String> {
        if capacity == 0 {
            return Err("buffer_size must be at least 1 sequence (got 0)".into());
        }
        if length == 0 || length > MAX_LENGTH {
            return Err(format!(
                "sequence_length must be between 1 and {MAX_LENGTH} steps (got {length})"
            ));
        }
        if overlap >= length {
            return Err(format!(
                "sequence_overlap must be below sequence_length ({length}), got {overlap}"
            ));
        }
        if n_envs == 0 || obs_dim == 0 {
            return Err(format!(
                "sequence replay: n_envs ({n_envs}) and obs_dim ({obs_dim}) must be at least 1"
            ));
        }
        let floats = floats_per_slot(length, obs_dim, state_dim)
            .and_then(|f| f.checked_mul(capacity))
            .filter(|&f| f <= isize::MAX as usize / 4);
        let too_big = || {
            format!(
                "a replay of {capacity} sequences of {length} steps ({obs_dim} observation floats, \
                 {state_dim} state floats) does not fit in memory: lower buffer_size"
            )
        };
        let floats = floats.ok_or_else(too_big)?;
        Vec::<f32>::new()
            .try_reserve_exact(floats)
            .map_err(|_| too_big())
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn capacity(&self) -> usize {
        self.capacity
    }

    pub fn length(&self) -> usize {
        self.length
    }

    /// Whether stored sequence `slot` starts at its episode's first step.
    pub fn starts_episode(&self, slot: usize) -> bool {
        self.episode_start[slot] != 0.0
    }

    /// Records one step of environment `env`: `obs` and the actor's `state` before it, the
    /// action and reward, and the observation after (`next_obs`: the final observation when
    /// the episode ended). `episode_start`: this step is its episode's first. Returns the slot
    /// written when the step completed a sequence.
    #[allow(clippy::too_many_arguments)]
    pub fn add_step(
        &mut self,
        env: usize,
        obs: &[f32],
        state: &[f32],
        action: f32,
        reward: f32,
        next_obs: &[f32],
        terminated: bool,
        truncated: bool,
        episode_start: bool,
    ) -> Option<usize> {
        let (od, sd) = (self.obs_dim, self.state_dim);
        let b = &mut self.builders[env];
        if episode_start {
            // A new episode: whatever the builder held is gone (it was emitted at the end).
            b.steps = 0;
            b.fresh = 0;
        }
        if b.steps == 0 {
            b.episode_start = episode_start;
        }
        let t = b.steps;
        b.obs[t * od..(t + 1) * od].copy_from_slice(obs);
        b.states[t * sd..(t + 1) * sd].copy_from_slice(state);
        b.actions[t] = action;
        b.rewards[t] = reward;
        b.steps += 1;
        b.fresh += 1;
        let done = terminated || truncated;
        if !done && b.steps < self.length {
            return None;
        }
        let slot = self.emit(env, next_obs, terminated);
        let (length, overlap) = (self.length, self.overlap);
        let b = &mut self.builders[env];
        if done {
            b.steps = 0;
            b.fresh = 0;
        } else {
            // Keep the last `overlap` steps: the next sequence starts there.
            let from = length - overlap;
            b.obs.copy_within(from * od..length * od, 0);
            b.states.copy_within(from * sd..length * sd, 0);
            b.actions.copy_within(from..length, 0);
            b.rewards.copy_within(from..length, 0);
            b.steps = overlap;
            b.fresh = 0;
            b.episode_start = false;
        }
        slot
    }

    /// Stores builder `env` (if it holds new steps) with `last_obs` after its last step.
    fn emit(&mut self, env: usize, last_obs: &[f32], terminated: bool) -> Option<usize> {
        let (od, sd, l) = (self.obs_dim, self.state_dim, self.length);
        let b = &self.builders[env];
        if b.fresh == 0 {
            return None;
        }
        let slot = self.pos;
        let m = b.steps;
        let obs = &mut self.obs[slot * (l + 1) * od..(slot + 1) * (l + 1) * od];
        obs[..m * od].copy_from_slice(&b.obs[..m * od]);
        obs[m * od..(m + 1) * od].copy_from_slice(last_obs);
        obs[(m + 1) * od..].fill(0.0);
        let actions = &mut self.actions[slot * l..(slot + 1) * l];
        actions[..m].copy_from_slice(&b.actions[..m]);
        actions[m..].fill(0.0);
        let rewards = &mut self.rewards[slot * l..(slot + 1) * l];
        rewards[..m].copy_from_slice(&b.rewards[..m]);
        rewards[m..].fill(0.0);
        self.lengths[slot] = m as f32;
        self.terminated[slot] = if terminated { 1.0 } else { 0.0 };
        self.episode_start[slot] = if b.episode_start { 1.0 } else { 0.0 };
        self.states[slot * sd..(slot + 1) * sd].copy_from_slice(&b.states[..sd]);
        self.pos = (self.pos + 1) % self.capacity;
        self.len = (self.len + 1).min(self.capacity);
        Some(slot)
    }

    /// Draws `batch` stored slots uniformly (with replacement) into `out`.
    ///
    /// # Panics
    /// If the replay is empty.
    pub fn sample_uniform(&self, batch: usize, rng: &mut impl Rng, out: &mut Vec<usize>) {
        assert!(self.len > 0, "sequence replay: nothing stored to sample");
        out.clear();
        out.extend((0..batch).map(|_| rng.gen_range(0..self.len)));
    }

    /// Copies the sequences in `indices` into `batch`, time-major.
    ///
    /// # Panics
    /// If there are more indices than the batch holds, or one is not stored.
    pub fn fill(&self, indices: &[usize], batch: &mut SequenceBatch) {
        let (od, sd, l) = (self.obs_dim, self.state_dim, self.length);
        let rows = indices.len();
        assert!(
            rows <= batch.lengths.len() && batch.length == l,
            "sequence batch too small"
        );
        batch.rows = rows;
        batch.indices.clear();
        batch.indices.extend_from_slice(indices);
        for (r, &slot) in indices.iter().enumerate() {
            assert!(slot < self.len, "sequence slot {slot} is not stored");
            let m = self.lengths[slot] as usize;
            let src = &self.obs[slot * (l + 1) * od..(slot + 1) * (l + 1) * od];
            for t in 0..=l {
                batch.obs[(t * rows + r) * od..(t * rows + r + 1) * od]
                    .copy_from_slice(&src[t * od..(t + 1) * od]);
            }
            for t in 0..l {
                batch.actions[t * rows + r] = self.actions[slot * l + t];
                batch.rewards[t * rows + r] = self.rewards[slot * l + t];
                batch.mask[t * rows + r] = if t < m { 1.0 } else { 0.0 };
            }
            batch.lengths[r] = m;
            batch.terminated[r] = self.terminated[slot] != 0.0;
            batch.episode_start[r] = self.episode_start[slot] != 0.0;
            batch.states[r * sd..(r + 1) * sd]
                .copy_from_slice(&self.states[slot * sd..(slot + 1) * sd]);
        }
    }

    /// What a checkpoint stores besides [`SequenceReplay::arrays`].
    pub fn state(&self) -> SequenceReplayState {
        SequenceReplayState {
            capacity: self.capacity,
            n_envs: self.builders.len(),
            length: self.length,
            overlap: self.overlap,
            obs_dim: self.obs_dim,
            state_dim: self.state_dim,
            pos: self.pos,
            len: self.len,
            builders: self
                .builders
                .iter()
                .map(|b| (b.steps, b.fresh, b.episode_start))
                .collect(),
        }
    }

    /// The stored arrays by name (the builders' included), exact as `f32`.
    pub fn arrays(&self) -> Vec<(&'static str, Vec<f32>)> {
        let cat = |f: fn(&Builder) -> &Vec<f32>| -> Vec<f32> {
            self.builders
                .iter()
                .flat_map(|b| f(b).iter().copied())
                .collect()
        };
        vec![
            ("obs", self.obs.clone()),
            ("actions", self.actions.clone()),
            ("rewards", self.rewards.clone()),
            ("lengths", self.lengths.clone()),
            ("terminated", self.terminated.clone()),
            ("episode_start", self.episode_start.clone()),
            ("states", self.states.clone()),
            ("builder_obs", cat(|b| &b.obs)),
            ("builder_actions", cat(|b| &b.actions)),
            ("builder_rewards", cat(|b| &b.rewards)),
            ("builder_states", cat(|b| &b.states)),
        ]
    }

    /// Rebuilds a replay from [`SequenceReplay::state`] and [`SequenceReplay::arrays`].
    pub fn restore(
        state: &SequenceReplayState,
        arrays: &[(String, Vec<f32>)],
    ) -> Result<SequenceReplay, String> {
        let mut r = SequenceReplay::new(
            state.capacity,
            state.n_envs,
            state.length,
            state.overlap,
            state.obs_dim,
            state.state_dim,
        )
        .map_err(|e| format!("saved sequence replay: {e}"))?;
        if state.pos >= state.capacity
            || state.len > state.capacity
            || state.builders.len() != state.n_envs
            || state
                .builders
                .iter()
                .any(|&(steps, fresh, _)| steps > state.length || fresh > steps)
        {
            return Err("saved sequence replay: positions out of range".into());
        }
        r.pos = state.pos;
        r.len = state.len;
        let get = |name: &str, expected: usize| -> Result<&Vec<f32>, String> {
            let data = arrays
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, d)| d)
                .ok_or_else(|| format!("saved sequence replay: `{name}` is missing"))?;
            if data.len() != expected {
                return Err(format!(
                    "saved sequence replay: `{name}` holds {} floats, expected {expected}",
                    data.len()
                ));
            }
            Ok(data)
        };
        let n = state.n_envs;
        let n_obs = r.obs.len();
        r.obs.copy_from_slice(get("obs", n_obs)?);
        let n_actions = r.actions.len();
        r.actions.copy_from_slice(get("actions", n_actions)?);
        let n_rewards = r.rewards.len();
        r.rewards.copy_from_slice(get("rewards", n_rewards)?);
        let n_lengths = r.lengths.len();
        r.lengths.copy_from_slice(get("lengths", n_lengths)?);
        let n_terminated = r.terminated.len();
        r.terminated
            .copy_from_slice(get("terminated", n_terminated)?);
        let n_episode_start = r.episode_start.len();
        r.episode_start
            .copy_from_slice(get("episode_start", n_episode_start)?);
        let n_states = r.states.len();
        r.states.copy_from_slice(get("states", n_states)?);
        if r.lengths
            .iter()
            .any(|&m| !(m >= 0.0 && m as usize <= r.length))
        {
            return Err("saved sequence replay: a sequence length is out of range".into());
        }
        let (l, od, sd) = (r.length, r.obs_dim, r.state_dim);
        let b_obs = get("builder_obs", n * l * od)?;
        let b_actions = get("builder_actions", n * l)?;
        let b_rewards = get("builder_rewards", n * l)?;
        let b_states = get("builder_states", n * l * sd)?;
        for (e, b) in r.builders.iter_mut().enumerate() {
            b.obs.copy_from_slice(&b_obs[e * l * od..(e + 1) * l * od]);
            b.actions.copy_from_slice(&b_actions[e * l..(e + 1) * l]);
            b.rewards.copy_from_slice(&b_rewards[e * l..(e + 1) * l]);
            b.states
                .copy_from_slice(&b_states[e * l * sd..(e + 1) * l * sd]);
            (b.steps, b.fresh, b.episode_start) = state.builders[e];
        }
        Ok(r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    /// Feeds one episode of `len` steps into env 0: observation `[episode, t]`, state
    /// `[t, -t]`, action `t % 3`, reward `t`; the last step terminates (or truncates).
    fn episode(r: &mut SequenceReplay, id: f32, len: usize, terminated: bool) -> Vec<usize> {
        let mut slots = Vec::new();
        for t in 0..len {
            let last = t + 1 == len;
            let s = r.add_step(
                0,
                &[id, t as f32],
                &[t as f32, -(t as f32)],
                (t % 3) as f32,
                t as f32,
                &[id, (t + 1) as f32],
                last && terminated,
                last && !terminated,
                t == 0,
            );
            slots.extend(s);
        }
        slots
    }

    /// Checks every stored sequence: one episode, consecutive steps, mask and padding right.
    fn check_sequence(r: &SequenceReplay, slot: usize, id: f32, first: usize, steps: usize) {
        let mut b = SequenceBatch::new(1, r.length, 2, 2);
        r.fill(&[slot], &mut b);
        assert_eq!(b.lengths[0], steps, "slot {slot}");
        assert_eq!(b.episode_start[0], first == 0);
        assert_eq!(b.states, vec![first as f32, -(first as f32)]);
        for t in 0..r.length {
            let valid = t < steps;
            assert_eq!(
                b.mask[t],
                if valid { 1.0 } else { 0.0 },
                "slot {slot} t {t}"
            );
            if valid {
                assert_eq!(b.obs[2 * t..2 * t + 2], [id, (first + t) as f32]);
                assert_eq!(b.rewards[t], (first + t) as f32);
                assert_eq!(b.actions[t], ((first + t) % 3) as f32);
            } else {
                assert_eq!((b.rewards[t], b.actions[t]), (0.0, 0.0));
            }
        }
        // The observation after the last valid step is its next observation.
        assert_eq!(
            b.obs[2 * steps..2 * steps + 2],
            [id, (first + steps) as f32]
        );
    }

    #[test]
    fn sequences_never_cross_episodes_and_mask_their_padding() {
        // Episodes of 1, 79, 80, 81 and 200 steps, length 80, overlap 40.
        let mut r = SequenceReplay::new(100, 1, 80, 40, 2, 2).unwrap();
        let mut expected = Vec::new();
        for (id, len) in [1usize, 79, 80, 81, 200].into_iter().enumerate() {
            let slots = episode(&mut r, id as f32, len, id % 2 == 0);
            // Starts every 40 steps; the last one runs to the episode's end.
            let starts: Vec<(usize, usize)> = match len {
                1 => vec![(0, 1)],
                79 => vec![(0, 79)],
                80 => vec![(0, 80)],
                81 => vec![(0, 80), (40, 41)],
                200 => vec![(0, 80), (40, 80), (80, 80), (120, 80)],
                _ => unreachable!(),
            };
            assert_eq!(slots.len(), starts.len(), "episode of {len}");
            for (&slot, &(first, steps)) in slots.iter().zip(&starts) {
                check_sequence(&r, slot, id as f32, first, steps);
                expected.push(slot);
            }
            let last = *slots.last().unwrap();
            let mut b = SequenceBatch::new(1, 80, 2, 2);
            r.fill(&[last], &mut b);
            assert_eq!(b.terminated[0], id % 2 == 0, "episode of {len}");
            // Only an episode's last sequence can end it.
            for &slot in &slots[..slots.len() - 1] {
                r.fill(&[slot], &mut b);
                assert!(!b.terminated[0]);
            }
        }
        assert_eq!(r.len(), expected.len());
    }

    #[test]
    fn a_full_ring_overwrites_the_oldest_and_batches_are_time_major() {
        let mut r = SequenceReplay::new(3, 2, 4, 0, 1, 1).unwrap();
        for k in 0..5u32 {
            for env in 0..2 {
                let v = (10 * k + env) as f32;
                r.add_step(
                    env as usize,
                    &[v],
                    &[v],
                    0.0,
                    v,
                    &[v + 0.5],
                    true,
                    false,
                    true,
                );
            }
        }
        assert_eq!(r.len(), 3);
        let mut b = SequenceBatch::new(3, 4, 1, 1);
        r.fill(&[0, 1, 2], &mut b);
        // Ten one-step sequences through 3 slots (written in order 0, 1, 10, 11, ...): slot i holds the last write i, i + 3, i + 6 or i + 9.
        assert_eq!(b.states, vec![41.0, 31.0, 40.0]);
        // obs is [length + 1, rows, 1]: step 0 of each row, then each row's final observation.
        assert_eq!(b.obs[..6], [41.0, 31.0, 40.0, 41.5, 31.5, 40.5]);
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        let mut idx = Vec::new();
        r.sample_uniform(64, &mut rng, &mut idx);
        assert!(idx.iter().all(|&i| i < 3) && idx.len() == 64);
    }

    #[test]
    fn restore_gives_back_the_same_replay_builders_included() {
        let mut r = SequenceReplay::new(10, 1, 8, 4, 2, 2).unwrap();
        episode(&mut r, 1.0, 13, true);
        // Half an episode in the builder.
        for t in 0..6 {
            r.add_step(
                0,
                &[2.0, t as f32],
                &[0.5, 0.25],
                1.0,
                1.0,
                &[0.0, 0.0],
                false,
                false,
                t == 0,
            );
        }
        let arrays: Vec<(String, Vec<f32>)> = r
            .arrays()
            .into_iter()
            .map(|(n, d)| (n.to_string(), d))
            .collect();
        let mut back = SequenceReplay::restore(&r.state(), &arrays).unwrap();
        assert_eq!(back.state(), r.state());
        // Both finish the episode into the same sequences.
        for t in 6..9 {
            let a = r.add_step(
                0,
                &[2.0, t as f32],
                &[0.5, 0.25],
                1.0,
                1.0,
                &[9.0, 9.0],
                false,
                t == 8,
                false,
            );
            let b = back.add_step(
                0,
                &[2.0, t as f32],
                &[0.5, 0.25],
                1.0,
                1.0,
                &[9.0, 9.0],
                false,
                t == 8,
                false,
            );
            assert_eq!(a, b);
        }
        assert_eq!(back.arrays(), r.arrays());
        let mut bad = arrays.clone();
        bad.retain(|(n, _)| n != "states");
        assert!(SequenceReplay::restore(&r.state(), &bad)
            .err()
            .unwrap()
            .contains("`states` is missing"));
    }

    #[test]
    fn bad_shapes_are_refused_with_the_key() {
        let err = SequenceReplay::new(10, 1, 0, 0, 2, 2).err().unwrap();
        assert!(err.contains("sequence_length"), "{err}");
        let err = SequenceReplay::new(10, 1, 8, 8, 2, 2).err().unwrap();
        assert!(err.contains("sequence_overlap"), "{err}");
        let err = SequenceReplay::new(usize::MAX / 2, 1, 80, 40, 4, 128)
            .err()
            .unwrap();
        assert!(err.contains("lower buffer_size"), "{err}");
    }
}
