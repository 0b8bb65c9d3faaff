//! Just enough bencode for rtpengine's ng control protocol: a message is a cookie, a space and
//! one bencoded dictionary (`d…e`) of byte strings (`4:spam`), integers (`i42e`) and lists
//! (`l…e`).
//!
//! Written here rather than taken from a crate: the crates on crates.io are built for
//! BitTorrent metainfo (serde mappings, `info` hashing) and ~100 lines cover the whole format.

use std::collections::BTreeMap;

/// One bencoded value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// `i…e`.
    Int(i64),
    /// `len:bytes` (rtpengine sends text, but bencode strings are bytes).
    Bytes(Vec<u8>),
    /// `l…e`.
    List(Vec<Value>),
    /// `d…e` with keys in sorted order (BTreeMap keeps them sorted, as the format requires).
    Dict(BTreeMap<Vec<u8>, Value>),
}

/// Why a reply could not be decoded.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum BencodeError {
    #[error("bencode ended early at byte {0}")]
    Truncated(usize),
    #[error("unexpected byte {byte:#04x} at {at} in bencode")]
    Unexpected { byte: u8, at: usize },
    #[error("bad number at byte {0} in bencode")]
    BadNumber(usize),
    #[error("{0} bytes of junk after the bencoded value")]
    Trailing(usize),
}

impl Value {
    /// A byte string from text.
    pub fn str(s: &str) -> Value {
        Value::Bytes(s.as_bytes().to_vec())
    }

    /// A dictionary from `(key, value)` pairs.
    pub fn dict<'a>(pairs: impl IntoIterator<Item = (&'a str, Value)>) -> Value {
        Value::Dict(
            pairs
                .into_iter()
                .map(|(k, v)| (k.as_bytes().to_vec(), v))
                .collect(),
        )
    }

    /// The value under `key` if this is a dictionary.
    pub fn get(&self, key: &str) -> Option<&Value> {
        match self {
            Value::Dict(d) => d.get(key.as_bytes()),
            _ => None,
        }
    }

    /// The text of a byte string (lossy: rtpengine's strings are ASCII/UTF-8).
    pub fn as_text(&self) -> Option<String> {
        match self {
            Value::Bytes(b) => Some(String::from_utf8_lossy(b).into_owned()),
            _ => None,
        }
    }

    /// Appends the encoding of `self` to `out`.
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        match self {
            Value::Int(i) => out.extend_from_slice(format!("i{i}e").as_bytes()),
            Value::Bytes(b) => {
                out.extend_from_slice(format!("{}:", b.len()).as_bytes());
                out.extend_from_slice(b);
            }
            Value::List(items) => {
                out.push(b'l');
                items.iter().for_each(|v| v.encode_into(out));
                out.push(b'e');
            }
            Value::Dict(map) => {
                out.push(b'd');
                for (k, v) in map {
                    Value::Bytes(k.clone()).encode_into(out);
                    v.encode_into(out);
                }
                out.push(b'e');
            }
        }
    }

    /// The encoding of `self`.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode_into(&mut out);
        out
    }

    /// Decodes exactly one value filling `input`.
    pub fn decode(input: &[u8]) -> Result<Value, BencodeError> {
        let (v, used) = decode_at(input, 0, 0)?;
        match input.len() - used {
            0 => Ok(v),
            n => Err(BencodeError::Trailing(n)),
        }
    }
}

/// Nesting deeper than this is refused (a hostile reply must not overflow the stack).
const MAX_DEPTH: usize = 32;

fn decode_at(input: &[u8], at: usize, depth: usize) -> Result<(Value, usize), BencodeError> {
    let byte = *input.get(at).ok_or(BencodeError::Truncated(at))?;
    if depth > MAX_DEPTH {
        return Err(BencodeError::Unexpected { byte, at });
    }
    match byte {
        b'i' => {
            let end = find(input, at + 1, b'e')?;
            let n = number(input, at + 1, end)?;
            Ok((Value::Int(n), end + 1))
        }
        b'0'..=b'9' => {
            let colon = find(input, at, b':')?;
            let len = usize::try_from(number(input, at, colon)?)
                .map_err(|_| BencodeError::BadNumber(at))?;
            let start = colon + 1;
            let end = start.checked_add(len).ok_or(BencodeError::BadNumber(at))?;
            let bytes = input.get(start..end).ok_or(BencodeError::Truncated(end))?;
            Ok((Value::Bytes(bytes.to_vec()), end))
        }
        b'l' => {
            let (mut items, mut pos) = (Vec::new(), at + 1);
            while input.get(pos) != Some(&b'e') {
                let (v, next) = decode_at(input, pos, depth + 1)?;
                items.push(v);
                pos = next;
            }
            Ok((Value::List(items), pos + 1))
        }
        b'd' => {
            let (mut map, mut pos) = (BTreeMap::new(), at + 1);
            while input.get(pos) != Some(&b'e') {
                let (k, next) = decode_at(input, pos, depth + 1)?;
                let Value::Bytes(key) = k else {
                    return Err(BencodeError::Unexpected {
                        byte: input.get(pos).copied().unwrap_or(0),
                        at: pos,
                    });
                };
                let (v, next) = decode_at(input, next, depth + 1)?;
                map.insert(key, v);
                pos = next;
            }
            Ok((Value::Dict(map), pos + 1))
        }
        _ => Err(BencodeError::Unexpected { byte, at }),
    }
}

fn find(input: &[u8], from: usize, byte: u8) -> Result<usize, BencodeError> {
    input
        .get(from..)
        .and_then(|rest| rest.iter().position(|&b| b == byte))
        .map(|i| from + i)
        .ok_or(BencodeError::Truncated(input.len()))
}

fn number(input: &[u8], from: usize, to: usize) -> Result<i64, BencodeError> {
    std::str::from_utf8(input.get(from..to).unwrap_or(&[]))
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or(BencodeError::BadNumber(from))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_offer_encodes_with_sorted_keys() {
        let v = Value::dict([
            ("sdp", Value::str("v=0")),
            ("command", Value::str("offer")),
            ("flags", Value::List(vec![Value::str("a")])),
            ("n", Value::Int(-3)),
        ]);
        assert_eq!(
            v.encode(),
            b"d7:command5:offer5:flagsl1:ae1:ni-3e3:sdp3:v=0e".to_vec()
        );
    }

    #[test]
    fn replies_round_trip() {
        let text = b"d6:result2:ok3:sdp10:v=0\r\nm=x\r\n5:totalld1:ai1eeee";
        let v = Value::decode(text).expect("decode");
        assert_eq!(
            v.get("result").and_then(Value::as_text).as_deref(),
            Some("ok")
        );
        assert_eq!(v.encode(), text.to_vec());
    }

    #[test]
    fn malformed_input_is_an_error_not_a_panic() {
        for bad in [
            &b""[..],
            b"d",
            b"i12",
            b"5:ab",
            b"99999999999999999999:x",
            b"di1e1:ae",
            b"x",
            b"i1ei2e",
            b"l",
            b"ie",
        ] {
            assert!(
                Value::decode(bad).is_err(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
        let deep = "l".repeat(100) + &"e".repeat(100);
        assert!(Value::decode(deep.as_bytes()).is_err());
    }
}
