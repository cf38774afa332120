//! Reading a transaction log (customer, time, amount, optional merchant,
//! category and place) from a table into plain vectors.
//!
//! Customers are kept with their ids ([`IdMap`]) so that a scorer's
//! per-customer state carries over between batches whose dense codes differ;
//! merchants, categories and places only need set membership, so each value
//! is reduced to a stable 64-bit key.

use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::table::{self, IdMap, Table};

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

impl LogSchema {
    /// The column of each parameter that names one (None when not given).
    pub fn by_parameter(&self) -> [(&'static str, Option<&str>); 6] {
        [
            ("customer_col", Some(self.customer.as_str())),
            ("time_col", Some(self.time.as_str())),
            ("amount_col", Some(self.amount.as_str())),
            ("merchant_col", self.merchant.as_deref()),
            ("category_col", self.category.as_deref()),
            ("place_col", self.place.as_deref()),
        ]
    }

    /// Which optional attributes the schema names (merchant, category, place).
    pub fn attributes(&self) -> [bool; 3] {
        [
            self.merchant.is_some(),
            self.category.is_some(),
            self.place.is_some(),
        ]
    }
}

/// A log read into vectors, rows in the table's order.
#[derive(Debug, Clone)]
pub struct Log {
    /// Dense customer codes into `customer_ids`.
    pub customers: Vec<u32>,
    pub customer_ids: IdMap,
    /// UTC microseconds (naive times taken as they are): gaps between
    /// purchases are elapsed time, which a zoned wall clock would shift.
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
        let customers = IdMap::encode(&table.column(&schema.customer)?)?;
        let times = table::instants(&table.column(&schema.time)?)?.into_owned();
        let amounts = table::numbers::finite_f64(&table.column(&schema.amount)?)?.into_owned();
        let attribute = |name: &Option<String>| -> Result<Option<Attribute>> {
            let Some(name) = name else { return Ok(None) };
            let encoded = IdMap::encode(&table.column(name)?)?;
            Ok(Some(Attribute {
                name: name.clone(),
                keys: encoded.ids.stable_keys(),
                codes: encoded.codes,
            }))
        };
        Ok(Log {
            customers: customers.codes,
            customer_ids: customers.ids,
            times,
            amounts,
            merchant: attribute(&schema.merchant)?,
            category: attribute(&schema.category)?,
            place: attribute(&schema.place)?,
            schema: schema.clone(),
        })
    }
}
