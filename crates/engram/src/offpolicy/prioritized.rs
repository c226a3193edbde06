//! Proportional prioritized experience replay (Schaul et al. 2016, "Prioritized Experience
//! Replay"), used alongside a [`ReplayBuffer`]: the sampler keeps one priority per buffer slot
//! and draws slots with probability `P(i) = p_i / sum_j p_j`, where
//! `p_i = (|delta_i| + eps)^alpha`.
//!
//! - [`SumTree`] stores the priorities in a binary tree of partial sums (and partial minima), so
//!   setting a priority, drawing a slot and finding `min P` each take `O(log capacity)`.
//! - [`PrioritizedSampler`] follows the paper: new transitions get the largest priority seen so
//!   far, a batch is drawn by stratified sampling (the total mass split in `batch_size` equal
//!   segments, one uniform draw in each), and each draw carries the importance weight
//!   `w_i = (N P(i))^-beta / max_j w_j` that corrects the bias of non-uniform sampling.
//!
//! A typical step: `let slots = buffer.write_range(); buffer.add(..); sampler.on_add(slots);`,
//! then `sampler.sample(batch, buffer.len(), beta, rng, &mut batch.indices, &mut weights);
//! buffer.fill(n_step, gamma, &mut batch);` and, after the loss, `update_priorities` with the TD
//! errors of those slots.
//!
//! [`ReplayBuffer`]: super::replay::ReplayBuffer

use rand::Rng;
use serde::{Deserialize, Serialize};

/// Sums (`f64`, so that millions of small priorities add up without drift) and minima over a
/// fixed number of leaves, in the classic array layout: node 1 is the root, node `k` has children
/// `2k` and `2k + 1`, and leaf `i` is node `leaves + i` with `leaves` a power of two. Leaves past
/// `capacity` stay 0. Every internal node is always recomputed from its two children, never
/// patched by a difference, so no rounding error accumulates and the tree is a pure function of
/// its leaves.
#[derive(Debug, Clone, PartialEq)]
pub struct SumTree {
    capacity: usize,
    leaves: usize,
    sums: Vec<f64>,
    /// Minimum over the subtree's *positive* priorities (+inf where there is none): a zero
    /// priority is never drawn, so it must not set the weight normaliser.
    mins: Vec<f64>,
}

impl SumTree {
    /// A tree of `capacity` leaves, all 0.
    ///
    /// # Panics
    /// If `capacity` is 0.
    pub fn new(capacity: usize) -> SumTree {
        assert!(capacity > 0, "a sum tree needs at least one leaf");
        let leaves = capacity.next_power_of_two();
        SumTree {
            capacity,
            leaves,
            sums: vec![0.0; 2 * leaves],
            mins: vec![f64::INFINITY; 2 * leaves],
        }
    }

    /// A tree with these leaf priorities, built in `O(n)`; identical to setting them one by one.
    ///
    /// # Panics
    /// If `priorities` is empty, or as [`SumTree::set`].
    pub fn from_priorities(priorities: &[f64]) -> SumTree {
        let mut tree = SumTree::new(priorities.len());
        for (i, &p) in priorities.iter().enumerate() {
            check_priority(p);
            tree.sums[tree.leaves + i] = p;
            tree.mins[tree.leaves + i] = min_key(p);
        }
        for node in (1..tree.leaves).rev() {
            tree.pull(node);
        }
        tree
    }

    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Sets leaf `i` to `priority` (finite, >= 0).
    ///
    /// # Panics
    /// If `i >= capacity` or `priority` is negative or not finite.
    pub fn set(&mut self, i: usize, priority: f64) {
        assert!(
            i < self.capacity,
            "sum tree leaf {i} out of range (capacity {})",
            self.capacity
        );
        check_priority(priority);
        let mut node = self.leaves + i;
        self.sums[node] = priority;
        self.mins[node] = min_key(priority);
        while node > 1 {
            node /= 2;
            self.pull(node);
        }
    }

