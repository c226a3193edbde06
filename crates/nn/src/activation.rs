//! Element-wise activations. Every derivative here can be written in terms of the *output*,
//! so a backward pass needs only the stored activations, not the pre-activations.

use crate::kernels;

/// An element-wise non-linearity.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Activation {
    /// `y = x` (no non-linearity).
    Identity,
    /// `y = max(x, 0)`.
    Relu,
    /// `y = tanh(x)`, fast approximation (error below 1e-6, see [`kernels::tanh_approx`]).
    Tanh,
    /// `y = x` for `x > 0`, else `alpha * (e^x - 1)` (Clevert et al. 2015; PyTorch's `alpha = 1`).
    Elu { alpha: f32 },
    /// `y = 1 / (1 + e^-x)`, fast approximation (error below 1e-6).
    Sigmoid,
}

impl Activation {
    /// ELU with PyTorch's default `alpha = 1`.
    pub const ELU: Activation = Activation::Elu { alpha: 1.0 };

    /// `x = f(x)` in place.
    pub fn forward_inplace(&self, x: &mut [f32]) {
        match *self {
            Activation::Identity => {}
            Activation::Relu => x
                .iter_mut()
                .for_each(|v| *v = if *v > 0.0 { *v } else { 0.0 }),
            Activation::Tanh => kernels::tanh_inplace(x),
            Activation::Sigmoid => kernels::sigmoid_inplace(x),
            Activation::Elu { alpha } => x.iter_mut().for_each(|v| {
                if *v <= 0.0 {
                    *v = alpha * v.exp_m1();
                }
            }),
        }
    }

    /// `y = f(x)`.
    pub fn forward(&self, x: &[f32], y: &mut [f32]) {
        assert_eq!(
            x.len(),
            y.len(),
            "activation: input and output lengths differ"
        );
        y.copy_from_slice(x);
        self.forward_inplace(y);
    }

    /// Turns `dy` (d loss / d y) into d loss / d x in place, given the forward output `y`.
    pub fn backward_inplace(&self, y: &[f32], dy: &mut [f32]) {
        assert_eq!(
            y.len(),
            dy.len(),
            "activation: output and gradient lengths differ"
        );
        match *self {
            Activation::Identity => {}
            // Written as selects, not conditional stores, so that they vectorise: with ReLU's
            // coin-flip signs the branchy form mispredicted half the time (8% of a DQN update).
            Activation::Relu => dy
                .iter_mut()
                .zip(y)
                .for_each(|(d, &y)| *d = if y <= 0.0 { 0.0 } else { *d }),
            Activation::Tanh => dy.iter_mut().zip(y).for_each(|(d, &y)| *d *= 1.0 - y * y),
            Activation::Sigmoid => dy.iter_mut().zip(y).for_each(|(d, &y)| *d *= y * (1.0 - y)),
            // For x <= 0: y = alpha (e^x - 1), so dy/dx = alpha e^x = y + alpha.
            Activation::Elu { alpha } => dy
                .iter_mut()
                .zip(y)
                .for_each(|(d, &y)| *d = if y <= 0.0 { *d * (y + alpha) } else { *d }),
        }
    }

    /// Writes d loss / d x into `dx` given the forward output `y` and `dy` (the same
    /// arithmetic as [`Activation::backward_inplace`] on a copy of `dy`).
    pub fn backward_to(&self, y: &[f32], dy: &[f32], dx: &mut [f32]) {
        assert!(
            y.len() == dy.len() && dy.len() == dx.len(),
            "activation: output, gradient and input-gradient lengths differ"
        );
        match *self {
            Activation::Identity => dx.copy_from_slice(dy),
            Activation::Relu => dx
                .iter_mut()
                .zip(dy.iter().zip(y))
                .for_each(|(d, (&g, &y))| *d = if y <= 0.0 { 0.0 } else { g }),
            _ => {
                dx.copy_from_slice(dy);
                self.backward_inplace(y, dx);
            }
        }
    }

