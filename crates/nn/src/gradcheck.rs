//! Central finite differences, the reference every backward pass is tested against.

/// Compares `analytic` (d loss / d x) with central differences of `loss` around `x`.
///
/// `loss` is evaluated in f32 by the layers but summed in f64 by the caller, so with
/// `eps ~ 1e-2..1e-3` the truncation and rounding errors stay well under `tol` for smooth
/// functions. The error is relative: `|a - n| / max(|a|, |n|, floor)`, where `floor` keeps
/// near-zero gradients from turning rounding noise into huge relative errors.
/// Returns the worst relative error, or a message naming the first failing coordinate.
pub fn check_gradient(
    mut loss: impl FnMut(&[f32]) -> f64,
    x: &[f32],
    analytic: &[f32],
    eps: f32,
    tol: f64,
    floor: f64,
) -> Result<f64, String> {
    assert_eq!(
        x.len(),
        analytic.len(),
        "gradient length differs from input length"
    );
    let mut probe = x.to_vec();
    let mut worst = 0.0f64;
    for i in 0..x.len() {
        probe[i] = x[i] + eps;
        let up = loss(&probe);
        probe[i] = x[i] - eps;
        let down = loss(&probe);
        probe[i] = x[i];
        // The step actually taken in f32, not the nominal eps.
        let h = (x[i] + eps) as f64 - (x[i] - eps) as f64;
        let numeric = (up - down) / h;
        let a = analytic[i] as f64;
        let err = (a - numeric).abs() / a.abs().max(numeric.abs()).max(floor);
        if err > tol {
            return Err(format!(
                "coordinate {i}: analytic {a:.6e} vs numeric {numeric:.6e} (relative error {err:.3e} > {tol:.1e})"
            ));
        }
        worst = worst.max(err);
    }
    Ok(worst)
}
