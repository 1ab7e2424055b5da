//! Real components for the end-to-end tests: a nats-server process, the three certstream
//! binaries as processes, a plain WebSocket client and the certstream Python client.
//!
//! Every wait is bounded; every process started here is killed by PID when its handle drops.

#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use certstream_shared::bus::RawConsumer;
use certstream_tests::fake_log::{FakeLog, FakeLogConfig, Growth};
use futures::StreamExt;
use serde_json::Value;
use tokio_tungstenite::tungstenite::Message;

/// Environment variable with the nats-server binary; `scripts/test.sh` sets it.
const NATS_SERVER_ENV: &str = "CERTSTREAM_TEST_NATS_SERVER";

/// Environment variable with a Python that has the `certstream` package; `scripts/test.sh` sets it.
const PYTHON_ENV: &str = "CERTSTREAM_TEST_PYTHON";

/// Returns the path of a workspace binary built next to this test executable.
pub fn binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    // The test runs from target/<profile>/deps; binaries sit in target/<profile>.
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("target directory");
    let path = dir.join(name);
    assert!(
        path.is_file(),
        "{} is missing: build the binaries first with `cargo build --workspace --bins` \
         (scripts/test.sh does)",
        path.display()
    );
    path
}

// === Child processes ===

/// A child process whose stderr lines are kept for assertions and printed when the test fails.
pub struct Service {
    name: String,
    child: Child,
    lines: Arc<Mutex<Vec<String>>>,
}

impl Service {
    /// Starts `program` with `args` and extra environment variables; no CERTSTREAM_* variable of
    /// the test's own environment is inherited.
    pub fn spawn(name: &str, program: &Path, args: &[&str], env: &[(&str, &str)]) -> Service {
        let mut command = Command::new(program);
        command
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (key, _) in std::env::vars() {
            if key.starts_with("CERTSTREAM_") {
                command.env_remove(key);
            }
        }
        command.envs(env.iter().copied());
        let mut child = command
            .spawn()
            .unwrap_or_else(|err| panic!("cannot start {name} ({}): {err}", program.display()));
        let lines = Arc::new(Mutex::new(Vec::new()));
        for stream in [
            child
                .stdout
                .take()
                .map(|s| Box::new(s) as Box<dyn std::io::Read + Send>),
            child
                .stderr
                .take()
                .map(|s| Box::new(s) as Box<dyn std::io::Read + Send>),
        ]
        .into_iter()
        .flatten()
        {
            let lines = lines.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    lines.lock().expect("log lines lock").push(line);
                }
            });
        }
        Service {
            name: name.to_string(),
            child,
            lines,
        }
    }

    /// Waits until an output line contains `needle` and returns that line.
    pub fn wait_for_line(&mut self, needle: &str, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(line) = self
                .lines
                .lock()
                .expect("log lines lock")
                .iter()
                .find(|line| line.contains(needle))
            {
                return line.clone();
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "{} exited with {status} before printing {needle:?}:\n{}",
                    self.name,
                    self.output()
                );
            }
            assert!(
                Instant::now() < deadline,
                "{} did not print {needle:?} within {timeout:?}:\n{}",
                self.name,
                self.output()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Waits for the "Gateway listening" line and returns the bound address.
    pub fn listening_address(&mut self) -> String {
        let line = self.wait_for_line("Gateway listening", Duration::from_secs(30));
        let start = line
            .find("addr=")
            .expect("addr field in the listening line")
            + "addr=".len();
        line[start..]
            .split_whitespace()
            .next()
            .expect("address after addr=")
            .to_string()
    }

    pub fn output(&self) -> String {
        self.lines.lock().expect("log lines lock").join("\n")
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Returns whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Sends SIGTERM and waits up to `timeout` for the process to exit; returns whether it did.
    pub fn terminate(&mut self, timeout: Duration) -> bool {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        false
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!(
                "--- output of {} ---\n{}\n--- end of {} ---",
                self.name,
                self.output(),
                self.name
            );
        }
    }
}

// === nats-server ===

/// A nats-server with JetStream on a random loopback port and its own storage directory.
pub struct NatsServer {
    pub url: String,
    program: PathBuf,
    service: Option<Service>,
    dir: tempfile::TempDir,
}

impl NatsServer {
    pub fn start() -> NatsServer {
        let program = match std::env::var_os(NATS_SERVER_ENV) {
            Some(path) => PathBuf::from(path),
            None => which("nats-server").unwrap_or_else(|| {
                panic!(
                    "nats-server not found: run scripts/test.sh, which installs it, or set \
                     {NATS_SERVER_ENV} to a nats-server binary"
                )
            }),
        };
        let dir = tempfile::tempdir().expect("temporary directory");
        let (service, url) = spawn_nats(&program, dir.path(), "-1");
        NatsServer {
            url,
            program,
            service: Some(service),
            dir,
        }
    }

    /// Kills the server (SIGKILL) and leaves it down.
    pub fn kill(&mut self) {
        self.service.take();
    }

