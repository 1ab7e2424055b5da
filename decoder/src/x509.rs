//! Renders one certificate into the contract's CERT / LEAF JSON object, with x509-parser 0.18.
//!
//! [`render`] parses the DER with x509-parser (extensions parsed on demand, only those the
//! contract renders) and falls back to [`crate::lenient`] when x509-parser rejects it. Names,
//! subjectAltName and extendedKeyUsage are read with the tolerant walker in [`crate::der`] even on
//! the strict path: x509-parser rejects a dNSName that is not UTF-8 and does not keep the
//! certificate order of key purposes, while the contract wants both.

use std::net::{Ipv4Addr, Ipv6Addr};

use base64::Engine as _;
use sha1::Digest as _;
use x509_parser::nom::Parser as _;
use x509_parser::prelude::{
    AuthorityInfoAccess, AuthorityKeyIdentifier, BasicConstraints, FromDer, GeneralName,
    KeyIdentifier, KeyUsage, X509CertificateParser,
};

use crate::der::{self, tag, Reader};
use crate::json;
use crate::name::Name;

/// Extension OIDs (DER content octets).
pub(crate) mod oid {
    pub const KEY_USAGE: &[u8] = &[0x55, 0x1d, 0x0f];
    pub const EXT_KEY_USAGE: &[u8] = &[0x55, 0x1d, 0x25];
    pub const BASIC_CONSTRAINTS: &[u8] = &[0x55, 0x1d, 0x13];
    pub const SUBJECT_KEY_ID: &[u8] = &[0x55, 0x1d, 0x0e];
    pub const AUTHORITY_KEY_ID: &[u8] = &[0x55, 0x1d, 0x23];
    pub const SUBJECT_ALT_NAME: &[u8] = &[0x55, 0x1d, 0x11];
    pub const CERT_POLICIES: &[u8] = &[0x55, 0x1d, 0x20];
    pub const AUTHORITY_INFO_ACCESS: &[u8] = &[0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x01, 0x01];
    pub const CT_POISON: &[u8] = &[0x2b, 0x06, 0x01, 0x04, 0x01, 0xd6, 0x79, 0x02, 0x04, 0x03];
}

/// The `extensions` object; a key is rendered only when its extension is present.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Extensions {
    pub authority_info_access: Option<String>,
    pub authority_key_identifier: Option<String>,
    pub basic_constraints: Option<String>,
    pub certificate_policies: Option<String>,
    pub extended_key_usage: Option<String>,
    pub key_usage: Option<String>,
    pub subject_alt_name: Option<String>,
    pub subject_key_identifier: Option<String>,
    /// `ctlPoisonByte: true` (precertificate entries, or the poison extension is present).
    pub ctl_poison_byte: bool,
}

impl Extensions {
    fn write_json(&self, out: &mut Vec<u8>) {
        out.push(b'{');
        let fields = [
            ("authorityInfoAccess", &self.authority_info_access),
            ("authorityKeyIdentifier", &self.authority_key_identifier),
            ("basicConstraints", &self.basic_constraints),
            ("certificatePolicies", &self.certificate_policies),
            ("extendedKeyUsage", &self.extended_key_usage),
            ("keyUsage", &self.key_usage),
            ("subjectAltName", &self.subject_alt_name),
            ("subjectKeyIdentifier", &self.subject_key_identifier),
        ];
        let mut first = true;
        for (key, value) in fields {
            if let Some(value) = value {
                if !first {
                    out.push(b',');
                }
                first = false;
                json::push_key(out, key);
                json::push_str(out, value);
            }
        }
        if self.ctl_poison_byte {
            if !first {
                out.push(b',');
            }
            out.extend_from_slice(b"\"ctlPoisonByte\":true");
        }
        out.push(b'}');
    }
}

