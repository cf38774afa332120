//! The user × item interaction matrix with the ids of its rows and columns.
//!
//! Built from a log or interactions table (one row per event; repeated
//! (user, item) rows are summed) or from a sparse matrix in CSR form.
//! Weights must be finite and non-negative; entries whose total is zero are
//! dropped (a user whose entries are all zero is kept, with no interactions).

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::sparse::Csr;
use crate::error::{Error, Result};
use crate::persist::{self, Persist};
use crate::table::{self, IdMap, Table};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Interactions {
    pub users: IdMap,
    pub items: IdMap,
    /// User × item, summed weights.
    pub matrix: Csr,
    pub user_col: String,
    pub item_col: String,
}

impl Interactions {
    pub fn from_table(
        table: &Table,
        user_col: &str,
        item_col: &str,
        weight_col: Option<&str>,
    ) -> Result<Self> {
        if table.num_rows() == 0 {
            return Err(Error::empty(
                "the interactions table has no rows; nothing to fit",
            ));
        }
        let users = IdMap::encode(&table.column(user_col)?)?;
        let items = IdMap::encode(&table.column(item_col)?)?;
        let weights = weights(table, weight_col, users.codes.len())?;
        let matrix = Csr::from_coo(
            users.ids.len(),
            items.ids.len(),
            &users.codes,
            &items.codes,
            &weights,
        );
        Ok(Interactions {
            users: users.ids,
            items: items.ids,
            matrix: drop_zeros(matrix),
            user_col: user_col.to_string(),
            item_col: item_col.to_string(),
        })
    }

    /// From a scipy.sparse matrix's CSR arrays (checked: they come from
    /// outside); ids are row and column numbers.
    pub fn from_scipy(
        shape: (usize, usize),
        indptr: &[i64],
        indices: &[i32],
        data: &[f64],
    ) -> Result<Self> {
        const NAME: &str = "X";
        if indptr.iter().any(|&v| v < 0) || indices.iter().any(|&v| v < 0) {
            return Err(Error::argument(NAME, "has negative indices"));
        }
        check_weight_values(data, |problem| Error::argument(NAME, problem))?;
        let indptr = indptr.iter().map(|&v| v as usize).collect();
        let indices = indices.iter().map(|&v| v as u32).collect();
        let data = data.iter().map(|&v| v as f32).collect();
        Interactions::from_csr(shape, indptr, indices, data, NAME)
    }

    /// From CSR arrays of checked weights (see [`Interactions::from_scipy`]);
    /// ids are row and column numbers.
    fn from_csr(
        shape: (usize, usize),
        indptr: Vec<usize>,
        indices: Vec<u32>,
        data: Vec<f32>,
        name: &str,
    ) -> Result<Self> {
        let (n_rows, n_cols) = shape;
        if n_rows == 0 || n_cols == 0 || data.is_empty() {
            return Err(Error::argument(
                name,
                format!("is empty (shape {n_rows}×{n_cols}, {} entries)", data.len()),
            ));
        }
        let raw = Csr {
            n_rows,
            n_cols,
            indptr,
            indices,
            data,
        };
        raw.validate(name)?;
        let canonical = (0..n_rows)
            .into_par_iter()
            .all(|r| raw.row(r).0.windows(2).all(|w| w[0] < w[1]));
        let matrix = if canonical {
            raw
        } else {
            // Rebuilding sorts columns and sums duplicate entries, as scipy's
            // sum_duplicates would.
            let mut rows = vec![0u32; raw.nnz()];
            for r in 0..n_rows {
                rows[raw.indptr[r]..raw.indptr[r + 1]].fill(r as u32);
            }
            Csr::from_coo(n_rows, n_cols, &rows, &raw.indices, &raw.data)
        };
        Ok(Interactions {
            users: IdMap::range(n_rows),
            items: IdMap::range(n_cols),
            matrix: drop_zeros(matrix),
            user_col: "user".into(),
            item_col: "item".into(),
        })
    }
}

/// The weight of each row (1 without a weight column): finite and >= 0.
pub fn weights(table: &Table, weight_col: Option<&str>, n: usize) -> Result<Vec<f32>> {
    let Some(name) = weight_col else {
        return Ok(vec![1.0; n]);
    };
    let column = table.column(name)?;
    let values = table::values_f64(&column)?;
    check_weight_values(&values, |problem| Error::column_value(name, problem))?;
    Ok(values.par_iter().map(|&v| v as f32).collect())
}

/// Weights are confidences, kept as float32: finite, >= 0 and within its range.
fn check_weight_values(values: &[f64], error: impl Fn(String) -> Error) -> Result<()> {
    let bad = values.par_iter().filter(|v| !v.is_finite()).count();
    if bad > 0 {
        return Err(error(format!("contains {bad} NaN or infinite value(s)")));
    }
    let negative = values.par_iter().filter(|&&v| v < 0.0).count();
    if negative > 0 {
        return Err(error(format!(
            "contains {negative} negative weight(s); weights are confidences and must be >= 0"
        )));
    }
    if values.par_iter().any(|&v| v > f32::MAX as f64) {
        return Err(error(format!(
            "contains weights above {:e}, beyond the float32 they are kept in",
            f32::MAX
        )));
    }
    Ok(())
}

impl Persist for Interactions {
    fn kind(&self) -> String {
        "recommend.Interactions".into()
    }

    fn accepts_kind(kind: &str) -> bool {
        kind == "recommend.Interactions"
    }

    fn expected() -> String {
        "recommend.Interactions".into()
    }

    fn validate(&self) -> Result<()> {
        self.validate_parts()
    }
}

impl Interactions {
    /// The invariants of a matrix and its ids read from bytes.
    pub fn validate_parts(&self) -> Result<()> {
        let m = &self.matrix;
        m.validate("the interactions matrix")
            .map_err(|e| crate::error::Error::saved_model(e.to_string()))?;
        persist::require(m.data.iter().all(|v| v.is_finite() && *v > 0.0), || {
            "interaction weights must be finite and > 0".into()
        })?;
        persist::require(
            (0..m.n_rows).all(|r| m.row(r).0.windows(2).all(|w| w[0] < w[1])),
            || "interaction rows are not sorted".into(),
        )?;
        persist::require(
            !(self.user_col.contains('\0') || self.item_col.contains('\0')),
            || "a column name holds a NUL character".into(),
        )?;
        self.users.validate("user", Some(m.n_rows))?;
        self.items.validate("item", Some(m.n_cols))
    }
}

fn drop_zeros(m: Csr) -> Csr {
    if m.data.iter().all(|&v| v != 0.0) {
        return m;
    }
    let mut rows = Vec::with_capacity(m.nnz());
    let mut cols = Vec::with_capacity(m.nnz());
    let mut vals = Vec::with_capacity(m.nnz());
    for r in 0..m.n_rows {
        let (idx, val) = m.row(r);
        for (&c, &v) in idx.iter().zip(val) {
            if v != 0.0 {
                rows.push(r as u32);
                cols.push(c);
                vals.push(v);
            }
        }
    }
    Csr::from_coo(m.n_rows, m.n_cols, &rows, &cols, &vals)
}