    pub fn get(&self, i: usize) -> f64 {
        assert!(i < self.capacity, "sum tree leaf {i} out of range");
        self.sums[self.leaves + i]
    }

    /// Sum of all priorities.
    pub fn total(&self) -> f64 {
        self.sums[1]
    }

    /// Smallest positive priority; `f64::INFINITY` when no priority is positive.
    pub fn min(&self) -> f64 {
        self.mins[1]
    }

    /// The leaf `i` whose cumulative range `[p_0 + .. + p_{i-1}, p_0 + .. + p_i)` holds `mass`:
    /// with `mass` uniform in `[0, total)`, leaf `i` comes with probability `p_i / total`.
    ///
    /// Robust to rounding: `mass` is clamped to `[0, total]` (NaN counts as 0), and the descent
    /// never enters a subtree whose sum is 0, so the leaf returned always has a positive
    /// priority: never an unset leaf, even for `mass == total`.
    ///
    /// # Panics
    /// If no priority is positive (`total() == 0`).
    pub fn find_prefix_sum(&self, mass: f64) -> usize {
        let total = self.total();
        assert!(
            total > 0.0,
            "cannot draw from a sum tree whose priorities are all 0"
        );
        let mut mass = if mass > 0.0 { mass.min(total) } else { 0.0 };
        let mut node = 1;
        while node < self.leaves {
            let (left, right) = (self.sums[2 * node], self.sums[2 * node + 1]);
            // Right when the mass lies past the left subtree (or the left one is empty), but only
            // into a non-empty subtree: the current node's sum is positive, so one child is.
            if right > 0.0 && (mass >= left || left <= 0.0) {
                mass -= left;
                node = 2 * node + 1;
            } else {
                node *= 2;
            }
        }
        node - self.leaves
    }

    fn pull(&mut self, node: usize) {
        self.sums[node] = self.sums[2 * node] + self.sums[2 * node + 1];
        self.mins[node] = self.mins[2 * node].min(self.mins[2 * node + 1]);
    }
}

fn check_priority(p: f64) {
    assert!(
        p.is_finite() && p >= 0.0,
        "a priority must be finite and >= 0 (got {p})"
    );
}

fn min_key(p: f64) -> f64 {
    if p > 0.0 {
        p
    } else {
        f64::INFINITY
    }
}

/// Proportional prioritized sampling over the slots of a [`ReplayBuffer`] (same indices,
/// `pos * n_envs + env`); see the module documentation.
///
/// [`ReplayBuffer`]: super::replay::ReplayBuffer
#[derive(Debug, Clone, PartialEq)]
pub struct PrioritizedSampler {
    /// Leaf `i` holds `p_i = (|delta_i| + eps)^alpha`, rounded to `f32` (see `leaf`).
    tree: SumTree,
    alpha: f64,
    eps: f64,
    /// Largest raw priority `|delta| + eps` seen so far (starts at 1, as in the paper's code).
    max_priority: f64,
}

/// What a checkpoint needs besides [`PrioritizedSampler::priorities`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PrioritizedState {
    pub capacity: usize,
    pub alpha: f64,
    pub eps: f64,
    pub max_priority: f64,
}

impl PrioritizedSampler {
    /// A sampler for a buffer of `capacity` slots (`ReplayBuffer::capacity()`), with priority
    /// exponent `alpha` (0 = uniform) and `eps` added to `|delta|` so no slot starves.
    pub fn new(capacity: usize, alpha: f64, eps: f64) -> Result<PrioritizedSampler, String> {
        if capacity == 0 {
            return Err("prioritized replay: buffer_size must be at least 1".into());
        }
        if !(alpha.is_finite() && alpha >= 0.0) {
            return Err(format!(
                "prioritized replay: alpha must be finite and >= 0 (got {alpha})"
            ));
        }
        if !(eps.is_finite() && eps > 0.0) {
            return Err(format!(
                "prioritized replay: eps must be finite and > 0 (got {eps})"
            ));
        }
        Ok(PrioritizedSampler {
            tree: SumTree::new(capacity),
            alpha,
            eps,
            max_priority: 1.0,
        })
    }

