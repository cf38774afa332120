//! Reading Arrow columns into the plain vectors the algorithms work on.
//!
//! Every function takes a [`Column`] (the chunks of one named column, as they
//! came over the Arrow C stream interface) and either borrows its buffer (a
//! single chunk of the right type) or converts it once, in parallel.  Errors
//! name the column and say what was wrong with it.

use std::borrow::Cow;

use arrow_array::cast::AsArray;
use arrow_array::timezone::Tz;
use arrow_array::types::{
    Date32Type, Date64Type, Decimal128Type, Decimal256Type, Float16Type, Float32Type, Float64Type,
    Int16Type, Int32Type, Int64Type, Int8Type, TimestampMicrosecondType, TimestampMillisecondType,
    TimestampNanosecondType, TimestampSecondType, UInt16Type, UInt32Type, UInt64Type, UInt8Type,
};
use arrow_array::{Array, ArrayRef, RecordBatch};
use arrow_schema::{DataType, SchemaRef, TimeUnit};
use chrono::{DateTime, Offset, TimeZone};
use hashbrown::HashMap;
use rayon::prelude::*;

use crate::error::{Error, Result};

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

// ---------------------------------------------------------------------------
// Numbers
// ---------------------------------------------------------------------------

/// The column as `f64`: floats, integers and decimals.  A single float64 chunk
/// is borrowed, not copied.  Nulls are an error; NaN is passed through (callers
/// decide whether it is allowed, see [`require_finite`]).
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

// ---------------------------------------------------------------------------
// Times
// ---------------------------------------------------------------------------

pub const MICROS_PER_DAY: i64 = 86_400_000_000;

/// Time column read as wall-clock microseconds since 1970-01-01 (local time
/// for zoned timestamps, as pandas' `to_period` sees them), plus the zone.
pub struct WallTimes<'a> {
    pub micros: Cow<'a, [i64]>,
    pub zone: Option<Tz>,
}

impl WallTimes<'_> {
    /// A UTC instant in microseconds as wall-clock time of this column's zone.
    pub fn utc_to_wall(&self, utc_micros: i64) -> i64 {
        match &self.zone {
            Some(tz) => utc_micros + offset_micros(tz, utc_micros),
            None => utc_micros,
        }
    }
}

fn offset_micros(tz: &Tz, utc_micros: i64) -> i64 {
    match DateTime::from_timestamp_micros(utc_micros) {
        Some(dt) => {
            tz.offset_from_utc_datetime(&dt.naive_utc())
                .fix()
                .local_minus_utc() as i64
                * 1_000_000
        }
        None => 0,
    }
}

/// Read a date or timestamp column (any unit, with or without time zone).
pub fn wall_times(column: &Column) -> Result<WallTimes<'_>> {
    column.require_no_nulls()?;
    let zone = match &column.data_type {
        DataType::Timestamp(_, Some(tz)) if !is_utc(tz) => Some(tz.parse::<Tz>().map_err(|e| {
            Error::column_value(&column.name, format!("has an unknown time zone: {e}"))
        })?),
        DataType::Timestamp(_, _) | DataType::Date32 | DataType::Date64 => None,
        _ => return Err(column.type_error("a date or datetime (timestamp) column")),
    };
    if zone.is_none() {
        if let [chunk] = column.chunks.as_slice() {
            if let Some(array) = chunk.as_primitive_opt::<TimestampMicrosecondType>() {
                return Ok(WallTimes {
                    micros: Cow::Borrowed(array.values()),
                    zone,
                });
            }
        }
    }
    let mut micros = Vec::with_capacity(column.len());
    for chunk in &column.chunks {
        let start = micros.len();
        match chunk.data_type() {
            DataType::Timestamp(TimeUnit::Second, _) => micros.extend(
                chunk
                    .as_primitive::<TimestampSecondType>()
                    .values()
                    .iter()
                    .map(|&v| v.saturating_mul(1_000_000)),
            ),
            DataType::Timestamp(TimeUnit::Millisecond, _) => micros.extend(
                chunk
                    .as_primitive::<TimestampMillisecondType>()
                    .values()
                    .iter()
                    .map(|&v| v.saturating_mul(1_000)),
            ),
            DataType::Timestamp(TimeUnit::Microsecond, _) => {
                micros.extend_from_slice(chunk.as_primitive::<TimestampMicrosecondType>().values())
            }
            DataType::Timestamp(TimeUnit::Nanosecond, _) => micros.extend(
                chunk
                    .as_primitive::<TimestampNanosecondType>()
                    .values()
                    .iter()
                    .map(|&v| v.div_euclid(1_000)),
            ),
            DataType::Date32 => micros.extend(
                chunk
                    .as_primitive::<Date32Type>()
                    .values()
                    .iter()
                    .map(|&d| d as i64 * MICROS_PER_DAY),
            ),
            DataType::Date64 => micros.extend(
                chunk
                    .as_primitive::<Date64Type>()
                    .values()
                    .iter()
                    .map(|&v| v.saturating_mul(1_000)),
            ),
            _ => return Err(column.type_error("a date or datetime (timestamp) column")),
        }
        if let Some(tz) = &zone {
            micros[start..]
                .par_iter_mut()
                .for_each(|v| *v += offset_micros(tz, *v));
        }
    }
    Ok(WallTimes {
        micros: Cow::Owned(micros),
        zone,
    })
}

