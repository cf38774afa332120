//! Customer lifetime value: buy-till-you-die models, CLV and segmentation.
//!
//! * [`real`]: `f64` and forward-mode dual numbers, so that each model's
//!   log-likelihood is written once and yields its analytic gradient.
//! * [`special`]: Gauss hypergeometric series evaluated in log space.
//! * [`models`]: the likelihoods (BG/NBD, MBG/NBD, Pareto/NBD, BG/BB,
//!   shifted-beta-geometric, Gamma-Gamma).
//! * [`optimize`] and [`fit`]: BFGS in log-parameter space on collapsed,
//!   weighted data; standard errors from the Hessian.
//! * [`predict`]: predictions, vectorised over customers with rayon.

// `!(x > 0.0)` is how these modules reject NaN along with non-positive values.
#![allow(clippy::neg_cmp_op_on_partial_ord)]

pub mod fit;
pub mod models;
pub mod optimize;
pub mod predict;
pub mod real;
pub mod special;

pub use fit::{fit, FitOptions, Fitted};
pub use models::ModelKind;