    pub fn tree(&self) -> &SumTree {
        &self.tree
    }

    pub fn alpha(&self) -> f64 {
        self.alpha
    }

    pub fn eps(&self) -> f64 {
        self.eps
    }

    pub fn max_priority(&self) -> f64 {
        self.max_priority
    }

    /// The leaf value for a raw priority: `raw^alpha`, rounded to `f32` and kept in
    /// `[f32::MIN_POSITIVE, f32::MAX]`. Rounding makes a checkpoint's `f32` priorities exact (the
    /// restored tree is bit-identical); the clamp keeps every stored slot drawable and the sums
    /// finite.
    fn leaf(&self, raw: f64) -> f64 {
        let p = raw.powf(self.alpha) as f32;
        f64::from(p.clamp(f32::MIN_POSITIVE, f32::MAX))
    }

    /// Gives slots just written by `ReplayBuffer::add` (its `write_range()` before the call) the
    /// largest priority so far, so every new transition is likely to be replayed at least once.
    ///
    /// # Panics
    /// If a slot is not below the capacity.
    pub fn on_add(&mut self, slots: impl IntoIterator<Item = usize>) {
        let p = self.leaf(self.max_priority);
        for i in slots {
            self.tree.set(i, p);
        }
    }

    /// Draws `batch_size` slots into `indices_out` and their importance weights into
    /// `weights_out` (both cleared first; no allocation once they have held a batch this large).
    /// `len` is the buffer's `len()`, the number `N` of stored transitions.
    ///
    /// Stratified, as in the paper: the total mass is split in `batch_size` equal segments and
    /// one slot drawn uniformly within each. The weight is `w_i = (N P(i))^-beta / max_j w_j`
    /// with `max_j w_j = (N min_j P(j))^-beta`; `N` and the total cancel, leaving
    /// `(p_i / p_min)^-beta`, in `(0, 1]`.
    ///
    /// # Panics
    /// If `len` is 0 or above the capacity, `beta` is negative or not finite, or a drawn slot is
    /// not below `len` (a priority was set for a slot never added).
    pub fn sample(
        &self,
        batch_size: usize,
        len: usize,
        beta: f64,
        rng: &mut impl Rng,
        indices_out: &mut Vec<usize>,
        weights_out: &mut Vec<f32>,
    ) {
        assert!(
            len > 0 && len <= self.tree.capacity(),
            "prioritized replay: cannot sample {len} stored transitions (capacity {})",
            self.tree.capacity()
        );
        assert!(
            beta.is_finite() && beta >= 0.0,
            "prioritized replay: beta must be finite and >= 0 (got {beta})"
        );
        indices_out.clear();
        weights_out.clear();
        let segment = self.tree.total() / batch_size as f64;
        let p_min = self.tree.min();
        for k in 0..batch_size {
            let mass = (k as f64 + rng.gen::<f64>()) * segment;
            let i = self.tree.find_prefix_sum(mass);
            assert!(
                i < len,
                "prioritized replay drew slot {i} but only {len} are stored: on_add was called \
                 for slots never added"
            );
            let w = (self.tree.get(i) / p_min).powf(-beta);
            indices_out.push(i);
            weights_out.push(w as f32);
        }
    }

