//! Identifiers (customers, items, merchants, ...) as dense codes, and the
//! way back: the one id mechanism of the crate.
//!
//! An [`IdMap`] holds the distinct ids of a column in code order and the
//! Arrow type they came in, so outputs give ids back in that type: integers
//! at their width, whole-number floats as floats, strings, categoricals as
//! dictionaries.  [`IdMap::encode`] numbers ids in their sorted order (so
//! per-customer outputs come sorted by id, as lifetimes' summaries do).
//! Lookups go through a hash index built on first use and never saved, so a
//! map that grows (a streaming scorer meeting new customers) costs O(1) per id.

use std::borrow::Cow;
use std::hash::{BuildHasher, Hash};
use std::sync::{Arc, OnceLock};

use arrow_array::cast::AsArray;
use arrow_array::types::{
    Float16Type, Float32Type, Float64Type, Int16Type, Int32Type, Int64Type, Int8Type, UInt16Type,
    UInt32Type, UInt64Type, UInt8Type,
};
use arrow_array::{
    Array, ArrayRef, DictionaryArray, Int32Array, LargeStringArray, PrimitiveArray, StringArray,
};
use arrow_schema::DataType;
use hashbrown::hash_table::{Entry, HashTable};
use hashbrown::{DefaultHashBuilder, HashMap};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::Column;
use crate::error::{Error, Result};

const ID_TYPES: &str = "integer, string, categorical or whole-number float ids";

/// The Arrow type ids came in (and go back out in).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum IdType {
    Int8,
    Int16,
    Int32,
    Int64,
    UInt8,
    UInt16,
    UInt32,
    UInt64,
    Float32,
    Float64,
    Str,
    Categorical,
}

impl IdType {
    /// The id type of a column's Arrow type, `None` if ids cannot have it.
    pub fn of(data_type: &DataType) -> Option<Self> {
        Some(match data_type {
            DataType::Int8 => IdType::Int8,
            DataType::Int16 => IdType::Int16,
            DataType::Int32 => IdType::Int32,
            DataType::Int64 => IdType::Int64,
            DataType::UInt8 => IdType::UInt8,
            DataType::UInt16 => IdType::UInt16,
            DataType::UInt32 => IdType::UInt32,
            DataType::UInt64 => IdType::UInt64,
            DataType::Float16 | DataType::Float32 => IdType::Float32,
            DataType::Float64 => IdType::Float64,
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => IdType::Str,
            DataType::Dictionary(_, value) => match IdType::of(value)? {
                IdType::Str => IdType::Categorical,
                plain => plain,
            },
            _ => return None,
        })
    }

    fn is_text(self) -> bool {
        matches!(self, IdType::Str | IdType::Categorical)
    }

    /// Whether integer values `lo..=hi` fit this type (text types hold none).
    fn holds(self, lo: i64, hi: i64) -> bool {
        let (min, max): (i128, i128) = match self {
            IdType::Int8 => (i8::MIN.into(), i8::MAX.into()),
            IdType::Int16 => (i16::MIN.into(), i16::MAX.into()),
            IdType::Int32 => (i32::MIN.into(), i32::MAX.into()),
            IdType::Int64 => (i64::MIN.into(), i64::MAX.into()),
            IdType::UInt8 => (0, u8::MAX.into()),
            IdType::UInt16 => (0, u16::MAX.into()),
            IdType::UInt32 => (0, u32::MAX.into()),
            IdType::UInt64 => (0, i64::MAX.into()),
            IdType::Float32 | IdType::Float64 => (-(1 << 53), 1 << 53),
            IdType::Str | IdType::Categorical => return false,
        };
        min <= lo as i128 && hi as i128 <= max
    }
}

/// Id values in code order: integers (whole-number floats included) or text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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

    fn kind(&self) -> &'static str {
        match self {
            IdValues::Int(_) => "numbers",
            IdValues::Str(_) => "strings",
        }
    }
}

/// The distinct ids of a column, in code order, and their Arrow type.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct IdMap {
    values: IdValues,
    id_type: IdType,
    #[serde(skip)]
    index: OnceLock<Index>,
}

