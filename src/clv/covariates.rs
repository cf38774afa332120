//! Static covariates: customer attributes that shift a model's population
//! parameters, `p_i = p · exp(±γ_p'z_i)`.
//!
//! Which parameters move, and in which direction, follows Fader & Hardie's
//! note "Incorporating time-invariant covariates into the Pareto/NBD and
//! BG/NBD models" (2007), as CLVTools and pymc-marketing parameterise them;
//! every parameter that moves has its own coefficient vector (as in the
//! note and pymc-marketing):
//!
//! | model               | parameter ← covariates                                  |
//! |---------------------|---------------------------------------------------------|
//! | BG/NBD, MBG/NBD     | α·exp(−γ_α'z) (purchase rate), a·exp(γ_a'z), b·exp(γ_b'z) |
//! | Pareto/NBD          | α·exp(−γ_α'z) (purchase rate), β·exp(−γ_β'z) (drop-out rate) |
//! | BG/BB               | α, β, γ, δ each ·exp(γ_p'z) (pymc-marketing has none: the beta pairs scale as BG/NBD's a, b) |
//! | shifted-beta-geo    | α·exp(γ_α'z), β·exp(γ_β'z) (pymc-marketing's sBG)       |
//! | Gamma-Gamma         | v·exp(γ_v'z): the mean spend scales by exp(γ_v'z)       |
//!
//! With the minus signs a positive coefficient means more purchases (rate
//! `λ ~ Gamma(r, α)` has mean `r/α`) or, for Pareto/NBD, shorter lifetimes.
//!
//! A [`Design`] turns table columns into the numbers `z`: numeric (and
//! boolean) columns as they are, string or categorical columns as indicator
//! columns of every level but the reference, the most frequent level (ties:
//! the first in sorted order).  It is learnt on the data a model is fitted
//! on and applied, unchanged, to the data it predicts for.

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::models::ModelKind;
use crate::error::{Error, Result};
use crate::persist;
use crate::table::ids::IdMap;
use crate::table::{self, Column, Table};

/// The parameters of `kind` that covariates scale: `(index, sign)`, where
/// `p_i = p · exp(sign · γ'z_i)`.
pub fn scaled(kind: ModelKind) -> &'static [(usize, f64)] {
    match kind {
        ModelKind::BetaGeo | ModelKind::ModifiedBetaGeo => &[(1, -1.0), (2, 1.0), (3, 1.0)],
        ModelKind::ParetoNbd => &[(1, -1.0), (3, -1.0)],
        ModelKind::BetaGeoBetaBinom => &[(0, 1.0), (1, 1.0), (2, 1.0), (3, 1.0)],
        ModelKind::ShiftedBetaGeo => &[(0, 1.0), (1, 1.0)],
        ModelKind::GammaGamma => &[(2, 1.0)],
    }
}

/// The parameters of one customer: the population's `base` (in the order
/// of [`ModelKind::param_names`]) moved by the coefficients `gamma` (one
/// block of `z.len()` per parameter of [`scaled`], in that order) at the
/// customer's covariates `z`.  The one place this is computed: fits,
/// predictions and anything that draws parameters call it.
pub fn customer_params(kind: ModelKind, base: &[f64], gamma: &[f64], z: &[f64]) -> [f64; 4] {
    let mut p = [0.0; 4];
    p[..base.len()].copy_from_slice(base);
    let m = z.len();
    for (slot, &(k, sign)) in scaled(kind).iter().enumerate() {
        let eta: f64 = gamma[slot * m..(slot + 1) * m]
            .iter()
            .zip(z)
            .map(|(g, z)| g * z)
            .sum();
        p[k] *= (sign * eta).exp();
    }
    p
}

/// Which coefficients a fit estimates (the others stay 0), in the layout of
/// [`customer_params`]'s `gamma`: every covariate on every parameter of
/// [`scaled`] (`by_param` `None`), or, for each parameter named in
/// `by_param`, the covariates listed with it (CLVTools' separate purchase and
/// life-time covariates, for instance).
pub fn free_coefficients(
    kind: ModelKind,
    design: &Design,
    by_param: Option<&[(String, Vec<String>)]>,
) -> Result<Vec<bool>> {
    let slots = scaled(kind);
    let m = design.width();
    let Some(by_param) = by_param else {
        return Ok(vec![true; slots.len() * m]);
    };
    let movable: Vec<&str> = slots.iter().map(|&(k, _)| kind.param_names()[k]).collect();
    let mut free = vec![false; slots.len() * m];
    for (param, columns) in by_param {
        let slot = movable.iter().position(|p| p == param).ok_or_else(|| {
            Error::argument(
                "covariates",
                format!(
                    "names parameter {param:?}; covariates of {} move {movable:?}",
                    kind.name()
                ),
            )
        })?;
        let mut offset = 0;
        for covariate in &design.columns {
            let width = covariate.width();
            if columns.iter().any(|c| c == covariate.name()) {
                free[slot * m + offset..slot * m + offset + width].fill(true);
            }
            offset += width;
        }
    }
    Ok(free)
}

