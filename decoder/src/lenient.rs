//! The lenient fallback: what a tolerant DER walk can still extract from a certificate that
//! x509-parser rejects (or from a bare TBSCertificate).
//!
//! Each field is read if reachable and left at a neutral value otherwise (serial `""`, times
//! `0`, names all `null`); hashes and `as_der` are always of the raw bytes given.

use crate::der::{self, tag, Reader, Tlv};
use crate::name::Name;
use crate::x509::{self, oid, CertInfo, DerDigest, Extensions};

/// Renders whatever can be read from `der` (a Certificate, or a TBSCertificate on its own).
pub(crate) fn render(der: &[u8], digest: DerDigest) -> CertInfo {
    let mut info = CertInfo {
        subject: Name::default(),
        issuer: Name::default(),
        serial_number: String::new(),
        not_before: 0,
        not_after: 0,
        sha1: digest.sha1,
        sha256: digest.sha256,
        signature_algorithm: String::new(),
        is_ca: false,
        extensions: Extensions::default(),
        san_dns_names: Vec::new(),
        as_der: digest.as_der,
        lenient: true,
    };
    let Some((outer, _)) = der::read_tlv(der, 0) else {
        return info;
    };
    let mut top = outer.children();
    let (tbs, outer_alg) = match top.peek_tag() {
        // Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm, signatureValue }
        Some(tag::SEQUENCE) => {
            let tbs = top.next_tlv();
            (tbs.map(|t| t.children()), top.next_if(tag::SEQUENCE))
        }
        // A TBSCertificate on its own (precert leaf_input).
        _ => (Some(outer.children()), None),
    };
    let Some(mut tbs) = tbs else {
        return info;
    };
    walk_tbs(&mut tbs, &mut info, outer_alg);
    info
}

fn walk_tbs(tbs: &mut Reader<'_>, info: &mut CertInfo, outer_alg: Option<Tlv<'_>>) {
    let _version = tbs.next_if(0xa0);
    if let Some(serial) = tbs.next_if(tag::INTEGER) {
        info.serial_number = x509::serial_hex(serial.content);
    }
    let inner_alg = tbs.next_if(tag::SEQUENCE);
    if let Some(alg) = outer_alg.or(inner_alg) {
        let mut parts = alg.children();
        if let Some(alg_oid) = parts.next_if(tag::OID) {
            let params = parts.next_tlv().map(|p| p.content);
            info.signature_algorithm = x509::signature_algorithm_name(alg_oid.content, params);
        }
    }
    let Some(issuer) = tbs.next_if(tag::SEQUENCE) else {
        return;
    };
    info.issuer = Name::from_der(issuer.content);
    let Some(validity) = tbs.next_if(tag::SEQUENCE) else {
        return;
    };
    let mut times = validity.children();
    if let Some(t) = times.next_tlv() {
        info.not_before = der::parse_time(t.tag, t.content).unwrap_or(0);
    }
    if let Some(t) = times.next_tlv() {
        info.not_after = der::parse_time(t.tag, t.content).unwrap_or(0);
    }
    let Some(subject) = tbs.next_if(tag::SEQUENCE) else {
        return;
    };
    info.subject = Name::from_der(subject.content);
    // subjectPublicKeyInfo, issuerUniqueID, subjectUniqueID: skipped.
    let mut extensions = None;
    while let Some(field) = tbs.next_tlv() {
        if field.tag == 0xa3 {
            extensions = field.children().next_if(tag::SEQUENCE);
            break;
        }
    }
    if let Some(extensions) = extensions {
        walk_extensions(extensions, info);
    }
}

