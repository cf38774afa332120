//! Mapping user and item ids of any kind to dense codes and back.
//!
//! Ids are kept sorted (the order `table::encode_ids` numbers them in), so a
//! code is the id's position and lookups are binary searches.  Integer ids of
//! any width are stored as `i64`; string and categorical ids as strings.

use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{
    Int16Type, Int32Type, Int64Type, Int8Type, UInt16Type, UInt32Type, UInt64Type, UInt8Type,
};
use arrow_array::{Array, ArrayRef, Int64Array, StringArray};
use arrow_schema::DataType;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::table::{encode_ids, take_rows, Column};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum IdMap {
    Int(Vec<i64>),
    Str(Vec<String>),
}

impl IdMap {
    /// Ids `0..n` (rows or columns of a matrix given without ids).
    pub fn range(n: usize) -> Self {
        IdMap::Int((0..n as i64).collect())
    }

    pub fn len(&self) -> usize {
        match self {
            IdMap::Int(v) => v.len(),
            IdMap::Str(v) => v.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn kind(&self) -> &'static str {
        match self {
            IdMap::Int(_) => "integers",
            IdMap::Str(_) => "strings",
        }
    }

    /// Encode an id column: the dense codes of its rows and the sorted ids.
    pub fn encode(column: &Column) -> Result<(Vec<u32>, IdMap)> {
        let encoded = encode_ids(column)?;
        let uniques = take_rows(column, &encoded.first_rows)?;
        Ok((
            encoded.codes,
            IdMap::from_array(&column.name, uniques.as_ref())?,
        ))
    }

    fn from_array(name: &str, array: &dyn Array) -> Result<IdMap> {
        macro_rules! ints {
            ($t:ty) => {
                IdMap::Int(
                    array
                        .as_primitive::<$t>()
                        .values()
                        .iter()
                        .map(|&v| v as i64)
                        .collect(),
                )
            };
        }
        Ok(match array.data_type() {
            DataType::Int8 => ints!(Int8Type),
            DataType::Int16 => ints!(Int16Type),
            DataType::Int32 => ints!(Int32Type),
            DataType::Int64 => ints!(Int64Type),
            DataType::UInt8 => ints!(UInt8Type),
            DataType::UInt16 => ints!(UInt16Type),
            DataType::UInt32 => ints!(UInt32Type),
            DataType::UInt64 => ints!(UInt64Type),
            DataType::Utf8 => strs(array.as_string::<i32>().iter()),
            DataType::LargeUtf8 => strs(array.as_string::<i64>().iter()),
            DataType::Utf8View => strs(array.as_string_view().iter()),
            DataType::Dictionary(_, _) => {
                let dict = array.as_any_dictionary();
                let values = IdMap::from_array(name, dict.values().as_ref())?;
                let keys = dict.normalized_keys();
                match values {
                    IdMap::Int(v) => IdMap::Int(keys.into_iter().map(|k| v[k]).collect()),
                    IdMap::Str(v) => IdMap::Str(keys.into_iter().map(|k| v[k].clone()).collect()),
                }
            }
            other => {
                return Err(Error::column_type(
                    name,
                    "integer, string or categorical ids",
                    other,
                ))
            }
        })
    }

    /// The codes of the given ids (`None` for ids not in this map).
    pub fn lookup(&self, column: &Column) -> Result<Vec<Option<u32>>> {
        if column.is_empty() {
            return Ok(Vec::new());
        }
        let (codes, uniques) = IdMap::encode(column)?;
        let mapped: Vec<Option<u32>> = match (self, &uniques) {
            (IdMap::Int(ours), IdMap::Int(theirs)) => theirs
                .iter()
                .map(|v| ours.binary_search(v).ok().map(|c| c as u32))
                .collect(),
            (IdMap::Str(ours), IdMap::Str(theirs)) => theirs
                .iter()
                .map(|v| ours.binary_search(v).ok().map(|c| c as u32))
                .collect(),
            _ => {
                return Err(Error::argument_type(
                    &column.name,
                    format!(
                        "holds {} but the model's ids are {}",
                        uniques.kind(),
                        self.kind()
                    ),
                ))
            }
        };
        Ok(codes.iter().map(|&c| mapped[c as usize]).collect())
    }

    /// The ids of the given codes as an Arrow array.
    pub fn take(&self, codes: &[u32]) -> ArrayRef {
        match self {
            IdMap::Int(v) => Arc::new(Int64Array::from_iter_values(
                codes.iter().map(|&c| v[c as usize]),
            )),
            IdMap::Str(v) => Arc::new(StringArray::from_iter_values(
                codes.iter().map(|&c| v[c as usize].as_str()),
            )),
        }
    }

    /// Every id, in code order.
    pub fn all(&self) -> ArrayRef {
        let codes: Vec<u32> = (0..self.len() as u32).collect();
        self.take(&codes)
    }
}

fn strs<'a>(values: impl Iterator<Item = Option<&'a str>>) -> IdMap {
    IdMap::Str(values.map(|s| s.unwrap_or("").to_string()).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_round_trip_and_unknowns_are_none() {
        let col = Column::from_array("u", Arc::new(StringArray::from(vec!["b", "a", "b"])));
        let (codes, ids) = IdMap::encode(&col).unwrap();
        assert_eq!(codes, vec![1, 0, 1]);
        let query = Column::from_array("users", Arc::new(StringArray::from(vec!["z", "b"])));
        assert_eq!(ids.lookup(&query).unwrap(), vec![None, Some(1)]);
        let wrong = Column::from_array("users", Arc::new(Int64Array::from(vec![1])));
        assert!(matches!(
            ids.lookup(&wrong),
            Err(Error::ArgumentType { .. })
        ));
    }
}