/// Everything the contract renders about one certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertInfo {
    pub subject: Name,
    pub issuer: Name,
    /// Uppercase hex, even length.
    pub serial_number: String,
    pub not_before: i64,
    pub not_after: i64,
    /// Uppercase colon hex SHA-1 of the DER (also the `fingerprint`).
    pub sha1: String,
    /// Uppercase colon hex SHA-256 of the DER.
    pub sha256: String,
    pub signature_algorithm: String,
    pub is_ca: bool,
    pub extensions: Extensions,
    /// subjectAltName dNSNames in certificate order.
    pub san_dns_names: Vec<String>,
    /// Standard padded base64 of the DER.
    pub as_der: String,
    /// True when x509-parser rejected the certificate and the lenient walk produced this.
    pub lenient: bool,
}

impl CertInfo {
    /// `all_domains`: the subject CN first (when present and the certificate is not a CA), then
    /// the SAN dNSNames in order, exact duplicates removed, case kept.
    pub fn all_domains(&self) -> Vec<String> {
        let cn = self.subject.common_name().filter(|_| !self.is_ca);
        let mut out: Vec<String> = Vec::with_capacity(self.san_dns_names.len() + 1);
        let candidates = cn
            .into_iter()
            .chain(self.san_dns_names.iter().map(String::as_str));
        if self.san_dns_names.len() > 32 {
            let mut seen = std::collections::HashSet::with_capacity(self.san_dns_names.len() + 1);
            for name in candidates {
                if seen.insert(name) {
                    out.push(name.to_owned());
                }
            }
        } else {
            for name in candidates {
                if !out.iter().any(|n| n == name) {
                    out.push(name.to_owned());
                }
            }
        }
        out
    }

    /// Appends the JSON object without its closing brace, so the caller can add `all_domains`
    /// and `as_der` where its stream needs them.
    pub fn write_json_open(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"{\"subject\":");
        self.subject.write_json(out);
        out.extend_from_slice(b",\"issuer\":");
        self.issuer.write_json(out);
        out.extend_from_slice(b",\"serial_number\":");
        json::push_str(out, &self.serial_number);
        out.extend_from_slice(b",\"not_before\":");
        json::push_int(out, self.not_before);
        out.extend_from_slice(b",\"not_after\":");
        json::push_int(out, self.not_after);
        out.extend_from_slice(b",\"fingerprint\":");
        json::push_str(out, &self.sha1);
        out.extend_from_slice(b",\"sha1\":");
        json::push_str(out, &self.sha1);
        out.extend_from_slice(b",\"sha256\":");
        json::push_str(out, &self.sha256);
        out.extend_from_slice(b",\"signature_algorithm\":");
        json::push_str(out, &self.signature_algorithm);
        out.extend_from_slice(b",\"is_ca\":");
        out.extend_from_slice(if self.is_ca { b"true" } else { b"false" });
        out.extend_from_slice(b",\"extensions\":");
        self.extensions.write_json(out);
    }
}

/// Hashes and base64 of the DER, computed once per certificate.
pub(crate) struct DerDigest {
    pub sha1: String,
    pub sha256: String,
    pub as_der: String,
}

impl DerDigest {
    pub fn of(der: &[u8]) -> DerDigest {
        DerDigest {
            sha1: json::colon_hex_upper(&sha1::Sha1::digest(der)),
            sha256: json::colon_hex_upper(&sha2::Sha256::digest(der)),
            as_der: base64::engine::general_purpose::STANDARD.encode(der),
        }
    }
}

/// Renders a DER certificate: strictly with x509-parser, leniently when it is rejected.
pub fn render(der: &[u8]) -> CertInfo {
    let digest = DerDigest::of(der);
    match render_strict(der, &digest) {
        Some(info) => info,
        None => crate::lenient::render(der, digest),
    }
}

