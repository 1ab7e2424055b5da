//! Minimal JSON and hex writers for building frames without an intermediate tree.
//!
//! Every string goes through [`push_str`], which escapes quotes, backslashes and control
//! characters; Rust strings are valid UTF-8, so the output is always valid JSON in UTF-8.

const HEX_UPPER: &[u8; 16] = b"0123456789ABCDEF";
const HEX_LOWER: &[u8; 16] = b"0123456789abcdef";

/// Appends `s` as a quoted JSON string.
pub fn push_str(out: &mut Vec<u8>, s: &str) {
    out.reserve(s.len() + 2);
    out.push(b'"');
    let bytes = s.as_bytes();
    let mut start = 0;
    let mut i = 0;
    while i < bytes.len() {
        // Skip 8 bytes at a time while none needs escaping: most strings are long base64
        // (`as_der`) or plain host names, and this loop dominated the frame building profile.
        if let Some(chunk) = bytes.get(i..i + 8) {
            let word = u64::from_le_bytes(chunk.try_into().expect("8-byte chunk"));
            if !word_needs_escape(word) {
                i += 8;
                continue;
            }
        }
        let b = bytes[i];
        let escape: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x00..=0x1f | 0x7f => b"",
            _ => {
                i += 1;
                continue;
            }
        };
        out.extend_from_slice(&bytes[start..i]);
        if escape.is_empty() {
            out.extend_from_slice(b"\\u00");
            out.push(HEX_LOWER[usize::from(b >> 4)]);
            out.push(HEX_LOWER[usize::from(b & 0xf)]);
        } else {
            out.extend_from_slice(escape);
        }
        i += 1;
        start = i;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

/// Returns whether any of the 8 bytes in `word` is one that [`push_str`] escapes: a control character
/// (below 0x20, or 0x7f), `"` or `\`. Bytes of 0x80 and above (UTF-8 sequences) never are.
fn word_needs_escape(word: u64) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    // The usual SWAR tests "some byte is zero" and "some byte is below n" (n <= 0x80). They are
    // exact for the word as a whole, and `!word` keeps bytes of 0x80 and above from matching.
    let zero_byte = |x: u64| x.wrapping_sub(ONES) & !x & HIGH;
    let below_0x20 = word.wrapping_sub(ONES * 0x20) & !word & HIGH;
    let special = zero_byte(word ^ (ONES * u64::from(b'"')))
        | zero_byte(word ^ (ONES * u64::from(b'\\')))
        | zero_byte(word ^ (ONES * 0x7f));
    (below_0x20 | special) != 0
}

/// Appends `"key":` (the key must not need escaping).
pub fn push_key(out: &mut Vec<u8>, key: &str) {
    out.push(b'"');
    out.extend_from_slice(key.as_bytes());
    out.extend_from_slice(b"\":");
}

/// Appends an optional string: the string or `null`.
pub fn push_opt_str(out: &mut Vec<u8>, s: Option<&str>) {
    match s {
        Some(s) => push_str(out, s),
        None => out.extend_from_slice(b"null"),
    }
}

/// Appends an integer.
pub fn push_int(out: &mut Vec<u8>, n: impl std::fmt::Display) {
    use std::io::Write as _;
    let _ = write!(out, "{n}");
}

/// Appends a float as JSON (always with a fraction or exponent; `null` if not finite).
pub fn push_f64(out: &mut Vec<u8>, f: f64) {
    if f.is_finite() {
        let _ = serde_json::to_writer(&mut *out, &f);
    } else {
        out.extend_from_slice(b"null");
    }
}

/// Appends an array of strings.
pub fn push_str_array<S: AsRef<str>>(out: &mut Vec<u8>, items: &[S]) {
    out.push(b'[');
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        push_str(out, item.as_ref());
    }
    out.push(b']');
}

/// `AB:CD:..` with uppercase digits (fingerprints).
pub fn colon_hex_upper(bytes: &[u8]) -> String {
    colon_hex(bytes, HEX_UPPER)
}

/// `ab:cd:..` with lowercase digits (key identifiers).
pub fn colon_hex_lower(bytes: &[u8]) -> String {
    colon_hex(bytes, HEX_LOWER)
}

fn colon_hex(bytes: &[u8], digits: &[u8; 16]) -> String {
    let mut out = String::with_capacity(bytes.len() * 3);
    for (i, &b) in bytes.iter().enumerate() {
        if i > 0 {
            out.push(':');
        }
        out.push(char::from(digits[usize::from(b >> 4)]));
        out.push(char::from(digits[usize::from(b & 0xf)]));
    }
    out
}

/// Uppercase hex without separators (serial numbers).
pub fn hex_upper(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        out.push(char::from(HEX_UPPER[usize::from(b >> 4)]));
        out.push(char::from(HEX_UPPER[usize::from(b & 0xf)]));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_strings() {
        let mut out = Vec::new();
        push_str(&mut out, "a\"b\\c\n\u{0}\u{1f}é\u{7f}");
        assert_eq!(
            String::from_utf8(out.clone()).unwrap(),
            "\"a\\\"b\\\\c\\n\\u0000\\u001fé\\u007f\""
        );
        let parsed: String = serde_json::from_slice(&out).unwrap();
        assert_eq!(parsed, "a\"b\\c\n\u{0}\u{1f}é\u{7f}");
    }

    #[test]
    fn escapes_every_byte_at_every_offset() {
        // Each ASCII byte at each position of a 17-byte string (two 8-byte words and a tail),
        // next to non-ASCII text, round-trips through serde_json and escapes the same bytes as
        // the per-byte rule.
        for byte in 0u8..0x80 {
            for position in 0..17 {
                let mut text: Vec<char> = "base64+/=AZaz09é€".chars().collect();
                text.truncate(17);
                text[position] = char::from(byte);
                let text: String = text.into_iter().collect();
                let mut out = Vec::new();
                push_str(&mut out, &text);
                let parsed: String = serde_json::from_slice(&out)
                    .unwrap_or_else(|err| panic!("byte {byte:#04x} at {position}: {err}"));
                assert_eq!(parsed, text, "byte {byte:#04x} at {position}");
                let escaped = matches!(byte, b'"' | b'\\' | 0x00..=0x1f | 0x7f);
                assert_eq!(
                    out.len() > text.len() + 2,
                    escaped,
                    "byte {byte:#04x} at {position}: escaped"
                );
            }
        }
    }

    #[test]
    fn formats_numbers_and_hex() {
        let mut out = Vec::new();
        push_f64(&mut out, 1_700_000_000.0);
        out.push(b' ');
        push_f64(&mut out, 1_779_302_893_443_f64 / 1000.0);
        out.push(b' ');
        push_f64(&mut out, f64::NAN);
        assert_eq!(out, b"1700000000.0 1779302893.443 null");
        assert_eq!(colon_hex_upper(&[0x0a, 0xff]), "0A:FF");
        assert_eq!(colon_hex_lower(&[0x0a, 0xff]), "0a:ff");
        assert_eq!(hex_upper(&[0x06, 0xb1]), "06B1");
    }
}
