//! One error type for the whole crate.
//!
//! Pure Rust code returns [`Error`]; the binding layer maps each variant to
//! the Python exception a data scientist expects, in one place
//! (`python/mod.rs`): `TypeError` for a wrong kind of column, argument or
//! parameter, `KeyboardInterrupt` for Ctrl-C, `ValueError` for everything
//! else.  Every message names the column, argument or parameter at fault.
//! Anything user data (or a saved model's bytes) can reach returns an `Error`
//! instead of panicking.

use thiserror::Error;

#[derive(Debug, Error, Clone, PartialEq)]
pub enum Error {
    /// A named column is not in the table.
    #[error("column '{column}' not found; the table has columns {available:?}")]
    MissingColumn {
        column: String,
        available: Vec<String>,
    },

    /// A column has a data type the function cannot use.
    #[error("column '{column}' has type {found}; expected {expected}")]
    ColumnType {
        column: String,
        expected: String,
        found: String,
    },

    /// A column holds a value that is not allowed (null, NaN, negative, ...).
    #[error("column '{column}' {problem}")]
    ColumnValue { column: String, problem: String },

    /// A function argument has a value that is not allowed.
    #[error("argument '{name}' {problem}")]
    Argument { name: String, problem: String },

    /// A function argument has the wrong kind.
    #[error("argument '{name}' {problem}")]
    ArgumentType { name: String, problem: String },

    /// An estimator's parameter (as given to its constructor) has a value
    /// outside its contract (see `spec`).
    #[error("{estimator} parameter '{name}' {problem}")]
    Parameter {
        estimator: String,
        name: String,
        problem: String,
    },

    /// An estimator's parameter has the wrong kind.
    #[error("{estimator} parameter '{name}' {problem}")]
    ParameterType {
        estimator: String,
        name: String,
        problem: String,
    },

    /// The input has nothing to work on.
    #[error("{0}")]
    Empty(String),

    /// An input of the wrong shape; the message names the argument (in
    /// scikit-learn's words where its estimator checks look for them).
    #[error("{0}")]
    Shape(String),

    /// A fit failed numerically.
    #[error("{model} fit failed: {problem}")]
    Fit { model: String, problem: String },

    /// The model cannot do what was asked.
    #[error("{model} {problem}")]
    Unsupported { model: String, problem: String },

    /// An Arrow stream could not be read or an output could not be built.
    #[error("{0}")]
    Arrow(String),

    /// Bytes given as a saved model are not a valid one.
    #[error("could not load the saved model: {0}")]
    SavedModel(String),

    /// The user pressed Ctrl-C (the work stopped; nothing was changed).
    #[error("interrupted")]
    Interrupted,
}

impl Error {
    pub fn column_value(column: impl Into<String>, problem: impl Into<String>) -> Self {
        Error::ColumnValue {
            column: column.into(),
            problem: problem.into(),
        }
    }

    pub fn argument(name: impl Into<String>, problem: impl Into<String>) -> Self {
        Error::Argument {
            name: name.into(),
            problem: problem.into(),
        }
    }

    pub fn argument_type(name: impl Into<String>, problem: impl Into<String>) -> Self {
        Error::ArgumentType {
            name: name.into(),
            problem: problem.into(),
        }
    }

    pub fn column_type(
        column: impl Into<String>,
        expected: impl Into<String>,
        found: impl std::fmt::Display,
    ) -> Self {
        Error::ColumnType {
            column: column.into(),
            expected: expected.into(),
            found: found.to_string(),
        }
    }

    pub fn empty(what: impl Into<String>) -> Self {
        Error::Empty(what.into())
    }

    pub fn fit(model: impl Into<String>, problem: impl Into<String>) -> Self {
        Error::Fit {
            model: model.into(),
            problem: problem.into(),
        }
    }

    pub fn unsupported(model: impl Into<String>, problem: impl Into<String>) -> Self {
        Error::Unsupported {
            model: model.into(),
            problem: problem.into(),
        }
    }

    pub fn saved_model(problem: impl Into<String>) -> Self {
        Error::SavedModel(problem.into())
    }

    /// Whether the binding maps this error to `TypeError`.
    pub fn is_type_error(&self) -> bool {
        matches!(
            self,
            Error::ColumnType { .. } | Error::ArgumentType { .. } | Error::ParameterType { .. }
        )
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
