//! The user × item interaction matrix with the ids of its rows and columns.
//!
//! Built from a log or interactions table (one row per event; repeated
//! (user, item) rows are summed) or from a sparse matrix in CSR form.
//! Weights must be finite and non-negative; entries whose total is zero are
//! dropped (a user whose entries are all zero is kept, with no interactions).

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::ids::IdMap;
use super::sparse::Csr;
use crate::error::{Error, Result};
use crate::table::{self, Table};

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
            return Err(Error::Invalid(
                "the interactions table has no rows; nothing to fit".into(),
            ));
        }
        let (users, user_ids) = IdMap::encode(&table.column(user_col)?)?;
        let (items, item_ids) = IdMap::encode(&table.column(item_col)?)?;
        let weights: Vec<f32> = match weight_col {
            Some(name) => {
                let column = table.column(name)?;
                let values = table::values_f64(&column)?;
                check_weights(name, &values)?;
                values.par_iter().map(|&v| v as f32).collect()
            }
            None => vec![1.0; users.len()],
        };
        let matrix = Csr::from_coo(user_ids.len(), item_ids.len(), &users, &items, &weights);
        Ok(Interactions {
            users: user_ids,
            items: item_ids,
            matrix: drop_zeros(matrix),
            user_col: user_col.to_string(),
            item_col: item_col.to_string(),
        })
    }

    /// From CSR arrays (e.g. a scipy.sparse matrix); ids are row and column
    /// numbers.
    pub fn from_csr(
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
        let bad = data.par_iter().filter(|v| !v.is_finite()).count();
        if bad > 0 {
            return Err(Error::argument(
                name,
                format!("contains {bad} NaN or infinite value(s)"),
            ));
        }
        let negative = data.par_iter().filter(|&&v| v < 0.0).count();
        if negative > 0 {
            return Err(Error::argument(
                name,
                format!("contains {negative} negative value(s); weights are confidences and must be >= 0"),
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

fn check_weights(name: &str, values: &[f64]) -> Result<()> {
    table::require_finite(name, values)?;
    let negative = values.par_iter().filter(|&&v| v < 0.0).count();
    if negative > 0 {
        return Err(Error::column_value(
            name,
            format!(
                "contains {negative} negative weight(s); weights are confidences and must be >= 0"
            ),
        ));
    }
    Ok(())
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