impl PartialEq for IdMap {
    fn eq(&self, other: &Self) -> bool {
        self.values == other.values && self.id_type == other.id_type
    }
}

/// Codes of a column's rows and the map of its distinct ids.
#[derive(Debug, Clone)]
pub struct Encoded {
    pub codes: Vec<u32>,
    pub ids: IdMap,
}

impl IdMap {
    fn new(values: IdValues, id_type: IdType) -> Self {
        IdMap {
            values,
            id_type,
            index: OnceLock::new(),
        }
    }

    /// Ids `0..n` (rows or columns of a matrix given without ids), as 32-bit
    /// integers like scipy's indices when they fit.
    pub fn range(n: usize) -> Self {
        let id_type = if n <= i32::MAX as usize {
            IdType::Int32
        } else {
            IdType::Int64
        };
        IdMap::new(IdValues::Int((0..n as i64).collect()), id_type)
    }

    /// Encode an id column: integers of any width, whole-number floats,
    /// strings (plain, large or view) and dictionary-encoded (categorical)
    /// columns of those.  Codes number the ids in sorted order.
    pub fn encode(column: &Column) -> Result<Encoded> {
        column.require_no_nulls()?;
        if column.len() > u32::MAX as usize {
            return Err(Error::column_value(&column.name, "has more than 2^32 rows"));
        }
        let id_type = IdType::of(&column.data_type).ok_or_else(|| column.type_error(ID_TYPES))?;
        if id_type.is_text() {
            let strs = str_ids(column);
            let (codes, uniques) = encode_hashed(&strs);
            let values = IdValues::Str(uniques.into_iter().map(str::to_owned).collect());
            return Ok(Encoded {
                codes,
                ids: IdMap::new(values, id_type),
            });
        }
        let ints = int_ids(column)?;
        let (codes, uniques) = encode_ints(&ints);
        Ok(Encoded {
            codes,
            ids: IdMap::new(IdValues::Int(uniques), id_type),
        })
    }

