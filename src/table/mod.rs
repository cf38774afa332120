//! Reading Arrow tables into the plain vectors the algorithms work on.
//!
//! A [`Table`] is the schema and record batches that came over the Arrow C
//! stream interface; a [`Column`] is the chunks of one named column.  Readers
//! are split by concern: [`numbers`] (amounts, weights, features), [`time`]
//! (dates and timestamps of any unit and zone) and [`ids`] (customer, item and
//! attribute identifiers as dense codes, and the way back).  Errors name the
//! column and say what was wrong with it.

pub mod ids;
pub mod numbers;
pub mod time;

use std::sync::Arc;

use arrow_array::{Array, ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema, SchemaRef};

use crate::error::{Error, Result};

pub use ids::{IdMap, IdType};
pub use numbers::{require_finite, values_f64};
pub use time::{format_micros, instants, wall_times, WallTimes, MICROS_PER_DAY};

/// A table as a schema and its record batches (possibly none).
#[derive(Debug, Clone)]
pub struct Table {
    schema: SchemaRef,
    batches: Vec<RecordBatch>,
}

impl Table {
    pub fn new(schema: SchemaRef, batches: Vec<RecordBatch>) -> Self {
        Table { schema, batches }
    }

    pub fn num_rows(&self) -> usize {
        self.batches.iter().map(|b| b.num_rows()).sum()
    }

    pub fn column_names(&self) -> Vec<String> {
        self.schema
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect()
    }

    /// The named column, or an error listing the columns the table has.
    pub fn column(&self, name: &str) -> Result<Column> {
        let index = self
            .schema
            .index_of(name)
            .map_err(|_| Error::MissingColumn {
                column: name.to_string(),
                available: self.column_names(),
            })?;
        Ok(Column {
            name: name.to_string(),
            data_type: self.schema.field(index).data_type().clone(),
            chunks: self
                .batches
                .iter()
                .map(|b| b.column(index).clone())
                .filter(|c| !c.is_empty())
                .collect(),
        })
    }

    /// The named column when a name is given.
    pub fn optional_column(&self, name: Option<&str>) -> Result<Option<Column>> {
        name.map(|n| self.column(n)).transpose()
    }
}

/// One column: its name (for error messages), type and chunks.
#[derive(Debug, Clone)]
pub struct Column {
    pub name: String,
    pub data_type: DataType,
    pub chunks: Vec<ArrayRef>,
}

impl Column {
    pub fn from_array(name: &str, array: ArrayRef) -> Self {
        Column {
            name: name.to_string(),
            data_type: array.data_type().clone(),
            chunks: vec![array],
        }
    }

    pub fn len(&self) -> usize {
        self.chunks.iter().map(|c| c.len()).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Error if the column has nulls: ids, times and amounts must be complete.
    pub fn require_no_nulls(&self) -> Result<()> {
        let nulls: usize = self.chunks.iter().map(|c| c.logical_null_count()).sum();
        if nulls > 0 {
            return Err(Error::column_value(
                &self.name,
                format!("contains {nulls} null value(s); drop or fill them first"),
            ));
        }
        Ok(())
    }

    fn type_error(&self, expected: &str) -> Error {
        Error::column_type(&self.name, expected, &self.data_type)
    }
}

/// A float64 column over `values` (no copy).
pub fn f64_array(values: Vec<f64>) -> ArrayRef {
    Arc::new(arrow_array::Float64Array::from(values))
}

/// An output table from named columns (nullable fields: reasons, ...).
pub fn record_batch(columns: Vec<(String, ArrayRef)>) -> Result<RecordBatch> {
    if let Some((name, _)) = columns.iter().find(|(name, _)| name.contains('\0')) {
        // The Arrow C interface cannot carry such a name to Python.
        return Err(Error::argument(
            "column names",
            format!("contain a NUL character ({name:?})"),
        ));
    }
    let fields: Vec<Field> = columns
        .iter()
        .map(|(name, array)| Field::new(name, array.data_type().clone(), true))
        .collect();
    let arrays = columns.into_iter().map(|(_, a)| a).collect();
    RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays)
        .map_err(|e| Error::Arrow(format!("could not build the output table: {e}")))
}

/// The values of `column` at the given global rows, in the column's own type.
pub fn take_rows(column: &Column, rows: &[usize]) -> Result<ArrayRef> {
    let arrays: Vec<&dyn Array> = column.chunks.iter().map(|c| c.as_ref()).collect();
    if let [chunk] = arrays.as_slice() {
        // One chunk (the usual case): gather with 4-byte indices when they fit.
        let result = if column.len() <= u32::MAX as usize {
            let indices =
                arrow_array::UInt32Array::from_iter_values(rows.iter().map(|&r| r as u32));
            arrow_select::take::take(*chunk, &indices, None)
        } else {
            let indices =
                arrow_array::UInt64Array::from_iter_values(rows.iter().map(|&r| r as u64));
            arrow_select::take::take(*chunk, &indices, None)
        };
        return result.map_err(|e| gather_error(column, e));
    }
    if arrays.is_empty() {
        return Ok(arrow_array::new_empty_array(&column.data_type));
    }
    let mut starts = Vec::with_capacity(column.chunks.len());
    let mut total = 0;
    for chunk in &column.chunks {
        starts.push(total);
        total += chunk.len();
    }
    let indices: Vec<(usize, usize)> = rows
        .iter()
        .map(|&row| {
            let chunk = starts.partition_point(|&s| s <= row) - 1;
            (chunk, row - starts[chunk])
        })
        .collect();
    arrow_select::interleave::interleave(&arrays, &indices).map_err(|e| gather_error(column, e))
}

fn gather_error(column: &Column, e: impl std::fmt::Display) -> Error {
    Error::Arrow(format!("could not gather column '{}': {e}", column.name))
}
