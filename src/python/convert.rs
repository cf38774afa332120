//! Conversions every binding module shares: tables and id columns in,
//! parameter dicts to checked values, tables and saved bytes out.

use pyo3::prelude::*;
use pyo3::types::{PyBool, PyBytes, PyDict, PyFloat, PyInt, PyString};
use pyo3_arrow::input::{AnyArray, AnyRecordBatch};
use pyo3_arrow::PyRecordBatch;

use crate::error::Error;
use crate::persist::{self, Persist};
use crate::spec::{Params, Spec, Value};
use crate::table::{Column, Table};

/// Any Arrow-exporting object (pyarrow, polars, pandas, arro3, ...) as a
/// [`Table`]; batches are imported zero-copy through the PyCapsule interface.
pub fn read_table(data: AnyRecordBatch) -> PyResult<Table> {
    let reader = data.into_reader()?;
    let schema = reader.schema();
    let batches = reader
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| Error::Arrow(format!("could not read the table: {e}")))?;
    Ok(Table::new(schema, batches))
}

/// An Arrow array (or chunked array) of ids as a column named `name`.
pub fn read_column(name: &str, values: AnyArray) -> PyResult<Column> {
    let reader = values.into_reader()?;
    let field = reader.field();
    let chunks = reader
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| Error::Arrow(format!("could not read '{name}': {e}")))?;
    Ok(Column {
        name: name.to_string(),
        data_type: field.data_type().clone(),
        chunks,
    })
}

/// A core output table as an Arrow record batch for Python.
pub fn batch_out(batch: arrow_array::RecordBatch) -> PyRecordBatch {
    PyRecordBatch::new(batch)
}

/// An estimator's parameters (`get_params()`), checked against its spec.
pub fn params(spec: &'static Spec, given: &Bound<'_, PyDict>) -> PyResult<Params> {
    Ok(spec.check(values(given)?)?)
}

/// A dict of arguments as names and values, for the core to check.
pub fn values(given: &Bound<'_, PyDict>) -> PyResult<Vec<(String, Value)>> {
    given
        .iter()
        .map(|(name, value)| Ok((name.extract::<String>()?, self::value(&value))))
        .collect()
}

/// Any Python value as the core's [`Value`], for arguments the core checks
/// itself (counts such as `n` and `k`).
pub struct Arg(pub Value);

impl<'a, 'py> FromPyObject<'a, 'py> for Arg {
    type Error = PyErr;

    fn extract(obj: Borrowed<'a, 'py, PyAny>) -> PyResult<Self> {
        Ok(Arg(value(&obj)))
    }
}

impl Arg {
    /// The argument as a count of at least `min`.
    pub fn count(&self, name: &str, min: i64) -> crate::error::Result<usize> {
        crate::spec::count(name, &self.0, min)
    }

    /// The argument as a number.
    pub fn number(&self, name: &str) -> crate::error::Result<f64> {
        crate::spec::number(name, &self.0)
    }

    /// The argument as True or False.
    pub fn flag(&self, name: &str) -> crate::error::Result<bool> {
        crate::spec::flag(name, &self.0)
    }
}

/// A Python value as a parameter value: None, bools, integers (numpy's
/// too), floats, strings; anything else is named by its type.
fn value(obj: &Bound<'_, PyAny>) -> Value {
    if obj.is_none() {
        return Value::None;
    }
    if let Ok(b) = obj.cast::<PyBool>() {
        return Value::Bool(b.is_true());
    }
    let type_name = obj
        .get_type()
        .name()
        .map(|n| n.to_string())
        .unwrap_or_default();
    let numpy = obj
        .get_type()
        .module()
        .is_ok_and(|m| m.to_string().starts_with("numpy"));
    if numpy && (type_name == "bool" || type_name == "bool_") {
        return obj.is_truthy().map_or(Value::Other(type_name), Value::Bool);
    }
    if obj.is_instance_of::<PyInt>() || (numpy && obj.hasattr("__index__").unwrap_or(false)) {
        return match obj.extract::<i64>() {
            Ok(i) => Value::Int(i),
            Err(_) => Value::Other("integer beyond 64 bits".into()),
        };
    }
    if let Ok(f) = obj.cast::<PyFloat>() {
        return Value::Float(f.value());
    }
    if numpy {
        if let Ok(f) = obj.extract::<f64>() {
            return Value::Float(f);
        }
    }
    if let Ok(s) = obj.cast::<PyString>() {
        return s
            .to_str()
            .map_or(Value::Other(type_name), |s| Value::Str(s.into()));
    }
    Value::Other(type_name)
}

/// A model's saved bytes (see `persist`), serialised without the GIL.
pub fn to_py_bytes<'py, T: Persist + Sync>(
    py: Python<'py>,
    model: &T,
) -> PyResult<Bound<'py, PyBytes>> {
    let bytes = py.detach(|| persist::to_bytes(model))?;
    Ok(PyBytes::new(py, &bytes))
}

/// A model from saved bytes, checked (see `persist`), without the GIL.
pub fn from_py_bytes<T: Persist + Send>(py: Python<'_>, bytes: &[u8]) -> PyResult<T> {
    Ok(py.detach(|| persist::from_bytes::<T>(bytes))?)
}
