//! RFC 8949 §4.2.1 (core deterministic encoding), checked independently of
//! the encoder: written from the RFC so that a test can tell whether the
//! bytes Lastmile issues are the deterministic ones, not merely the bytes
//! its own encoder happens to write.

/// Deepest nesting looked at; Lastmile's formats nest four levels at most.
const NESTING_DEPTH_MAX: usize = 16;

/// `Ok` when `bytes` are exactly one CBOR data item in deterministic
/// encoding: shortest heads, definite lengths, map keys unique and sorted by
/// the bytewise order of their encodings, no floating point (Lastmile's
/// formats have none), nothing after the item.
pub fn check(bytes: &[u8]) -> Result<(), String> {
    let mut pos = 0;
    item(bytes, &mut pos, 0)?;
    match bytes.len() - pos {
        0 => Ok(()),
        trailing => Err(format!("{trailing} bytes after the data item")),
    }
}

fn take<'b>(bytes: &'b [u8], pos: &mut usize, len: u64) -> Result<&'b [u8], String> {
    let len = usize::try_from(len).map_err(|_| "length beyond memory".to_owned())?;
    if bytes.len() - *pos < len {
        return Err(format!("truncated at byte {}", *pos));
    }
    let out = &bytes[*pos..*pos + len];
    *pos += len;
    Ok(out)
}

/// Reads an item's head: its major type and argument, refusing an argument
/// written in more bytes than its value needs and indefinite lengths.
fn head(bytes: &[u8], pos: &mut usize) -> Result<(u8, u64), String> {
    let at = *pos;
    let initial = take(bytes, pos, 1)?[0];
    let (major, info) = (initial >> 5, initial & 0x1f);
    let argument = match info {
        0..=23 => u64::from(info),
        24..=27 => {
            let width = 1u64 << (info - 24);
            let value = take(bytes, pos, width)?
                .iter()
                .fold(0u64, |v, b| (v << 8) | u64::from(*b));
            let fits_shorter = match width {
                1 => value < 24,
                2 => value <= 0xff,
                4 => value <= 0xffff,
                _ => value <= 0xffff_ffff,
            };
            if fits_shorter && major != 7 {
                return Err(format!(
                    "byte {at}: argument {value} in {width} bytes, not the shortest form"
                ));
            }
            value
        }
        31 => return Err(format!("byte {at}: indefinite length")),
        _ => return Err(format!("byte {at}: reserved additional information {info}")),
    };
    if major == 7 {
        match info {
            0..=23 => {}
            24 if argument >= 32 => {}
            24 => return Err(format!("byte {at}: simple value {argument} in two bytes")),
            _ => return Err(format!("byte {at}: floating-point value")),
        }
    }
    Ok((major, argument))
}

fn item(bytes: &[u8], pos: &mut usize, depth: usize) -> Result<(), String> {
    if depth > NESTING_DEPTH_MAX {
        return Err("nested too deeply".to_owned());
    }
    let at = *pos;
    let (major, argument) = head(bytes, pos)?;
    match major {
        2 => {
            take(bytes, pos, argument)?;
        }
        3 => {
            let text = take(bytes, pos, argument)?;
            std::str::from_utf8(text).map_err(|_| format!("byte {at}: text is not UTF-8"))?;
        }
        4 => {
            for _ in 0..argument {
                item(bytes, pos, depth + 1)?;
            }
        }
        5 => {
            let mut previous: Option<&[u8]> = None;
            for _ in 0..argument {
                let key_start = *pos;
                item(bytes, pos, depth + 1)?;
                let key = &bytes[key_start..*pos];
                if previous.is_some_and(|p| p >= key) {
                    return Err(format!(
                        "byte {key_start}: map key not after the previous one in bytewise order"
                    ));
                }
                previous = Some(key);
                item(bytes, pos, depth + 1)?;
            }
        }
        6 => item(bytes, pos, depth + 1)?,
        _ => {}
    }
    Ok(())
}
