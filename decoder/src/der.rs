//! A small, tolerant DER/BER reader and the ASN.1 value decoders the renderers share.
//!
//! x509-parser is strict by design; this reader is not. It walks tag-length-value triples,
//! accepts BER indefinite lengths, never panics and never indexes without a bounds check, so the
//! lenient fallback can still reach serial, validity, names and SANs of a certificate that the
//! strict parser rejects. It also decodes every ASN.1 string type to valid UTF-8 and renders
//! OIDs and times, for both the strict and the lenient path.

use std::fmt::Write as _;

/// Universal tags used by the renderers.
pub mod tag {
    pub const BOOLEAN: u8 = 0x01;
    pub const INTEGER: u8 = 0x02;
    pub const BIT_STRING: u8 = 0x03;
    pub const OCTET_STRING: u8 = 0x04;
    pub const OID: u8 = 0x06;
    pub const UTF8_STRING: u8 = 0x0c;
    pub const NUMERIC_STRING: u8 = 0x12;
    pub const PRINTABLE_STRING: u8 = 0x13;
    pub const TELETEX_STRING: u8 = 0x14;
    pub const VIDEOTEX_STRING: u8 = 0x15;
    pub const IA5_STRING: u8 = 0x16;
    pub const UTC_TIME: u8 = 0x17;
    pub const GENERALIZED_TIME: u8 = 0x18;
    pub const GRAPHIC_STRING: u8 = 0x19;
    pub const VISIBLE_STRING: u8 = 0x1a;
    pub const GENERAL_STRING: u8 = 0x1b;
    pub const UNIVERSAL_STRING: u8 = 0x1c;
    pub const BMP_STRING: u8 = 0x1e;
    pub const SEQUENCE: u8 = 0x30;
    pub const SET: u8 = 0x31;
}

/// Maximum nesting the reader follows when it has to find the end of an indefinite length.
const MAX_DEPTH: usize = 32;

/// One tag-length-value element.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tlv<'a> {
    /// The identifier octet (class, constructed bit and low tag number; `0x1f` for high tags).
    pub tag: u8,
    /// The content octets (for an indefinite length: without the end-of-contents octets).
    pub content: &'a [u8],
    /// The whole element, identifier and length included.
    pub raw: &'a [u8],
}

impl<'a> Tlv<'a> {
    /// Whether the constructed bit is set.
    pub fn constructed(&self) -> bool {
        self.tag & 0x20 != 0
    }

    /// The children of a constructed element, read leniently.
    pub fn children(&self) -> Reader<'a> {
        Reader::new(self.content)
    }
}

/// Iterates over consecutive elements; stops at the first element that does not parse.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    pub fn new(input: &'a [u8]) -> Self {
        Reader { rest: input }
    }

    /// The next element, if one parses.
    pub fn next_tlv(&mut self) -> Option<Tlv<'a>> {
        let (tlv, rest) = read_tlv(self.rest, 0)?;
        self.rest = rest;
        Some(tlv)
    }

    /// The next element if it has the given identifier octet; otherwise nothing is consumed.
    pub fn next_if(&mut self, tag: u8) -> Option<Tlv<'a>> {
        if self.rest.first() == Some(&tag) {
            self.next_tlv()
        } else {
            None
        }
    }

    /// The identifier octet of the next element.
    pub fn peek_tag(&self) -> Option<u8> {
        self.rest.first().copied()
    }
}

impl<'a> Iterator for Reader<'a> {
    type Item = Tlv<'a>;

    fn next(&mut self) -> Option<Tlv<'a>> {
        self.next_tlv()
    }
}

/// Reads one element from the start of `input`; returns it and the bytes after it.
pub fn read_tlv(input: &[u8], depth: usize) -> Option<(Tlv<'_>, &[u8])> {
    if depth > MAX_DEPTH {
        return None;
    }
    let (&first, mut pos) = (input.first()?, 1usize);
    if first & 0x1f == 0x1f {
        // High tag number: skip the base-128 tag octets.
        loop {
            let b = *input.get(pos)?;
            pos += 1;
            if b & 0x80 == 0 {
                break;
            }
        }
    }
    let len_byte = *input.get(pos)?;
    pos += 1;
    if len_byte == 0x80 {
        // BER indefinite length: only for constructed elements; children until 00 00.
        if first & 0x20 == 0 {
            return None;
        }
        let start = pos;
        loop {
            let rest = input.get(pos..)?;
            if rest.len() >= 2 && rest[0] == 0 && rest[1] == 0 {
                let content = input.get(start..pos)?;
                let end = pos + 2;
                let raw = input.get(..end)?;
                return Some((
                    Tlv {
                        tag: first,
                        content,
                        raw,
                    },
                    input.get(end..)?,
                ));
            }
            let (_, after) = read_tlv(rest, depth + 1)?;
            pos += rest.len() - after.len();
        }
    }
    let len = if len_byte & 0x80 == 0 {
        usize::from(len_byte)
    } else {
        let count = usize::from(len_byte & 0x7f);
        if count > 4 {
            return None;
        }
        let mut len = 0usize;
        for _ in 0..count {
            len = (len << 8) | usize::from(*input.get(pos)?);
            pos += 1;
        }
        len
    };
    let end = pos.checked_add(len)?;
    let content = input.get(pos..end)?;
    let raw = input.get(..end)?;
    Some((
        Tlv {
            tag: first,
            content,
            raw,
        },
        input.get(end..)?,
    ))
}

