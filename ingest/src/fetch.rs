//! HTTP GET requests to CT logs, shared by the RFC 6962 and Static CT clients: status codes and
//! `Retry-After`, a cap on the body size, and gzip bodies with or without `Content-Encoding`.
//!
//! This module neither parses entries nor verifies signatures; [`FetchError`] carries the
//! failures of those later steps too, so a watcher handles every failure of a request in one place.

use std::io::Read;
use std::time::{Duration, SystemTime};

use reqwest::header::RETRY_AFTER;
use reqwest::StatusCode;

use crate::metrics::ErrorKind;
use crate::static_ct::checkpoint::CheckpointError;

/// First two bytes of a gzip stream (RFC 1952).
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// Errors of a request to a log and of checking what it returned.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("request to {url} timed out")]
    Timeout { url: String },
    #[error("request to {url} failed: {source}")]
    Connection {
        url: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("{url} returned HTTP status {status}")]
    Status {
        url: String,
        status: StatusCode,
        /// The log's `Retry-After`, from seconds or an HTTP date.
        retry_after: Option<Duration>,
    },
    #[error("invalid JSON from {url}: {source}")]
    Decode {
        url: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("truncated or unreadable response from {url}: {source}")]
    Body {
        url: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("response from {url} exceeds the limit of {limit} bytes")]
    TooLarge { url: String, limit: usize },
    #[error("invalid gzip body from {url}: {source}")]
    Gzip {
        url: String,
        #[source]
        source: std::io::Error,
    },
    #[error("invalid checkpoint from {url}: {source}")]
    Checkpoint {
        url: String,
        #[source]
        source: CheckpointError,
    },
    #[error("invalid data tile {url}: {source}")]
    Tile {
        url: String,
        #[source]
        source: certstream_decoder::tile::TileError,
    },
    #[error("data tile {url} has {found} entries, expected {expected}")]
    TileWidth {
        url: String,
        expected: usize,
        found: usize,
    },
    #[error("entry {index} in data tile {url} has leaf_index {found:?}")]
    LeafIndex {
        url: String,
        index: u64,
        found: Option<u64>,
    },
    #[error("issuer certificate {url} does not hash to its fingerprint")]
    IssuerHash { url: String },
    #[error("invalid tree head from {url}: {source}")]
    TreeHead {
        url: String,
        #[source]
        source: crate::tree_head::TreeHeadError,
    },
}

impl FetchError {
    /// Returns the `kind` label of the error counter.
    pub fn kind(&self) -> ErrorKind {
        match self {
            FetchError::Timeout { .. } => ErrorKind::Timeout,
            FetchError::Connection { .. } => ErrorKind::Connection,
            FetchError::Status { status, .. } if *status == StatusCode::TOO_MANY_REQUESTS => {
                ErrorKind::RateLimited
            }
            FetchError::Status { .. } => ErrorKind::HttpStatus,
            FetchError::Decode { .. }
            | FetchError::Body { .. }
            | FetchError::TooLarge { .. }
            | FetchError::Gzip { .. } => ErrorKind::Decode,
            FetchError::Checkpoint { .. } | FetchError::TreeHead { .. } => ErrorKind::Signature,
            FetchError::Tile { .. }
            | FetchError::TileWidth { .. }
            | FetchError::LeafIndex { .. }
            | FetchError::IssuerHash { .. } => ErrorKind::InvalidEntry,
        }
    }

    /// Returns the wait the log requested in a `Retry-After` header.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            FetchError::Status { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// Whether the log returned 404, which for a partial tile means that the full tile replaced
    /// it.
    pub fn is_not_found(&self) -> bool {
        matches!(self, FetchError::Status { status, .. } if *status == StatusCode::NOT_FOUND)
    }
}

/// Sends a GET request and returns the body, at most `limit` bytes after any decompression.
/// A gzip body is decompressed whether or not the log sent `Content-Encoding: gzip`.
pub async fn get_bytes(
    http: &reqwest::Client,
    url: &str,
    limit: usize,
) -> Result<Vec<u8>, FetchError> {
    tracing::debug!(url = %url, "Log request");
    let mut response = match http.get(url).send().await {
        Ok(response) => response,
        Err(source) => return Err(transport_error(url, source)),
    };
    let status = response.status();
    if !status.is_success() {
        return Err(FetchError::Status {
            url: url.to_string(),
            status,
            retry_after: retry_after(response.headers(), SystemTime::now()),
        });
    }
    let too_large = || FetchError::TooLarge {
        url: url.to_string(),
        limit,
    };
    if response
        .content_length()
        .is_some_and(|length| length > limit as u64)
    {
        return Err(too_large());
    }
    let mut body = Vec::new();
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) if body.len() + chunk.len() > limit => return Err(too_large()),
            Ok(Some(chunk)) => body.extend_from_slice(&chunk),
            Ok(None) => break,
            Err(source) => return Err(body_error(url, source)),
        }
    }
    gunzip_if_compressed(body, url, limit)
}

