//! A minimal RFC 6962 log on 127.0.0.1 for the watcher tests: it serves `get-sth` and
//! `get-entries` over HTTP/1.1 with one request per connection, caps pages, grows on request and
//! can fail the next requests on purpose.
//!
//! Entry `i` has `leaf_input` `leaf-i` and `extra_data` `extra-i`; ingest passes both through
//! unchanged, so the tests compare them as plain strings.

#![allow(dead_code)]

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, OnceLock};

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use ring::rand::SystemRandom;
use ring::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_ASN1_SIGNING};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

use certstream_ingest::static_ct::checkpoint::tree_head_signature_input;
use certstream_ingest::tree_head::{ECDSA, P256_SPKI_PREFIX, SHA256};
use certstream_shared::bus::{MemoryBus, RawConsumer};
use certstream_shared::raw::RawBatch;
use certstream_shared::Bus;

/// Maximum size of a request head the fake log reads.
const MAX_REQUEST_BYTES: usize = 8 * 1024;

/// The key every fake log of this process signs its tree heads with.
fn signing_key() -> &'static EcdsaKeyPair {
    static KEY: OnceLock<EcdsaKeyPair> = OnceLock::new();
    KEY.get_or_init(|| {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &rng)
            .expect("P-256 key generation");
        EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8.as_ref(), &rng)
            .expect("generated P-256 key")
    })
}

/// Base64 DER SubjectPublicKeyInfo of the fake logs' key, as a log list's `key` field.
pub fn log_key_base64() -> String {
    let mut spki = P256_SPKI_PREFIX.to_vec();
    spki.extend_from_slice(signing_key().public_key().as_ref());
    BASE64.encode(spki)
}

/// `get-sth` body for `tree_size`, signed with [`signing_key`] over an all-zero root hash
/// (ingest verifies the signature, not the root against the entries).
fn signed_tree_head(tree_size: u64) -> String {
    let timestamp: u64 = 1_700_000_000_000;
    let root = [0u8; 32];
    let message = tree_head_signature_input(timestamp, tree_size, &root);
    let signature = signing_key()
        .sign(&SystemRandom::new(), &message)
        .expect("signing a tree head");
    let mut digitally_signed = vec![SHA256, ECDSA];
    digitally_signed.extend_from_slice(&(signature.as_ref().len() as u16).to_be_bytes());
    digitally_signed.extend_from_slice(signature.as_ref());
    format!(
        r#"{{"tree_size":{tree_size},"timestamp":{timestamp},"sha256_root_hash":"{}","tree_head_signature":"{}"}}"#,
        BASE64.encode(root),
        BASE64.encode(digitally_signed)
    )
}

/// A failure the fake log returns for one upcoming request, whatever its endpoint.
#[derive(Debug, Clone, Copy)]
pub enum Failure {
    /// Respond with this HTTP status and an HTML body.
    Status(u16),
    /// Wait this long before responding normally, so the client times out first.
    Delay(Duration),
    /// Respond 200 with a body that is not JSON.
    Html,
    /// Respond to the next `get-entries` with an empty page. Requests to `get-sth` leave it
    /// queued.
    EmptyPage,
    /// Respond 429 with this `Retry-After` header value.
    RateLimited(&'static str),
    /// Respond to the next `get-entries` with this status, as a log whose `get-entries` lags
    /// behind its `get-sth` returns 400 for entries at the tip. Requests to `get-sth` leave it
    /// queued.
    EntriesStatus(u16),
    /// Respond to the next `get-entries` with half of its body and close the connection, while
    /// `Content-Length` announces the whole body.
    Truncated,
    /// Respond to the next `get-entries` with half of its body, wait this long, then send the
    /// rest, so the client times out while reading the body.
    SlowBody(Duration),
}

impl Failure {
    /// Whether the failure waits for a `get-entries` request.
    fn is_entries_only(&self) -> bool {
        matches!(
            self,
            Failure::EmptyPage
                | Failure::EntriesStatus(_)
                | Failure::Truncated
                | Failure::SlowBody(_)
        )
    }
}

#[derive(Debug, Default)]
struct LogState {
    tree_size: u64,
    /// Tree sizes the next `get-sth` requests report instead of `tree_size`.
    reported_sizes: VecDeque<u64>,
    page_cap: u64,
    failures: VecDeque<Failure>,
    /// Every request target with its arrival time, in arrival order.
    requests: Vec<(String, Instant)>,
    /// Extra files served by path, such as a log list.
    files: Vec<(String, String)>,
}

/// A fake log listening on 127.0.0.1; the listener stops when this is dropped.
pub struct FakeLog {
    addr: SocketAddr,
    state: Arc<Mutex<LogState>>,
    task: JoinHandle<()>,
}

impl FakeLog {
    /// Starts a log with `tree_size` entries whose `get-entries` pages hold at most `page_cap`.
    pub async fn start(tree_size: u64, page_cap: u64) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(Mutex::new(LogState {
            tree_size,
            page_cap,
            ..LogState::default()
        }));
        let task = tokio::spawn(accept_loop(listener, Arc::clone(&state)));
        FakeLog { addr, state, task }
    }