    pub fn len(&self) -> usize {
        self.values.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A map without ids, of the same id type.
    pub fn emptied(&self) -> Self {
        let values = match self.values {
            IdValues::Int(_) => IdValues::Int(Vec::new()),
            IdValues::Str(_) => IdValues::Str(Vec::new()),
        };
        IdMap::new(values, self.id_type)
    }

    pub fn id_type(&self) -> IdType {
        self.id_type
    }

    /// The code of each row of `column` (`None` for ids not in this map).
    pub fn lookup(&self, column: &Column) -> Result<Vec<Option<u32>>> {
        if column.is_empty() {
            return Ok(Vec::new());
        }
        let query = IdMap::encode(column)?;
        let mapped = self.translate(&query.ids, &column.name)?;
        Ok(query.codes.iter().map(|&c| mapped[c as usize]).collect())
    }

    /// For each id of `other` (in its code order), its code in this map.
    pub fn translate(&self, other: &IdMap, name: &str) -> Result<Vec<Option<u32>>> {
        match (&self.values, &other.values) {
            (IdValues::Int(_), IdValues::Int(theirs)) => {
                Ok(theirs.par_iter().map(|v| self.position(v)).collect())
            }
            (IdValues::Str(_), IdValues::Str(theirs)) => Ok(theirs
                .par_iter()
                .map(|v| self.position(v.as_str()))
                .collect()),
            _ => Err(Error::argument_type(
                name,
                format!(
                    "holds {} but the ids it is matched with are {}",
                    other.values.kind(),
                    self.values.kind()
                ),
            )),
        }
    }

    /// Add id `code` of `other` at the end of this map (the caller has
    /// checked, with [`IdMap::translate`], that it is new and of this kind);
    /// returns its code here.
    pub fn push_from(&mut self, other: &IdMap, code: u32) -> u32 {
        let new_code = self.len() as u32;
        match (&mut self.values, &other.values) {
            (IdValues::Int(ours), IdValues::Int(theirs)) => ours.push(theirs[code as usize]),
            (IdValues::Str(ours), IdValues::Str(theirs)) => {
                ours.push(theirs[code as usize].clone())
            }
            _ => unreachable!("translate rejects ids of another kind"),
        }
        if let Some(index) = self.index.get_mut() {
            index.insert(&self.values, new_code);
        }
        new_code
    }

    fn index(&self) -> &Index {
        self.index.get_or_init(|| {
            Index::build(&self.values).expect("maps are built from distinct ids or validated")
        })
    }

    fn position<K: Hash + ?Sized>(&self, key: &K) -> Option<u32>
    where
        IdValues: Holds<K>,
    {
        let index = self.index();
        let hash = index.hasher.hash_one(key);
        index
            .table
            .find(hash, |&c| self.values.holds_at(c as usize, key))
            .copied()
    }

    /// The ids of the given codes as an Arrow array of the ids' own type.
    pub fn take(&self, codes: &[u32]) -> ArrayRef {
        macro_rules! ints {
            ($v:expr, $t:ty) => {
                Arc::new(PrimitiveArray::<$t>::from_iter_values(
                    codes.iter().map(|&c| $v[c as usize] as _),
                ))
            };
        }
        match (&self.values, self.id_type) {
            (IdValues::Int(v), IdType::Int8) => ints!(v, Int8Type),
            (IdValues::Int(v), IdType::Int16) => ints!(v, Int16Type),
            (IdValues::Int(v), IdType::Int32) => ints!(v, Int32Type),
            (IdValues::Int(v), IdType::UInt8) => ints!(v, UInt8Type),
            (IdValues::Int(v), IdType::UInt16) => ints!(v, UInt16Type),
            (IdValues::Int(v), IdType::UInt32) => ints!(v, UInt32Type),
            (IdValues::Int(v), IdType::UInt64) => ints!(v, UInt64Type),
            (IdValues::Int(v), IdType::Float32) => ints!(v, Float32Type),
            (IdValues::Int(v), IdType::Float64) => ints!(v, Float64Type),
            (IdValues::Int(v), _) => ints!(v, Int64Type),
            (IdValues::Str(v), IdType::Categorical) => {
                // The codes index the map's ids directly.
                let keys = Int32Array::from_iter_values(codes.iter().map(|&c| c as i32));
                let all: Vec<u32> = (0..v.len() as u32).collect();
                Arc::new(
                    DictionaryArray::try_new(keys, strings(v, &all))
                        .expect("codes are below the number of ids"),
                )
            }
            (IdValues::Str(v), _) => strings(v, codes),
        }
    }

    /// Every id, in code order.
    pub fn all(&self) -> ArrayRef {
        let codes: Vec<u32> = (0..self.len() as u32).collect();
        self.take(&codes)
    }

    /// Id `code` for a message.
    pub fn describe(&self, code: u32) -> String {
        match &self.values {
            IdValues::Int(v) => v[code as usize].to_string(),
            IdValues::Str(v) => format!("{:?}", v[code as usize]),
        }
    }

    /// A stable 64-bit key per id (the same in every process and release),
    /// for sets of ids kept across batches.
    pub fn stable_keys(&self) -> Vec<u64> {
        match &self.values {
            IdValues::Int(v) => v.iter().map(|&i| crate::hashing::int_key(i)).collect(),
            IdValues::Str(v) => v.iter().map(|s| crate::hashing::str_key(s)).collect(),
        }
    }

    /// Check a map read from bytes: values of its type, all distinct (the
    /// index is built on the way), `expected` of them when given.
    pub fn validate(&self, name: &str, expected: Option<usize>) -> Result<()> {
        let bad = |problem: String| Err(Error::saved_model(format!("{name} ids {problem}")));
        if let Some(n) = expected {
            if self.len() != n {
                return bad(format!("number {} where {n} are needed", self.len()));
            }
        }
        match &self.values {
            IdValues::Str(_) if !self.id_type.is_text() => {
                return bad(format!("are strings but typed {:?}", self.id_type))
            }
            IdValues::Int(v) => {
                let lo = v.iter().copied().min().unwrap_or(0);
                let hi = v.iter().copied().max().unwrap_or(0);
                if !self.id_type.holds(lo, hi) {
                    return bad(format!("do not fit their type {:?}", self.id_type));
                }
            }
            IdValues::Str(_) => {}
        }
        let index = Index::build(&self.values).map_err(|code| {
            Error::saved_model(format!("{name} id {} is repeated", self.describe(code)))
        })?;
        let _ = self.index.set(index);
        Ok(())
    }
}

/// Strings at `codes`, with 64-bit offsets only when 32-bit ones would overflow.
fn strings(values: &[String], codes: &[u32]) -> ArrayRef {
    let bytes: usize = codes.iter().map(|&c| values[c as usize].len()).sum();
    let picked = codes.iter().map(|&c| values[c as usize].as_str());
    if bytes <= i32::MAX as usize {
        Arc::new(StringArray::from_iter_values(picked))
    } else {
        Arc::new(LargeStringArray::from_iter_values(picked))
    }
}

/// Equality of a stored id with a looked-up key, for either kind of ids.
trait Holds<K: ?Sized> {
    fn holds_at(&self, code: usize, key: &K) -> bool;
}

impl Holds<i64> for IdValues {
    fn holds_at(&self, code: usize, key: &i64) -> bool {
        matches!(self, IdValues::Int(v) if v[code] == *key)
    }
}

impl Holds<str> for IdValues {
    fn holds_at(&self, code: usize, key: &str) -> bool {
        matches!(self, IdValues::Str(v) if v[code] == key)
    }
}

/// Hash index from id to code: the table stores codes only and hashes the
/// ids they point at.
#[derive(Debug, Clone)]
struct Index {
    table: HashTable<u32>,
    hasher: DefaultHashBuilder,
}

impl Index {
    /// The index of `values`, or the first code whose id is repeated.
    fn build(values: &IdValues) -> Result<Self, u32> {
        let mut index = Index {
            table: HashTable::with_capacity(values.len()),
            hasher: DefaultHashBuilder::default(),
        };
        for code in 0..values.len() as u32 {
            if !index.try_insert(values, code) {
                return Err(code);
            }
        }
        Ok(index)
    }