/// One covariate as the table holds it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Covariate {
    /// Used as it is (numbers and booleans).
    Numeric { name: String },
    /// Indicators of every level but `reference` (a code into `levels`).
    Categorical {
        name: String,
        levels: IdMap,
        reference: u32,
    },
}

impl Covariate {
    pub fn name(&self) -> &str {
        match self {
            Covariate::Numeric { name } | Covariate::Categorical { name, .. } => name,
        }
    }

    /// Columns of `z` it gives.
    fn width(&self) -> usize {
        match self {
            Covariate::Numeric { .. } => 1,
            Covariate::Categorical { levels, .. } => levels.len() - 1,
        }
    }
}

/// How a table's covariate columns become each customer's `z`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Design {
    pub columns: Vec<Covariate>,
}

fn is_text(column: &Column) -> bool {
    use arrow_schema::DataType as D;
    let text = |t: &D| matches!(t, D::Utf8 | D::LargeUtf8 | D::Utf8View);
    match &column.data_type {
        D::Dictionary(_, value) => text(value),
        other => text(other),
    }
}

impl Design {
    /// Learn the design of columns `names` of `table` (the fit's data); the
    /// model's own columns (`reserved`) cannot be covariates.
    pub fn learn(table: &Table, names: &[String], reserved: &[&str]) -> Result<Design> {
        if names.is_empty() {
            return Err(Error::argument(
                "covariates",
                "is empty: name at least one column (or leave it out)",
            ));
        }
        let mut columns = Vec::with_capacity(names.len());
        for (i, name) in names.iter().enumerate() {
            if names[..i].contains(name) {
                return Err(Error::argument(
                    "covariates",
                    format!("names {name:?} twice"),
                ));
            }
            if reserved.contains(&name.as_str()) {
                return Err(Error::argument(
                    "covariates",
                    format!("names {name:?}, a column the model itself reads"),
                ));
            }
            let column = table.column(name)?;
            if is_text(&column) {
                let encoded = IdMap::encode(&column)?;
                let mut counts = vec![0usize; encoded.ids.len()];
                encoded.codes.iter().for_each(|&c| counts[c as usize] += 1);
                if counts.len() < 2 {
                    return Err(Error::column_value(
                        name,
                        "has a single level: a covariate must vary between customers",
                    ));
                }
                // The most frequent level; ties go to the first in sorted order.
                let reference = (0..counts.len())
                    .max_by_key(|&c| (counts[c], std::cmp::Reverse(c)))
                    .expect("two levels or more") as u32;
                columns.push(Covariate::Categorical {
                    name: name.clone(),
                    levels: encoded.ids,
                    reference,
                });
            } else {
                table::numbers::finite_f64(&column)?;
                columns.push(Covariate::Numeric { name: name.clone() });
            }
        }
        Ok(Design { columns })
    }

    /// Columns of `z`.
    pub fn width(&self) -> usize {
        self.columns.iter().map(Covariate::width).sum()
    }

    /// The covariate columns as given.
    pub fn names(&self) -> Vec<String> {
        self.columns.iter().map(|c| c.name().to_string()).collect()
    }

    /// A name per column of `z`: `age` or `region[north]`.
    pub fn term_names(&self) -> Vec<String> {
        let mut out = Vec::with_capacity(self.width());
        for column in &self.columns {
            match column {
                Covariate::Numeric { name } => out.push(name.clone()),
                Covariate::Categorical {
                    name,
                    levels,
                    reference,
                } => {
                    for code in (0..levels.len() as u32).filter(|c| c != reference) {
                        out.push(format!("{name}[{}]", level_text(levels, code)));
                    }
                }
            }
        }
        out
    }

