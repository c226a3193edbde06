//! All of a model's parameters live in one contiguous `f32` buffer.
//!
//! Layers do not own their weights: when built they register named, shaped tensors in a
//! [`ParamLayout`] and keep the returned [`Slot`]s (offset + shape). Forward and backward then
//! take the whole parameter buffer (`&[f32]`) and the whole same-layout gradient buffer
//! (`&mut [f32]`). One flat buffer is what makes Hogwild updates, optimizers, global-norm
//! clipping and checkpoints one loop each instead of one per tensor.

use crate::init::Init;
use rand::Rng;

/// Where one named tensor lives inside the flat parameter buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Slot {
    pub offset: usize,
    /// Rows and columns; a vector is `rows = len, cols = 1`.
    pub rows: usize,
    pub cols: usize,
}

impl Slot {
    pub const fn len(&self) -> usize {
        self.rows * self.cols
    }

    pub const fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn range(&self) -> std::ops::Range<usize> {
        self.offset..self.offset + self.len()
    }

    #[inline]
    pub fn of<'a>(&self, buf: &'a [f32]) -> &'a [f32] {
        &buf[self.offset..self.offset + self.rows * self.cols]
    }

    #[inline]
    pub fn of_mut<'a>(&self, buf: &'a mut [f32]) -> &'a mut [f32] {
        &mut buf[self.offset..self.offset + self.rows * self.cols]
    }
}

/// One registered tensor: its checkpoint name, shape, place and initialiser.
#[derive(Clone, Debug)]
pub struct ParamSpec {
    pub name: String,
    pub shape: Vec<usize>,
    pub slot: Slot,
    pub init: Init,
}

/// The table of contents of a flat parameter buffer. Built once, when the model is built.
#[derive(Clone, Debug, Default)]
pub struct ParamLayout {
    specs: Vec<ParamSpec>,
    len: usize,
}

impl ParamLayout {
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers a matrix of `rows x cols` (row-major; PyTorch's `[out, in]` for weights).
    pub fn matrix(
        &mut self,
        name: impl Into<String>,
        rows: usize,
        cols: usize,
        init: Init,
    ) -> Slot {
        self.push(name.into(), vec![rows, cols], rows, cols, init)
    }

    /// Registers a vector of `len` elements.
    pub fn vector(&mut self, name: impl Into<String>, len: usize, init: Init) -> Slot {
        self.push(name.into(), vec![len], len, 1, init)
    }

    fn push(
        &mut self,
        name: String,
        shape: Vec<usize>,
        rows: usize,
        cols: usize,
        init: Init,
    ) -> Slot {
        assert!(
            !self.specs.iter().any(|s| s.name == name),
            "parameter name `{name}` registered twice: give each layer a distinct prefix"
        );
        let slot = Slot {
            offset: self.len,
            rows,
            cols,
        };
        self.len += rows * cols;
        self.specs.push(ParamSpec {
            name,
            shape,
            slot,
            init,
        });
        slot
    }

    /// Total number of scalars.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn specs(&self) -> &[ParamSpec] {
        &self.specs
    }

    pub fn get(&self, name: &str) -> Option<&ParamSpec> {
        self.specs.iter().find(|s| s.name == name)
    }

    /// A fresh buffer with every tensor drawn from its initialiser, in registration order
    /// (so a seed gives the same weights whatever else the model does).
    pub fn initialize<R: Rng + ?Sized>(&self, rng: &mut R) -> Vec<f32> {
        let mut buf = vec![0.0; self.len];
        for spec in &self.specs {
            spec.init.fill(
                spec.slot.of_mut(&mut buf),
                spec.slot.rows,
                spec.slot.cols,
                rng,
            );
        }
        buf
    }

    /// A zeroed buffer of the same layout (gradients, optimizer statistics).
    pub fn zeros(&self) -> Vec<f32> {
        vec![0.0; self.len]
    }

    /// A short fingerprint of names and shapes, stored in checkpoints so that loading into
    /// another architecture fails with a clear error instead of scrambling weights.
    pub fn signature(&self) -> String {
        let mut s = String::new();
        for spec in &self.specs {
            if !s.is_empty() {
                s.push(';');
            }
            s.push_str(&spec.name);
            s.push(':');
            let dims: Vec<String> = spec.shape.iter().map(|d| d.to_string()).collect();
            s.push_str(&dims.join("x"));
        }
        s
    }
}
