//! A bounded pre-scan of CBOR (RFC 8949): walks the structure of one data
//! item without building anything, counting items and nesting depth, and
//! refuses the bytes as soon as either passes its limit.
//!
//! Why: a body of 8 MB can declare millions of empty byte strings (one byte
//! each); decoding that into `Vec<ByteBuf>` costs some 24 bytes of memory per
//! byte of input before any limit on the decoded value is looked at. Running
//! this scan first caps what a decoder is ever asked to materialise, with
//! work linear in the bytes and memory bounded by the depth limit.
//!
//! The scan also checks what it reads on the way: every declared length
//! fits in the bytes that remain, indefinite-length strings hold only
//! definite chunks of their own type, a break closes only an open
//! indefinite item, and nothing follows the one top-level item.

/// The limits a CBOR body is held to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CborLimits {
    /// Most data items (every header counts: integers, strings, arrays,
    /// maps, each key and value, tags, simple values, string chunks).
    pub items_max: usize,
    /// Deepest nesting of arrays, maps, tags and indefinite strings.
    pub depth_max: usize,
}

/// Why bytes were refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CborLimitError {
    #[error("the CBOR ends early, at byte {offset}")]
    Truncated { offset: usize },
    #[error("malformed CBOR at byte {offset}: {reason}")]
    Malformed { offset: usize, reason: &'static str },
    #[error("the CBOR holds more than {max} data items")]
    TooManyItems { max: usize },
    #[error("the CBOR nests deeper than {max} levels")]
    TooDeep { max: usize },
    #[error("bytes follow the CBOR item, from byte {offset}")]
    TrailingBytes { offset: usize },
}

/// What the scan saw of an accepted item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CborShape {
    pub items: usize,
    pub depth: usize,
}

/// An open container on the scan's stack.
#[derive(Debug, Clone, Copy)]
enum Open {
    /// Items still to come in a definite array, map (two per pair) or tag.
    Definite(u64),
    /// An indefinite array or map, closed by a break.
    Indefinite,
    /// An indefinite byte (2) or text (3) string: definite chunks of the
    /// same major type, closed by a break.
    Chunks(u8),
}

const BREAK: u8 = 0xff;