    /// Adds d loss / d x into `dx` given the forward output `y` and `dy`.
    pub fn backward(&self, y: &[f32], dy: &[f32], dx: &mut [f32]) {
        assert!(
            y.len() == dy.len() && dy.len() == dx.len(),
            "activation: output, gradient and input-gradient lengths differ"
        );
        for i in 0..dx.len() {
            let y = y[i];
            let d = match *self {
                Activation::Identity => 1.0,
                Activation::Relu => (y > 0.0) as u8 as f32,
                Activation::Tanh => 1.0 - y * y,
                Activation::Sigmoid => y * (1.0 - y),
                Activation::Elu { alpha } => {
                    if y > 0.0 {
                        1.0
                    } else {
                        y + alpha
                    }
                }
            };
            dx[i] += d * dy[i];
        }
    }
}

impl Activation {
    /// Writes the activation into an ONNX graph (the exact function: the fast approximations
    /// used here are within 1e-6 of it).
    pub fn onnx(&self, g: &mut crate::onnx::Graph, x: &str) -> String {
        use crate::onnx::Attr;
        match self {
            Activation::Identity => x.to_string(),
            Activation::Relu => g.op("Relu", &[x], Vec::new()),
            Activation::Tanh => g.op("Tanh", &[x], Vec::new()),
            Activation::Sigmoid => g.op("Sigmoid", &[x], Vec::new()),
            Activation::Elu { alpha } => g.op("Elu", &[x], vec![("alpha", Attr::Float(*alpha))]),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gradcheck::check_gradient;

    fn all() -> [Activation; 5] {
        [
            Activation::Identity,
            Activation::Relu,
            Activation::Tanh,
            Activation::ELU,
            Activation::Sigmoid,
        ]
    }

    #[test]
    fn activations_match_their_definitions() {
        let xs = [-3.0f32, -0.5, 0.25, 2.0];
        for act in all() {
            let mut y = [0.0; 4];
            act.forward(&xs, &mut y);
            for (&x, &y) in xs.iter().zip(&y) {
                let x64 = x as f64;
                let want = match act {
                    Activation::Identity => x64,
                    Activation::Relu => x64.max(0.0),
                    Activation::Tanh => x64.tanh(),
                    Activation::Sigmoid => 1.0 / (1.0 + (-x64).exp()),
                    Activation::Elu { .. } => {
                        if x > 0.0 {
                            x64
                        } else {
                            x64.exp_m1()
                        }
                    }
                };
                assert!(
                    (y as f64 - want).abs() < 1e-6,
                    "{act:?}({x}) = {y}, want {want}"
                );
            }
        }
    }

    #[test]
    fn activation_gradients_match_finite_differences() {
        // Points away from the kinks of ReLU and ELU at 0.
        let x = [-2.1f32, -0.7, -0.2, 0.3, 0.9, 1.7];
        let w = [0.3f64, -1.2, 0.8, 0.5, -0.4, 1.1];
        for act in all() {
            let loss = |x: &[f32]| {
                let mut y = vec![0.0; x.len()];
                act.forward(x, &mut y);
                y.iter().zip(&w).map(|(&y, &w)| y as f64 * w).sum::<f64>()
            };
            let mut y = vec![0.0; x.len()];
            act.forward(&x, &mut y);
            let dy: Vec<f32> = w.iter().map(|&w| w as f32).collect();
            let mut dx = vec![0.0; x.len()];
            act.backward(&y, &dy, &mut dx);
            let mut dx2 = dy.clone();
            act.backward_inplace(&y, &mut dx2);
            assert_eq!(
                dx, dx2,
                "{act:?}: in-place and accumulating backward differ"
            );
            let mut dx3 = vec![f32::NAN; x.len()];
            act.backward_to(&y, &dy, &mut dx3);
            assert_eq!(dx3, dx2, "{act:?}: writing and in-place backward differ");
            check_gradient(loss, &x, &dx, 1e-2, 1e-3, 1e-3)
                .unwrap_or_else(|e| panic!("{act:?}: {e}"));
        }
    }
}