    fn hash_of(&self, values: &IdValues, code: u32) -> u64 {
        match values {
            IdValues::Int(v) => self.hasher.hash_one(v[code as usize]),
            IdValues::Str(v) => self.hasher.hash_one(v[code as usize].as_str()),
        }
    }

    /// Insert `code`; false if its id is already there.
    fn try_insert(&mut self, values: &IdValues, code: u32) -> bool {
        let hash = self.hash_of(values, code);
        let same = |&other: &u32| match values {
            IdValues::Int(v) => v[other as usize] == v[code as usize],
            IdValues::Str(v) => v[other as usize] == v[code as usize],
        };
        let hasher = &self.hasher;
        let rehash = |&c: &u32| match values {
            IdValues::Int(v) => hasher.hash_one(v[c as usize]),
            IdValues::Str(v) => hasher.hash_one(v[c as usize].as_str()),
        };
        match self.table.entry(hash, same, rehash) {
            Entry::Occupied(_) => false,
            Entry::Vacant(slot) => {
                slot.insert(code);
                true
            }
        }
    }

    fn insert(&mut self, values: &IdValues, code: u32) {
        let inserted = self.try_insert(values, code);
        debug_assert!(inserted, "push_from adds new ids only");
    }
}

/// Integer ids of every row (dictionaries decoded, whole floats converted).
fn int_ids(column: &Column) -> Result<Cow<'_, [i64]>> {
    if let [chunk] = column.chunks.as_slice() {
        if let Some(array) = chunk.as_primitive_opt::<Int64Type>() {
            return Ok(Cow::Borrowed(array.values()));
        }
    }
    let mut out = Vec::with_capacity(column.len());
    for chunk in &column.chunks {
        let start = out.len();
        out.extend(int_values(column, chunk.as_ref(), start)?);
    }
    Ok(Cow::Owned(out))
}

