//! Runs real client libraries beyond Python against the standalone gateway with SSE enabled:
//! the certstream npm package (Node build) on the full stream, and a page in headless Chromium
//! with the browser's own WebSocket, an EventSource and the certstream-js browser build. Each
//! client must receive and parse every fixture entry the fake CT log serves.
//!
//! The clients are installed by `scripts/install-test-clients.sh`, and the environment variables
//! below point the test at them. `scripts/test.sh` does both.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use certstream_tests::fake_log::{FakeLog, LogFixture};
use certstream_tests::fixtures;
use serde_json::Value;
use support::{assert_matches_expected, entry_key, unique_keys, Service};

/// Directory of `tests/clients/node` after `npm ci` (the certstream npm package installed).
const NODE_CLIENT_DIR_ENV: &str = "CERTSTREAM_TEST_NODE_CLIENT_DIR";

/// Directory of `tests/clients/browser` after `npm ci` (playwright-core and certstream installed).
const BROWSER_CLIENT_DIR_ENV: &str = "CERTSTREAM_TEST_BROWSER_CLIENT_DIR";

/// Chromium executable for the browser page, for example Debian's `/usr/bin/chromium`.
const CHROMIUM_ENV: &str = "CERTSTREAM_TEST_CHROMIUM";

/// Every fixture entry: 20 live RFC 6962 entries and 1024 Static CT entries.
const TOTAL_ENTRIES: usize = 1044;

/// Upper bound for the whole fixture to reach the clients.
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(180);

/// Time a client may take to start and open its connections, Chromium's start included.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(60);

/// Heartbeat interval of the gateway, short so that every WebSocket client gets heartbeat
/// messages mixed with the certificates and must parse and skip them.
const HEARTBEAT_INTERVAL: Duration = Duration::from_secs(1);

/// Start every log at index 0 and poll fast, as the pipeline test does.
const INGEST_ARGS: [&str; 4] = [
    "--ct-log-backfill-entries",
    "100000",
    "--ct-log-poll-interval-ms",
    "200",
];

/// The installed clients and the programs that run them.
struct ClientSetup {
    node: PathBuf,
    node_dir: PathBuf,
    browser_dir: PathBuf,
    chromium: PathBuf,
}

impl ClientSetup {
    /// Reads the environment and checks that every client is installed, before anything starts.
    fn from_env() -> ClientSetup {
        let node = find_on_path("node").unwrap_or_else(|| {
            panic!(
                "node is not on PATH: install Node.js 20 or later (Debian package nodejs), then \
                 run scripts/test.sh"
            )
        });
        let node_dir = installed_dir(NODE_CLIENT_DIR_ENV, "tests/clients/node", "certstream");
        let browser_dir = installed_dir(
            BROWSER_CLIENT_DIR_ENV,
            "tests/clients/browser",
            "playwright-core",
        );
        let chromium = PathBuf::from(required_env(
            CHROMIUM_ENV,
            "the path of a Chromium executable such as /usr/bin/chromium",
        ));
        assert!(
            chromium.is_file(),
            "{CHROMIUM_ENV}={} does not exist: run scripts/install-test-clients.sh, which \
             installs Debian's chromium, or point {CHROMIUM_ENV} at a Chromium executable",
            chromium.display()
        );
        ClientSetup {
            node,
            node_dir,
            browser_dir,
            chromium,
        }
    }
}

fn required_env(name: &str, expected_value: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!(
            "{name} is not set: run scripts/test.sh, which runs scripts/install-test-clients.sh \
             and sets it, or set {name} to {expected_value}"
        )
    })
}

/// Reads a client directory from `env` and checks that `npm ci` installed `package` in it.
fn installed_dir(env: &str, repo_dir: &str, package: &str) -> PathBuf {
    let dir = PathBuf::from(required_env(
        env,
        &format!("{repo_dir} after `npm ci` in it"),
    ));
    let installed = dir.join("node_modules").join(package).join("package.json");
    assert!(
        installed.is_file(),
        "{} is missing: run scripts/install-test-clients.sh (it runs `npm ci` in {repo_dir})",
        installed.display()
    );
    dir
}

fn find_on_path(program: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(program))
            .find(|path| path.is_file())
    })
}

/// Starts `tests/clients/node/certstream_client.js` on `url` and waits until it is connected.
fn start_node_client(setup: &ClientSetup, url: &str, output: &Path) -> Service {
    let script = setup.node_dir.join("certstream_client.js");
    let mut client = Service::spawn(
        "node certstream client",
        &setup.node,
        &[
            script.to_str().expect("UTF-8 path"),
            url,
            output.to_str().expect("UTF-8 path"),
            &TOTAL_ENTRIES.to_string(),
            &DELIVERY_TIMEOUT.as_secs().to_string(),
        ],
        &[],
    );
    client.wait_for_line("node client connected", CONNECT_TIMEOUT);
    client
}

