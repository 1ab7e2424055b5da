//! End-to-end: real CT fixture entries served by the fake log travel through ingest, decoder and
//! gateway and reach real clients, each entry exactly once and with the expected fields. Runs
//! once over a real nats-server with the three services as separate processes, and once with
//! `certstream-gateway --standalone`.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use certstream_tests::fake_log::{FakeLog, LogFixture};
use certstream_tests::fixtures;
use serde_json::Value;
use support::{
    assert_matches_expected, collect_websocket, unique_keys, NatsServer, PythonClient, Service,
};

/// Every fixture entry: 20 live RFC 6962 entries and 1024 Static CT entries.
const TOTAL_ENTRIES: usize = 1044;

/// Upper bound for the whole fixture to reach the clients.
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(180);

/// Settings shared by both modes: start every log at index 0 and poll fast.
const INGEST_ARGS: [&str; 4] = [
    "--ct-log-backfill-entries",
    "100000",
    "--ct-log-poll-interval-ms",
    "200",
];

/// The clients of one run: a plain WebSocket client per stream and the Python client on the full
/// stream.
struct Clients {
    lite: tokio::task::JoinHandle<support::Received>,
    full: tokio::task::JoinHandle<support::Received>,
    domains: tokio::task::JoinHandle<support::Received>,
    python: PythonClient,
}

async fn connect_clients(address: &str) -> Clients {
    let base = format!("ws://{address}");
    Clients {
        lite: collect_websocket(format!("{base}/"), TOTAL_ENTRIES, DELIVERY_TIMEOUT).await,
        full: collect_websocket(
            format!("{base}/full-stream"),
            TOTAL_ENTRIES,
            DELIVERY_TIMEOUT,
        )
        .await,
        domains: collect_websocket(
            format!("{base}/domains-only/"),
            TOTAL_ENTRIES,
            DELIVERY_TIMEOUT,
        )
        .await,
        python: PythonClient::connect(
            &format!("{base}/full-stream"),
            TOTAL_ENTRIES,
            DELIVERY_TIMEOUT,
        ),
    }
}

/// Waits for every client and checks what each received against the fixtures.
async fn check_clients(clients: Clients, fake: &FakeLog) {
    let lite = clients.lite.await.expect("lite client task").messages;
    let full = clients.full.await.expect("full client task").messages;
    let domains = clients.domains.await.expect("domains client task").messages;
    let python = tokio::task::spawn_blocking(move || {
        clients
            .python
            .finish(DELIVERY_TIMEOUT + Duration::from_secs(30))
    })
    .await
    .expect("python client task");

    let live_url = fake.log_url(LogFixture::Live);
    let navigli_url = fake.log_url(LogFixture::Navigli);
    let expected_keys: BTreeSet<(String, u64)> = (0..20)
        .map(|index| (live_url.clone(), index))
        .chain((0..1024).map(|index| (navigli_url.clone(), index)))
        .collect();

    for (stream, messages) in [("full", &full), ("lite", &lite), ("python full", &python)] {
        assert_eq!(messages.len(), TOTAL_ENTRIES, "{stream}: message count");
        assert_eq!(
            unique_keys(stream, messages),
            expected_keys,
            "{stream}: entries received"
        );
    }
    check_live_entries(&full, &lite, &python, &live_url);
    check_navigli_entries(&full, &navigli_url);
    check_lite_has_no_der(&lite);
    check_domains(&domains, &full);
}

/// Checks that the 20 live entries equal the messages an existing certstream server produced for them.
fn check_live_entries(full: &[Value], lite: &[Value], python: &[Value], live_url: &str) {
    let live = fixtures::read_live_entries().expect("live fixture");
    for (stream, messages, pick) in [
        ("full", full, 0usize),
        ("lite", lite, 1),
        ("python full", python, 0),
    ] {
        let by_index = index_messages(messages, live_url);
        for (index, entry) in live.iter().enumerate() {
            let expected_text = if pick == 0 {
                &entry.expected_full
            } else {
                &entry.expected_lite
            };
            let expected: Value =
                serde_json::from_str(expected_text).expect("expected message JSON");
            let actual = by_index
                .get(&(index as u64))
                .unwrap_or_else(|| panic!("{stream}: live entry {index} missing"));
            assert_matches_expected(actual, &expected, &format!("{stream} {}", entry.name));
            let data = &actual["data"];
            assert_eq!(
                data["source"]["url"], live_url,
                "{stream} {}: source.url",
                entry.name
            );
            assert_eq!(
                data["source"]["name"], "Test Log 'Live'",
                "{stream} {}: source.name",
                entry.name
            );
            let link = format!(
                "{}/ct/v1/get-entries?start={index}&end={index}",
                live_url.trim_end_matches('/')
            );
            assert_eq!(
                data["cert_link"],
                link.as_str(),
                "{stream} {}: cert_link",
                entry.name
            );
            assert!(
                data["seen"].is_f64(),
                "{stream} {}: seen is a float",
                entry.name
            );
        }
    }
}

