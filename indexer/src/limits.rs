//! Length limits on every string a client sends, checked while the request is deserialized, before
//! any decoding or parsing (base58 decoding is quadratic in the input length; nothing unbounded may
//! reach it).
//!
//! Per-item rules stay where they are (an event id over [`crate::ingest::MAX_ID_BYTES`] is one
//! rejected item of its batch); the hard caps here refuse the whole request (400 `too_long`).

use serde::de::{Deserialize, Deserializer, Error as _};

/// Base58 of a 32-byte ed25519 public key: at most 44 characters.
pub const MAX_WALLET_CHARS: usize = 44;
/// Base58 of a 64-byte ed25519 signature: at most 88 characters.
pub const MAX_SIGNATURE_CHARS: usize = 88;
/// A challenge nonce: 64 hex characters.
pub const MAX_NONCE_CHARS: usize = 64;
/// Hard cap on ids in a request body (event ids, member ids, confirmations, kinds). Ids longer than
/// [`crate::ingest::MAX_ID_BYTES`] but within this cap are refused per item (`invalid_id`).
pub const MAX_ID_FIELD_BYTES: usize = 512;
/// Hard cap on the items of a list field inside one item (e.g. confirmations; the configured
/// per-item limit is smaller and rejects the item).
pub const MAX_LIST_ITEMS: usize = 256;
/// An RFC 3339 timestamp.
pub const MAX_TIMESTAMP_CHARS: usize = 64;
/// A pagination cursor (opaque, produced by the service).
pub const MAX_CURSOR_CHARS: usize = 1024;
/// Items per page of a list endpoint when `limit` is not given.
pub const DEFAULT_PAGE: usize = 100;
/// The largest page; a larger `limit` is clamped to it.
pub const MAX_PAGE: usize = 500;

/// Marker text of the deserialization error; the JSON extractor maps it to `too_long`.
pub const TOO_LONG: &str = "string too long";

fn check<E: serde::de::Error>(s: &str, max: usize) -> Result<(), E> {
    if s.len() > max {
        return Err(E::custom(format_args!(
            "{TOO_LONG}: {} bytes, at most {max}",
            s.len()
        )));
    }
    Ok(())
}

/// `#[serde(deserialize_with = "limits::string::<_, N>")]`: a string of at most `N` bytes.
pub fn string<'de, D: Deserializer<'de>, const N: usize>(d: D) -> Result<String, D::Error> {
    let s = String::deserialize(d)?;
    check(&s, N)?;
    Ok(s)
}

/// Like [`string`], for an optional field.
pub fn opt_string<'de, D: Deserializer<'de>, const N: usize>(
    d: D,
) -> Result<Option<String>, D::Error> {
    let s = Option::<String>::deserialize(d)?;
    if let Some(s) = &s {
        check(s, N)?;
    }
    Ok(s)
}

/// A list of strings of at most `N` bytes each, and at most `MAX` of them (refused before the
/// list is fully collected).
pub fn strings<'de, D: Deserializer<'de>, const N: usize, const MAX: usize>(
    d: D,
) -> Result<Vec<String>, D::Error> {
    struct V<const N: usize, const MAX: usize>;
    impl<'de, const N: usize, const MAX: usize> serde::de::Visitor<'de> for V<N, MAX> {
        type Value = Vec<String>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            write!(f, "a list of at most {MAX} strings")
        }
        fn visit_seq<A: serde::de::SeqAccess<'de>>(
            self,
            mut seq: A,
        ) -> Result<Self::Value, A::Error> {
            let mut out = Vec::new();
            while let Some(s) = seq.next_element::<String>()? {
                check::<A::Error>(&s, N)?;
                if out.len() == MAX {
                    return Err(A::Error::custom(format_args!(
                        "{TOO_LONG}: more than {MAX} items"
                    )));
                }
                out.push(s);
            }
            Ok(out)
        }
    }
    d.deserialize_seq(V::<N, MAX>)
}