fn walk_extensions(extensions: Tlv<'_>, info: &mut CertInfo) {
    let mut seen_bc = false;
    for ext in extensions.children() {
        let mut parts = ext.children();
        let Some(ext_oid) = parts.next_if(tag::OID) else {
            continue;
        };
        let _critical = parts.next_if(tag::BOOLEAN);
        let value = parts
            .next_if(tag::OCTET_STRING)
            .map(|v| v.content)
            .unwrap_or_default();
        let exts = &mut info.extensions;
        match ext_oid.content {
            oid::KEY_USAGE if exts.key_usage.is_none() => {
                exts.key_usage = key_usage_flags(value).map(x509::key_usage_names);
            }
            oid::EXT_KEY_USAGE if exts.extended_key_usage.is_none() => {
                exts.extended_key_usage = x509::extended_key_usage(value);
            }
            oid::BASIC_CONSTRAINTS if !seen_bc => {
                if let Some((seq, _)) = der::read_tlv(value, 0) {
                    seen_bc = true;
                    let ca = seq
                        .children()
                        .next_if(tag::BOOLEAN)
                        .is_some_and(|b| b.content.first().is_some_and(|&v| v != 0));
                    info.is_ca = ca;
                    exts.basic_constraints = Some(x509::basic_constraints(ca));
                }
            }
            oid::SUBJECT_KEY_ID if exts.subject_key_identifier.is_none() => {
                if let Some((id, _)) = der::read_tlv(value, 0) {
                    exts.subject_key_identifier = Some(format!(
                        "keyid:{}",
                        crate::json::colon_hex_lower(id.content)
                    ));
                }
            }
            oid::AUTHORITY_KEY_ID if exts.authority_key_identifier.is_none() => {
                if let Some((seq, _)) = der::read_tlv(value, 0) {
                    if let Some(id) = seq.children().next_if(0x80) {
                        exts.authority_key_identifier = Some(format!(
                            "keyid:{}",
                            crate::json::colon_hex_lower(id.content)
                        ));
                    }
                }
            }
            oid::AUTHORITY_INFO_ACCESS if exts.authority_info_access.is_none() => {
                if let Some((seq, _)) = der::read_tlv(value, 0) {
                    let parts: Vec<String> = seq
                        .children()
                        .filter_map(|desc| {
                            let mut d = desc.children();
                            d.next_if(tag::OID)?;
                            let location = d.next_tlv()?;
                            Some(x509::general_names(location.raw).0)
                        })
                        .collect();
                    exts.authority_info_access = Some(parts.join(", "));
                }
            }
            oid::SUBJECT_ALT_NAME if exts.subject_alt_name.is_none() => {
                let (rendered, dns) = x509::subject_alt_name(value);
                exts.subject_alt_name = Some(rendered);
                info.san_dns_names = dns;
            }
            oid::CERT_POLICIES if exts.certificate_policies.is_none() => {
                exts.certificate_policies = x509::certificate_policies(value);
            }
            oid::CT_POISON => exts.ctl_poison_byte = true,
            _ => {}
        }
    }
}

/// keyUsage BIT STRING to flags with bit 0 = digitalSignature.
fn key_usage_flags(value: &[u8]) -> Option<u16> {
    let (bits, _) = der::read_tlv(value, 0)?;
    if bits.tag != tag::BIT_STRING {
        return None;
    }
    let data = bits.content.get(1..)?;
    let mut flags = 0u16;
    for bit in 0..9usize {
        let set = data
            .get(bit / 8)
            .is_some_and(|byte| byte & (0x80 >> (bit % 8)) != 0);
        if set {
            flags |= 1 << bit;
        }
    }
    Some(flags)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_usage_bits() {
        assert_eq!(key_usage_flags(&[0x03, 0x02, 0x05, 0xa0]), Some(0b101));
        assert_eq!(
            key_usage_flags(&[0x03, 0x03, 0x07, 0x80, 0x80]),
            Some(0x101)
        );
        assert_eq!(key_usage_flags(&[0x04, 0x00]), None);
    }

    #[test]
    fn garbage_yields_neutral_values() {
        for input in [&[][..], &[0x30], &[0x30, 0x02, 0x02, 0x05], &[0xff; 8]] {
            let info = render(input, DerDigest::of(input));
            assert!(info.lenient);
            assert_eq!(info.not_before, 0);
        }
    }
}