fn render_strict(der: &[u8], digest: &DerDigest) -> Option<CertInfo> {
    let (_, cert) = X509CertificateParser::new()
        .with_deep_parse_extensions(false)
        .parse(der)
        .ok()?;
    let tbs = &cert.tbs_certificate;
    let mut info = CertInfo {
        subject: Name::from_der(tbs.subject.as_raw()),
        issuer: Name::from_der(tbs.issuer.as_raw()),
        serial_number: serial_hex(tbs.raw_serial()),
        not_before: tbs.validity.not_before.timestamp(),
        not_after: tbs.validity.not_after.timestamp(),
        sha1: digest.sha1.clone(),
        sha256: digest.sha256.clone(),
        signature_algorithm: signature_algorithm_name(
            cert.signature_algorithm.algorithm.as_bytes(),
            cert.signature_algorithm.parameters.as_ref().map(|p| p.data),
        ),
        is_ca: false,
        extensions: Extensions::default(),
        san_dns_names: Vec::new(),
        as_der: digest.as_der.clone(),
        lenient: false,
    };
    let mut seen_bc = false;
    for ext in tbs.extensions() {
        let ext_oid = ext.oid.as_bytes();
        let value = ext.value;
        let exts = &mut info.extensions;
        match ext_oid {
            oid::KEY_USAGE if exts.key_usage.is_none() => {
                if let Ok((_, ku)) = KeyUsage::from_der(value) {
                    exts.key_usage = Some(key_usage_names(ku.flags));
                }
            }
            oid::EXT_KEY_USAGE if exts.extended_key_usage.is_none() => {
                exts.extended_key_usage = extended_key_usage(value);
            }
            oid::BASIC_CONSTRAINTS if !seen_bc => {
                if let Ok((_, bc)) = BasicConstraints::from_der(value) {
                    seen_bc = true;
                    info.is_ca = bc.ca;
                    exts.basic_constraints = Some(basic_constraints(bc.ca));
                }
            }
            oid::SUBJECT_KEY_ID if exts.subject_key_identifier.is_none() => {
                if let Ok((_, KeyIdentifier(id))) = KeyIdentifier::from_der(value) {
                    exts.subject_key_identifier = Some(key_id(id));
                }
            }
            oid::AUTHORITY_KEY_ID if exts.authority_key_identifier.is_none() => {
                if let Ok((_, aki)) = AuthorityKeyIdentifier::from_der(value) {
                    exts.authority_key_identifier =
                        aki.key_identifier.map(|KeyIdentifier(id)| key_id(id));
                }
            }
            oid::AUTHORITY_INFO_ACCESS if exts.authority_info_access.is_none() => {
                if let Ok((_, aia)) = AuthorityInfoAccess::from_der(value) {
                    let parts: Vec<String> = aia
                        .accessdescs
                        .iter()
                        .map(|desc| general_name_parsed(&desc.access_location))
                        .collect();
                    exts.authority_info_access = Some(parts.join(", "));
                }
            }
            oid::SUBJECT_ALT_NAME if exts.subject_alt_name.is_none() => {
                let (rendered, dns) = subject_alt_name(value);
                exts.subject_alt_name = Some(rendered);
                info.san_dns_names = dns;
            }
            oid::CERT_POLICIES if exts.certificate_policies.is_none() => {
                exts.certificate_policies = certificate_policies(value);
            }
            oid::CT_POISON => exts.ctl_poison_byte = true,
            _ => {}
        }
    }
    Some(info)
}

/// Uppercase hex of the serial's big-endian bytes without DER sign padding; `00` for zero.
pub(crate) fn serial_hex(raw: &[u8]) -> String {
    let start = raw.iter().position(|&b| b != 0).unwrap_or(raw.len());
    let trimmed = raw.get(start..).unwrap_or_default();
    if trimmed.is_empty() {
        "00".to_owned()
    } else {
        json::hex_upper(trimmed)
    }
}

pub(crate) fn basic_constraints(ca: bool) -> String {
    if ca { "CA:TRUE" } else { "CA:FALSE" }.to_owned()
}

fn key_id(id: &[u8]) -> String {
    let mut out = String::with_capacity(6 + id.len() * 3);
    out.push_str("keyid:");
    out.push_str(&json::colon_hex_lower(id));
    out
}

