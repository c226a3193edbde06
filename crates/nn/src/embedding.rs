//! Discrete inputs: a learned lookup table, and one-hot encoding.

use crate::error::{nonzero, NnError};
use crate::{Init, ParamLayout, Slot};

/// A lookup table `{prefix}.weight` `[num_embeddings, dim]` (PyTorch's `nn.Embedding`).
#[derive(Clone, Debug)]
pub struct Embedding {
    pub num_embeddings: usize,
    pub dim: usize,
    pub weight: Slot,
}

impl Embedding {
    pub fn new(
        layout: &mut ParamLayout,
        prefix: &str,
        num_embeddings: usize,
        dim: usize,
        init: Init,
    ) -> Result<Self, NnError> {
        let ctx = format!("Embedding `{prefix}`");
        nonzero(&ctx, "num_embeddings", num_embeddings)?;
        nonzero(&ctx, "dim", dim)?;
        let weight = layout.matrix(format!("{prefix}.weight"), num_embeddings, dim, init);
        Ok(Self {
            num_embeddings,
            dim,
            weight,
        })
    }

    fn check_index(&self, i: usize) {
        assert!(
            i < self.num_embeddings,
            "Embedding: index {i} out of range for a table of {} entries",
            self.num_embeddings
        );
    }

    /// `out[n, :] = W[indices[n], :]`, `out` is `[indices.len(), dim]`.
    pub fn forward(&self, p: &[f32], indices: &[usize], out: &mut [f32]) {
        let d = self.dim;
        assert_eq!(
            out.len(),
            indices.len() * d,
            "Embedding: out must be [n, dim]"
        );
        let w = self.weight.of(p);
        for (row, &i) in out.chunks_exact_mut(d).zip(indices) {
            self.check_index(i);
            row.copy_from_slice(&w[i * d..(i + 1) * d]);
        }
    }

    /// Scatter-adds `dout` `[n, dim]` into the gradient rows of the looked-up entries.
    pub fn backward(&self, g: &mut [f32], indices: &[usize], dout: &[f32]) {
        let d = self.dim;
        assert_eq!(
            dout.len(),
            indices.len() * d,
            "Embedding: dout must be [n, dim]"
        );
        let gw = self.weight.of_mut(g);
        for (row, &i) in dout.chunks_exact(d).zip(indices) {
            self.check_index(i);
            gw[i * d..(i + 1) * d]
                .iter_mut()
                .zip(row)
                .for_each(|(a, b)| *a += b);
        }
    }
}

/// Writes the one-hot encoding of `indices` (each `< n`) into `out` `[indices.len(), n]`.
pub fn one_hot(indices: &[usize], n: usize, out: &mut [f32]) {
    assert_eq!(
        out.len(),
        indices.len() * n,
        "one_hot: out must be [indices.len(), n]"
    );
    out.fill(0.0);
    for (row, &i) in out.chunks_exact_mut(n).zip(indices) {
        assert!(i < n, "one_hot: index {i} out of range for {n} classes");
        row[i] = 1.0;
    }
}

impl Embedding {
    /// Writes the lookup into an ONNX graph: rows of the table at `indices` (int64, `[batch]`).
    pub fn onnx(&self, g: &mut crate::onnx::Graph, p: &[f32], indices: &str) -> String {
        use crate::onnx::Attr;
        let table = g.constant(
            "embedding",
            &[self.num_embeddings, self.dim],
            self.weight.of(p),
        );
        g.op("Gather", &[&table, indices], vec![("axis", Attr::Int(0))])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gradcheck::check_gradient;
    use crate::testutil::{fill_random, weighted_sum};
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn embedding_looks_up_rows_and_scatter_adds_gradients() {
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        let mut layout = ParamLayout::new();
        let emb = Embedding::new(&mut layout, "emb", 5, 3, Init::ZEROS).unwrap();
        let p = fill_random(layout.len(), 1.0, &mut rng);
        // Index 2 twice: its gradient must be the sum of both rows.
        let idx = [2usize, 0, 2, 4];
        let mut out = vec![0.0; 12];
        emb.forward(&p, &idx, &mut out);
        assert_eq!(&out[0..3], &p[6..9]);
        assert_eq!(&out[9..12], &p[12..15]);
        let w = fill_random(12, 1.0, &mut rng);
        let mut g = vec![0.0; layout.len()];
        emb.backward(&mut g, &idx, &w);
        assert_eq!(&g[3..6], &[0.0; 3], "untouched row 1 has no gradient");
        let loss = |p: &[f32]| {
            let mut out = vec![0.0; 12];
            emb.forward(p, &idx, &mut out);
            weighted_sum(&out, &w)
        };
        check_gradient(loss, &p, &g, 1e-2, 1e-3, 1e-3).unwrap();
    }

    #[test]
    fn one_hot_sets_exactly_one_entry_per_row() {
        let mut out = vec![7.0; 6];
        one_hot(&[2, 0], 3, &mut out);
        assert_eq!(out, [0.0, 0.0, 1.0, 1.0, 0.0, 0.0]);
    }

    #[test]
    #[should_panic(expected = "out of range")]
    fn one_hot_rejects_out_of_range_index() {
        let mut out = vec![0.0; 3];
        one_hot(&[3], 3, &mut out);
    }
}
