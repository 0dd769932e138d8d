//! RFC 8949 CBOR, the subset WebAuthn uses: definite-length unsigned and negative integers,
//! byte and text strings, arrays, maps and the simple values `false`, `true` and `null`.
//! Indefinite lengths, tags and floats are refused (CTAP2 canonical CBOR never uses them).
//! Lengths are checked against the input before anything is allocated, and nesting is
//! bounded, so hostile input cannot exhaust memory or the stack.

/// How deep arrays and maps may nest (a COSE key inside an attestation object is depth 3).
const MAX_DEPTH: usize = 8;

/// A decoded CBOR data item.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Value {
    /// Major type 0 or 1, as a signed number (CTAP2 integers fit in `i128`).
    Integer(i128),
    /// Major type 2.
    Bytes(Vec<u8>),
    /// Major type 3.
    Text(String),
    /// Major type 4.
    Array(Vec<Value>),
    /// Major type 5, in encoded order.
    Map(Vec<(Value, Value)>),
    /// `false` or `true`.
    Bool(bool),
    /// `null`.
    Null,
}

impl Value {
    /// The value under integer key `key` of a map.
    pub(crate) fn get_int(&self, key: i128) -> Option<&Value> {
        self.get(&Value::Integer(key))
    }

    /// The value under text key `key` of a map.
    pub(crate) fn get_text(&self, key: &str) -> Option<&Value> {
        self.get(&Value::Text(key.to_owned()))
    }

    fn get(&self, key: &Value) -> Option<&Value> {
        match self {
            Value::Map(entries) => entries.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// The bytes of a byte string.
    pub(crate) fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            Value::Bytes(b) => Some(b),
            _ => None,
        }
    }

    /// The text of a text string.
    pub(crate) fn as_text(&self) -> Option<&str> {
        match self {
            Value::Text(t) => Some(t),
            _ => None,
        }
    }

    /// The number of an integer.
    pub(crate) fn as_int(&self) -> Option<i128> {
        match self {
            Value::Integer(i) => Some(*i),
            _ => None,
        }
    }
}

/// Why some bytes are not the CBOR we accept.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct CborError(pub(crate) &'static str);

/// Decodes one data item from the start of `input`; returns it and the bytes after it.
pub(crate) fn decode_prefix(input: &[u8]) -> Result<(Value, &[u8]), CborError> {
    let mut reader = Reader { input, pos: 0 };
    let value = reader.item(0)?;
    Ok((value, &input[reader.pos..]))
}

/// Decodes `input`, which must hold exactly one data item.
pub(crate) fn decode(input: &[u8]) -> Result<Value, CborError> {
    let (value, rest) = decode_prefix(input)?;
    if !rest.is_empty() {
        return Err(CborError("trailing bytes after the CBOR item"));
    }
    Ok(value)
}

struct Reader<'a> {
    input: &'a [u8],
    pos: usize,
}

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], CborError> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|end| *end <= self.input.len())
            .ok_or(CborError("truncated CBOR"))?;
        let slice = &self.input[self.pos..end];
        self.pos = end;
        Ok(slice)
    }

    fn argument(&mut self, info: u8) -> Result<u64, CborError> {
        let width = match info {
            0..=23 => return Ok(u64::from(info)),
            24 => 1,
            25 => 2,
            26 => 4,
            27 => 8,
            _ => return Err(CborError("indefinite or reserved CBOR length")),
        };
        Ok(self
            .take(width)?
            .iter()
            .fold(0u64, |acc, b| (acc << 8) | u64::from(*b)))
    }

    /// A count of items or bytes that cannot exceed what is left of the input.
    fn length(&mut self, info: u8) -> Result<usize, CborError> {
        let n = self.argument(info)?;
        usize::try_from(n)
            .ok()
            .filter(|n| *n <= self.input.len() - self.pos)
            .ok_or(CborError("CBOR length exceeds the input"))
    }

    fn item(&mut self, depth: usize) -> Result<Value, CborError> {
        if depth > MAX_DEPTH {
            return Err(CborError("CBOR nested too deeply"));
        }
        let initial = self.take(1)?[0];
        let (major, info) = (initial >> 5, initial & 0x1f);
        Ok(match major {
            0 => Value::Integer(i128::from(self.argument(info)?)),
            1 => Value::Integer(-1 - i128::from(self.argument(info)?)),
            2 => {
                let n = self.length(info)?;
                Value::Bytes(self.take(n)?.to_vec())
            }
            3 => {
                let n = self.length(info)?;
                let text = std::str::from_utf8(self.take(n)?)
                    .map_err(|_| CborError("CBOR text is not UTF-8"))?;
                Value::Text(text.to_owned())
            }
            4 => {
                let n = self.length(info)?;
                let mut items = Vec::with_capacity(n);
                for _ in 0..n {
                    items.push(self.item(depth + 1)?);
                }
                Value::Array(items)
            }
            5 => {
                let n = self.length(info)?;
                let mut entries: Vec<(Value, Value)> = Vec::with_capacity(n);
                for _ in 0..n {
                    let key = self.item(depth + 1)?;
                    let value = self.item(depth + 1)?;
                    if entries.iter().any(|(k, _)| *k == key) {
                        return Err(CborError("duplicate key in a CBOR map"));
                    }
                    entries.push((key, value));
                }
                Value::Map(entries)
            }
            7 => match info {
                20 => Value::Bool(false),
                21 => Value::Bool(true),
                22 => Value::Null,
                _ => return Err(CborError("unsupported CBOR simple value or float")),
            },
            _ => return Err(CborError("CBOR tags are not accepted")),
        })
    }
}