/// Starts `tests/clients/browser/driver.js` and waits until every client of its page is open.
fn start_browser(setup: &ClientSetup, base_url: &str, output_dir: &Path) -> Service {
    let driver = setup.browser_dir.join("driver.js");
    let mut browser = Service::spawn(
        "browser driver",
        &setup.node,
        &[
            driver.to_str().expect("UTF-8 path"),
            setup.chromium.to_str().expect("UTF-8 path"),
            base_url,
            output_dir.to_str().expect("UTF-8 path"),
            &TOTAL_ENTRIES.to_string(),
            &DELIVERY_TIMEOUT.as_secs().to_string(),
        ],
        &[],
    );
    browser.wait_for_line("browser clients connected", CONNECT_TIMEOUT);
    browser
}

/// Waits for a client's closing "received" line, then until it exits, and returns that line.
async fn wait_for_exit(mut client: Service) -> String {
    tokio::task::spawn_blocking(move || {
        let line = client.wait_for_line("received", DELIVERY_TIMEOUT + Duration::from_secs(60));
        for _ in 0..200 {
            if !client.is_running() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        line
    })
    .await
    .expect("client wait task")
}

/// Returns H from the node client's closing line "received N messages, H heartbeats (...)".
fn heartbeats_in_line(line: &str) -> u64 {
    let words: Vec<&str> = line.split_whitespace().collect();
    let position = words
        .iter()
        .position(|word| *word == "heartbeats")
        .filter(|position| *position > 0)
        .unwrap_or_else(|| panic!("no heartbeat count in the node client's line: {line}"));
    words[position - 1]
        .parse()
        .unwrap_or_else(|err| panic!("invalid heartbeat count in {line:?}: {err}"))
}

/// Reads a JSON Lines file written by a client, one parsed message per line.
fn read_jsonl(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|err| panic!("cannot read {}: {err}", path.display()));
    text.lines()
        .enumerate()
        .map(|(number, line)| {
            serde_json::from_str(line).unwrap_or_else(|err| {
                panic!("{} line {}: not JSON ({err})", path.display(), number + 1)
            })
        })
        .collect()
}

/// The (log URL, index) of every fixture entry.
fn expected_keys(fake: &FakeLog) -> BTreeSet<(String, u64)> {
    let live_url = fake.log_url(LogFixture::Live);
    let navigli_url = fake.log_url(LogFixture::Navigli);
    (0..20)
        .map(|index| (live_url.clone(), index))
        .chain((0..1024).map(|index| (navigli_url.clone(), index)))
        .collect()
}

/// Asserts that a client received every fixture entry exactly once.
fn check_every_entry_once(client: &str, messages: &[Value], expected: &BTreeSet<(String, u64)>) {
    assert_eq!(messages.len(), TOTAL_ENTRIES, "{client}: message count");
    assert_eq!(
        &unique_keys(client, messages),
        expected,
        "{client}: entries received"
    );
}

/// Asserts that the 20 live entries, after the client's JSON round trip, still equal the
/// messages an existing certstream server produced for them.
fn check_live_entries(client: &str, messages: &[Value], live_url: &str, full: bool) {
    let live = fixtures::read_live_entries().expect("live fixture");
    let by_index: BTreeMap<u64, &Value> = messages
        .iter()
        .filter(|message| message["data"]["source"]["url"] == live_url)
        .map(|message| (entry_key(message).1, message))
        .collect();
    for (index, entry) in live.iter().enumerate() {
        let expected_text = if full {
            &entry.expected_full
        } else {
            &entry.expected_lite
        };
        let expected: Value = serde_json::from_str(expected_text).expect("expected message JSON");
        let actual = by_index
            .get(&(index as u64))
            .unwrap_or_else(|| panic!("{client}: live entry {index} missing"));
        assert_matches_expected(actual, &expected, &format!("{client} {}", entry.name));
    }
}

/// Returns the page's record of one client: the sockets it opened and the errors it saw.
fn page_collection<'a>(summary: &'a Value, client: &str) -> &'a Value {
    let collection = &summary[client];
    assert!(
        collection.is_object(),
        "browser summary has no {client} collection: {summary}"
    );
    collection
}