/// Renders an OID's content octets in dotted form (`2.5.29.17`). Malformed encodings render
/// what can be read; arcs that overflow 64 bits render as `?`.
pub fn oid_to_dotted(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 3);
    let mut value: u64 = 0;
    let mut overflow = false;
    let mut first = true;
    for &b in bytes {
        if value > (u64::MAX >> 7) {
            overflow = true;
        }
        value = (value << 7) | u64::from(b & 0x7f);
        if b & 0x80 != 0 {
            continue;
        }
        if !out.is_empty() {
            out.push('.');
        }
        if overflow {
            out.push('?');
        } else if first {
            let (a, b) = match value {
                0..=39 => (0, value),
                40..=79 => (1, value - 40),
                _ => (2, value - 80),
            };
            let _ = write!(out, "{a}.{b}");
        } else {
            let _ = write!(out, "{value}");
        }
        first = false;
        value = 0;
        overflow = false;
    }
    out
}

/// Decodes the content of an ASN.1 string (or any other value) to valid UTF-8.
///
/// UTF8String and the ASCII types are read as UTF-8, TeletexString as Latin-1, BMPString as
/// UTF-16BE, UniversalString as UTF-32BE; invalid sequences become U+FFFD.
pub fn decode_string(tag: u8, bytes: &[u8]) -> String {
    match tag {
        tag::TELETEX_STRING | tag::VIDEOTEX_STRING => {
            bytes.iter().map(|&b| char::from(b)).collect()
        }
        tag::BMP_STRING => {
            let units = bytes.chunks(2).map(|c| match c {
                [hi, lo] => u16::from_be_bytes([*hi, *lo]),
                _ => 0xfffd,
            });
            char::decode_utf16(units)
                .map(|r| r.unwrap_or(char::REPLACEMENT_CHARACTER))
                .collect()
        }
        tag::UNIVERSAL_STRING => bytes
            .chunks(4)
            .map(|c| match c {
                [a, b, c, d] => char::from_u32(u32::from_be_bytes([*a, *b, *c, *d]))
                    .unwrap_or(char::REPLACEMENT_CHARACTER),
                _ => char::REPLACEMENT_CHARACTER,
            })
            .collect(),
        _ => String::from_utf8_lossy(bytes).into_owned(),
    }
}