/// A minimal encoder, for building test payloads.
#[cfg(test)]
pub(crate) fn encode(value: &Value) -> Vec<u8> {
    fn head(out: &mut Vec<u8>, major: u8, n: u64) {
        let m = major << 5;
        if n < 24 {
            out.push(m | n as u8);
        } else if n <= 0xff {
            out.extend([m | 24, n as u8]);
        } else if n <= 0xffff {
            out.push(m | 25);
            out.extend((n as u16).to_be_bytes());
        } else if n <= 0xffff_ffff {
            out.push(m | 26);
            out.extend((n as u32).to_be_bytes());
        } else {
            out.push(m | 27);
            out.extend(n.to_be_bytes());
        }
    }
    fn go(out: &mut Vec<u8>, value: &Value) {
        match value {
            Value::Integer(i) if *i >= 0 => head(out, 0, *i as u64),
            Value::Integer(i) => head(out, 1, (-1 - *i) as u64),
            Value::Bytes(b) => {
                head(out, 2, b.len() as u64);
                out.extend(b);
            }
            Value::Text(t) => {
                head(out, 3, t.len() as u64);
                out.extend(t.as_bytes());
            }
            Value::Array(items) => {
                head(out, 4, items.len() as u64);
                items.iter().for_each(|v| go(out, v));
            }
            Value::Map(entries) => {
                head(out, 5, entries.len() as u64);
                for (k, v) in entries {
                    go(out, k);
                    go(out, v);
                }
            }
            Value::Bool(b) => out.push(if *b { 0xf5 } else { 0xf4 }),
            Value::Null => out.push(0xf6),
        }
    }
    let mut out = Vec::new();
    go(&mut out, value);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_the_types_webauthn_uses() {
        let value = Value::Map(vec![
            (Value::Integer(1), Value::Integer(2)),
            (Value::Integer(-7), Value::Bytes(vec![1; 300])),
            (Value::Text("fmt".into()), Value::Text("none".into())),
            (
                Value::Integer(70000),
                Value::Array(vec![Value::Bool(true), Value::Null, Value::Integer(-70000)]),
            ),
        ]);
        assert_eq!(decode(&encode(&value)), Ok(value));
    }

    #[test]
    fn refuses_malformed_input() {
        for (bad, why) in [
            (&[][..], "empty"),
            (&[0x5a, 0xff, 0xff, 0xff, 0xff][..], "huge byte string"),
            (&[0x9f][..], "indefinite array"),
            (&[0xc0, 0x00][..], "tag"),
            (&[0xfb, 0, 0, 0, 0, 0, 0, 0, 0][..], "float"),
            (&[0x62, 0xff, 0xfe][..], "bad utf-8"),
            (&[0xa2, 0x01, 0x01, 0x01, 0x02][..], "duplicate key"),
            (&[0x01, 0x02][..], "trailing"),
            (
                &[0x9b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff][..],
                "huge array",
            ),
        ] {
            assert!(decode(bad).is_err(), "{why}");
        }
        let deep = [0x81u8; 20];
        assert!(decode(&deep).is_err(), "deep nesting");
    }
}