/// Integer ids of one chunk whose first row is row `start` of the column.
fn int_values(column: &Column, array: &dyn Array, start: usize) -> Result<Vec<i64>> {
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
        DataType::Float64 => {
            whole_numbers(column, array.as_primitive::<Float64Type>().values(), start)?
        }
        DataType::Float32 => {
            let floats: Vec<f64> = prim_f64(array.as_primitive::<Float32Type>().values());
            whole_numbers(column, &floats, start)?
        }
        DataType::Float16 => {
            let floats: Vec<f64> = array
                .as_primitive::<Float16Type>()
                .values()
                .iter()
                .map(|v| v.to_f64())
                .collect();
            whole_numbers(column, &floats, start)?
        }
        DataType::Dictionary(_, _) => {
            let dict = array.as_any_dictionary();
            let values = int_values(column, dict.values().as_ref(), 0)?;
            dict.normalized_keys()
                .into_iter()
                .map(|k| values[k])
                .collect()
        }
        _ => return Err(column.type_error(ID_TYPES)),
    })
}

fn prim_f64(values: &[f32]) -> Vec<f64> {
    values.iter().map(|&v| v as f64).collect()
}

/// Float ids as integers: every value must be a whole number (a pandas
/// integer id column with missing values elsewhere arrives as float64).
fn whole_numbers(column: &Column, floats: &[f64], start: usize) -> Result<Vec<i64>> {
    const LIMIT: f64 = 9.2e18;
    if let Some(i) = floats
        .par_iter()
        .position_first(|v| !(v.fract() == 0.0 && v.abs() < LIMIT))
    {
        return Err(Error::column_value(
            &column.name,
            format!(
                "has float ids that are not whole numbers ({} at row {}); ids must be \
                 integers, strings, categoricals or whole-number floats",
                floats[i],
                start + i
            ),
        ));
    }
    Ok(floats.par_iter().map(|&v| v as i64).collect())
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
        _ => unreachable!("IdType::of admitted only string types"),
    }
}

/// Codes and sorted distinct values of integer ids: dense ranges use a
/// lookup table (already in sorted order), sparse ones are hashed.
fn encode_ints(values: &[i64]) -> (Vec<u32>, Vec<i64>) {
    let (Some(&min), Some(&max)) = (values.par_iter().min(), values.par_iter().max()) else {
        return (Vec::new(), Vec::new());
    };
    let range = (max as i128 - min as i128 + 1) as u128;
    if range > (4 * values.len() as u128).max(1 << 16) {
        return encode_hashed(values);
    }
    let range = range as usize;
    let mut code_of = vec![u32::MAX; range];
    for &v in values {
        code_of[(v - min) as usize] = 0;
    }
    let mut uniques = Vec::new();
    for (offset, slot) in code_of.iter_mut().enumerate() {
        if *slot == 0 {
            *slot = uniques.len() as u32;
            uniques.push(min + offset as i64);
        }
    }
    let codes = values
        .par_iter()
        .map(|&v| code_of[(v - min) as usize])
        .collect();
    (codes, uniques)
}