/// Decompresses `body` when it starts with the gzip magic bytes, which no JSON document,
/// checkpoint, DER certificate or data tile does (a tile starts with a millisecond timestamp).
fn gunzip_if_compressed(body: Vec<u8>, url: &str, limit: usize) -> Result<Vec<u8>, FetchError> {
    if !body.starts_with(&GZIP_MAGIC) {
        return Ok(body);
    }
    let mut decompressed = Vec::new();
    let mut decoder = flate2::read::GzDecoder::new(body.as_slice()).take(limit as u64 + 1);
    decoder
        .read_to_end(&mut decompressed)
        .map_err(|source| FetchError::Gzip {
            url: url.to_string(),
            source,
        })?;
    if decompressed.len() > limit {
        return Err(FetchError::TooLarge {
            url: url.to_string(),
            limit,
        });
    }
    Ok(decompressed)
}

/// Parses `Retry-After` as delay seconds or as an HTTP date (RFC 9110), relative to `now`. A
/// date in the past gives a zero delay.
pub fn retry_after(headers: &reqwest::header::HeaderMap, now: SystemTime) -> Option<Duration> {
    let text = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(seconds) = text.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let date = httpdate::parse_http_date(text).ok()?;
    Some(date.duration_since(now).unwrap_or(Duration::ZERO))
}

fn transport_error(url: &str, source: reqwest::Error) -> FetchError {
    let url = url.to_string();
    if source.is_timeout() {
        FetchError::Timeout { url }
    } else {
        FetchError::Connection { url, source }
    }
}

fn body_error(url: &str, source: reqwest::Error) -> FetchError {
    let url = url.to_string();
    if source.is_timeout() {
        FetchError::Timeout { url }
    } else {
        FetchError::Body { url, source }
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use reqwest::header::{HeaderMap, HeaderValue};

    use super::*;

    fn headers(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(RETRY_AFTER, HeaderValue::from_str(value).unwrap());
        headers
    }

    fn gzip(bytes: &[u8]) -> Vec<u8> {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        encoder.write_all(bytes).unwrap();
        encoder.finish().unwrap()
    }

    #[test]
    fn retry_after_seconds_and_date() {
        let now = httpdate::parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT").unwrap();

        assert_eq!(
            retry_after(&headers("120"), now),
            Some(Duration::from_secs(120))
        );
        assert_eq!(
            retry_after(&headers("Sun, 06 Nov 1994 08:49:40 GMT"), now),
            Some(Duration::from_secs(3))
        );
        assert_eq!(
            retry_after(&headers("Sun, 06 Nov 1994 08:00:00 GMT"), now),
            Some(Duration::ZERO)
        );
        assert_eq!(retry_after(&headers("soon"), now), None);
        assert_eq!(retry_after(&HeaderMap::new(), now), None);
    }

    #[test]
    fn gzip_body_is_decompressed() {
        let body = gzip(b"tile bytes");

        let plain = gunzip_if_compressed(body, "http://log.test/t", 100).unwrap();

        assert_eq!(plain, b"tile bytes");
    }

    #[test]
    fn plain_body_is_unchanged() {
        let plain = gunzip_if_compressed(b"{}".to_vec(), "http://log.test/t", 100).unwrap();

        assert_eq!(plain, b"{}");
    }

    #[test]
    fn gzip_bomb_is_rejected() {
        let body = gzip(&vec![0u8; 10_000]);

        let error = gunzip_if_compressed(body, "http://log.test/t", 1000).unwrap_err();

        assert!(
            matches!(error, FetchError::TooLarge { limit: 1000, .. }),
            "{error}"
        );
    }

    #[test]
    fn truncated_gzip_is_an_error() {
        let mut body = gzip(&[7u8; 500]);
        body.truncate(body.len() / 2);

        let error = gunzip_if_compressed(body, "http://log.test/t", 1000).unwrap_err();

        assert!(matches!(error, FetchError::Gzip { .. }), "{error}");
    }
}