    /// Returns the log URL as a log list would give it, with a trailing `/`.
    pub fn url(&self, log_path: &str) -> String {
        format!("http://{}/{log_path}/", self.addr)
    }

    pub fn file_url(&self, path: &str) -> String {
        format!("http://{}/{path}", self.addr)
    }

    pub fn grow_to(&self, tree_size: u64) {
        self.state.lock().unwrap().tree_size = tree_size;
    }

    /// Makes the next `get-sth` requests report these sizes, one each, before the real size.
    pub fn report_sizes(&self, sizes: &[u64]) {
        self.state
            .lock()
            .unwrap()
            .reported_sizes
            .extend(sizes.iter().copied());
    }

    pub fn fail_next(&self, failures: &[Failure]) {
        self.state
            .lock()
            .unwrap()
            .failures
            .extend(failures.iter().copied());
    }

    pub fn serve_file(&self, path: &str, body: String) {
        self.state
            .lock()
            .unwrap()
            .files
            .push((format!("/{path}"), body));
    }

    pub fn requests(&self) -> Vec<String> {
        let state = self.state.lock().unwrap();
        state
            .requests
            .iter()
            .map(|(target, _)| target.clone())
            .collect()
    }

    /// Returns the arrival times of the requests whose target contains `pattern`.
    pub fn request_times(&self, pattern: &str) -> Vec<Instant> {
        let state = self.state.lock().unwrap();
        state
            .requests
            .iter()
            .filter(|(target, _)| target.contains(pattern))
            .map(|(_, time)| *time)
            .collect()
    }

    pub fn pending_failures(&self) -> usize {
        self.state.lock().unwrap().failures.len()
    }
}

impl Drop for FakeLog {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn accept_loop(listener: TcpListener, state: Arc<Mutex<LogState>>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            return;
        };
        tokio::spawn(serve_connection(stream, Arc::clone(&state)));
    }
}

async fn serve_connection(mut stream: TcpStream, state: Arc<Mutex<LogState>>) {
    let Some(target) = read_request_target(&mut stream).await else {
        return;
    };
    let (failure, response) = {
        let mut state = state.lock().unwrap();
        state.requests.push((target.clone(), Instant::now()));
        let failure = next_failure(&mut state, &target);
        let response = respond(&mut state, &target, failure.as_ref());
        (failure, response)
    };
    let bytes = response.as_bytes();
    let half = bytes.len() - body_length(&response) / 2;
    match failure {
        Some(Failure::Delay(delay)) => {
            tokio::time::sleep(delay).await;
            let _ = stream.write_all(bytes).await;
        }
        Some(Failure::Truncated) => {
            let _ = stream.write_all(&bytes[..half]).await;
        }
        Some(Failure::SlowBody(delay)) => {
            let _ = stream.write_all(&bytes[..half]).await;
            let _ = stream.flush().await;
            tokio::time::sleep(delay).await;
            let _ = stream.write_all(&bytes[half..]).await;
        }
        _ => {
            let _ = stream.write_all(bytes).await;
        }
    }
    let _ = stream.shutdown().await;
}

/// Returns the length of the body of a response built by `http_response`.
fn body_length(response: &str) -> usize {
    response
        .split_once("\r\n\r\n")
        .map_or(0, |(_, body)| body.len())
}

/// Takes the next failure if it applies to `target`: failures of `get-entries` responses wait
/// for a `get-entries` request.
fn next_failure(state: &mut LogState, target: &str) -> Option<Failure> {
    let is_entries = target.contains("/ct/v1/get-entries");
    if state.failures.front()?.is_entries_only() && !is_entries {
        return None;
    }
    state.failures.pop_front()
}