/// Checks the certstream-js browser build, which delivers every message once per socket it
/// opened (two in version 1.1.1): every entry arrives exactly that many times.
fn check_certstream_js(messages: &[Value], sockets: u64, expected: &BTreeSet<(String, u64)>) {
    let client = "browser certstream-js";
    assert!(sockets >= 1, "{client}: no WebSocket opened");
    assert_eq!(
        messages.len() as u64,
        TOTAL_ENTRIES as u64 * sockets,
        "{client}: message count for {sockets} sockets"
    );
    let mut arrivals: BTreeMap<(String, u64), u64> = BTreeMap::new();
    for message in messages {
        assert_eq!(
            message["message_type"], "certificate_update",
            "{client}: unexpected message {message}"
        );
        *arrivals.entry(entry_key(message)).or_default() += 1;
    }
    let keys: BTreeSet<(String, u64)> = arrivals.keys().cloned().collect();
    assert_eq!(&keys, expected, "{client}: entries received");
    for (key, count) in &arrivals {
        assert_eq!(
            *count, sockets,
            "{client}: arrivals of entry {key:?} with {sockets} sockets"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_and_browser_clients_receive_every_entry() {
    let setup = ClientSetup::from_env();
    let dir = tempfile::tempdir().expect("temporary directory");
    let (fake, log_list) = support::start_paused_fake_log(dir.path()).await;
    let mut args = vec![
        "--standalone",
        "--sse-enabled",
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        "--log-list",
        log_list.as_str(),
    ];
    let heartbeat_secs = HEARTBEAT_INTERVAL.as_secs().to_string();
    args.extend(["--heartbeat-interval-secs", heartbeat_secs.as_str()]);
    args.extend(INGEST_ARGS);
    let mut gateway = Service::spawn(
        "standalone",
        &support::binary("certstream-gateway"),
        &args,
        &[],
    );
    let address = gateway.listening_address();

    let node_output = dir.path().join("node.jsonl");
    let node = start_node_client(&setup, &format!("ws://{address}/full-stream"), &node_output);
    let browser_output = dir.path().join("browser");
    std::fs::create_dir(&browser_output).expect("browser output directory");
    let browser = start_browser(&setup, &format!("http://{address}"), &browser_output);
    // Each connection's first heartbeat comes one interval after it opened, so wait a little
    // longer than that before any certificate is served.
    tokio::time::sleep(HEARTBEAT_INTERVAL + Duration::from_millis(500)).await;
    fake.start_growing();

    let node_line = wait_for_exit(node).await;
    let browser_line = wait_for_exit(browser).await;
    eprintln!("node client: {node_line}");
    eprintln!("browser driver: {browser_line}");

    let expected = expected_keys(&fake);
    let live_url = fake.log_url(LogFixture::Live);

    let node_messages = read_jsonl(&node_output);
    check_every_entry_once("node certstream", &node_messages, &expected);
    check_live_entries("node certstream", &node_messages, &live_url, true);
    assert!(
        heartbeats_in_line(&node_line) >= 1,
        "node certstream: no heartbeat received: {node_line}"
    );

    let summary_path = browser_output.join("summary.json");
    let summary: Value = serde_json::from_str(
        &std::fs::read_to_string(&summary_path).expect("browser summary written"),
    )
    .expect("browser summary is JSON");
    for client in ["websocket", "eventsource", "certstream-js"] {
        let collection = page_collection(&summary, client);
        assert_eq!(
            collection["errors"],
            serde_json::json!([]),
            "browser {client}: errors in the page"
        );
    }
    // EventSource gets `: heartbeat` comments instead, which never reach the page.
    for client in ["websocket", "certstream-js"] {
        let heartbeats = page_collection(&summary, client)["heartbeats"]
            .as_u64()
            .expect("heartbeat count");
        assert!(heartbeats >= 1, "browser {client}: no heartbeat received");
    }
    for client in ["websocket", "eventsource"] {
        let messages = read_jsonl(&browser_output.join(format!("{client}.jsonl")));
        let name = format!("browser {client}");
        check_every_entry_once(&name, &messages, &expected);
        check_live_entries(&name, &messages, &live_url, true);
    }
    let certstream_js = read_jsonl(&browser_output.join("certstream-js.jsonl"));
    let sockets = page_collection(&summary, "certstream-js")["sockets"]
        .as_u64()
        .expect("certstream-js socket count");
    check_certstream_js(&certstream_js, sockets, &expected);
    check_live_entries("browser certstream-js", &certstream_js, &live_url, false);

    assert!(
        gateway.terminate(Duration::from_secs(15)),
        "standalone server stops on SIGTERM"
    );
    fake.shutdown().await.expect("fake log stops");
}
