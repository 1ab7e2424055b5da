//! The RFC 6962 HTTP API of each fake log: `get-sth`, `get-entries` and `get-roots` under the
//! log's path prefix (`/<name>/ct/v1/...`).
//!
//! Proof endpoints (`get-sth-consistency`, `get-proof-by-hash`) and submission are not served,
//! so they return 404.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use serde::Serialize;
use serde_json::json;

use super::entries::ServedEntry;
use super::static_http;
use super::tree::LogState;

/// Builds the router that serves every log under `/<name>/`: RFC 6962 logs with the routes of
/// this module and Static CT logs with those of [`static_http`]. `origin_base` is the server
/// address without scheme (`127.0.0.1:PORT`), the start of every checkpoint origin.
pub fn router(
    logs: &[Arc<LogState>],
    page_size: usize,
    partial_tiles: bool,
    origin_base: &str,
) -> Router {
    logs.iter().fold(Router::new(), |router, log| {
        let prefix = format!("/{}", log.fixture.name());
        if log.fixture.is_static_ct() {
            let origin = format!("{origin_base}{prefix}");
            return router.nest(
                &prefix,
                static_http::routes(log.clone(), origin, partial_tiles),
            );
        }
        let state = LogRoute {
            log: log.clone(),
            page_size,
        };
        let routes = Router::new()
            .route("/ct/v1/get-sth", get(get_sth))
            .route("/ct/v1/get-entries", get(get_entries))
            .route("/ct/v1/get-roots", get(get_roots))
            .with_state(state);
        router.nest(&prefix, routes)
    })
}

#[derive(Clone)]
struct LogRoute {
    log: Arc<LogState>,
    page_size: usize,
}

#[derive(Serialize)]
struct SthResponse {
    tree_size: u64,
    timestamp: u64,
    sha256_root_hash: String,
    tree_head_signature: String,
}

#[derive(Serialize)]
struct EntriesResponse<'a> {
    entries: &'a [ServedEntry],
}

/// Rejected `get-entries` request, returned as 400 with a JSON body `{"error": "..."}`.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
enum EntriesError {
    #[error("missing query parameter {0}")]
    MissingParameter(&'static str),
    #[error("invalid query parameter {name}={value}: expected a non-negative integer")]
    InvalidParameter { name: &'static str, value: String },
    #[error("start {start} is greater than end {end}")]
    StartAfterEnd { start: u64, end: u64 },
    #[error("start {start} is beyond the tree of size {tree_size}")]
    StartBeyondTree { start: u64, tree_size: u64 },
}

impl IntoResponse for EntriesError {
    fn into_response(self) -> Response {
        let body = Json(json!({ "error": self.to_string() }));
        (StatusCode::BAD_REQUEST, body).into_response()
    }
}

async fn get_sth(State(route): State<LogRoute>) -> Json<SthResponse> {
    let head = route.log.head();
    Json(SthResponse {
        tree_size: head.tree_size,
        timestamp: head.timestamp_ms,
        sha256_root_hash: BASE64.encode(head.root_hash),
        tree_head_signature: BASE64.encode(&head.signature),
    })
}

async fn get_entries(
    State(route): State<LogRoute>,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    let tree_size = route.log.head().tree_size;
    match entries_range(&params, tree_size, route.page_size) {
        Ok((start, end)) => {
            tracing::debug!(
                log = route.log.fixture.name(),
                start,
                end,
                "Serving get-entries"
            );
            let entries = route.log.entries(start, end);
            Json(EntriesResponse { entries }).into_response()
        }
        Err(error) => {
            tracing::debug!(log = route.log.fixture.name(), error = %error, "Rejected get-entries");
            error.into_response()
        }
    }
}

async fn get_roots() -> Json<serde_json::Value> {
    Json(json!({ "certificates": [] }))
}

/// Returns the inclusive index range to serve: `start..=end` with `end` clipped to the tree and
/// to `page_size` entries.
fn entries_range(
    params: &HashMap<String, String>,
    tree_size: u64,
    page_size: usize,
) -> Result<(u64, u64), EntriesError> {
    let start = index_parameter(params, "start")?;
    let end = index_parameter(params, "end")?;
    if start > end {
        return Err(EntriesError::StartAfterEnd { start, end });
    }
    if start >= tree_size {
        return Err(EntriesError::StartBeyondTree { start, tree_size });
    }
    let last_in_page = start.saturating_add(page_size as u64 - 1);
    Ok((start, end.min(tree_size - 1).min(last_in_page)))
}

fn index_parameter(
    params: &HashMap<String, String>,
    name: &'static str,
) -> Result<u64, EntriesError> {
    let value = params
        .get(name)
        .ok_or(EntriesError::MissingParameter(name))?;
    value.parse().map_err(|_| EntriesError::InvalidParameter {
        name,
        value: value.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(key, value)| (key.to_string(), value.to_string()))
            .collect()
    }

    #[test]
    fn range_is_clipped_to_tree_and_page() {
        let cases = [
            (("0", "0"), 20, 256, (0, 0)),
            (("0", "19"), 20, 256, (0, 19)),
            (("5", "100"), 20, 256, (5, 19)),
            (("0", "1023"), 1024, 256, (0, 255)),
            (("1000", "5000"), 1024, 256, (1000, 1023)),
            (("10", "30"), 1024, 7, (10, 16)),
            (("3", "18446744073709551615"), 20, 1, (3, 3)),
        ];
        for ((start, end), tree_size, page_size, expected) in cases {
            let range = entries_range(
                &params(&[("start", start), ("end", end)]),
                tree_size,
                page_size,
            );
            assert_eq!(range, Ok(expected), "start={start} end={end}");
        }
    }

    #[test]
    fn invalid_ranges_are_rejected() {
        let cases = [
            (
                params(&[("end", "5")]),
                EntriesError::MissingParameter("start"),
            ),
            (
                params(&[("start", "5")]),
                EntriesError::MissingParameter("end"),
            ),
            (
                params(&[("start", "-1"), ("end", "5")]),
                EntriesError::InvalidParameter {
                    name: "start",
                    value: "-1".to_string(),
                },
            ),
            (
                params(&[("start", "0"), ("end", "x")]),
                EntriesError::InvalidParameter {
                    name: "end",
                    value: "x".to_string(),
                },
            ),
            (
                params(&[("start", "6"), ("end", "5")]),
                EntriesError::StartAfterEnd { start: 6, end: 5 },
            ),
            (
                params(&[("start", "20"), ("end", "25")]),
                EntriesError::StartBeyondTree {
                    start: 20,
                    tree_size: 20,
                },
            ),
        ];
        for (query, expected) in cases {
            assert_eq!(entries_range(&query, 20, 256), Err(expected.clone()));
        }
    }
}
