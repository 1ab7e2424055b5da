//! The Google v3 `log_list.json` that points CT clients at the fake logs.
//!
//! The list has one operator with one log per fixture, each usable since the server started:
//! RFC 6962 fixtures under `logs` and Static CT fixtures under `tiled_logs`, with the fields that
//! Google's v3 list gives each kind. It is not signed.

use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use serde::Serialize;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use super::tree::LogState;

/// Maximum merge delay in seconds, the value Google's production logs publish.
const MMD_SECONDS: u64 = 86_400;

/// Certificate expiry window of every fake log. It is wide so that it covers the 2025 navigli
/// certificates, the 2026 live certificates and the current date.
const TEMPORAL_START: &str = "2020-01-01T00:00:00Z";
const TEMPORAL_END: &str = "2100-01-01T00:00:00Z";

#[derive(Serialize)]
struct LogList {
    version: &'static str,
    log_list_timestamp: String,
    operators: Vec<Operator>,
}

#[derive(Serialize)]
struct Operator {
    name: &'static str,
    email: Vec<&'static str>,
    logs: Vec<ListedLog>,
    tiled_logs: Vec<ListedTiledLog>,
}

#[derive(Serialize)]
struct ListedTiledLog {
    description: &'static str,
    log_id: String,
    key: String,
    submission_url: String,
    monitoring_url: String,
    mmd: u64,
    state: LogListState,
    temporal_interval: TemporalInterval,
}

#[derive(Serialize)]
struct ListedLog {
    description: &'static str,
    log_id: String,
    key: String,
    url: String,
    mmd: u64,
    state: LogListState,
    temporal_interval: TemporalInterval,
}

#[derive(Serialize)]
struct LogListState {
    usable: StateSince,
}

#[derive(Serialize)]
struct StateSince {
    timestamp: String,
}

#[derive(Serialize)]
struct TemporalInterval {
    start_inclusive: &'static str,
    end_exclusive: &'static str,
}

/// Writes the log list for `logs` served at `base_url` (no trailing slash). The file is written
/// next to `path` first and then renamed, so a reader never sees a partial list.
pub fn write_log_list(
    path: &Path,
    logs: &[Arc<LogState>],
    base_url: &str,
    started: OffsetDateTime,
) -> anyhow::Result<()> {
    let list = LogList {
        version: "1.0",
        log_list_timestamp: rfc3339(OffsetDateTime::now_utc())?,
        operators: vec![Operator {
            name: "Test Operator",
            email: vec!["ct-test@example.invalid"],
            logs: listed_logs(logs, base_url, started)?,
            tiled_logs: listed_tiled_logs(logs, base_url, started)?,
        }],
    };
    let json = serde_json::to_vec_pretty(&list).context("failed to serialize the log list")?;

    let mut temporary = path.as_os_str().to_owned();
    temporary.push(".tmp");
    std::fs::write(&temporary, json)
        .with_context(|| format!("failed to write {}", Path::new(&temporary).display()))?;
    std::fs::rename(&temporary, path)
        .with_context(|| format!("failed to write the log list to {}", path.display()))
}

fn listed_logs(
    logs: &[Arc<LogState>],
    base_url: &str,
    started: OffsetDateTime,
) -> anyhow::Result<Vec<ListedLog>> {
    let usable_since = rfc3339(started)?;
    let listed = logs
        .iter()
        .filter(|log| !log.fixture.is_static_ct())
        .map(|log| ListedLog {
            description: log.fixture.description(),
            log_id: BASE64.encode(log.signer().log_id()),
            key: BASE64.encode(log.signer().spki_der()),
            url: format!("{base_url}/{}/", log.fixture.name()),
            mmd: MMD_SECONDS,
            state: LogListState {
                usable: StateSince {
                    timestamp: usable_since.clone(),
                },
            },
            temporal_interval: TemporalInterval {
                start_inclusive: TEMPORAL_START,
                end_exclusive: TEMPORAL_END,
            },
        })
        .collect();
    Ok(listed)
}

/// Lists the Static CT logs, with the same URL as submission and monitoring prefix.
fn listed_tiled_logs(
    logs: &[Arc<LogState>],
    base_url: &str,
    started: OffsetDateTime,
) -> anyhow::Result<Vec<ListedTiledLog>> {
    let usable_since = rfc3339(started)?;
    let listed = logs
        .iter()
        .filter(|log| log.fixture.is_static_ct())
        .map(|log| {
            let url = format!("{base_url}/{}/", log.fixture.name());
            ListedTiledLog {
                description: log.fixture.description(),
                log_id: BASE64.encode(log.signer().log_id()),
                key: BASE64.encode(log.signer().spki_der()),
                submission_url: url.clone(),
                monitoring_url: url,
                mmd: MMD_SECONDS,
                state: LogListState {
                    usable: StateSince {
                        timestamp: usable_since.clone(),
                    },
                },
                temporal_interval: TemporalInterval {
                    start_inclusive: TEMPORAL_START,
                    end_exclusive: TEMPORAL_END,
                },
            }
        })
        .collect();
    Ok(listed)
}

/// Formats `time` as RFC 3339 in UTC with whole seconds, as Google's list does.
fn rfc3339(time: OffsetDateTime) -> anyhow::Result<String> {
    time.to_offset(time::UtcOffset::UTC)
        .replace_nanosecond(0)
        .context("failed to truncate a timestamp to seconds")?
        .format(&Rfc3339)
        .context("failed to format a timestamp as RFC 3339")
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn rfc3339_has_whole_seconds_in_utc() {
        let time = datetime!(2026-05-29 15:42:48.123 +02:00);

        assert_eq!(rfc3339(time).expect("formats"), "2026-05-29T13:42:48Z");
    }
}