    /// Sets the priority of each slot to `(|td_error| + eps)^alpha` and tracks the largest raw
    /// priority. A non-finite TD error (a diverging loss) is skipped: the slot keeps its priority,
    /// and the returned count of skipped errors lets the caller warn. Never panics on values.
    ///
    /// # Panics
    /// If the slices differ in length or a slot is not below the capacity.
    pub fn update_priorities(&mut self, slots: &[usize], td_errors: &[f32]) -> usize {
        assert_eq!(
            slots.len(),
            td_errors.len(),
            "update_priorities: {} slots but {} TD errors",
            slots.len(),
            td_errors.len()
        );
        let mut skipped = 0;
        for (&i, &delta) in slots.iter().zip(td_errors) {
            if !delta.is_finite() {
                skipped += 1;
                continue;
            }
            let raw = f64::from(delta.abs()) + self.eps;
            self.max_priority = self.max_priority.max(raw);
            self.tree.set(i, self.leaf(raw));
        }
        skipped
    }

    /// What a checkpoint needs besides [`PrioritizedSampler::priorities`].
    pub fn state(&self) -> PrioritizedState {
        PrioritizedState {
            capacity: self.tree.capacity(),
            alpha: self.alpha,
            eps: self.eps,
            max_priority: self.max_priority,
        }
    }

    /// The leaf priorities `p_i` (already `alpha`-exponentiated), one per slot: exact as `f32`.
    pub fn priorities(&self) -> Vec<f32> {
        (0..self.tree.capacity())
            .map(|i| self.tree.get(i) as f32)
            .collect()
    }

    /// Rebuilds a sampler from [`PrioritizedSampler::state`] and
    /// [`PrioritizedSampler::priorities`]; the result is identical to the one saved.
    pub fn restore(
        state: PrioritizedState,
        priorities: &[f32],
    ) -> Result<PrioritizedSampler, String> {
        let mut sampler = PrioritizedSampler::new(state.capacity, state.alpha, state.eps)
            .map_err(|e| format!("saved {e}"))?;
        if priorities.len() != state.capacity {
            return Err(format!(
                "saved prioritized replay: {} priorities for capacity {}",
                priorities.len(),
                state.capacity
            ));
        }
        if !(state.max_priority.is_finite() && state.max_priority > 0.0) {
            return Err(format!(
                "saved prioritized replay: max_priority must be finite and > 0 (got {})",
                state.max_priority
            ));
        }
        if let Some(p) = priorities.iter().find(|p| !(p.is_finite() && **p >= 0.0)) {
            return Err(format!(
                "saved prioritized replay: a priority is {p}; all must be finite and >= 0"
            ));
        }
        let leaves: Vec<f64> = priorities.iter().map(|&p| f64::from(p)).collect();
        sampler.tree = SumTree::from_priorities(&leaves);
        sampler.max_priority = state.max_priority;
        Ok(sampler)
    }
}

#[cfg(test)]
mod tests {
    use super::super::replay::{Batch, ReplayBuffer};
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    /// Pearson's chi-square statistic of `counts` against probabilities proportional to `weights`.
    fn chi_square(counts: &[u64], weights: &[f64]) -> f64 {
        let n: u64 = counts.iter().sum();
        let total: f64 = weights.iter().sum();
        counts
            .iter()
            .zip(weights)
            .map(|(&c, &w)| {
                let expected = n as f64 * w / total;
                (c as f64 - expected).powi(2) / expected
            })
            .sum()
    }

    /// The 0.999 quantile of chi-square with 7 degrees of freedom.
    const CHI2_7_999: f64 = 24.32;