    /// Each row's `z` (row-major, [`Design::width`] per row); errors name the
    /// column (missing, NaN, a level the model was not fitted with).
    pub fn encode(&self, table: &Table) -> Result<Vec<f64>> {
        let (n, m) = (table.num_rows(), self.width());
        let mut z = vec![0.0; n * m];
        let mut offset = 0;
        for covariate in &self.columns {
            let column = table.column(covariate.name())?;
            match covariate {
                Covariate::Numeric { name } => {
                    if is_text(&column) {
                        return Err(Error::argument_type(
                            name,
                            "holds text, but the model was fitted with it as a number",
                        ));
                    }
                    let values = table::numbers::finite_f64(&column)?;
                    z.par_chunks_mut(m)
                        .zip(values.par_iter())
                        .for_each(|(row, v)| row[offset] = *v);
                }
                Covariate::Categorical {
                    name,
                    levels,
                    reference,
                } => {
                    if !is_text(&column) {
                        return Err(Error::column_type(
                            name,
                            "strings or categories",
                            &column.data_type,
                        ));
                    }
                    let codes = levels.lookup(&column)?;
                    if let Some(i) = codes.iter().position(Option::is_none) {
                        let query = IdMap::encode(&column)?;
                        let level = level_text(&query.ids, query.codes[i]);
                        return Err(Error::column_value(
                            name,
                            format!(
                                "has level {level:?} (row {i}), which the model was not fitted \
                                 with; its levels are {:?}",
                                (0..levels.len() as u32)
                                    .map(|c| level_text(levels, c))
                                    .collect::<Vec<_>>()
                            ),
                        ));
                    }
                    let reference = *reference;
                    z.par_chunks_mut(m)
                        .zip(codes.par_iter())
                        .for_each(|(row, code)| {
                            let code = code.expect("checked above");
                            if code != reference {
                                // Indicators skip the reference level.
                                let k = code - u32::from(code > reference);
                                row[offset + k as usize] = 1.0;
                            }
                        });
                }
            }
            offset += covariate.width();
        }
        Ok(z)
    }

    /// Check a design read from bytes.
    pub fn validate(&self) -> Result<()> {
        persist::require(!self.columns.is_empty(), || {
            "the covariate design is empty".into()
        })?;
        for column in &self.columns {
            if let Covariate::Categorical {
                name,
                levels,
                reference,
            } = column
            {
                levels.validate(name, None)?;
                persist::require(
                    levels.len() >= 2 && (*reference as usize) < levels.len(),
                    || format!("the levels of covariate {name:?} are malformed"),
                )?;
            }
        }
        Ok(())
    }
}

/// A level as text (no quotes), for names and messages.
fn level_text(levels: &IdMap, code: u32) -> String {
    let text = levels.describe(code);
    text.strip_prefix('"')
        .and_then(|t| t.strip_suffix('"'))
        .map_or(text.clone(), str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::{ArrayRef, Float64Array, RecordBatch, StringArray};
    use std::sync::Arc;

    fn table() -> Table {
        let region: ArrayRef = Arc::new(StringArray::from(vec!["north", "south", "south", "east"]));
        let age: ArrayRef = Arc::new(Float64Array::from(vec![20.0, 30.0, 40.0, 50.0]));
        let batch = RecordBatch::try_from_iter(vec![("region", region), ("age", age)]).unwrap();
        Table::new(batch.schema(), vec![batch])
    }

    #[test]
    fn indicators_leave_out_the_most_frequent_level() {
        let t = table();
        let design = Design::learn(&t, &["region".into(), "age".into()], &["T"]).unwrap();
        assert_eq!(
            design.term_names(),
            ["region[east]", "region[north]", "age"]
        );
        let z = design.encode(&t).unwrap();
        assert_eq!(
            z,
            [0.0, 1.0, 20.0, 0.0, 0.0, 30.0, 0.0, 0.0, 40.0, 1.0, 0.0, 50.0]
        );
        assert!(Design::learn(&t, &["T".into()], &["T"]).is_err());
        assert!(Design::learn(&t, &["nope".into()], &[]).is_err());
    }

    #[test]
    fn coefficients_can_be_limited_to_some_parameters() {
        let t = table();
        let design = Design::learn(&t, &["region".into(), "age".into()], &[]).unwrap();
        let by_param = [("alpha".to_string(), vec!["age".to_string()])];
        let free = free_coefficients(ModelKind::ParetoNbd, &design, Some(&by_param)).unwrap();
        assert_eq!(free, [false, false, true, false, false, false]);
        let wrong = [("r".to_string(), vec!["age".to_string()])];
        assert!(free_coefficients(ModelKind::ParetoNbd, &design, Some(&wrong)).is_err());
    }

    #[test]
    fn customer_params_scale_the_documented_parameters() {
        let base = [0.5, 10.0, 0.8, 2.0];
        // alpha: exp(-0.2 * 2), a: exp(0.1 * 2), b: unchanged.
        let p = customer_params(ModelKind::BetaGeo, &base, &[0.2, 0.1, 0.0], &[2.0]);
        assert_eq!(p[0], 0.5);
        assert!((p[1] - 10.0 * (-0.4f64).exp()).abs() < 1e-12);
        assert!((p[2] - 0.8 * 0.2f64.exp()).abs() < 1e-12);
        assert_eq!(p[3], 2.0);
        let zero = customer_params(ModelKind::ParetoNbd, &base, &[0.0; 4], &[3.0, -1.0]);
        assert_eq!(zero, base);
    }
}
