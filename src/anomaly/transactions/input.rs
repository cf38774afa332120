//! Reading a transaction log (customer, time, amount, optional merchant,
//! category and place) from a table into plain vectors.
//!
//! Customers are kept as their original values ([`IdKey`]) so that a scorer's
//! per-customer state carries over between batches whose dense codes differ;
//! merchants, categories and places only need set membership, so each value
//! is reduced to a stable 64-bit key.

use arrow_schema::DataType;
use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::table::{self, Column, IdValues, Table};

/// An identifier value (integer or string ids, categoricals decoded).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum IdKey {
    Int(i64),
    Str(String),
}

impl IdKey {
    /// A stable 64-bit key (the same in every process, unlike std's hasher).
    pub fn key64(&self) -> u64 {
        match self {
            IdKey::Int(v) => super::super::stream_seed(*v as u64, 0x1d),
            IdKey::Str(s) => {
                let mut h: u64 = 0xcbf2_9ce4_8422_2325; // FNV-1a
                for b in s.as_bytes() {
                    h ^= *b as u64;
                    h = h.wrapping_mul(0x0000_0100_0000_01b3);
                }
                super::super::stream_seed(h, 0x5e)
            }
        }
    }
}

impl std::fmt::Display for IdKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            IdKey::Int(v) => write!(f, "{v}"),
            IdKey::Str(s) => write!(f, "{s:?}"),
        }
    }
}

/// The id values at `rows` of an id column.
fn id_keys(column: &Column, rows: &[usize]) -> Result<Vec<IdKey>> {
    Ok(match table::id_values(column, rows)? {
        IdValues::Int(v) => v.into_iter().map(IdKey::Int).collect(),
        IdValues::Str(v) => v.into_iter().map(IdKey::Str).collect(),
    })
}

/// Times as UTC microseconds: gaps between purchases are elapsed time, so a
/// zoned column is read as its instants, not its (DST-shifting) wall clock.
fn utc_micros(mut column: Column) -> Result<Vec<i64>> {
    if let DataType::Timestamp(unit, Some(_)) = &column.data_type {
        column.data_type = DataType::Timestamp(*unit, None);
    }
    Ok(table::wall_times(&column)?.micros.into_owned())
}

/// A categorical attribute of each transaction: a dense code per row and the
/// stable 64-bit key of each code (4 bytes per row instead of 8).
#[derive(Debug, Clone)]
pub struct Attribute {
    pub name: String,
    pub codes: Vec<u32>,
    pub keys: Vec<u64>,
}

impl Attribute {
    #[inline]
    pub fn key(&self, k: usize) -> u64 {
        self.keys[self.codes[k] as usize]
    }
}

/// Column names of a log; `None` for attributes the log does not have.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogSchema {
    pub customer: String,
    pub time: String,
    pub amount: String,
    pub merchant: Option<String>,
    pub category: Option<String>,
    pub place: Option<String>,
}

/// A log read into vectors, rows in the table's order.
#[derive(Debug, Clone)]
pub struct Log {
    /// Dense customer codes `0..customer_keys.len()`.
    pub customers: Vec<u32>,
    pub customer_keys: Vec<IdKey>,
    /// UTC microseconds (naive times taken as they are).
    pub times: Vec<i64>,
    pub amounts: Vec<f64>,
    pub merchant: Option<Attribute>,
    pub category: Option<Attribute>,
    pub place: Option<Attribute>,
    pub schema: LogSchema,
}

impl Log {
    pub fn len(&self) -> usize {
        self.customers.len()
    }

    pub fn is_empty(&self) -> bool {
        self.customers.is_empty()
    }

    /// Read and check the columns: no nulls, finite amounts.
    pub fn read(table: &Table, schema: &LogSchema) -> Result<Self> {
        let customer = table.column(&schema.customer)?;
        let ids = table::encode_ids(&customer)?;
        let customer_keys = id_keys(&customer, &ids.first_rows)?;
        let times = utc_micros(table.column(&schema.time)?)?;
        let amount = table.column(&schema.amount)?;
        let amounts = table::values_f64(&amount)?.into_owned();
        table::require_finite(&amount.name, &amounts)?;
        let attribute = |name: &Option<String>| -> Result<Option<Attribute>> {
            let Some(name) = name else { return Ok(None) };
            let column = table.column(name)?;
            let ids = table::encode_ids(&column)?;
            let keys: Vec<u64> = id_keys(&column, &ids.first_rows)?
                .iter()
                .map(IdKey::key64)
                .collect();
            Ok(Some(Attribute {
                name: name.clone(),
                codes: ids.codes,
                keys,
            }))
        };
        Ok(Log {
            customers: ids.codes,
            customer_keys,
            times,
            amounts,
            merchant: attribute(&schema.merchant)?,
            category: attribute(&schema.category)?,
            place: attribute(&schema.place)?,
            schema: schema.clone(),
        })
    }
}
