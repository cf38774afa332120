//! Recommendations: implicit-feedback collaborative filtering and ranking metrics.
//!
//! * [`interactions`]: the user × item matrix (ids mapped to codes, built in
//!   parallel by [`sparse`]).
//! * Models: popularity, item-kNN ([`knn`]: cosine, TF-IDF, BM25), implicit
//!   ALS with a CG solver ([`als`]), EASE ([`ease`]), BPR ([`bpr`]).
//! * [`model`]: a fitted recommender and serving (top-n by partial sort,
//!   fold-in of new users, similar items and users).
//! * [`metrics`] and [`split`]: evaluation.

pub mod als;
pub mod bpr;
pub mod ease;
pub mod factors;
pub mod ids;
pub mod interactions;
pub mod knn;
pub mod linalg;
pub mod metrics;
pub mod model;
pub mod sparse;
pub mod split;
pub mod topn;

pub use interactions::Interactions;
pub use model::{Model, Recommender, TopN, Unknown};