/// Hash ids to codes in order of first appearance, then renumber the codes
/// in sorted order of the values.
fn encode_hashed<K>(values: &[K]) -> (Vec<u32>, Vec<K>)
where
    K: Hash + Eq + Ord + Copy + Send + Sync,
{
    let mut index: HashMap<K, u32> = HashMap::new();
    let mut uniques: Vec<K> = Vec::new();
    let mut codes: Vec<u32> = Vec::with_capacity(values.len());
    for &v in values {
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
    let sorted = order.iter().map(|&c| uniques[c as usize]).collect();
    (codes, sorted)
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::{Float64Array, Int64Array};

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
            let enc = IdMap::encode(&col).unwrap();
            let mut sorted = values.clone();
            sorted.sort();
            sorted.dedup();
            for (row, &v) in values.iter().enumerate() {
                assert_eq!(sorted[enc.codes[row] as usize], v);
            }
            let all = enc.ids.all();
            assert_eq!(all.as_primitive::<Int64Type>().values().to_vec(), sorted);
        }
    }

    #[test]
    fn strings_and_dictionaries_encode_alike() {
        let plain = column(Arc::new(StringArray::from(vec!["b", "a", "b", "c"])));
        let dict: DictionaryArray<Int8Type> = vec!["b", "a", "b", "c"].into_iter().collect();
        let dict = column(Arc::new(dict));
        assert_eq!(IdMap::encode(&plain).unwrap().codes, vec![1, 0, 1, 2]);
        assert_eq!(IdMap::encode(&dict).unwrap().codes, vec![1, 0, 1, 2]);
    }

    #[test]
    fn strings_round_trip_and_unknowns_are_none() {
        let col = column(Arc::new(StringArray::from(vec!["b", "a", "b"])));
        let Encoded { codes, ids } = IdMap::encode(&col).unwrap();
        assert_eq!(codes, vec![1, 0, 1]);
        let query = Column::from_array("users", Arc::new(StringArray::from(vec!["z", "b"])));
        assert_eq!(ids.lookup(&query).unwrap(), vec![None, Some(1)]);
        let wrong = Column::from_array("users", Arc::new(Int64Array::from(vec![1])));
        let err = ids.lookup(&wrong).unwrap_err();
        assert!(matches!(err, Error::ArgumentType { .. }), "{err}");
    }

    #[test]
    fn ids_come_back_in_their_own_type() {
        let ints = column(Arc::new(Int32Array::from(vec![7, -3, 7])));
        let Encoded { codes, ids } = IdMap::encode(&ints).unwrap();
        let back = ids.take(&codes);
        assert_eq!(back.data_type(), &DataType::Int32);
        assert_eq!(back.as_primitive::<Int32Type>().values(), &[7, -3, 7]);
        // Any integer width finds them.
        let query = Column::from_array("users", Arc::new(Int64Array::from(vec![-3, 8])));
        assert_eq!(ids.lookup(&query).unwrap(), vec![Some(0), None]);

        let dict: DictionaryArray<Int32Type> = vec!["x", "y", "x"].into_iter().collect();
        let Encoded { codes, ids } = IdMap::encode(&column(Arc::new(dict))).unwrap();
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

    #[test]
    fn whole_floats_are_ids_and_come_back_as_floats() {
        let floats = column(Arc::new(Float64Array::from(vec![12.0, 3.0, 12.0])));
        let Encoded { codes, ids } = IdMap::encode(&floats).unwrap();
        assert_eq!(codes, vec![1, 0, 1]);
        let back = ids.take(&codes);
        assert_eq!(
            back.as_primitive::<Float64Type>().values(),
            &[12.0, 3.0, 12.0]
        );
        // Integer queries find float ids and the other way round.
        let query = Column::from_array("q", Arc::new(Int64Array::from(vec![3])));
        assert_eq!(ids.lookup(&query).unwrap(), vec![Some(0)]);

        let bad = column(Arc::new(Float64Array::from(vec![1.0, 2.5])));
        let err = IdMap::encode(&bad).unwrap_err().to_string();
        assert!(err.contains("'c'") && err.contains("2.5 at row 1"), "{err}");
        let nan = column(Arc::new(Float64Array::from(vec![f64::NAN])));
        assert!(IdMap::encode(&nan).unwrap_err().to_string().contains("NaN"));
    }

    #[test]
    fn nulls_and_wrong_types_name_the_column() {
        let col = column(Arc::new(Int64Array::from(vec![Some(1), None])));
        let err = IdMap::encode(&col).unwrap_err().to_string();
        assert!(err.contains("'c'") && err.contains("null"), "{err}");
        let col = column(Arc::new(arrow_array::BooleanArray::from(vec![true])));
        assert!(matches!(IdMap::encode(&col), Err(Error::ColumnType { .. })));
    }

    #[test]
    fn maps_grow_and_validate() {
        let col = column(Arc::new(Int64Array::from(vec![4, 2])));
        let mut ids = IdMap::encode(&col).unwrap().ids;
        let batch = IdMap::encode(&column(Arc::new(Int64Array::from(vec![9, 4])))).unwrap();
        let found = ids.translate(&batch.ids, "c").unwrap();
        assert_eq!(found, vec![Some(1), None]);
        assert_eq!(ids.push_from(&batch.ids, 1), 2);
        let again = ids.translate(&batch.ids, "c").unwrap();
        assert_eq!(again, vec![Some(1), Some(2)]);
        ids.validate("customer", Some(3)).unwrap();
        let repeated = IdMap::new(IdValues::Int(vec![1, 1]), IdType::Int64);
        assert!(repeated.validate("customer", None).is_err());
        let too_wide = IdMap::new(IdValues::Int(vec![300]), IdType::UInt8);
        assert!(too_wide.validate("customer", None).is_err());
    }
}
