//! The Static CT API (c2sp.org/static-ct-api) of a fake log under its path prefix:
//! `checkpoint`, `tile/data/<N>[.p/<W>]` and `issuer/<hex>`.
//!
//! The checkpoint carries an RFC6962NoteSignature made with the log's P-256 key. Data tiles
//! are cut from the fixture's TileLeaf bytes at the current tree size. They use the three
//! encodings a real log may use: full tiles with an even index are gzip with
//! `Content-Encoding: gzip`, full tiles with an odd index are gzip without that header, and
//! partial tiles are not compressed. Hash tiles are not served.

use std::io::Write;
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;

use super::signer::note_key_id;
use super::tree::{LogState, SignedTreeHead};

/// Entries in a full data tile.
const TILE_WIDTH: u64 = 256;

#[derive(Clone)]
struct StaticRoute {
    log: Arc<LogState>,
    /// Checkpoint origin: the submission prefix without scheme and trailing `/`.
    origin: String,
    partial_tiles: bool,
}

/// Builds the routes of one Static CT log, to be nested under its prefix.
pub fn routes(log: Arc<LogState>, origin: String, partial_tiles: bool) -> Router {
    let state = StaticRoute {
        log,
        origin,
        partial_tiles,
    };
    Router::new()
        .route("/checkpoint", get(checkpoint))
        .route("/tile/data/{*path}", get(data_tile))
        .route("/issuer/{fingerprint}", get(issuer))
        .with_state(state)
}

async fn checkpoint(State(route): State<StaticRoute>) -> Response {
    let head = route.log.head();
    let log_id = route.log.signer().log_id();
    let text = checkpoint_text(&route.origin, &head, &note_key_id(&route.origin, &log_id));
    ([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], text).into_response()
}

/// Formats a checkpoint note signed by the tree head's signature: the note body is the
/// TreeHeadSignature timestamp followed by its DigitallySigned bytes.
pub fn checkpoint_text(origin: &str, head: &SignedTreeHead, key_id: &[u8; 4]) -> String {
    let mut signature = key_id.to_vec();
    signature.extend_from_slice(&head.timestamp_ms.to_be_bytes());
    signature.extend_from_slice(&head.signature);
    format!(
        "{origin}\n{}\n{}\n\n\u{2014} {origin} {}\n",
        head.tree_size,
        BASE64.encode(head.root_hash),
        BASE64.encode(signature)
    )
}

async fn data_tile(State(route): State<StaticRoute>, Path(path): Path<String>) -> Response {
    let Some((index, width)) = parse_tile_path(&path) else {
        return not_found();
    };
    let tree_size = route.log.head().tree_size;
    let start = index * TILE_WIDTH;
    let full_available = start + TILE_WIDTH <= tree_size;
    let end = match width {
        None if full_available => start + TILE_WIDTH,
        Some(width) if route.partial_tiles && !full_available && start + width <= tree_size => {
            start + width
        }
        _ => return not_found(),
    };
    let Some(leaves) = route.log.tile_leaves(start, end) else {
        return not_found();
    };
    let body = leaves.concat();
    match width {
        Some(_) => octet_stream(body, false),
        None if index % 2 == 0 => octet_stream(gzip(&body), true),
        None => octet_stream(gzip(&body), false),
    }
}

async fn issuer(State(route): State<StaticRoute>, Path(fingerprint): Path<String>) -> Response {
    let hash = hex::decode(&fingerprint)
        .ok()
        .and_then(|bytes| <[u8; 32]>::try_from(bytes).ok());
    match hash.and_then(|hash| route.log.issuer(&hash)) {
        Some(der) => (
            [(header::CONTENT_TYPE, "application/pkix-cert")],
            der.to_vec(),
        )
            .into_response(),
        None => not_found(),
    }
}

/// Parses `<N>` or `<N>.p/<W>` with N in 3-digit groups (`x001/x234/067`). Returns the tile
/// index and the partial width, and `None` for any other path.
pub fn parse_tile_path(path: &str) -> Option<(u64, Option<u64>)> {
    let (index_path, width) = match path.split_once(".p/") {
        Some((index_path, width_text)) => {
            let width: u64 = width_text.parse().ok()?;
            if !(1..TILE_WIDTH).contains(&width) || width.to_string() != width_text {
                return None;
            }
            (index_path, Some(width))
        }
        None => (path, None),
    };
    let groups: Vec<&str> = index_path.split('/').collect();
    let last = groups.len() - 1;
    let mut index = 0u64;
    for (position, group) in groups.iter().enumerate() {
        let digits = if position == last {
            *group
        } else {
            group.strip_prefix('x')?
        };
        if digits.len() != 3 || !digits.bytes().all(|byte| byte.is_ascii_digit()) {
            return None;
        }
        index = index.checked_mul(1000)?.checked_add(digits.parse().ok()?)?;
    }
    Some((index, width))
}

fn octet_stream(body: Vec<u8>, content_encoding_gzip: bool) -> Response {
    let mut response = ([(header::CONTENT_TYPE, "application/octet-stream")], body).into_response();
    if content_encoding_gzip {
        response.headers_mut().insert(
            header::CONTENT_ENCODING,
            header::HeaderValue::from_static("gzip"),
        );
    }
    response
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    // Writing to a Vec cannot fail.
    let _ = encoder.write_all(bytes);
    encoder.finish().unwrap_or_default()
}

fn not_found() -> Response {
    (StatusCode::NOT_FOUND, "not found").into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tile_paths_parse() {
        let cases = [
            ("000", Some((0, None))),
            ("003.p/10", Some((3, Some(10)))),
            ("x001/x234/067", Some((1_234_067, None))),
            ("x001/000.p/255", Some((1000, Some(255)))),
            ("3", None),
            ("003.p/0", None),
            ("003.p/256", None),
            ("003.p/010", None),
            ("001/000", None),
            ("x001", None),
        ];
        for (path, expected) in cases {
            assert_eq!(parse_tile_path(path), expected, "{path}");
        }
    }
}