/// Checks that `bytes` is exactly one CBOR data item within `limits`.
pub fn check(bytes: &[u8], limits: &CborLimits) -> Result<CborShape, CborLimitError> {
    let mut pos = 0usize;
    let mut items = 0usize;
    let mut depth = 0usize;
    let mut stack: Vec<Open> = Vec::new();
    loop {
        let offset = pos;
        let initial = *bytes.get(pos).ok_or(CborLimitError::Truncated { offset })?;
        pos += 1;
        let malformed = |reason| CborLimitError::Malformed { offset, reason };
        if initial == BREAK {
            match stack.pop() {
                Some(Open::Indefinite | Open::Chunks(_)) => {}
                _ => return Err(malformed("a break outside an indefinite-length item")),
            }
        } else {
            items += 1;
            if items > limits.items_max {
                return Err(CborLimitError::TooManyItems {
                    max: limits.items_max,
                });
            }
            let major = initial >> 5;
            let info = initial & 0x1f;
            let argument = match info {
                0..=23 => Some(u64::from(info)),
                24..=27 => {
                    let len = 1usize << (info - 24);
                    let end = pos + len;
                    let raw = bytes
                        .get(pos..end)
                        .ok_or(CborLimitError::Truncated { offset: pos })?;
                    pos = end;
                    Some(raw.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b)))
                }
                28..=30 => return Err(malformed("a reserved additional-information value")),
                _ => None,
            };
            if let Some(Open::Chunks(string_major)) = stack.last()
                && (major != *string_major || argument.is_none())
            {
                return Err(malformed(
                    "an indefinite-length string holds something other than a definite chunk of its type",
                ));
            }
            let remaining = (bytes.len() - pos) as u64;
            let opened = match (major, argument) {
                (0 | 1, Some(_)) => None,
                (2 | 3, Some(len)) => {
                    if len > remaining {
                        return Err(CborLimitError::Truncated {
                            offset: bytes.len(),
                        });
                    }
                    // `len <= remaining`, which is a `usize`.
                    pos += len as usize;
                    None
                }
                (2 | 3, None) => Some(Open::Chunks(major)),
                (4, Some(0)) | (5, Some(0)) => None,
                (4, Some(count)) | (5, Some(count)) => {
                    let count = if major == 5 {
                        count
                            .checked_mul(2)
                            .ok_or_else(|| malformed("a map length that overflows"))?
                    } else {
                        count
                    };
                    // Every item takes at least one byte.
                    if count > remaining {
                        return Err(CborLimitError::Truncated {
                            offset: bytes.len(),
                        });
                    }
                    Some(Open::Definite(count))
                }
                (4 | 5, None) => Some(Open::Indefinite),
                (6, Some(_)) => Some(Open::Definite(1)),
                (7, Some(_)) => None,
                _ => return Err(malformed("an indefinite length on a type that has none")),
            };
            if let Some(open) = opened {
                if stack.len() >= limits.depth_max {
                    return Err(CborLimitError::TooDeep {
                        max: limits.depth_max,
                    });
                }
                stack.push(open);
                depth = depth.max(stack.len());
                continue;
            }
        }
        // An item ended (a scalar, a string, an empty container, or a
        // container closed by a break): count it against its parents.
        loop {
            match stack.last_mut() {
                None => {
                    if pos != bytes.len() {
                        return Err(CborLimitError::TrailingBytes { offset: pos });
                    }
                    return Ok(CborShape { items, depth });
                }
                Some(Open::Definite(left)) => {
                    *left -= 1;
                    if *left > 0 {
                        break;
                    }
                    stack.pop();
                }
                Some(Open::Indefinite | Open::Chunks(_)) => break,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Serialize;

    const ROOMY: CborLimits = CborLimits {
        items_max: 1000,
        depth_max: 8,
    };

    fn cbor<T: Serialize>(value: &T) -> Vec<u8> {
        let mut out = Vec::new();
        ciborium::into_writer(value, &mut out).unwrap();
        out
    }

    #[test]
    fn counts_items_and_depth_of_ordinary_values() {
        let value = (
            1u8,
            "two",
            serde_bytes::ByteBuf::from(vec![3]),
            vec![vec![4u8]],
        );
        // array(4): 1, "two", h'03', [[4]] → 1 + 3 + 1 + 1 + 1 items.
        assert_eq!(
            check(&cbor(&value), &ROOMY),
            Ok(CborShape { items: 7, depth: 3 })
        );
        let map: std::collections::BTreeMap<&str, i64> = [("a", -1), ("b", 2)].into();
        assert_eq!(
            check(&cbor(&map), &ROOMY),
            Ok(CborShape { items: 5, depth: 1 })
        );
        // Floats, simple values, tags and indefinite items.
        for bytes in [
            &[0xf9, 0x3c, 0x00][..],                     // 1.0 as half float
            &[0xf5],                                     // true
            &[0xc1, 0x1a, 0x51, 0x4b, 0x67, 0xb0],       // tag 1 (epoch time)
            &[0x9f, 0x01, 0x9f, 0xff, 0xff],             // [_ 1, [_ ]]
            &[0x5f, 0x41, 0x01, 0x42, 0x02, 0x03, 0xff], // (_ h'01', h'0203')
            &[0xbf, 0x61, 0x61, 0x01, 0xff],             // {_ "a": 1}
        ] {
            assert!(check(bytes, &ROOMY).is_ok(), "{bytes:02x?}");
        }
    }

    #[test]
    fn refuses_too_many_items_before_reading_them_all() {
        // The hostile upload: an array of a million empty byte strings.
        let mut body = vec![0x9a, 0x00, 0x0f, 0x42, 0x40];
        body.extend(std::iter::repeat_n(0x40, 1_000_000));
        assert_eq!(
            check(&body, &ROOMY),
            Err(CborLimitError::TooManyItems { max: 1000 })
        );
    }

    #[test]
    fn refuses_deep_nesting() {
        let mut body = vec![0x81; 9];
        body.push(0x00);
        assert_eq!(
            check(&body, &ROOMY),
            Err(CborLimitError::TooDeep { max: 8 })
        );
        body.remove(0);
        assert!(check(&body, &ROOMY).is_ok());
        // Tags nest too.
        assert_eq!(
            check(&[0xc6; 20], &ROOMY),
            Err(CborLimitError::TooDeep { max: 8 })
        );
    }

    #[test]
    fn refuses_malformed_structure() {
        use CborLimitError as E;
        assert_eq!(check(&[], &ROOMY), Err(E::Truncated { offset: 0 }));
        // A string longer than the bytes left, and a huge declared array.
        assert!(matches!(
            check(&[0x5a, 0xff, 0xff, 0xff, 0xff, 0x00], &ROOMY),
            Err(E::Truncated { .. })
        ));
        assert!(matches!(
            check(
                &[0x9b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
                &ROOMY
            ),
            Err(E::Truncated { .. })
        ));
        assert!(matches!(
            check(
                &[0xbb, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
                &ROOMY
            ),
            Err(E::Malformed { .. })
        ));
        assert!(matches!(check(&[0x1c], &ROOMY), Err(E::Malformed { .. })));
        assert!(matches!(check(&[0xff], &ROOMY), Err(E::Malformed { .. })));
        assert!(matches!(check(&[0x1f], &ROOMY), Err(E::Malformed { .. })));
        assert!(matches!(
            check(&[0x81, 0xff], &ROOMY),
            Err(E::Malformed { .. })
        ));
        // A text chunk inside an indefinite byte string.
        assert!(matches!(
            check(&[0x5f, 0x61, 0x61, 0xff], &ROOMY),
            Err(E::Malformed { .. })
        ));
        assert_eq!(
            check(&[0x01, 0x02], &ROOMY),
            Err(E::TrailingBytes { offset: 1 })
        );
        assert_eq!(
            check(&[0x82, 0x01], &ROOMY),
            Err(E::Truncated { offset: 2 })
        );
    }

    proptest::proptest! {
        /// Whatever the bytes, the scan ends with a value or an error (no
        /// panic), and it accepts every item a CBOR decoder reads whole.
        #[test]
        fn accepts_what_a_decoder_reads_whole(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..64)) {
            let limits = CborLimits { items_max: 1000, depth_max: 64 };
            let scanned = check(&bytes, &limits);
            let mut rest = &bytes[..];
            let decoded: Result<ciborium::Value, _> = ciborium::from_reader(&mut rest);
            if decoded.is_ok() && rest.is_empty() {
                proptest::prop_assert!(scanned.is_ok(), "{bytes:02x?}: {scanned:?}");
            }
        }
    }
}
