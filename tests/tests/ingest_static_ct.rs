//! End-to-end: a Static CT log (the navigli fixture served as checkpoint, data tiles and
//! issuers) reaches WebSocket clients of `certstream-gateway --standalone`, every entry exactly
//! once, while its tree grows from 778 entries (a partial tile at the tip) to 1024.

mod support;

use std::collections::BTreeSet;
use std::time::Duration;

use certstream_tests::fake_log::{FakeLog, FakeLogConfig, Growth, LogFixture};
use support::{collect_websocket, unique_keys, Service};

/// Entries of the navigli fixture.
const TOTAL_ENTRIES: usize = 1024;

/// Upper bound for every entry to reach the client.
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(120);

/// Runs a standalone gateway on 127.0.0.1 that starts every log at index 0 and polls fast.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn standalone_streams_static_ct_log_once() {
    let dir = tempfile::tempdir().expect("temporary directory");
    // Empty until the client is connected, then 778 entries (a partial tile of 10 at the tip)
    // and 2 seconds later all 1024.
    let fake = FakeLog::start_paused(FakeLogConfig::static_ct(Growth {
        initial_size: 0,
        step: 778,
        interval: Duration::from_secs(2),
    }))
    .await
    .expect("fake CT log starts");
    let list = dir.path().join("log_list.json");
    fake.write_log_list(&list).expect("log list written");
    let mut gateway = Service::spawn(
        "standalone",
        &support::binary("certstream-gateway"),
        &[
            "--standalone",
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            "--log-list",
            list.to_str().expect("UTF-8 path"),
            "--ct-log-backfill-entries",
            "100000",
            "--ct-log-poll-interval-ms",
            "200",
        ],
        &[],
    );
    let address = gateway.listening_address();
    let client = collect_websocket(
        format!("ws://{address}/full-stream"),
        TOTAL_ENTRIES,
        DELIVERY_TIMEOUT,
    )
    .await;
    fake.start_growing();

    let messages = client.await.expect("client task").messages;
    assert!(
        gateway.terminate(Duration::from_secs(15)),
        "standalone server stops on SIGTERM"
    );

    let log_url = fake.log_url(LogFixture::NavigliStatic);
    let expected: BTreeSet<(String, u64)> = (0..TOTAL_ENTRIES as u64)
        .map(|index| (log_url.clone(), index))
        .collect();
    let received: BTreeSet<u64> = messages
        .iter()
        .filter_map(|message| message["data"]["cert_index"].as_u64())
        .collect();
    let missing: Vec<u64> = (0..TOTAL_ENTRIES as u64)
        .filter(|index| !received.contains(index))
        .collect();
    assert!(missing.is_empty(), "entries missing: {missing:?}");
    assert_eq!(messages.len(), TOTAL_ENTRIES, "message count");
    assert_eq!(unique_keys("full", &messages), expected, "entries received");
    let tip_link = messages
        .iter()
        .find(|message| message["data"]["cert_index"] == 768)
        .map(|message| message["data"]["cert_link"].clone());
    assert_eq!(
        tip_link,
        Some(format!("{log_url}tile/data/003.p/10").into()),
        "entry 768 came from the partial tile at tree size 778"
    );
    for message in &messages {
        let data = &message["data"];
        let index = data["cert_index"].as_u64().expect("cert_index");
        let link = data["cert_link"].as_str().expect("cert_link");
        let tile = index / 256;
        let full = format!("{log_url}tile/data/{tile:03}");
        let partial = format!("{full}.p/10");
        assert!(
            link == full || (tile == 3 && link == partial),
            "entry {index}: cert_link {link}"
        );
        assert_eq!(
            data["source"]["name"], "Test Log 'Navigli Static'",
            "entry {index}: source.name"
        );
        assert_eq!(
            data["update_type"], "PrecertLogEntry",
            "entry {index}: update_type"
        );
        assert_eq!(
            data["chain"].as_array().map(Vec::len),
            Some(2),
            "entry {index}: chain length"
        );
    }
    fake.shutdown().await.expect("fake log stops");
}
