//! Numeric columns (amounts, weights, summary columns) as `f64`.

use std::borrow::Cow;

use arrow_array::cast::AsArray;
use arrow_array::types::{
    Decimal128Type, Decimal256Type, Float16Type, Float32Type, Float64Type, Int16Type, Int32Type,
    Int64Type, Int8Type, UInt16Type, UInt32Type, UInt64Type, UInt8Type,
};
use arrow_array::ArrayRef;
use arrow_schema::DataType;
use rayon::prelude::*;

use super::Column;
use crate::error::{Error, Result};

/// The column as `f64`: floats, integers, decimals and booleans.  A single
/// float64 chunk is borrowed, not copied.  Nulls are an error; NaN is passed
/// through (callers decide whether it is allowed, see [`require_finite`]).
pub fn values_f64(column: &Column) -> Result<Cow<'_, [f64]>> {
    column.require_no_nulls()?;
    if let [chunk] = column.chunks.as_slice() {
        if let Some(array) = chunk.as_primitive_opt::<Float64Type>() {
            return Ok(Cow::Borrowed(array.values()));
        }
    }
    let mut out = Vec::with_capacity(column.len());
    for chunk in &column.chunks {
        extend_f64(column, chunk, &mut out)?;
    }
    Ok(Cow::Owned(out))
}

fn extend_f64(column: &Column, chunk: &ArrayRef, out: &mut Vec<f64>) -> Result<()> {
    macro_rules! prim {
        ($t:ty) => {
            out.extend(
                chunk
                    .as_primitive::<$t>()
                    .values()
                    .iter()
                    .map(|&v| v as f64),
            )
        };
    }
    match chunk.data_type() {
        DataType::Float64 => out.extend_from_slice(chunk.as_primitive::<Float64Type>().values()),
        DataType::Float32 => prim!(Float32Type),
        DataType::Float16 => out.extend(
            chunk
                .as_primitive::<Float16Type>()
                .values()
                .iter()
                .map(|v| v.to_f64()),
        ),
        DataType::Int8 => prim!(Int8Type),
        DataType::Int16 => prim!(Int16Type),
        DataType::Int32 => prim!(Int32Type),
        DataType::Int64 => prim!(Int64Type),
        DataType::UInt8 => prim!(UInt8Type),
        DataType::UInt16 => prim!(UInt16Type),
        DataType::UInt32 => prim!(UInt32Type),
        DataType::UInt64 => prim!(UInt64Type),
        DataType::Boolean => {
            out.extend(
                chunk
                    .as_boolean()
                    .values()
                    .iter()
                    .map(|b| if b { 1.0 } else { 0.0 }),
            )
        }
        DataType::Decimal128(_, scale) => {
            let div = 10f64.powi(*scale as i32);
            out.extend(
                chunk
                    .as_primitive::<Decimal128Type>()
                    .values()
                    .iter()
                    .map(|&v| v as f64 / div),
            )
        }
        DataType::Decimal256(_, scale) => {
            let div = 10f64.powi(*scale as i32);
            out.extend(
                chunk
                    .as_primitive::<Decimal256Type>()
                    .values()
                    .iter()
                    .map(|v| v.to_string().parse::<f64>().unwrap_or(f64::NAN) / div),
            )
        }
        _ => return Err(column.type_error("a numeric column (float, integer or decimal)")),
    }
    Ok(())
}

/// Error naming the column if any value is NaN or infinite.
pub fn require_finite(name: &str, values: &[f64]) -> Result<()> {
    let bad = values.par_iter().filter(|v| !v.is_finite()).count();
    if bad > 0 {
        return Err(Error::column_value(
            name,
            format!("contains {bad} NaN or infinite value(s)"),
        ));
    }
    Ok(())
}

/// The column as finite `f64` values (the usual need for amounts and weights).
pub fn finite_f64(column: &Column) -> Result<Cow<'_, [f64]>> {
    let values = values_f64(column)?;
    require_finite(&column.name, &values)?;
    Ok(values)
}