/// keyUsage names in bit order.
pub(crate) fn key_usage_names(flags: u16) -> String {
    const NAMES: [&str; 9] = [
        "Digital Signature",
        "Content Commitment",
        "Key Encipherment",
        "Data Encipherment",
        "Key Agreement",
        "Certificate Signing",
        "CRL Signing",
        "Encipher Only",
        "Decipher Only",
    ];
    let names: Vec<&str> = NAMES
        .iter()
        .enumerate()
        .filter(|(bit, _)| flags & (1 << bit) != 0)
        .map(|(_, name)| *name)
        .collect();
    names.join(", ")
}

/// extendedKeyUsage purposes: the known ones in the contract's fixed order (serverAuth,
/// clientAuth, codeSigning, emailProtection, timeStamping, OCSPSigning, anyExtendedKeyUsage,
/// as existing servers render them), then unknown ones as dotted OIDs in certificate order.
/// `None` when the value is not a SEQUENCE.
pub(crate) fn extended_key_usage(value: &[u8]) -> Option<String> {
    const KNOWN: [&str; 7] = [
        "serverAuth",
        "clientAuth",
        "codeSigning",
        "emailProtection",
        "timeStamping",
        "OCSPSigning",
        "anyExtendedKeyUsage",
    ];
    const KP: &[u8] = &[0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03];
    let (seq, _) = der::read_tlv(value, 0)?;
    if seq.tag != tag::SEQUENCE {
        return None;
    }
    let mut known = [false; 7];
    let mut other: Vec<String> = Vec::new();
    for purpose in seq.children().filter(|t| t.tag == tag::OID) {
        let index = match purpose.content {
            [0x55, 0x1d, 0x25, 0x00] => Some(6),
            [p @ .., last] if p == KP => match last {
                1..=4 => Some(usize::from(*last) - 1),
                8 => Some(4),
                9 => Some(5),
                _ => None,
            },
            _ => None,
        };
        match index {
            Some(i) => known[i] = true,
            None => {
                let dotted = der::oid_to_dotted(purpose.content);
                if !other.contains(&dotted) {
                    other.push(dotted);
                }
            }
        }
    }
    let names: Vec<&str> = KNOWN
        .iter()
        .zip(known)
        .filter(|(_, present)| *present)
        .map(|(name, _)| *name)
        .chain(other.iter().map(String::as_str))
        .collect();
    Some(names.join(", "))
}

/// `Policy: <oid>\n` per policy in certificate order.
pub(crate) fn certificate_policies(value: &[u8]) -> Option<String> {
    let (seq, _) = der::read_tlv(value, 0)?;
    if seq.tag != tag::SEQUENCE {
        return None;
    }
    let mut out = String::new();
    for info in seq.children() {
        if let Some(policy) = info.children().next_if(tag::OID) {
            out.push_str("Policy: ");
            out.push_str(&der::oid_to_dotted(policy.content));
            out.push('\n');
        }
    }
    Some(out)
}

/// subjectAltName rendering and its dNSNames, read leniently: entries after one that does not
/// parse are lost, those before are kept.
pub(crate) fn subject_alt_name(value: &[u8]) -> (String, Vec<String>) {
    match der::read_tlv(value, 0) {
        Some((seq, _)) if seq.tag == tag::SEQUENCE => general_names(seq.content),
        _ => (String::new(), Vec::new()),
    }
}

