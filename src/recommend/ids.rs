//! Mapping user and item ids of any kind to dense codes and back.
//!
//! Ids are kept sorted (the order `table::encode_ids` numbers them in), so a
//! code is the id's position and lookups are binary searches.  The Arrow type
//! the ids came in is remembered, so outputs give them back the same way:
//! integers at their width, strings, categoricals as dictionaries.

use std::sync::Arc;

use arrow_array::types::{
    Int16Type, Int32Type, Int64Type, Int8Type, UInt16Type, UInt32Type, UInt64Type, UInt8Type,
};
use arrow_array::{ArrayRef, DictionaryArray, Int32Array, PrimitiveArray, StringArray};
use arrow_schema::DataType;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::table::{encode_ids, id_values, Column, IdValues};

/// The Arrow type of the ids a map was built from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
enum IdType {
    Int8,
    Int16,
    Int32,
    Int64,
    UInt8,
    UInt16,
    UInt32,
    UInt64,
    Str,
    Categorical,
}

impl IdType {
    fn of(data_type: &DataType) -> Self {
        match data_type {
            DataType::Int8 => IdType::Int8,
            DataType::Int16 => IdType::Int16,
            DataType::Int32 => IdType::Int32,
            DataType::UInt8 => IdType::UInt8,
            DataType::UInt16 => IdType::UInt16,
            DataType::UInt32 => IdType::UInt32,
            DataType::UInt64 => IdType::UInt64,
            DataType::Dictionary(_, _) => IdType::Categorical,
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => IdType::Str,
            _ => IdType::Int64,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IdMap {
    ids: IdValues,
    id_type: IdType,
}

impl IdMap {
    /// Ids `0..n` (rows or columns of a matrix given without ids), as 32-bit
    /// integers like scipy's indices when they fit.
    pub fn range(n: usize) -> Self {
        IdMap {
            ids: IdValues::Int((0..n as i64).collect()),
            id_type: if n <= i32::MAX as usize {
                IdType::Int32
            } else {
                IdType::Int64
            },
        }
    }

    pub fn len(&self) -> usize {
        self.ids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn kind(&self) -> &'static str {
        match self.ids {
            IdValues::Int(_) => "integers",
            IdValues::Str(_) => "strings",
        }
    }

    /// Encode an id column: the dense codes of its rows and the sorted ids.
    pub fn encode(column: &Column) -> Result<(Vec<u32>, IdMap)> {
        let encoded = encode_ids(column)?;
        let ids = id_values(column, &encoded.first_rows)?;
        let id_type = IdType::of(&column.data_type);
        Ok((encoded.codes, IdMap { ids, id_type }))
    }

    /// The codes of the given ids (`None` for ids not in this map).
    pub fn lookup(&self, column: &Column) -> Result<Vec<Option<u32>>> {
        if column.is_empty() {
            return Ok(Vec::new());
        }
        let (codes, uniques) = IdMap::encode(column)?;
        let mapped: Vec<Option<u32>> = match (&self.ids, &uniques.ids) {
            (IdValues::Int(ours), IdValues::Int(theirs)) => theirs
                .iter()
                .map(|v| ours.binary_search(v).ok().map(|c| c as u32))
                .collect(),
            (IdValues::Str(ours), IdValues::Str(theirs)) => theirs
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

    /// The ids of the given codes as an Arrow array of the ids' own type.
    pub fn take(&self, codes: &[u32]) -> ArrayRef {
        if self.id_type != IdType::Categorical {
            return self.take_as(codes, self.id_type);
        }
        // Categoricals: the codes index the sorted ids directly.
        let keys = Int32Array::from_iter_values(codes.iter().map(|&c| c as i32));
        let all: Vec<u32> = (0..self.len() as u32).collect();
        let values = self.take_as(&all, IdType::Str);
        Arc::new(
            DictionaryArray::<Int32Type>::try_new(keys, values)
                .expect("codes are below the number of ids"),
        )
    }

    /// The ids of `codes` as a plain array: integers of `id_type`'s width
    /// (Int64 for any other type), or strings.
    fn take_as(&self, codes: &[u32], id_type: IdType) -> ArrayRef {
        macro_rules! ints {
            ($v:expr, $t:ty) => {
                Arc::new(PrimitiveArray::<$t>::from_iter_values(
                    codes.iter().map(|&c| $v[c as usize] as _),
                ))
            };
        }
        match (&self.ids, id_type) {
            (IdValues::Int(v), IdType::Int8) => ints!(v, Int8Type),
            (IdValues::Int(v), IdType::Int16) => ints!(v, Int16Type),
            (IdValues::Int(v), IdType::Int32) => ints!(v, Int32Type),
            (IdValues::Int(v), IdType::UInt8) => ints!(v, UInt8Type),
            (IdValues::Int(v), IdType::UInt16) => ints!(v, UInt16Type),
            (IdValues::Int(v), IdType::UInt32) => ints!(v, UInt32Type),
            (IdValues::Int(v), IdType::UInt64) => ints!(v, UInt64Type),
            (IdValues::Int(v), _) => ints!(v, Int64Type),
            (IdValues::Str(v), _) => Arc::new(StringArray::from_iter_values(
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

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::cast::AsArray;
    use arrow_array::{Array, Int64Array};

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

    #[test]
    fn ids_come_back_in_their_own_type() {
        let ints = Column::from_array("u", Arc::new(Int32Array::from(vec![7, -3, 7])));
        let (codes, ids) = IdMap::encode(&ints).unwrap();
        let back = ids.take(&codes);
        assert_eq!(back.data_type(), &DataType::Int32);
        assert_eq!(back.as_primitive::<Int32Type>().values(), &[7, -3, 7]);
        // Any integer width finds them.
        let query = Column::from_array("users", Arc::new(Int64Array::from(vec![-3, 8])));
        assert_eq!(ids.lookup(&query).unwrap(), vec![Some(0), None]);

        let dict: DictionaryArray<Int32Type> = vec!["x", "y", "x"].into_iter().collect();
        let cats = Column::from_array("u", Arc::new(dict));
        let (codes, ids) = IdMap::encode(&cats).unwrap();
        let back = ids.take(&codes);
        let back = back.as_any_dictionary();
        let values = back.values().as_string::<i32>();
        let decoded: Vec<&str> = back
            .normalized_keys()
            .into_iter()
            .map(|k| values.value(k))
            .collect();
        assert_eq!(decoded, vec!["x", "y", "x"]);
        assert_eq!(IdMap::range(3).all().data_type(), &DataType::Int32);
    }
}
