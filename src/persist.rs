//! Saved models: a self-checking envelope around serde bytes.
//!
//! ```text
//! magic         8 bytes   \x89PTRNG\r\n
//! version       u16 LE    FORMAT_VERSION
//! kind length   u8        then the kind, UTF-8 ("recommend.ALS", ...)
//! payload size  u64 LE
//! checksum      u32 LE    CRC-32 of everything above and the payload
//! payload                 postcard
//! ```
//!
//! Reading checks each field in turn and, after decoding, every invariant
//! the model's code relies on ([`Persist::validate`]: index ranges, lengths,
//! finite parameters), so corrupted, truncated, foreign or newer bytes give
//! one [`Error::SavedModel`] saying which, never a panic and never a model
//! with corrupted contents.  Pickles and `save` files go through here.

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::{Error, Result};

const MAGIC: &[u8; 8] = b"\x89PTRNG\r\n";
/// 3: this envelope (2 and earlier: a JSON header written by the Python layer);
/// 4: ALS factors keep the unobserved weight and frequency scaling;
/// 5: lifetime-value models keep their covariate design and coefficients.
pub const FORMAT_VERSION: u16 = 5;
/// Files of format 2 started with this.
const OLD_MAGIC: &[u8] = b"PATRONAGE\n";

/// A model that can be saved: its kind (written in the header) and the
/// checks a decoded value must pass before it is used.
pub trait Persist: Serialize + DeserializeOwned {
    /// The kind written in the header, e.g. "clv.BetaGeo".
    fn kind(&self) -> String;

    /// Whether bytes of header kind `kind` are this type (checked before
    /// decoding, so a file of another model says so).
    fn accepts_kind(kind: &str) -> bool;

    /// The kinds this type reads, for messages.
    fn expected() -> String;

    /// Every invariant the model's code relies on.
    fn validate(&self) -> Result<()>;
}

/// The bytes of `value`, in the envelope.
pub fn to_bytes<T: Persist>(value: &T) -> Result<Vec<u8>> {
    let payload = postcard::to_stdvec(value)
        .map_err(|e| Error::saved_model(format!("could not serialise the model: {e}")))?;
    Ok(seal(&value.kind(), &payload))
}

/// The model in `bytes`, checked.
pub fn from_bytes<T: Persist>(bytes: &[u8]) -> Result<T> {
    let (kind, payload) = open(bytes)?;
    if !T::accepts_kind(kind) {
        return Err(Error::saved_model(format!(
            "the bytes hold a model of kind {kind}, where {} was expected",
            T::expected()
        )));
    }
    let value: T = postcard::from_bytes(payload)
        .map_err(|e| Error::saved_model(format!("the {kind} model could not be decoded ({e})")))?;
    if value.kind() != kind {
        return Err(Error::saved_model(format!(
            "the header says {kind} but the contents are a {}",
            value.kind()
        )));
    }
    value.validate()?;
    Ok(value)
}

/// `payload` in the envelope, labelled `kind`.
pub fn seal(kind: &str, payload: &[u8]) -> Vec<u8> {
    let kind = &kind.as_bytes()[..kind.len().min(255)];
    let mut out = Vec::with_capacity(MAGIC.len() + 15 + kind.len() + payload.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    out.push(kind.len() as u8);
    out.extend_from_slice(kind);
    out.extend_from_slice(&(payload.len() as u64).to_le_bytes());
    let mut crc = crc32fast::Hasher::new();
    crc.update(&out);
    crc.update(payload);
    out.extend_from_slice(&crc.finalize().to_le_bytes());
    out.extend_from_slice(payload);
    out
}

/// The kind and payload of envelope bytes, after checking every header field
/// and the checksum.
pub fn open(bytes: &[u8]) -> Result<(&str, &[u8])> {
    let bad = |problem: &str| Err(Error::saved_model(problem.to_string()));
    if bytes.starts_with(OLD_MAGIC) {
        return bad(
            "it was written by an older patronage (format 2); this version reads format 3: \
             fit the model again with this version and save it",
        );
    }
    if !bytes.starts_with(MAGIC) {
        return bad(
            "the bytes do not start with a patronage header: they are not a saved patronage \
             model, are damaged at the start, or were written by patronage 0.1 (fit the model \
             again and save it)",
        );
    }
    let mut cursor = Cursor {
        bytes,
        at: MAGIC.len(),
    };
    let version = u16::from_le_bytes(cursor.take()?);
    if version > FORMAT_VERSION {
        return Err(Error::saved_model(format!(
            "it was written by a newer patronage (format {version}); this version reads \
             format {FORMAT_VERSION}: upgrade patronage to load it"
        )));
    }
    if version < FORMAT_VERSION {
        return Err(Error::saved_model(format!(
            "it was written by an older patronage (format {version}); this version reads \
             format {FORMAT_VERSION}: fit the model again with this version and save it"
        )));
    }
    let [kind_len] = cursor.take::<1>()?;
    let kind = cursor.slice(kind_len as usize)?;
    let size = u64::from_le_bytes(cursor.take()?);
    let stored = u32::from_le_bytes(cursor.take()?);
    let header_end = cursor.at;
    let available = (bytes.len() - header_end) as u64;
    if available < size {
        return Err(Error::saved_model(format!(
            "the bytes are truncated: the header announces {size} bytes of model, {available} follow"
        )));
    }
    if available > size {
        return Err(Error::saved_model(format!(
            "{} unexpected bytes follow the model",
            available - size
        )));
    }
    let payload = &bytes[header_end..];
    let mut crc = crc32fast::Hasher::new();
    crc.update(&bytes[..header_end - 4]);
    crc.update(payload);
    if crc.finalize() != stored {
        return bad("the bytes are corrupted (checksum mismatch)");
    }
    let kind = std::str::from_utf8(kind)
        .map_err(|_| Error::saved_model("the bytes are corrupted (the model kind is not text)"))?;
    Ok((kind, payload))
}

/// A saved estimator (what `save` writes): its Python class, its
/// parameters as a JSON object, and its fitted model's bytes (themselves an
/// envelope) when fitted.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SavedEstimator {
    pub class: String,
    pub params: String,
    pub model: Option<Vec<u8>>,
}