/// Renders consecutive GeneralNames joined by `, `; also returns the dNSNames.
pub(crate) fn general_names(content: &[u8]) -> (String, Vec<String>) {
    let mut parts = Vec::new();
    let mut dns = Vec::new();
    for gn in Reader::new(content) {
        let text = || der::decode_string(tag::IA5_STRING, gn.content);
        let part = match gn.tag {
            0xa0 => "othername:<unsupported>".to_owned(),
            0x81 => format!("email:{}", text()),
            0x82 => {
                let name = text();
                let part = format!("DNS:{name}");
                dns.push(name);
                part
            }
            0xa3 => "X400Name:<unsupported>".to_owned(),
            0xa4 => format!("DirName:{}", Name::from_der(gn.content).aggregated()),
            0xa5 => "EdiPartyName:<unsupported>".to_owned(),
            0x86 => format!("URI:{}", text()),
            0x87 => format!("IP Address:{}", ip_address(gn.content)),
            0x88 => format!("Registered ID:{}", der::oid_to_dotted(gn.content)),
            _ => continue,
        };
        parts.push(part);
    }
    (parts.join(", "), dns)
}

fn ip_address(bytes: &[u8]) -> String {
    if let Ok(v4) = <[u8; 4]>::try_from(bytes) {
        Ipv4Addr::from(v4).to_string()
    } else if let Ok(v6) = <[u8; 16]>::try_from(bytes) {
        Ipv6Addr::from(v6).to_string()
    } else {
        "<invalid>".to_owned()
    }
}

/// A GeneralName parsed by x509-parser (authorityInfoAccess locations).
fn general_name_parsed(name: &GeneralName<'_>) -> String {
    match name {
        GeneralName::URI(uri) => format!("URI:{uri}"),
        GeneralName::DNSName(dns) => format!("DNS:{dns}"),
        GeneralName::RFC822Name(email) => format!("email:{email}"),
        GeneralName::IPAddress(ip) => format!("IP Address:{}", ip_address(ip)),
        GeneralName::DirectoryName(dn) => {
            format!("DirName:{}", Name::from_der(dn.as_raw()).aggregated())
        }
        GeneralName::RegisteredID(id) => {
            format!("Registered ID:{}", der::oid_to_dotted(id.as_bytes()))
        }
        _ => "<unsupported>".to_owned(),
    }
}

/// The contract's signature algorithm name (`sha256, rsa`, `ecdsa, sha256`, ...); the dotted OID
/// for unknown algorithms. `params` is the content of the parameters (RSASSA-PSS hash).
pub fn signature_algorithm_name(alg: &[u8], params: Option<&[u8]>) -> String {
    const PKCS1: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01];
    const ECDSA_SHA2: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03];
    const NIST_SIG: &[u8] = &[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x03];
    let name = match alg {
        [p @ .., last] if p == PKCS1 => match last {
            0x01 => Some("rsa"),
            0x02 => Some("md2, rsa"),
            0x03 => Some("md4, rsa"),
            0x04 => Some("md5, rsa"),
            0x05 => Some("sha1, rsa"),
            0x0a => return format!("{}, rsa-pss", pss_hash(params)),
            0x0b => Some("sha256, rsa"),
            0x0c => Some("sha384, rsa"),
            0x0d => Some("sha512, rsa"),
            0x0e => Some("sha224, rsa"),
            _ => None,
        },
        [0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x01] => Some("ecdsa, sha1"),
        [p @ .., last] if p == ECDSA_SHA2 => match last {
            1 => Some("ecdsa, sha224"),
            2 => Some("ecdsa, sha256"),
            3 => Some("ecdsa, sha384"),
            4 => Some("ecdsa, sha512"),
            _ => None,
        },
        [0x2a, 0x86, 0x48, 0xce, 0x38, 0x04, 0x03] => Some("dsa, sha1"),
        [p @ .., last] if p == NIST_SIG => match last {
            1 => Some("dsa, sha224"),
            2 => Some("dsa, sha256"),
            3 => Some("dsa, sha384"),
            4 => Some("dsa, sha512"),
            9 => Some("ecdsa, sha3-224"),
            10 => Some("ecdsa, sha3-256"),
            11 => Some("ecdsa, sha3-384"),
            12 => Some("ecdsa, sha3-512"),
            _ => None,
        },
        [0x2b, 0x65, 0x70] => Some("ed25519"),
        [0x2b, 0x65, 0x71] => Some("ed448"),
        _ => None,
    };
    name.map_or_else(|| der::oid_to_dotted(alg), str::to_owned)
}