    /// Starts the server again on the same port with the same storage.
    pub fn start_again(&mut self) {
        assert!(self.service.is_none(), "nats-server is still running");
        let port = self
            .url
            .rsplit(':')
            .next()
            .expect("port in the NATS URL")
            .to_string();
        let ports = self.dir.path().join("ports");
        let _ = std::fs::remove_dir_all(&ports);
        let (service, url) = spawn_nats(&self.program, self.dir.path(), &port);
        assert_eq!(url, self.url, "nats-server came back on the same address");
        self.service = Some(service);
    }
}

/// Starts nats-server with JetStream storage under `dir` and returns it with its client URL.
fn spawn_nats(program: &Path, dir: &Path, port: &str) -> (Service, String) {
    let store = dir.join("jetstream");
    let ports = dir.join("ports");
    std::fs::create_dir_all(&ports).expect("ports directory");
    let service = Service::spawn(
        "nats-server",
        program,
        &[
            "--jetstream",
            "--addr",
            "127.0.0.1",
            "--port",
            port,
            "--http_port",
            "0",
            "--store_dir",
            store.to_str().expect("UTF-8 path"),
            "--ports_file_dir",
            ports.to_str().expect("UTF-8 path"),
        ],
        &[],
    );
    let url = read_ports_file(&ports, Duration::from_secs(20));
    (service, url)
}

fn read_ports_file(dir: &Path, timeout: Duration) -> String {
    let deadline = Instant::now() + timeout;
    loop {
        let entries = std::fs::read_dir(dir).expect("ports directory");
        for entry in entries.flatten() {
            if let Ok(text) = std::fs::read_to_string(entry.path()) {
                if let Ok(ports) = serde_json::from_str::<Value>(&text) {
                    if let Some(url) = ports["nats"][0].as_str() {
                        return url.to_string();
                    }
                }
            }
        }
        assert!(
            Instant::now() < deadline,
            "nats-server wrote no ports file within {timeout:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn which(program: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(program))
            .find(|path| path.is_file())
    })
}

// === Fake CT log and raw stream ===

/// Starts the fake log paused with both fixture logs (growing by 64 entries per 100 ms once
/// started, pages of 100), so no entry is served before the clients are connected, and writes
/// its log list into `dir`. Returns the log and the list's path.
pub async fn start_paused_fake_log(dir: &Path) -> (FakeLog, String) {
    let growth = Growth {
        initial_size: 0,
        step: 64,
        interval: Duration::from_millis(100),
    };
    let config = FakeLogConfig {
        page_size: 100,
        ..FakeLogConfig::with_growth(growth)
    };
    let fake = FakeLog::start_paused(config)
        .await
        .expect("fake CT log starts");
    let list = write_log_list(&fake, dir);
    (fake, list)
}

/// Starts the fake log growing at once with `growth` and pages of `page_size`, and writes its
/// log list into `dir`. Returns the log and the list's path.
pub async fn start_growing_fake_log(
    dir: &Path,
    growth: Growth,
    page_size: usize,
) -> (FakeLog, String) {
    let config = FakeLogConfig {
        page_size,
        ..FakeLogConfig::with_growth(growth)
    };
    let fake = FakeLog::start(config).await.expect("fake CT log starts");
    let list = write_log_list(&fake, dir);
    (fake, list)
}

fn write_log_list(fake: &FakeLog, dir: &Path) -> String {
    let list = dir.join("log_list.json");
    fake.write_log_list(&list).expect("log list written");
    list.to_str().expect("UTF-8 path").to_string()
}

/// Reads raw batches for up to `limit`, adds each entry to `seen` keyed by log and index, and
/// acknowledges every batch.
pub async fn drain_raw(
    consumer: &mut RawConsumer,
    seen: &mut BTreeMap<(String, u64), usize>,
    limit: Duration,
) {
    let deadline = tokio::time::Instant::now() + limit;
    while let Ok(Some(delivery)) = tokio::time::timeout_at(deadline, consumer.next()).await {
        let delivery = delivery.expect("raw delivery");
        let batch = delivery.batch().expect("raw batch is JSON");
        for entry in &batch.entries {
            *seen.entry((batch.log.id.clone(), entry.index)).or_default() += 1;
        }
        delivery.ack().await.expect("ack");
    }
}

// === Clients ===

/// What a client received: every certificate or domains message, in arrival order.
#[derive(Debug, Default)]
pub struct Received {
    pub messages: Vec<Value>,
    pub heartbeats: usize,
}

