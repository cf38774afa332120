//! One error type for the whole crate.
//!
//! Pure Rust code returns [`Error`]; the binding layer maps each variant to the
//! Python exception a data scientist expects (`TypeError` for a wrong kind of
//! column or argument, `ValueError` for a bad value).  Anything user data can
//! reach returns an `Error` instead of panicking.

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

    /// An argument has a value that is not allowed.
    #[error("argument '{name}' {problem}")]
    Argument { name: String, problem: String },

    /// An argument has the wrong kind (maps to `TypeError`).
    #[error("argument '{name}' {problem}")]
    ArgumentType { name: String, problem: String },

    /// The input is valid but the computation cannot proceed.
    #[error("{0}")]
    Invalid(String),

    /// A model was used before `fit`.
    #[error("this {0} is not fitted yet; call fit first")]
    NotFitted(String),

    /// A serialised model could not be read.
    #[error("could not read the saved model: {0}")]
    Deserialize(String),
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
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