/// The hash of RSASSA-PSS parameters (`[0] hashAlgorithm`, SHA-1 when absent).
fn pss_hash(params: Option<&[u8]>) -> &'static str {
    let hash_oid = params.and_then(|p| {
        let hash_alg = Reader::new(p).next_if(0xa0)?;
        let alg_id = hash_alg.children().next_if(tag::SEQUENCE)?;
        alg_id.children().next_if(tag::OID)
    });
    match hash_oid.map(|t| t.content) {
        None | Some([0x2b, 0x0e, 0x03, 0x02, 0x1a]) => "sha1",
        Some([0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, n]) => match n {
            1 => "sha256",
            2 => "sha384",
            3 => "sha512",
            4 => "sha224",
            _ => "unknown",
        },
        Some(_) => "unknown",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serial_numbers() {
        assert_eq!(serial_hex(&[0x00, 0xb9, 0x97]), "B997");
        assert_eq!(serial_hex(&[0x06, 0xb1]), "06B1");
        assert_eq!(serial_hex(&[0x00]), "00");
        assert_eq!(serial_hex(&[]), "00");
        assert_eq!(serial_hex(&[0xff, 0x01]), "FF01");
    }

    #[test]
    fn key_usage_in_bit_order() {
        assert_eq!(
            key_usage_names(0b101),
            "Digital Signature, Key Encipherment"
        );
        assert_eq!(
            key_usage_names(0b110_0001),
            "Digital Signature, Certificate Signing, CRL Signing"
        );
        assert_eq!(key_usage_names(1 << 8), "Decipher Only");
    }

    #[test]
    fn eku_fixed_order_then_unknown_oids() {
        let value = [
            0x30, 0x18, 0x06, 0x08, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x02, 0x06, 0x08,
            0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x01, 0x06, 0x02, 0x2a, 0x03,
        ];
        assert_eq!(
            extended_key_usage(&value).unwrap(),
            "serverAuth, clientAuth, 1.2.3"
        );
    }

    #[test]
    fn san_renders_every_kind() {
        let mut content = Vec::new();
        content.extend([0x82, 0x03, b'a', b'.', b'b']);
        content.extend([0x81, 0x03, b'x', b'@', b'y']);
        content.extend([0x87, 0x04, 1, 2, 3, 4]);
        content.extend([0x87, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
        content.extend([0x86, 0x02, b'u', 0xff]);
        let mut value = vec![0x30, content.len() as u8];
        value.extend(content);
        let (rendered, dns) = subject_alt_name(&value);
        assert_eq!(
            rendered,
            "DNS:a.b, email:x@y, IP Address:1.2.3.4, IP Address:::1, URI:u\u{fffd}"
        );
        assert_eq!(dns, vec!["a.b".to_owned()]);
    }

    #[test]
    fn signature_algorithms() {
        let rsa256 = [0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0b];
        assert_eq!(signature_algorithm_name(&rsa256, None), "sha256, rsa");
        let ecdsa384 = [0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x03];
        assert_eq!(signature_algorithm_name(&ecdsa384, None), "ecdsa, sha384");
        assert_eq!(
            signature_algorithm_name(&[0x2b, 0x65, 0x70], None),
            "ed25519"
        );
        assert_eq!(signature_algorithm_name(&[0x2a, 0x03], None), "1.2.3");
        let pss = [0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0a];
        // RSASSA-PSS-params { [0] { SEQUENCE { OID sha256, NULL } } ... }
        let params = [
            0xa0, 0x0f, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
            0x01, 0x05, 0x00,
        ];
        assert_eq!(
            signature_algorithm_name(&pss, Some(&params)),
            "sha256, rsa-pss"
        );
        assert_eq!(signature_algorithm_name(&pss, Some(&[])), "sha1, rsa-pss");
    }
}