    #[test]
    fn sum_tree_total_and_prefix_search() {
        let mut tree = SumTree::new(5); // not a power of two: 8 leaves inside, 3 always 0
        for (i, p) in [1.0, 2.0, 3.0, 4.0, 5.0].into_iter().enumerate() {
            tree.set(i, p);
        }
        assert_eq!(tree.total(), 15.0);
        // Cumulative ranges: [0,1) [1,3) [3,6) [6,10) [10,15).
        let cases = [
            (0.0, 0),
            (0.99, 0),
            (1.0, 1),
            (2.5, 1),
            (3.0, 2),
            (5.99, 2),
            (6.0, 3),
            (10.0, 4),
            (14.9, 4),
        ];
        for (mass, leaf) in cases {
            assert_eq!(tree.find_prefix_sum(mass), leaf, "mass {mass}");
        }
        // Overwrites and a zero priority in the middle.
        tree.set(2, 0.0);
        tree.set(4, 0.5);
        assert_eq!(tree.total(), 7.5);
        assert_eq!(tree.get(2), 0.0);
        assert_eq!(tree.find_prefix_sum(2.999), 1);
        assert_eq!(tree.find_prefix_sum(3.0), 3); // skips the empty leaf 2
        assert_eq!(tree.find_prefix_sum(7.0), 4);
        // Edges: never an unset leaf (5..8) nor a zero one.
        assert_eq!(tree.find_prefix_sum(7.5), 4);
        assert_eq!(tree.find_prefix_sum(1e9), 4);
        assert_eq!(tree.find_prefix_sum(-1.0), 0);
        assert_eq!(tree.find_prefix_sum(f64::NAN), 0);
        tree.set(4, 0.0);
        tree.set(3, 0.0);
        assert_eq!(tree.find_prefix_sum(3.0), 1); // mass == total lands on the last positive leaf
        assert_eq!(tree.find_prefix_sum(f64::INFINITY), 1);
        tree.set(0, 0.0);
        assert_eq!(tree.find_prefix_sum(0.0), 1); // the empty first leaf is skipped too
    }

    #[test]
    fn sum_tree_survives_rounding_at_the_top() {
        // Priorities whose sum rounds: the mass just below or at the total must still land on a
        // stored, positive leaf.
        let mut tree = SumTree::new(3);
        tree.set(0, 0.1);
        tree.set(1, 0.2);
        tree.set(2, 1e-17);
        for mass in [
            tree.total(),
            tree.total() * (1.0 - f64::EPSILON),
            0.3,
            0.30000000000000004,
        ] {
            let i = tree.find_prefix_sum(mass);
            assert!(i < 3 && tree.get(i) > 0.0, "mass {mass} gave {i}");
        }
    }

    #[test]
    fn sum_tree_min_tracks_positive_leaves() {
        let mut tree = SumTree::new(6);
        assert_eq!(tree.min(), f64::INFINITY);
        tree.set(3, 4.0);
        tree.set(5, 2.0);
        tree.set(0, 3.0);
        assert_eq!(tree.min(), 2.0);
        tree.set(5, 7.0); // overwrite the minimum
        assert_eq!(tree.min(), 3.0);
        tree.set(0, 0.0); // a zero priority is never drawn, so it is not the minimum
        assert_eq!(tree.min(), 4.0);
        tree.set(1, 0.25);
        assert_eq!(tree.min(), 0.25);
    }

    #[test]
    fn sum_tree_bulk_build_equals_incremental() {
        let priorities: Vec<f64> = (0..37).map(|i| ((i * 7919) % 101) as f64 / 7.0).collect();
        let mut tree = SumTree::new(37);
        for (i, &p) in priorities.iter().enumerate().rev() {
            tree.set(i, p + 1.0); // overwritten below
        }
        for (i, &p) in priorities.iter().enumerate() {
            tree.set(i, p);
        }
        assert_eq!(SumTree::from_priorities(&priorities), tree);
    }

    #[test]
    fn sum_tree_draws_match_priorities_chi_square() {
        let mut tree = SumTree::new(8);
        let weights: Vec<f64> = (1..=8).map(f64::from).collect();
        for (i, &w) in weights.iter().enumerate() {
            tree.set(i, w);
        }
        let mut rng = ChaCha8Rng::seed_from_u64(2016);
        let mut counts = [0u64; 8];
        for _ in 0..200_000 {
            counts[tree.find_prefix_sum(rng.gen::<f64>() * tree.total())] += 1;
        }
        let stat = chi_square(&counts, &weights);
        assert!(stat < CHI2_7_999, "chi-square {stat} for counts {counts:?}");
    }