/// Checks that the 1024 Static CT entries carry the DNS names that certspotter read from them.
fn check_navigli_entries(full: &[Value], navigli_url: &str) {
    let oracle_path = fixtures::fixtures_dir()
        .join(fixtures::NAVIGLI_DIR)
        .join(fixtures::NAVIGLI_ORACLE);
    let oracle = std::fs::read_to_string(&oracle_path).expect("certspotter oracle");
    let by_index = index_messages(full, navigli_url);
    let mut checked = 0;
    for line in oracle.lines() {
        let expected: Value = serde_json::from_str(line).expect("oracle line");
        let index = expected["log_index"].as_u64().expect("log_index");
        let message = by_index
            .get(&index)
            .unwrap_or_else(|| panic!("navigli entry {index} missing"));
        let leaf = &message["data"]["leaf_cert"];
        let domains: BTreeSet<&str> = leaf["all_domains"]
            .as_array()
            .expect("all_domains array")
            .iter()
            .map(|name| name.as_str().expect("domain string"))
            .collect();
        let expected_domains: BTreeSet<&str> = expected["dns_names"]
            .as_array()
            .expect("dns_names array")
            .iter()
            .map(|name| name.as_str().expect("domain string"))
            .collect();
        assert_eq!(domains, expected_domains, "navigli {index}: all_domains");
        assert_eq!(
            message["data"]["update_type"], "PrecertLogEntry",
            "navigli {index}: update_type"
        );
        assert_eq!(
            leaf["extensions"]["ctlPoisonByte"], true,
            "navigli {index}: ctlPoisonByte"
        );
        assert_eq!(
            message["data"]["chain"].as_array().map(Vec::len),
            Some(2),
            "navigli {index}: chain length"
        );
        checked += 1;
    }
    assert_eq!(checked, 1024, "oracle lines checked");
}

fn check_lite_has_no_der(lite: &[Value]) {
    for message in lite {
        let data = &message["data"];
        assert!(
            data.get("chain").is_none(),
            "lite message carries a chain: {message}"
        );
        assert!(
            data["leaf_cert"].get("as_der").is_none(),
            "lite message carries as_der: {message}"
        );
    }
}

/// Checks that the domains stream carries one `dns_entries` message per entry, equal to its
/// `all_domains`.
fn check_domains(domains: &[Value], full: &[Value]) {
    assert_eq!(domains.len(), TOTAL_ENTRIES, "domains: message count");
    let mut received: Vec<String> = domains
        .iter()
        .map(|message| {
            assert_eq!(
                message["message_type"], "dns_entries",
                "domains: message type of {message}"
            );
            message["data"].to_string()
        })
        .collect();
    let mut expected: Vec<String> = full
        .iter()
        .map(|message| message["data"]["leaf_cert"]["all_domains"].to_string())
        .collect();
    received.sort();
    expected.sort();
    assert_eq!(
        received, expected,
        "domains: data equals all_domains of the full stream"
    );
}

fn index_messages<'a>(messages: &'a [Value], log_url: &str) -> BTreeMap<u64, &'a Value> {
    messages
        .iter()
        .filter(|message| message["data"]["source"]["url"] == log_url)
        .map(|message| {
            (
                message["data"]["cert_index"].as_u64().expect("cert_index"),
                message,
            )
        })
        .collect()
}

/// Ingest, two decoders and the gateway as separate processes on a real nats-server.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nats_pipeline_delivers_every_fixture_entry_once() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let nats = NatsServer::start();
    let (fake, log_list) = support::start_paused_fake_log(dir.path()).await;
    let nats_args = [
        "--nats-url",
        nats.url.as_str(),
        "--host",
        "127.0.0.1",
        "--metrics-port",
        "0",
    ];

    let mut decoders: Vec<Service> = (0..2)
        .map(|n| {
            Service::spawn(
                &format!("decoder {n}"),
                &support::binary("certstream-decoder"),
                &nats_args,
                &[],
            )
        })
        .collect();
    for decoder in &mut decoders {
        decoder.wait_for_line("Decoder started", Duration::from_secs(30));
    }
    let mut gateway_args = nats_args.to_vec();
    gateway_args.extend(["--port", "0"]);
    let mut gateway = Service::spawn(
        "gateway",
        &support::binary("certstream-gateway"),
        &gateway_args,
        &[],
    );
    let address = gateway.listening_address();
    let clients = connect_clients(&address).await;
    fake.start_growing();

    let state_file = dir.path().join("state.json");
    let mut ingest_args = nats_args.to_vec();
    ingest_args.extend([
        "--log-list",
        log_list.as_str(),
        "--ct-log-state-file",
        state_file.to_str().expect("UTF-8"),
    ]);
    ingest_args.extend(INGEST_ARGS);
    let mut ingest = Service::spawn(
        "ingest",
        &support::binary("certstream-ingest"),
        &ingest_args,
        &[],
    );

    check_clients(clients, &fake).await;
    assert!(
        ingest.terminate(Duration::from_secs(15)),
        "ingest stops on SIGTERM"
    );
    let state: Value =
        serde_json::from_str(&std::fs::read_to_string(&state_file).expect("state file written"))
            .expect("state file is JSON");
    let text = state.to_string();
    assert!(
        text.contains("1024"),
        "state file records the navigli cursor at 1024: {text}"
    );
    assert!(
        gateway.terminate(Duration::from_secs(15)),
        "gateway stops on SIGTERM"
    );
    drop(decoders);
    fake.shutdown().await.expect("fake log stops");
}

/// The README's single-process command: `certstream-gateway --standalone`, no NATS.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn standalone_delivers_every_fixture_entry_once() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let (fake, log_list) = support::start_paused_fake_log(dir.path()).await;
    let mut args = vec![
        "--standalone",
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        "--log-list",
        log_list.as_str(),
    ];
    args.extend(INGEST_ARGS);
    let mut gateway = Service::spawn(
        "standalone",
        &support::binary("certstream-gateway"),
        &args,
        &[],
    );
    let address = gateway.listening_address();
    let clients = connect_clients(&address).await;
    fake.start_growing();

    check_clients(clients, &fake).await;
    assert!(
        gateway.terminate(Duration::from_secs(15)),
        "standalone server stops on SIGTERM"
    );
    fake.shutdown().await.expect("fake log stops");
}
