//! Gymnasium's classic control environments, with Gymnasium 1.x's exact floating-point
//! dynamics (observations are `f32` casts of the `f64` state), and an RGB renderer.

mod acrobot;
mod cartpole;
mod mountain_car;
mod mountain_car_continuous;
mod pendulum;
pub mod render;

pub use acrobot::Acrobot;
pub use cartpole::CartPole;
pub use mountain_car::MountainCar;
pub use mountain_car_continuous::MountainCarContinuous;
pub use pendulum::Pendulum;

/// `x ** 2` as NumPy computes it for a float64 scalar: libm's `pow(x, 2.0)`, which is not
/// always the correctly rounded `x * x` (1 ulp off now and then). The exponent goes through
/// `black_box` so that LLVM cannot rewrite the call into a multiplication.
#[inline]
pub(crate) fn pow2(x: f64) -> f64 {
    x.powf(std::hint::black_box(2.0))
}
