//! What a certstream client must receive for each entry that the fake log serves.
//!
//! For `live`, the messages that an existing certstream server produced for the same entries.
//! For `navigli`, the names and validity that an independent CT monitor (certspotter 0.16.0)
//! read from the same entries. Comparing messages is the caller's job.

use anyhow::Context;
use serde::Deserialize;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::fixtures;

/// Expected output for one entry of the `live` log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveExpected {
    /// Index at which the fake log serves the entry.
    pub index: u64,
    /// Fixture id, for example `google_argon2026h2_000`.
    pub name: String,
    /// Description of the production log the entry was captured from.
    pub log_name: String,
    /// URL of that production log (trailing slash kept).
    pub log_url: String,
    /// Index in that production log. The fake log serves the entry at `index` instead, so
    /// `cert_index`, `cert_link` and `source` in a locally produced message differ.
    pub cert_index: u64,
    /// Full-stream message (JSON text).
    pub full: String,
    /// Lite-stream message (JSON text).
    pub lite: String,
    /// Domains-only message (JSON text).
    pub domains_only: String,
}

/// Expected names and validity for one entry of the `navigli` log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NavigliExpected {
    /// Index at which the fake log serves the entry (the same as in the original log).
    pub index: u64,
    /// DNS names that certspotter found in the certificate. Compare with `all_domains` as a set.
    pub dns_names: Vec<String>,
    /// IP address SANs (empty for every navigli entry).
    pub ip_addresses: Vec<String>,
    /// Start of validity in RFC 3339, for example `2025-05-03T16:14:48Z`.
    pub not_before: String,
    /// End of validity in RFC 3339.
    pub not_after: String,
    /// `not_before` in seconds since the Unix epoch.
    pub not_before_unix: i64,
    /// `not_after` in seconds since the Unix epoch.
    pub not_after_unix: i64,
    /// Hex SHA-256 of the precertificate DER.
    pub sha256: String,
    /// Hex SHA-256 of the TBSCertificate, as certspotter computes it.
    pub tbs_sha256: String,
    /// Hex SHA-256 of the SubjectPublicKeyInfo DER.
    pub pubkey_sha256: String,
}

/// One line of the certspotter oracle.
#[derive(Deserialize)]
struct OracleLine {
    log_index: u64,
    sha256: String,
    tbs_sha256: String,
    pubkey_sha256: String,
    dns_names: Vec<String>,
    ip_addresses: Vec<String>,
    not_before: String,
    not_after: String,
}

/// Returns the expected output of the `live` log, one item per served index from 0.
pub fn live() -> anyhow::Result<Vec<LiveExpected>> {
    let items = fixtures::read_live_entries()?;
    let expected = items
        .into_iter()
        .enumerate()
        .map(|(index, item)| LiveExpected {
            index: index as u64,
            name: item.name,
            log_name: item.log_name,
            log_url: item.log_url,
            cert_index: item.cert_index,
            full: item.expected_full,
            lite: item.expected_lite,
            domains_only: item.expected_domains_only,
        })
        .collect();
    Ok(expected)
}

/// Returns the expected output of the `navigli` log, one item per served index from 0.
pub fn navigli() -> anyhow::Result<Vec<NavigliExpected>> {
    let bytes = fixtures::read_navigli_file(fixtures::NAVIGLI_ORACLE)?;
    let text = String::from_utf8(bytes).context("navigli oracle is not UTF-8")?;
    let mut expected = Vec::new();
    for (line_number, line) in text.lines().enumerate() {
        let line: OracleLine = serde_json::from_str(line)
            .with_context(|| format!("invalid navigli oracle line {}", line_number + 1))?;
        if line.log_index != expected.len() as u64 {
            anyhow::bail!(
                "navigli oracle line {} has log_index {}, expected {}",
                line_number + 1,
                line.log_index,
                expected.len()
            );
        }
        expected.push(navigli_item(line)?);
    }
    Ok(expected)
}

fn navigli_item(line: OracleLine) -> anyhow::Result<NavigliExpected> {
    Ok(NavigliExpected {
        index: line.log_index,
        not_before_unix: unix_seconds(&line.not_before)?,
        not_after_unix: unix_seconds(&line.not_after)?,
        dns_names: line.dns_names,
        ip_addresses: line.ip_addresses,
        not_before: line.not_before,
        not_after: line.not_after,
        sha256: line.sha256,
        tbs_sha256: line.tbs_sha256,
        pubkey_sha256: line.pubkey_sha256,
    })
}

fn unix_seconds(rfc3339: &str) -> anyhow::Result<i64> {
    let time = OffsetDateTime::parse(rfc3339, &Rfc3339)
        .with_context(|| format!("invalid RFC 3339 time {rfc3339:?} in the navigli oracle"))?;
    Ok(time.unix_timestamp())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn live_has_20_items() {
        let live = live().expect("live fixture loads");

        assert_eq!(live.len(), 20);
        assert_eq!(live[0].index, 0);
        assert_eq!(live[0].name, "google_argon2026h2_000");
        assert_eq!(live[0].log_name, "Google 'Argon2026h2'");
        assert_eq!(
            live[0].log_url,
            "https://ct.googleapis.com/logs/us1/argon2026h2/"
        );
        assert_eq!(live[0].cert_index, 1_111_014_090);
        assert_eq!(
            live[0].domains_only,
            r#"{"message_type":"dns_entries","data":["portal.dragonjar.org"]}"#
        );
        assert_eq!(live[19].name, "cloudflare_nimbus2026_014");
        assert_eq!(live[19].cert_index, 4_354_630_054);
    }

    #[test]
    fn navigli_has_1024_items() {
        let navigli = navigli().expect("navigli oracle loads");

        assert_eq!(navigli.len(), 1024);
        assert_eq!(navigli[1].index, 1);
        assert_eq!(navigli[1].dns_names, ["379y4cn892427n987l.mexi.my"]);
        assert_eq!(navigli[1].not_before, "2025-05-03T16:14:52Z");
        assert_eq!(navigli[1].not_before_unix, 1_746_288_892);
        assert_eq!(navigli[1].not_after_unix, 1_754_064_891);
    }
}
