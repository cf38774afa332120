//! Customer lifetime value: buy-till-you-die models, CLV and segmentation.
//!
//! * [`real`]: `f64` and forward-mode dual numbers, so that each model's
//!   log-likelihood is written once and yields its analytic gradient.
//! * [`special`]: Gauss hypergeometric series evaluated in log space.
//! * [`models`]: the likelihoods (BG/NBD, MBG/NBD, Pareto/NBD, BG/BB,
//!   shifted-beta-geometric, Gamma-Gamma).
//! * [`boundary`]: fits whose drop-out vanishes (the NBD limit).
//! * [`optimize`] and [`fit`]: BFGS in log-parameter space on collapsed,
//!   weighted data; standard errors from the Hessian.
//! * [`covariates`] and [`covfit`]: static covariates (customer
//!   attributes that scale the population parameters), their fit and test.
//! * [`predict`]: predictions, vectorised over customers with rayon.
//! * [`counts`]: a customer's future purchase counts term by term.
//! * [`intervals`]: draws of the parameters, per-customer quantiles and
//!   predictive intervals of counts; [`uncertainty`] applies them to
//!   summary tables.
//! * [`customers`]: the models on summary tables (columns named by each
//!   model's spec), the entry points of the bindings.

// `!(x > 0.0)` is how these modules reject NaN along with non-positive values.
#![allow(clippy::neg_cmp_op_on_partial_ord)]

pub mod boundary;
pub mod counts;
pub mod covariates;
pub mod covfit;
pub mod customers;
pub mod fit;
pub mod intervals;
pub mod models;
pub mod optimize;
pub mod predict;
pub mod real;
pub mod special;
pub mod uncertainty;

pub use fit::{fit, FitOptions, Fitted};
pub use models::{Continuous, ModelKind};

use crate::spec::Spec;

/// The contracts of the lifetime-value models.
pub static SPECS: [&Spec; 6] = [
    &models::BETA_GEO,
    &models::MODIFIED_BETA_GEO,
    &models::PARETO_NBD,
    &models::BETA_GEO_BETA_BINOM,
    &models::SHIFTED_BETA_GEO,
    &models::GAMMA_GAMMA,
];