    #[test]
    fn stratified_sampler_frequencies_match_priorities() {
        // alpha = 1 and eps = 0.5: TD errors 0.5, 1.5, ..., 7.5 give priorities 1..8.
        let mut sampler = PrioritizedSampler::new(8, 1.0, 0.5).unwrap();
        sampler.on_add(0..8);
        let td: Vec<f32> = (0..8).map(|i| i as f32 + 0.5).collect();
        assert_eq!(
            sampler.update_priorities(&(0..8).collect::<Vec<_>>(), &td),
            0
        );
        let weights: Vec<f64> = (1..=8).map(f64::from).collect();
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let (mut idx, mut w) = (Vec::new(), Vec::new());
        let mut counts = [0u64; 8];
        for _ in 0..200_000 / 32 {
            sampler.sample(32, 8, 0.4, &mut rng, &mut idx, &mut w);
            for &i in &idx {
                counts[i] += 1;
            }
        }
        // Stratification only lowers the variance: the plain test still applies.
        let stat = chi_square(&counts, &weights);
        assert!(stat < CHI2_7_999, "chi-square {stat} for counts {counts:?}");
    }

    #[test]
    fn weights_on_a_hand_example() {
        // alpha = 0.5, eps = 0.25: TD errors 0.75, 3.75, 15.75, 0.75 give raw priorities 1, 4, 16,
        // 1 and p = 1, 2, 4, 1; total 8, N = 4, P = 1/8, 2/8, 4/8, 1/8.
        // beta = 1: w = (N P)^-1 = 2, 1, 0.5, 2; max w = 2; normalised 1, 0.5, 0.25, 1.
        let mut sampler = PrioritizedSampler::new(4, 0.5, 0.25).unwrap();
        sampler.on_add(0..4);
        let skipped = sampler.update_priorities(&[0, 1, 2, 3], &[0.75, -3.75, 15.75, 0.75]);
        assert_eq!(skipped, 0);
        let leaves: Vec<f64> = (0..4).map(|i| sampler.tree().get(i)).collect();
        assert_eq!(leaves, [1.0, 2.0, 4.0, 1.0]);
        assert_eq!(sampler.max_priority(), 16.0);
        let expect = [1.0f32, 0.5, 0.25, 1.0];
        // Batch of 8: segments of mass 1, so the draws are slots 0, 1, 1, 2, 2, 2, 2, 3.
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let (mut idx, mut w) = (Vec::new(), Vec::new());
        sampler.sample(8, 4, 1.0, &mut rng, &mut idx, &mut w);
        assert_eq!(idx, [0, 1, 1, 2, 2, 2, 2, 3]);
        for (&i, &wi) in idx.iter().zip(&w) {
            assert_eq!(wi, expect[i], "slot {i}");
        }
        // beta = 0.5: (p / p_min)^-0.5 = 1, 1/sqrt 2, 1/2, 1.
        sampler.sample(8, 4, 0.5, &mut rng, &mut idx, &mut w);
        assert_eq!(w[1], std::f32::consts::FRAC_1_SQRT_2);
        assert_eq!(w[3], 0.5);
        // beta = 0: all weights 1.
        sampler.sample(8, 4, 0.0, &mut rng, &mut idx, &mut w);
        assert!(w.iter().all(|&x| x == 1.0));
    }

    #[test]
    fn new_transitions_get_max_priority_and_bad_td_errors_are_skipped() {
        let mut sampler = PrioritizedSampler::new(6, 0.6, 1e-6).unwrap();
        sampler.on_add(0..2);
        assert_eq!(sampler.tree().get(0), 1.0); // max priority starts at 1
        let skipped = sampler.update_priorities(
            &[0, 1, 0, 1],
            &[3.0, f32::NAN, f32::INFINITY, f32::NEG_INFINITY],
        );
        assert_eq!(skipped, 3);
        let p0 = f64::from((3.0f64 + 1e-6).powf(0.6) as f32);
        assert_eq!(sampler.tree().get(0), p0);
        assert_eq!(sampler.tree().get(1), 1.0); // kept
        assert_eq!(sampler.max_priority(), 3.0 + 1e-6);
        sampler.on_add(2..4);
        assert_eq!(sampler.tree().get(3), p0);
        // A huge error stays finite and the tree usable.
        sampler.update_priorities(&[2], &[f32::MAX]);
        assert!(sampler.tree().total().is_finite());
        // A zero error still leaves the slot drawable.
        sampler.update_priorities(&[3], &[0.0]);
        assert!(sampler.tree().get(3) > 0.0);
    }