fn is_utc(tz: &str) -> bool {
    matches!(tz, "UTC" | "utc" | "Etc/UTC" | "+00:00" | "Z" | "GMT")
}

/// Wall-clock microseconds as an ISO date-time string, for messages.
pub fn format_micros(micros: i64) -> String {
    DateTime::from_timestamp_micros(micros)
        .map(|d| d.naive_utc().to_string())
        .unwrap_or_else(|| format!("{micros} µs"))
}

// ---------------------------------------------------------------------------
// Identifiers
// ---------------------------------------------------------------------------

/// Identifiers mapped to dense codes `0..n_unique`, numbered in sorted order
/// of the id values, with the row of each code's first appearance so that the
/// original ids (in their own Arrow type) can be taken back for any output.
#[derive(Debug, Clone)]
pub struct EncodedIds {
    pub codes: Vec<u32>,
    pub first_rows: Vec<usize>,
}

impl EncodedIds {
    pub fn n_unique(&self) -> usize {
        self.first_rows.len()
    }
}

/// Encode an id column: integers of any width, strings (incl. large and view
/// strings) and dictionary-encoded (categorical) columns of either.
pub fn encode_ids(column: &Column) -> Result<EncodedIds> {
    column.require_no_nulls()?;
    if column.len() > u32::MAX as usize {
        return Err(Error::column_value(&column.name, "has more than 2^32 rows"));
    }
    match value_kind(&column.data_type) {
        Some(IdKind::Int) => encode_ints(column, &int_ids(column)?),
        Some(IdKind::Str) => encode_hashed(column, str_ids(column)),
        None => Err(column.type_error("integer, string or categorical ids")),
    }
}

enum IdKind {
    Int,
    Str,
}

/// Id values, decoded (categoricals through their dictionaries).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum IdValues {
    Int(Vec<i64>),
    Str(Vec<String>),
}

