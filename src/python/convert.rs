//! Conversions shared by every binding module.

use pyo3::prelude::*;
use pyo3_arrow::input::AnyRecordBatch;

use crate::error::Error;
use crate::table::Table;

/// Read any Arrow-exporting object (pyarrow, polars, pandas, arro3, ...) as a
/// [`Table`].  Batches are imported zero-copy through the PyCapsule interface.
pub fn read_table(data: AnyRecordBatch) -> PyResult<Table> {
    let reader = data.into_reader()?;
    let schema = reader.schema();
    let batches = reader
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| Error::Invalid(format!("could not read the table: {e}")))?;
    Ok(Table::new(schema, batches))
}

/// Serialise a model's state for pickle and `save`.
pub fn to_bytes<T: serde::Serialize>(value: &T) -> PyResult<Vec<u8>> {
    postcard::to_stdvec(value)
        .map_err(|e| Error::Invalid(format!("could not serialise: {e}")).into())
}

/// Restore a model's state written by [`to_bytes`].
pub fn from_bytes<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> PyResult<T> {
    postcard::from_bytes(bytes).map_err(|e| Error::Deserialize(e.to_string()).into())
}