    #[test]
    fn prioritized_sampling_with_a_replay_buffer() {
        // 3 rows x 2 envs, four lockstep adds: the ring wraps, slots 0..6 all stored.
        let mut buffer = ReplayBuffer::new(6, 2, 1, 1).unwrap();
        let mut sampler = PrioritizedSampler::new(buffer.capacity(), 0.6, 1e-6).unwrap();
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        let (mut batch, mut weights) = (Batch::new(4, 1, 1), Vec::new());
        for t in 0..4 {
            let slots = buffer.write_range();
            let obs = [t as f32, t as f32 + 100.0];
            buffer.add(&obs, &obs, &[0.0; 2], &[1.0; 2], &[false; 2], &[false; 2]);
            sampler.on_add(slots);
            sampler.sample(
                4,
                buffer.len(),
                0.4,
                &mut rng,
                &mut batch.indices,
                &mut weights,
            );
            buffer.fill(1, 0.99, &mut batch);
            assert!(batch.indices.iter().all(|&i| i < buffer.len()));
            let td: Vec<f32> = batch.indices.iter().map(|&i| i as f32).collect();
            sampler.update_priorities(&batch.indices, &td);
        }
        assert_eq!(buffer.len(), 6);
    }

    #[test]
    fn save_restore_round_trip_is_exact() {
        let mut sampler = PrioritizedSampler::new(10, 0.6, 1e-6).unwrap();
        sampler.on_add(0..7);
        sampler.update_priorities(&[0, 3, 6, 2], &[0.3, 2.7, 1e-3, 11.0]);
        let json = serde_json::to_string(&sampler.state()).unwrap();
        let state: PrioritizedState = serde_json::from_str(&json).unwrap();
        let back = PrioritizedSampler::restore(state, &sampler.priorities()).unwrap();
        assert_eq!(back, sampler);
        // Same draws afterwards.
        let (mut a, mut wa, mut b, mut wb) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        sampler.sample(
            16,
            7,
            0.4,
            &mut ChaCha8Rng::seed_from_u64(9),
            &mut a,
            &mut wa,
        );
        back.sample(
            16,
            7,
            0.4,
            &mut ChaCha8Rng::seed_from_u64(9),
            &mut b,
            &mut wb,
        );
        assert_eq!((a, wa), (b, wb));

        let bad =
            |state: PrioritizedState, p: &[f32]| PrioritizedSampler::restore(state, p).unwrap_err();
        assert!(bad(sampler.state(), &[1.0; 9]).contains("9 priorities"));
        let mut nan = sampler.priorities();
        nan[1] = f32::NAN;
        assert!(bad(sampler.state(), &nan).contains("NaN"));
        let state = PrioritizedState {
            alpha: -1.0,
            ..sampler.state()
        };
        assert!(bad(state, &sampler.priorities()).contains("alpha"));
    }

    #[test]
    fn constructor_errors() {
        assert!(PrioritizedSampler::new(0, 0.6, 1e-6)
            .unwrap_err()
            .contains("buffer_size"));
        assert!(PrioritizedSampler::new(4, f64::NAN, 1e-6)
            .unwrap_err()
            .contains("alpha"));
        assert!(PrioritizedSampler::new(4, 0.6, 0.0)
            .unwrap_err()
            .contains("eps"));
    }
}