/// Reads the request head and returns the request target, such as `/log/ct/v1/get-sth`.
async fn read_request_target(stream: &mut TcpStream) -> Option<String> {
    let mut head = Vec::new();
    let mut buffer = [0u8; 1024];
    while !head.windows(4).any(|window| window == b"\r\n\r\n") {
        let read = stream.read(&mut buffer).await.ok()?;
        if read == 0 || head.len() > MAX_REQUEST_BYTES {
            return None;
        }
        head.extend_from_slice(&buffer[..read]);
    }
    let head = String::from_utf8_lossy(&head);
    let mut parts = head.lines().next()?.split_whitespace();
    let _method = parts.next()?;
    parts.next().map(str::to_string)
}

fn respond(state: &mut LogState, target: &str, failure: Option<&Failure>) -> String {
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    match failure {
        Some(Failure::Status(status)) => {
            return http_response(*status, "text/html", "<html>unavailable</html>")
        }
        Some(Failure::Html) => return http_response(200, "text/html", "<html>hello</html>"),
        Some(Failure::RateLimited(retry_after)) => {
            return format!(
                "HTTP/1.1 429 X\r\nRetry-After: {retry_after}\r\nContent-Length: 4\r\nConnection: close\r\n\r\nslow"
            )
        }
        Some(Failure::EntriesStatus(status)) => {
            return http_response(*status, "application/json", r#"{"error":"not yet"}"#)
        }
        Some(Failure::EmptyPage) if path.ends_with("/ct/v1/get-entries") => {
            return http_response(200, "application/json", r#"{"entries":[]}"#)
        }
        _ => {}
    }
    if let Some((_, body)) = state.files.iter().find(|(file, _)| file == path) {
        return http_response(200, "application/json", body);
    }
    if path.ends_with("/ct/v1/get-sth") {
        let size = state.reported_sizes.pop_front().unwrap_or(state.tree_size);
        return http_response(200, "application/json", &signed_tree_head(size));
    }
    if path.ends_with("/ct/v1/get-entries") {
        return entries_response(state, query);
    }
    http_response(404, "text/plain", "not found")
}

fn entries_response(state: &LogState, query: &str) -> String {
    let parameter = |name: &str| {
        query
            .split('&')
            .find_map(|pair| pair.strip_prefix(name)?.strip_prefix('='))
            .and_then(|value| value.parse::<u64>().ok())
    };
    let (Some(start), Some(end)) = (parameter("start"), parameter("end")) else {
        return http_response(400, "text/plain", "missing start or end");
    };
    if start > end || start >= state.tree_size {
        return http_response(400, "text/plain", "bad range");
    }
    let last = end.min(state.tree_size - 1).min(start + state.page_cap - 1);
    let entries: Vec<String> = (start..=last)
        .map(|index| format!(r#"{{"leaf_input":"leaf-{index}","extra_data":"extra-{index}"}}"#))
        .collect();
    let body = format!(r#"{{"entries":[{}]}}"#, entries.join(","));
    http_response(200, "application/json", &body)
}

fn http_response(status: u16, content_type: &str, body: &str) -> String {
    format!(
        "HTTP/1.1 {status} X\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
}

/// Creates an in-process bus and its consumer, to read what a watcher published.
pub async fn memory_bus() -> (Bus, RawConsumer) {
    let bus = Bus::Memory(MemoryBus::new(16));
    let consumer = bus.raw_consumer().await.unwrap();
    (bus, consumer)
}

/// Waits up to `limit` for the next published batch.
pub async fn next_batch(consumer: &mut RawConsumer, limit: Duration) -> Option<RawBatch> {
    let delivery = tokio::time::timeout(limit, consumer.next()).await.ok()??;
    Some(delivery.unwrap().batch().unwrap())
}

/// Reads batches until one ends at `last_index` and returns them all, failing after `limit`.
pub async fn batches_through(
    consumer: &mut RawConsumer,
    last_index: u64,
    limit: Duration,
) -> Vec<RawBatch> {
    let mut batches = Vec::new();
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        let remaining = deadline.saturating_duration_since(tokio::time::Instant::now());
        let Some(batch) = next_batch(consumer, remaining).await else {
            panic!(
                "no batch ending at index {last_index} within {limit:?}, received {:?}",
                indices(&batches)
            );
        };
        let done = batch.last_index() >= Some(last_index);
        batches.push(batch);
        if done {
            return batches;
        }
    }
}

/// Indices of all entries of `batches`, in order.
pub fn indices(batches: &[RawBatch]) -> Vec<u64> {
    batches
        .iter()
        .flat_map(|batch| batch.entries.iter().map(|entry| entry.index))
        .collect()
}