impl Persist for SavedEstimator {
    fn kind(&self) -> String {
        format!("estimator:{}", self.class)
    }

    fn accepts_kind(kind: &str) -> bool {
        kind.starts_with("estimator:")
    }

    fn expected() -> String {
        "a saved estimator".into()
    }

    fn validate(&self) -> Result<()> {
        let params: serde_json::Value = serde_json::from_str(&self.params)
            .map_err(|e| Error::saved_model(format!("the parameters are not JSON ({e})")))?;
        // The model's own bytes are checked when its class reads them.
        require(params.is_object(), || {
            "the parameters are not a JSON object".into()
        })
    }
}

/// Reads the header field by field; running out of bytes is "truncated".
struct Cursor<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Cursor<'a> {
    fn slice(&mut self, n: usize) -> Result<&'a [u8]> {
        let part = self.bytes.get(self.at..self.at + n).ok_or_else(|| {
            Error::saved_model("the bytes are truncated (the header is incomplete)")
        })?;
        self.at += n;
        Ok(part)
    }

    fn take<const N: usize>(&mut self) -> Result<[u8; N]> {
        let part = self.slice(N)?;
        let mut out = [0u8; N];
        out.copy_from_slice(part);
        Ok(out)
    }
}

/// A check of a decoded model: `Ok` when `ok`, else a saved-model error
/// naming what is inconsistent.
pub fn require(ok: bool, what: impl FnOnce() -> String) -> Result<()> {
    if ok {
        Ok(())
    } else {
        Err(Error::saved_model(format!(
            "its contents are inconsistent: {}",
            what()
        )))
    }
}

/// Every value finite (for parameters, factors, scores of a decoded model).
pub fn require_finite(values: &[f64], what: &str) -> Result<()> {
    require(values.iter().all(|v| v.is_finite()), || {
        format!("{what} holds NaN or infinite values")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Serialize, serde::Deserialize, Debug, PartialEq)]
    struct Demo {
        values: Vec<f64>,
    }

    impl Persist for Demo {
        fn kind(&self) -> String {
            "demo.Demo".into()
        }
        fn accepts_kind(kind: &str) -> bool {
            kind == "demo.Demo"
        }
        fn expected() -> String {
            "demo.Demo".into()
        }
        fn validate(&self) -> Result<()> {
            require_finite(&self.values, "values")
        }
    }

    #[test]
    fn round_trip_and_every_kind_of_damage() {
        let demo = Demo {
            values: vec![1.0, 2.5],
        };
        let bytes = to_bytes(&demo).unwrap();
        assert_eq!(from_bytes::<Demo>(&bytes).unwrap(), demo);
        let message = |b: &[u8]| from_bytes::<Demo>(b).unwrap_err().to_string();
        assert!(message(&bytes[..bytes.len() - 1]).contains("truncated"));
        assert!(message(&bytes[..5]).contains("do not start with a patronage header"));
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(message(&longer).contains("unexpected bytes"));
        let mut flipped = bytes.clone();
        *flipped.last_mut().unwrap() ^= 1;
        assert!(message(&flipped).contains("checksum"));
        let mut newer = bytes.clone();
        newer[8] = 9;
        assert!(message(&newer).contains("newer patronage"));
        assert!(message(b"PATRONAGE\n{}").contains("older patronage"));
        let other = seal("demo.Other", &[]);
        assert!(message(&other).contains("demo.Other"));
        let nan = to_bytes(&Demo {
            values: vec![f64::NAN],
        })
        .unwrap();
        assert!(message(&nan).contains("NaN"));
        // Every single-byte flip is caught, wherever it lands.
        for i in 0..bytes.len() {
            let mut b = bytes.clone();
            b[i] ^= 0x40;
            assert!(from_bytes::<Demo>(&b).is_err(), "flip at {i}");
        }
    }
}
