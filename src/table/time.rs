//! Date and timestamp columns of any unit, with or without time zone.

use std::borrow::Cow;

use arrow_array::cast::AsArray;
use arrow_array::timezone::Tz;
use arrow_array::types::{
    Date32Type, Date64Type, TimestampMicrosecondType, TimestampMillisecondType,
    TimestampNanosecondType, TimestampSecondType,
};
use arrow_schema::{DataType, TimeUnit};
use chrono::{DateTime, Offset, TimeZone};
use rayon::prelude::*;

use super::Column;
use crate::error::{Error, Result};

pub const MICROS_PER_DAY: i64 = 86_400_000_000;
pub const MICROS_PER_HOUR: f64 = 3_600_000_000.0;

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

    /// A time given as `(microseconds, is_utc)` (naive values are wall-clock
    /// times already) in this column's wall-clock time.
    pub fn wall(&self, (micros, is_utc): (i64, bool)) -> i64 {
        if is_utc {
            self.utc_to_wall(micros)
        } else {
            micros
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

const TIME_TYPES: &str = "a date or datetime (timestamp) column";

/// Read a date or timestamp column (any unit, with or without time zone) as
/// wall-clock time.
pub fn wall_times(column: &Column) -> Result<WallTimes<'_>> {
    column.require_no_nulls()?;
    let zone = match &column.data_type {
        DataType::Timestamp(_, Some(tz)) if !is_utc(tz) => Some(tz.parse::<Tz>().map_err(|e| {
            Error::column_value(&column.name, format!("has an unknown time zone: {e}"))
        })?),
        DataType::Timestamp(_, _) | DataType::Date32 | DataType::Date64 => None,
        _ => return Err(column.type_error(TIME_TYPES)),
    };
    let micros = micros_since_epoch(column)?;
    let Some(tz) = &zone else {
        return Ok(WallTimes { micros, zone });
    };
    let mut wall = micros.into_owned();
    wall.par_iter_mut()
        .for_each(|v| *v += offset_micros(tz, *v));
    Ok(WallTimes {
        micros: Cow::Owned(wall),
        zone,
    })
}

/// Read a date or timestamp column as instants (UTC microseconds; naive
/// values taken as they are): for elapsed time between events, which a
/// zoned column's wall clock would shift at daylight-saving changes.
pub fn instants(column: &Column) -> Result<Cow<'_, [i64]>> {
    column.require_no_nulls()?;
    match &column.data_type {
        DataType::Timestamp(_, _) | DataType::Date32 | DataType::Date64 => {
            micros_since_epoch(column)
        }
        _ => Err(column.type_error(TIME_TYPES)),
    }
}

/// The widest times read: ±2^62 µs, about 146,000 years either side of
/// 1970, so that differences and period arithmetic never overflow.
const LIMIT_MICROS: i64 = 1 << 62;

/// Microseconds since the epoch of the stored values (no zone applied).  A
/// single microsecond chunk is borrowed.  Values beyond [`LIMIT_MICROS`] are
/// an error naming the column.
fn micros_since_epoch(column: &Column) -> Result<Cow<'_, [i64]>> {
    let out_of_range = || {
        Error::column_value(
            &column.name,
            "holds times more than 146,000 years from 1970, beyond what can be computed with",
        )
    };
    if let [chunk] = column.chunks.as_slice() {
        if let Some(array) = chunk.as_primitive_opt::<TimestampMicrosecondType>() {
            let values = array.values();
            if values
                .par_iter()
                .any(|v| v.unsigned_abs() > LIMIT_MICROS as u64)
            {
                return Err(out_of_range());
            }
            return Ok(Cow::Borrowed(values));
        }
    }
    let mut micros = Vec::with_capacity(column.len());
    for chunk in &column.chunks {
        macro_rules! scaled {
            ($t:ty, $scale:expr) => {{
                for &v in chunk.as_primitive::<$t>().values().iter() {
                    let scaled = (v as i64)
                        .checked_mul($scale)
                        .filter(|m| m.unsigned_abs() <= LIMIT_MICROS as u64)
                        .ok_or_else(out_of_range)?;
                    micros.push(scaled);
                }
            }};
        }
        match chunk.data_type() {
            DataType::Timestamp(TimeUnit::Second, _) => scaled!(TimestampSecondType, 1_000_000),
            DataType::Timestamp(TimeUnit::Millisecond, _) => {
                scaled!(TimestampMillisecondType, 1_000)
            }
            DataType::Timestamp(TimeUnit::Microsecond, _) => scaled!(TimestampMicrosecondType, 1),
            DataType::Timestamp(TimeUnit::Nanosecond, _) => micros.extend(
                chunk
                    .as_primitive::<TimestampNanosecondType>()
                    .values()
                    .iter()
                    .map(|&v| v.div_euclid(1_000)),
            ),
            DataType::Date32 => scaled!(Date32Type, MICROS_PER_DAY),
            DataType::Date64 => scaled!(Date64Type, 1_000),
            _ => return Err(column.type_error(TIME_TYPES)),
        }
    }
    Ok(Cow::Owned(micros))
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

/// Wall-clock microseconds as an ISO date (YYYY-MM-DD).
pub fn format_date(micros: i64) -> String {
    DateTime::from_timestamp_micros(micros)
        .map(|d| d.date_naive().to_string())
        .unwrap_or_else(|| format!("{micros} µs"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::TimestampNanosecondArray;
    use std::sync::Arc;

    #[test]
    fn zoned_timestamps_read_as_wall_clock_or_instants() {
        // 2020-01-01T00:30:00Z is 2019-12-31T19:30 in New York.
        let utc = 1_577_838_600_000_000_000i64;
        let array = TimestampNanosecondArray::from(vec![utc]).with_timezone("America/New_York");
        let col = Column::from_array("c", Arc::new(array));
        let times = wall_times(&col).unwrap();
        assert_eq!(times.micros[0], utc / 1000 - 5 * 3_600_000_000);
        assert_eq!(format_micros(times.micros[0]), "2019-12-31 19:30:00");
        assert_eq!(instants(&col).unwrap()[0], utc / 1000);
    }

    #[test]
    fn other_types_name_the_column() {
        let col = Column::from_array("when", Arc::new(arrow_array::Float64Array::from(vec![1.0])));
        assert!(matches!(wall_times(&col), Err(Error::ColumnType { .. })));
        assert!(instants(&col).unwrap_err().to_string().contains("'when'"));
    }
}