/// Parses a UTCTime or GeneralizedTime leniently into Unix seconds. Missing seconds count as
/// zero, fractions are dropped, a `+hhmm`/`-hhmm` offset is applied.
pub fn parse_time(tag: u8, bytes: &[u8]) -> Option<i64> {
    let digits = |s: &[u8]| -> Option<i64> {
        if s.is_empty() || !s.iter().all(u8::is_ascii_digit) {
            return None;
        }
        Some(s.iter().fold(0i64, |acc, d| acc * 10 + i64::from(d - b'0')))
    };
    // A UTCTime holding 14 digits is GeneralizedTime-shaped: read it as one.
    let generalized = tag == tag::GENERALIZED_TIME
        || (tag == tag::UTC_TIME
            && bytes
                .get(..14)
                .is_some_and(|d| d.iter().all(u8::is_ascii_digit)));
    let (year, rest) = match tag {
        _ if generalized => (digits(bytes.get(0..4)?)?, bytes.get(4..)?),
        tag::UTC_TIME => {
            let yy = digits(bytes.get(0..2)?)?;
            (if yy < 50 { 2000 + yy } else { 1900 + yy }, bytes.get(2..)?)
        }
        _ => return None,
    };
    let month = digits(rest.get(0..2)?)?;
    let day = digits(rest.get(2..4)?)?;
    let hour = digits(rest.get(4..6)?)?;
    let minute = digits(rest.get(6..8)?)?;
    let mut pos = 8;
    let second = match rest.get(8..10).and_then(digits) {
        Some(s) => {
            pos = 10;
            s
        }
        None => 0,
    };
    if rest.get(pos) == Some(&b'.') || rest.get(pos) == Some(&b',') {
        pos += 1;
        while rest.get(pos).is_some_and(u8::is_ascii_digit) {
            pos += 1;
        }
    }
    let offset = match rest.get(pos) {
        Some(&sign @ (b'+' | b'-')) => {
            let hh = digits(rest.get(pos + 1..pos + 3)?)?;
            let mm = digits(rest.get(pos + 3..pos + 5)?)?;
            let secs = hh * 3600 + mm * 60;
            if sign == b'+' {
                secs
            } else {
                -secs
            }
        }
        _ => 0,
    };
    if !(1..=12).contains(&month)
        || !(1..=31).contains(&day)
        || hour > 24
        || minute > 59
        || second > 60
    {
        return None;
    }
    Some(days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second - offset)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_definite_and_indefinite_lengths() {
        let (tlv, rest) = read_tlv(&[0x30, 0x03, 0x02, 0x01, 0x05, 0xff], 0).unwrap();
        assert_eq!(tlv.content, &[0x02, 0x01, 0x05]);
        assert_eq!(rest, &[0xff]);
        let ber = [0x30, 0x80, 0x02, 0x01, 0x05, 0x00, 0x00, 0x01];
        let (tlv, rest) = read_tlv(&ber, 0).unwrap();
        assert_eq!(tlv.content, &[0x02, 0x01, 0x05]);
        assert_eq!(tlv.raw.len(), 7);
        assert_eq!(rest, &[0x01]);
        assert!(read_tlv(&[0x30, 0x05, 0x00], 0).is_none());
        assert!(read_tlv(&[0x30, 0x85, 0, 0, 0, 0, 1], 0).is_none());
        assert!(read_tlv(&[], 0).is_none());
    }

    #[test]
    fn renders_oids() {
        assert_eq!(oid_to_dotted(&[0x55, 0x1d, 0x11]), "2.5.29.17");
        assert_eq!(
            oid_to_dotted(&[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0b]),
            "1.2.840.113549.1.1.11"
        );
        assert_eq!(
            oid_to_dotted(&[0x67, 0x81, 0x0c, 0x01, 0x02, 0x01]),
            "2.23.140.1.2.1"
        );
    }

    #[test]
    fn decodes_every_string_type() {
        assert_eq!(decode_string(tag::UTF8_STRING, "é".as_bytes()), "é");
        assert_eq!(decode_string(tag::UTF8_STRING, &[0x61, 0xff]), "a\u{fffd}");
        assert_eq!(decode_string(tag::TELETEX_STRING, &[0x4d, 0xfc]), "Mü");
        assert_eq!(
            decode_string(tag::BMP_STRING, &[0x00, 0x41, 0x00, 0xe9]),
            "Aé"
        );
        assert_eq!(
            decode_string(tag::BMP_STRING, &[0x00, 0x41, 0x00]),
            "A\u{fffd}"
        );
        assert_eq!(decode_string(tag::BMP_STRING, &[0xd8, 0x00]), "\u{fffd}");
        assert_eq!(
            decode_string(tag::UNIVERSAL_STRING, &[0, 0, 0, 0x41, 0, 1, 0xf6, 0x00]),
            "A😀"
        );
        assert_eq!(
            decode_string(tag::UNIVERSAL_STRING, &[0, 0x11, 0, 0]),
            "\u{fffd}"
        );
    }

    #[test]
    fn parses_times() {
        assert_eq!(
            parse_time(tag::UTC_TIME, b"260520174812Z"),
            Some(1_779_299_292)
        );
        assert_eq!(
            parse_time(tag::GENERALIZED_TIME, b"20260520174812Z"),
            Some(1_779_299_292)
        );
        assert_eq!(
            parse_time(tag::UTC_TIME, b"491231235959Z"),
            Some(2_524_607_999)
        );
        assert_eq!(
            parse_time(tag::UTC_TIME, b"500101000000Z"),
            Some(-631_152_000)
        );
        assert_eq!(
            parse_time(tag::UTC_TIME, b"2605201748Z"),
            Some(1_779_299_280)
        );
        assert_eq!(
            parse_time(tag::UTC_TIME, b"260520174812+0100"),
            Some(1_779_295_692)
        );
        assert_eq!(
            parse_time(tag::GENERALIZED_TIME, b"20260520174812.123Z"),
            Some(1_779_299_292)
        );
        assert_eq!(
            parse_time(tag::UTC_TIME, b"19020701025736Z"),
            Some(-2_130_267_744)
        );
        assert_eq!(parse_time(tag::UTC_TIME, b"26x520174812Z"), None);
        assert_eq!(parse_time(tag::UTC_TIME, b"26"), None);
    }
}