impl IdValues {
    pub fn len(&self) -> usize {
        match self {
            IdValues::Int(v) => v.len(),
            IdValues::Str(v) => v.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The ids at `rows` of an id column (e.g. [`EncodedIds::first_rows`]: the
/// distinct ids in code order).
pub fn id_values(column: &Column, rows: &[usize]) -> Result<IdValues> {
    let picked = Column::from_array(&column.name, take_rows(column, rows)?);
    match value_kind(&column.data_type) {
        Some(IdKind::Int) => Ok(IdValues::Int(int_ids(&picked)?.into_owned())),
        Some(IdKind::Str) => Ok(IdValues::Str(
            str_ids(&picked).into_iter().map(str::to_owned).collect(),
        )),
        None => Err(column.type_error("integer, string or categorical ids")),
    }
}

fn value_kind(dt: &DataType) -> Option<IdKind> {
    match dt {
        DataType::Int8
        | DataType::Int16
        | DataType::Int32
        | DataType::Int64
        | DataType::UInt8
        | DataType::UInt16
        | DataType::UInt32
        | DataType::UInt64 => Some(IdKind::Int),
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => Some(IdKind::Str),
        DataType::Dictionary(_, value) => value_kind(value),
        _ => None,
    }
}

/// Integer ids of one chunk (dictionary chunks decoded through their keys).
fn int_values(column: &Column, array: &dyn Array) -> Result<Vec<i64>> {
    macro_rules! prim {
        ($t:ty) => {
            array
                .as_primitive::<$t>()
                .values()
                .iter()
                .map(|&v| v as i64)
                .collect()
        };
    }
    Ok(match array.data_type() {
        DataType::Int8 => prim!(Int8Type),
        DataType::Int16 => prim!(Int16Type),
        DataType::Int32 => prim!(Int32Type),
        DataType::Int64 => array.as_primitive::<Int64Type>().values().to_vec(),
        DataType::UInt8 => prim!(UInt8Type),
        DataType::UInt16 => prim!(UInt16Type),
        DataType::UInt32 => prim!(UInt32Type),
        DataType::UInt64 => {
            let values = array.as_primitive::<UInt64Type>().values();
            if values.iter().any(|&v| v > i64::MAX as u64) {
                return Err(Error::column_value(&column.name, "has ids above 2^63"));
            }
            prim!(UInt64Type)
        }
        DataType::Dictionary(_, _) => {
            let dict = array.as_any_dictionary();
            let values = int_values(column, dict.values().as_ref())?;
            dict.normalized_keys()
                .into_iter()
                .map(|k| values[k])
                .collect()
        }
        _ => return Err(column.type_error("integer, string or categorical ids")),
    })
}

fn int_ids(column: &Column) -> Result<Cow<'_, [i64]>> {
    if let [chunk] = column.chunks.as_slice() {
        if let Some(array) = chunk.as_primitive_opt::<Int64Type>() {
            return Ok(Cow::Borrowed(array.values()));
        }
    }
    let mut out = Vec::with_capacity(column.len());
    for chunk in &column.chunks {
        out.extend(int_values(column, chunk.as_ref())?);
    }
    Ok(Cow::Owned(out))
}

/// String ids as slices borrowed from the Arrow buffers.
fn str_ids(column: &Column) -> Vec<&str> {
    let mut out = Vec::with_capacity(column.len());
    for chunk in &column.chunks {
        push_strs(chunk.as_ref(), &mut out);
    }
    out
}

fn push_strs<'a>(array: &'a dyn Array, out: &mut Vec<&'a str>) {
    match array.data_type() {
        DataType::Utf8 => out.extend(array.as_string::<i32>().iter().map(|s| s.unwrap_or(""))),
        DataType::LargeUtf8 => out.extend(array.as_string::<i64>().iter().map(|s| s.unwrap_or(""))),
        DataType::Utf8View => out.extend(array.as_string_view().iter().map(|s| s.unwrap_or(""))),
        DataType::Dictionary(_, _) => {
            let dict = array.as_any_dictionary();
            let mut values = Vec::with_capacity(dict.values().len());
            push_strs(dict.values().as_ref(), &mut values);
            out.extend(dict.normalized_keys().into_iter().map(|k| values[k]));
        }
        _ => unreachable!("value_kind admitted only string types"),
    }
}

/// Dense integer ids use a lookup table (already in sorted order); sparse ones
/// are hashed.
fn encode_ints(column: &Column, values: &[i64]) -> Result<EncodedIds> {
    let (Some(&min), Some(&max)) = (values.par_iter().min(), values.par_iter().max()) else {
        return Ok(EncodedIds {
            codes: Vec::new(),
            first_rows: Vec::new(),
        });
    };
    let range = (max as i128 - min as i128 + 1) as u128;
    if range > (4 * values.len() as u128).max(1 << 16) {
        return encode_hashed(column, values.to_vec());
    }
    let range = range as usize;
    let mut code_of = vec![u32::MAX; range];
    for &v in values {
        code_of[(v - min) as usize] = 0;
    }
    let mut next = 0u32;
    for slot in code_of.iter_mut().filter(|s| **s == 0) {
        *slot = next;
        next += 1;
    }
    let codes: Vec<u32> = values
        .par_iter()
        .map(|&v| code_of[(v - min) as usize])
        .collect();
    Ok(EncodedIds {
        first_rows: first_rows(&codes, next as usize),
        codes,
    })
}

/// Hash ids to codes in order of first appearance, then renumber the codes in
/// sorted order of the values.
fn encode_hashed<K>(_column: &Column, values: Vec<K>) -> Result<EncodedIds>
where
    K: std::hash::Hash + Eq + Ord + Copy + Send + Sync,
{
    let mut index: HashMap<K, u32> = HashMap::new();
    let mut uniques: Vec<K> = Vec::new();
    let mut codes: Vec<u32> = Vec::with_capacity(values.len());
    for &v in &values {
        let code = *index.entry(v).or_insert_with(|| {
            uniques.push(v);
            (uniques.len() - 1) as u32
        });
        codes.push(code);
    }
    let mut order: Vec<u32> = (0..uniques.len() as u32).collect();
    order.par_sort_unstable_by_key(|&c| uniques[c as usize]);
    let mut rank = vec![0u32; uniques.len()];
    for (r, &c) in order.iter().enumerate() {
        rank[c as usize] = r as u32;
    }
    codes.par_iter_mut().for_each(|c| *c = rank[*c as usize]);
    Ok(EncodedIds {
        first_rows: first_rows(&codes, uniques.len()),
        codes,
    })
}

fn first_rows(codes: &[u32], n_unique: usize) -> Vec<usize> {
    let mut first = vec![usize::MAX; n_unique];
    let mut remaining = n_unique;
    for (row, &c) in codes.iter().enumerate() {
        let slot = &mut first[c as usize];
        if *slot == usize::MAX {
            *slot = row;
            remaining -= 1;
            if remaining == 0 {
                break;
            }
        }
    }
    first
}

/// The values of `column` at the given global rows, in the column's own type.
pub fn take_rows(column: &Column, rows: &[usize]) -> Result<ArrayRef> {
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
    let arrays: Vec<&dyn Array> = column.chunks.iter().map(|c| c.as_ref()).collect();
    if arrays.is_empty() {
        return Ok(arrow_array::new_empty_array(&column.data_type));
    }
    arrow_select::interleave::interleave(&arrays, &indices)
        .map_err(|e| Error::Invalid(format!("could not gather column '{}': {e}", column.name)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::{DictionaryArray, Int64Array, StringArray, TimestampNanosecondArray};
    use std::sync::Arc;

    fn column(array: ArrayRef) -> Column {
        Column::from_array("c", array)
    }

    #[test]
    fn dense_and_sparse_ints_encode_in_sorted_order() {
        for values in [
            vec![5i64, 3, 5, 9, 3],
            vec![5_000_000_000, 3, 5_000_000_000, -9, 3],
        ] {
            let col = column(Arc::new(Int64Array::from(values.clone())));
            let enc = encode_ids(&col).unwrap();
            let mut sorted = values.clone();
            sorted.sort();
            sorted.dedup();
            for (row, &v) in values.iter().enumerate() {
                assert_eq!(sorted[enc.codes[row] as usize], v);
            }
            let taken = take_rows(&col, &enc.first_rows).unwrap();
            assert_eq!(taken.as_primitive::<Int64Type>().values().to_vec(), sorted);
        }
    }

    #[test]
    fn strings_and_dictionaries_encode_alike() {
        let plain = column(Arc::new(StringArray::from(vec!["b", "a", "b", "c"])));
        let dict: DictionaryArray<arrow_array::types::Int8Type> =
            vec!["b", "a", "b", "c"].into_iter().collect();
        let dict = column(Arc::new(dict));
        assert_eq!(encode_ids(&plain).unwrap().codes, vec![1, 0, 1, 2]);
        assert_eq!(encode_ids(&dict).unwrap().codes, vec![1, 0, 1, 2]);
    }

    #[test]
    fn nulls_and_wrong_types_name_the_column() {
        let col = column(Arc::new(Int64Array::from(vec![Some(1), None])));
        let err = encode_ids(&col).unwrap_err().to_string();
        assert!(err.contains("'c'") && err.contains("null"), "{err}");
        let col = column(Arc::new(arrow_array::Float64Array::from(vec![1.0])));
        assert!(matches!(encode_ids(&col), Err(Error::ColumnType { .. })));
        assert!(matches!(wall_times(&col), Err(Error::ColumnType { .. })));
    }

    #[test]
    fn zoned_timestamps_read_as_wall_clock() {
        // 2020-01-01T00:30:00Z is 2019-12-31T19:30 in New York.
        let utc = 1_577_838_600_000_000_000i64;
        let array = TimestampNanosecondArray::from(vec![utc]).with_timezone("America/New_York");
        let col = column(Arc::new(array));
        let times = wall_times(&col).unwrap();
        assert_eq!(times.micros[0], utc / 1000 - 5 * 3_600_000_000);
        assert_eq!(format_micros(times.micros[0]), "2019-12-31 19:30:00");
    }
}
