//! What LSTM and GRU share: the carried state and the episode-start masking.

/// The state a recurrent core carries between steps, batch-major `[batch, hidden]`.
/// `c` is the LSTM cell state; it is empty for a GRU (and both are empty for no core).
#[derive(Clone, Debug, PartialEq)]
pub struct RecurrentState {
    pub batch: usize,
    pub hidden: usize,
    pub h: Vec<f32>,
    pub c: Vec<f32>,
}

impl RecurrentState {
    /// A zero state; `with_cell` for an LSTM.
    pub fn zeros(batch: usize, hidden: usize, with_cell: bool) -> Self {
        Self {
            batch,
            hidden,
            h: vec![0.0; batch * hidden],
            c: if with_cell {
                vec![0.0; batch * hidden]
            } else {
                Vec::new()
            },
        }
    }

    /// Zeroes everything (start of every episode in every row).
    pub fn reset(&mut self) {
        self.h.fill(0.0);
        self.c.fill(0.0);
    }

    /// Zeroes row `b` (a new episode starts in that environment).
    pub fn reset_row(&mut self, b: usize) {
        let hd = self.hidden;
        self.h[b * hd..(b + 1) * hd].fill(0.0);
        if !self.c.is_empty() {
            self.c[b * hd..(b + 1) * hd].fill(0.0);
        }
    }

    /// Zeroes the rows whose flag is set (`starts.len() == batch`).
    pub fn reset_rows(&mut self, starts: &[bool]) {
        assert_eq!(
            starts.len(),
            self.batch,
            "reset_rows: one flag per batch row"
        );
        for (b, &s) in starts.iter().enumerate() {
            if s {
                self.reset_row(b);
            }
        }
    }

    /// Copies `other` (same shape) into `self`.
    pub fn copy_from(&mut self, other: &RecurrentState) {
        assert!(
            self.batch == other.batch && self.hidden == other.hidden,
            "RecurrentState::copy_from: shapes differ"
        );
        self.h.copy_from_slice(&other.h);
        self.c.copy_from_slice(&other.c);
    }

    pub(crate) fn check(&self, who: &str, batch: usize, hidden: usize, with_cell: bool) {
        assert!(
            self.batch == batch
                && self.hidden == hidden
                && self.h.len() == batch * hidden
                && self.c.len() == if with_cell { batch * hidden } else { 0 },
            "{who}: state is [{}, {}] (cell: {}), the call needs [{batch}, {hidden}] (cell: {with_cell}); \
             build it with RecurrentState::zeros(batch, hidden, {with_cell})",
            self.batch,
            self.hidden,
            !self.c.is_empty()
        );
    }
}

/// Copies `src` into `dst` row by row, zeroing the rows flagged in `starts` (the incoming state
/// of a row where a new episode begins is zero, as sb3-contrib's `(1 - episode_start) * h`).
#[inline]
pub(crate) fn masked_copy(src: &[f32], dst: &mut [f32], starts: &[bool], width: usize) {
    for (b, &s) in starts.iter().enumerate() {
        let r = b * width..(b + 1) * width;
        if s {
            dst[r].fill(0.0);
        } else {
            dst[r.clone()].copy_from_slice(&src[r]);
        }
    }
}

/// Zeroes the rows flagged in `starts` (blocks the gradient into a reset state).
#[inline]
pub(crate) fn zero_rows(x: &mut [f32], starts: &[bool], width: usize) {
    for (b, &s) in starts.iter().enumerate() {
        if s {
            x[b * width..(b + 1) * width].fill(0.0);
        }
    }
}

/// Checks the per-step episode-start flags and records them (all false when absent).
pub(crate) fn record_starts(
    who: &str,
    starts: Option<&[bool]>,
    steps: usize,
    batch: usize,
    out: &mut [bool],
) {
    match starts {
        Some(s) => {
            assert_eq!(
                s.len(),
                steps * batch,
                "{who}: starts needs one flag per step and row (steps * batch = {}), got {}",
                steps * batch,
                s.len()
            );
            out[..steps * batch].copy_from_slice(s);
        }
        None => out[..steps * batch].fill(false),
    }
}
