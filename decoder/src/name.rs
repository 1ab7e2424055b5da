//! X.500 names (subject and issuer) as the wire contract renders them.
//!
//! The seven attributes C, CN, L, O, OU, ST and emailAddress are always present (`null` when
//! absent); `aggregated` lists the present ones as `/KEY=value` in that fixed order. A repeated
//! attribute keeps its last value. Values of every ASN.1 string type are decoded to UTF-8.

use crate::der::{self, tag, Reader};
use crate::json;

/// The rendered attribute keys, in output order.
pub const KEYS: [&str; 7] = ["C", "CN", "L", "O", "OU", "ST", "emailAddress"];

/// Index of CN in [`KEYS`].
const CN: usize = 1;

/// DER content of the attribute type OIDs, in the order of [`KEYS`].
const OIDS: [&[u8]; 7] = [
    &[0x55, 0x04, 0x06],
    &[0x55, 0x04, 0x03],
    &[0x55, 0x04, 0x07],
    &[0x55, 0x04, 0x0a],
    &[0x55, 0x04, 0x0b],
    &[0x55, 0x04, 0x08],
    &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x01],
];

/// A subject or issuer name reduced to the contract's seven attributes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Name {
    pub values: [Option<String>; 7],
}

impl Name {
    /// Parses a DER `Name` (the whole SEQUENCE, or just its content) leniently: RDNs that do
    /// not parse end the walk, what was read before is kept.
    pub fn from_der(raw: &[u8]) -> Name {
        let mut name = Name::default();
        let content = match der::read_tlv(raw, 0) {
            Some((tlv, _)) if tlv.tag == tag::SEQUENCE => tlv.content,
            _ => raw,
        };
        for rdn in Reader::new(content) {
            for atv in rdn.children() {
                let mut parts = atv.children();
                let (Some(oid), Some(value)) = (parts.next_tlv(), parts.next_tlv()) else {
                    continue;
                };
                if oid.tag != tag::OID {
                    continue;
                }
                if let Some(i) = OIDS.iter().position(|o| *o == oid.content) {
                    name.values[i] = Some(der::decode_string(value.tag, value.content));
                }
            }
        }
        name
    }

    /// The common name, if present.
    pub fn common_name(&self) -> Option<&str> {
        self.values[CN].as_deref()
    }

    /// `/C=US/CN=example` for the present attributes, `""` when none.
    pub fn aggregated(&self) -> String {
        let mut out = String::new();
        for (key, value) in KEYS.iter().zip(&self.values) {
            if let Some(value) = value {
                out.push('/');
                out.push_str(key);
                out.push('=');
                out.push_str(value);
            }
        }
        out
    }

    /// Appends the JSON object `{"C":..,...,"emailAddress":..,"aggregated":".."}`.
    pub fn write_json(&self, out: &mut Vec<u8>) {
        out.push(b'{');
        for (key, value) in KEYS.iter().zip(&self.values) {
            json::push_key(out, key);
            json::push_opt_str(out, value.as_deref());
            out.push(b',');
        }
        json::push_key(out, "aggregated");
        json::push_str(out, &self.aggregated());
        out.push(b'}');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn atv(oid: &[u8], tag: u8, value: &[u8]) -> Vec<u8> {
        let mut inner = vec![0x06, oid.len() as u8];
        inner.extend_from_slice(oid);
        inner.push(tag);
        inner.push(value.len() as u8);
        inner.extend_from_slice(value);
        let mut seq = vec![0x30, inner.len() as u8];
        seq.extend(inner);
        seq
    }

    fn rdn(atvs: &[Vec<u8>]) -> Vec<u8> {
        let inner: Vec<u8> = atvs.concat();
        let mut set = vec![0x31, inner.len() as u8];
        set.extend(inner);
        set
    }

    #[test]
    fn keeps_last_value_and_fixed_order() {
        let mut content = Vec::new();
        content.extend(rdn(&[atv(OIDS[4], tag::UTF8_STRING, b"first")]));
        content.extend(rdn(&[atv(OIDS[1], tag::BMP_STRING, &[0, b'x', 0, 0xe9])]));
        content.extend(rdn(&[
            atv(OIDS[4], tag::PRINTABLE_STRING, b"second"),
            atv(OIDS[0], tag::TELETEX_STRING, &[b'D', 0xc9]),
        ]));
        let mut seq = vec![0x30, content.len() as u8];
        seq.extend(&content);
        let name = Name::from_der(&seq);
        assert_eq!(name, Name::from_der(&content));
        assert_eq!(name.aggregated(), "/C=D\u{c9}/CN=x\u{e9}/OU=second");
        let mut out = Vec::new();
        name.write_json(&mut out);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "{\"C\":\"D\u{c9}\",\"CN\":\"x\u{e9}\",\"L\":null,\"O\":null,\"OU\":\"second\",\
             \"ST\":null,\"emailAddress\":null,\"aggregated\":\"/C=D\u{c9}/CN=x\u{e9}/OU=second\"}"
        );
    }

    #[test]
    fn empty_name() {
        let name = Name::from_der(&[0x30, 0x00]);
        assert_eq!(name.aggregated(), "");
        assert_eq!(name.common_name(), None);
    }
}