/// Connects a plain WebSocket client and records messages until `count` non-heartbeat messages
/// arrived or `timeout` passed. Panics on a Binary frame or on text that is not JSON.
pub async fn collect_websocket(
    url: String,
    count: usize,
    timeout: Duration,
) -> tokio::task::JoinHandle<Received> {
    let (mut socket, _) = tokio::time::timeout(
        Duration::from_secs(10),
        tokio_tungstenite::connect_async(url.as_str()),
    )
    .await
    .unwrap_or_else(|_| panic!("connecting to {url} timed out"))
    .unwrap_or_else(|err| panic!("connecting to {url} failed: {err}"));
    tokio::spawn(async move {
        let mut received = Received::default();
        let deadline = tokio::time::Instant::now() + timeout;
        while received.messages.len() < count {
            let frame = match tokio::time::timeout_at(deadline, socket.next()).await {
                Err(_) | Ok(None) => break,
                Ok(Some(frame)) => {
                    frame.unwrap_or_else(|err| panic!("{url}: WebSocket error: {err}"))
                }
            };
            match frame {
                Message::Text(text) => {
                    assert!(
                        !text.ends_with('\n'),
                        "{url}: Text frame ends with a newline"
                    );
                    let value: Value = serde_json::from_str(&text)
                        .unwrap_or_else(|err| panic!("{url}: frame is not JSON ({err}): {text}"));
                    if value["message_type"] == "heartbeat" {
                        received.heartbeats += 1;
                    } else {
                        received.messages.push(value);
                    }
                }
                Message::Binary(_) => panic!("{url}: server sent a Binary frame"),
                _ => {}
            }
        }
        received
    })
}

/// The certstream client from PyPI, run by `tests/clients/python_certstream.py`.
pub struct PythonClient {
    service: Service,
    output: PathBuf,
    _dir: tempfile::TempDir,
}

impl PythonClient {
    /// Starts the client and waits until its WebSocket is open.
    pub fn connect(url: &str, count: usize, timeout: Duration) -> PythonClient {
        let python = std::env::var_os(PYTHON_ENV).map(PathBuf::from).unwrap_or_else(|| {
            panic!(
                "{PYTHON_ENV} is not set: run scripts/test.sh, which installs the certstream Python \
                 client, or point {PYTHON_ENV} at a python with `pip install certstream`"
            )
        });
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("clients/python_certstream.py");
        let dir = tempfile::tempdir().expect("temporary directory");
        let output = dir.path().join("messages.jsonl");
        let count = count.to_string();
        let timeout = timeout.as_secs().to_string();
        let mut service = Service::spawn(
            "python certstream client",
            &python,
            &[
                script.to_str().expect("UTF-8 path"),
                url,
                output.to_str().expect("UTF-8 path"),
                &count,
                &timeout,
            ],
            &[],
        );
        service.wait_for_line("connected", Duration::from_secs(30));
        PythonClient {
            service,
            output,
            _dir: dir,
        }
    }

    /// Waits for the client to exit and returns the messages it received.
    pub fn finish(mut self, timeout: Duration) -> Vec<Value> {
        self.service.wait_for_line("received", timeout);
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.service.is_running() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        let text = std::fs::read_to_string(&self.output).expect("python client output file");
        text.lines()
            .map(|line| serde_json::from_str(line).expect("JSON line"))
            .collect()
    }
}

// === Assertions ===

/// Key of a certificate message: log URL and index.
pub fn entry_key(message: &Value) -> (String, u64) {
    let data = &message["data"];
    let url = data["source"]["url"]
        .as_str()
        .expect("data.source.url")
        .to_string();
    let index = data["cert_index"].as_u64().expect("data.cert_index");
    (url, index)
}

/// Asserts that every message is unique by (log, index) and returns the set of keys.
pub fn unique_keys(stream: &str, messages: &[Value]) -> BTreeSet<(String, u64)> {
    let mut keys = BTreeSet::new();
    for message in messages {
        assert_eq!(
            message["message_type"], "certificate_update",
            "{stream}: unexpected message {message}"
        );
        let key = entry_key(message);
        assert!(
            keys.insert(key.clone()),
            "{stream}: entry {key:?} arrived twice"
        );
    }
    keys
}

/// Compares `actual` with an expected message: every key of `expected` must be in `actual` with
/// an equal value, except the keys under `data` that depend on where and when the entry was
/// served (`seen`, `cert_index`, `cert_link`, `source`). Extra keys in `actual` are allowed, and
/// a subject or issuer attribute that `expected` omits may be null in `actual`.
pub fn assert_matches_expected(actual: &Value, expected: &Value, context: &str) {
    compare(actual, expected, "", context);
}

fn compare(actual: &Value, expected: &Value, path: &str, context: &str) {
    const SERVED_LOCALLY: [&str; 4] = [
        "/data/seen",
        "/data/cert_index",
        "/data/cert_link",
        "/data/source",
    ];
    if SERVED_LOCALLY.contains(&path) {
        return;
    }
    match (expected, actual) {
        (Value::Object(expected), Value::Object(actual)) => {
            for (key, expected_value) in expected {
                let child = format!("{path}/{key}");
                let actual_value = actual
                    .get(key)
                    .unwrap_or_else(|| panic!("{context}: key {child} is missing"));
                compare(actual_value, expected_value, &child, context);
            }
        }
        (Value::Array(expected), Value::Array(actual)) => {
            assert_eq!(actual.len(), expected.len(), "{context}: length of {path}");
            for (position, (actual, expected)) in actual.iter().zip(expected).enumerate() {
                compare(actual, expected, &format!("{path}/{position}"), context);
            }
        }
        (Value::Number(expected), Value::Number(actual)) => {
            assert_eq!(
                actual.as_f64(),
                expected.as_f64(),
                "{context}: value of {path}"
            );
        }
        _ => assert_eq!(actual, expected, "{context}: value of {path}"),
    }
}
