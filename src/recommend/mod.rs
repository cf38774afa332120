//! Recommendations: implicit-feedback collaborative filtering and ranking metrics.
//!
//! * [`interactions`]: the user × item matrix (ids mapped to codes, built in
//!   parallel by [`sparse`]).
//! * Models: popularity, item-kNN ([`knn`]: cosine, TF-IDF, BM25), implicit
//!   ALS with a CG solver ([`als`]) or iALS++ block solver ([`ials`]), EASE ([`ease`]), BPR ([`bpr`]).
//! * [`repeat`]: a repeat-aware model for next purchases (TIFU-KNN), fitted
//!   on a log with purchase times.
//! * [`model`]: a fitted recommender and serving (top-n by partial sort,
//!   fold-in of new users); [`similar`]: similar items and users.
//! * [`explain`]: scores split into what each of the user's items (or
//!   similar customers) adds.
//! * [`metrics`] and [`split`]: evaluation.
//! * [`serve`]: serving and evaluation with ids in and tables out, the
//!   entry points of the bindings.

pub mod als;
pub mod bpr;
pub mod ease;
pub mod explain;
pub mod factors;
pub mod ials;
pub mod interactions;
pub mod knn;
pub mod linalg;
pub mod metrics;
pub mod model;
pub mod repeat;
pub mod serve;
pub mod similar;
pub mod sparse;
pub mod split;
pub mod topn;

pub use interactions::Interactions;
pub use model::{Model, ModelKind, Recommender, SeenItems, Unknown};
pub use topn::TopN;
