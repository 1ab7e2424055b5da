//! `certstream_ingest::run` with a log list file whose logs are fake logs on 127.0.0.1.

mod support;

use std::path::Path;
use std::time::Duration;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use tokio_util::sync::CancellationToken;

use certstream_ingest::log_list::LogListSource;
use certstream_ingest::{run, run_with_log_list, LogListPlan};
use certstream_shared::raw::RawBatch;
use certstream_shared::Settings;

use support::{memory_bus, next_batch, FakeLog};

const BATCH_WAIT: Duration = Duration::from_secs(10);

/// Builds a v3 log list with one usable log per `(description, url)`, whose log_id is the
/// base64 of its description.
fn log_list_json(logs: &[(&str, &str)]) -> String {
    let logs: Vec<String> = logs
        .iter()
        .map(|(description, url)| {
            let log_id = BASE64.encode(description);
            let key = support::log_key_base64();
            format!(
                r#"{{"description": "{description}", "log_id": "{log_id}", "key": "{key}",
                    "url": "{url}", "mmd": 86400,
                    "state": {{"usable": {{"timestamp": "2026-01-01T00:00:00Z"}}}}}}"#
            )
        })
        .collect();
    format!(
        r#"{{"version": "1.0", "operators": [{{"name": "Test", "email": [], "logs": [{}], "tiled_logs": []}}]}}"#,
        logs.join(",")
    )
}

fn settings(log_list: &Path, state_file: &Path) -> Settings {
    Settings::try_from_args([
        "certstream-ingest",
        "--log-list",
        log_list.to_str().unwrap(),
        "--ct-log-state-file",
        state_file.to_str().unwrap(),
        "--ct-log-poll-interval-ms",
        "20",
        "--ct-log-batch-size",
        "5",
        "--ct-log-backfill-entries",
        "100",
    ])
    .unwrap()
}

/// Reads batches until `count` entries arrived and returns them.
async fn collect_entries(
    consumer: &mut certstream_shared::bus::RawConsumer,
    count: usize,
) -> Vec<RawBatch> {
    let mut batches = Vec::new();
    let mut received = 0;
    while received < count {
        let batch = next_batch(consumer, BATCH_WAIT)
            .await
            .unwrap_or_else(|| panic!("only {received} of {count} entries arrived"));
        received += batch.entries.len();
        batches.push(batch);
    }
    batches
}

fn indices_of(batches: &[RawBatch], log_id: &str) -> Vec<u64> {
    batches
        .iter()
        .filter(|batch| batch.log.id == log_id)
        .flat_map(|batch| batch.entries.iter().map(|entry| entry.index))
        .collect()
}

#[tokio::test]
async fn run_streams_logs_and_saves_cursors() {
    let log = FakeLog::start(7, 3).await;
    let dir = tempfile::tempdir().unwrap();
    let list_path = dir.path().join("log_list.json");
    let state_path = dir.path().join("state.json");
    let url_a = log.url("a");
    let url_b = log.url("b");
    std::fs::write(
        &list_path,
        log_list_json(&[("Run 'A'", url_a.as_str()), ("Run 'B'", url_b.as_str())]),
    )
    .unwrap();
    let (bus, mut consumer) = memory_bus().await;
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(run(
        settings(&list_path, &state_path),
        bus,
        shutdown.clone(),
    ));

    let batches = collect_entries(&mut consumer, 14).await;
    shutdown.cancel();
    let result = tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .expect("run did not return within 5 s after shutdown")
        .unwrap();

    result.unwrap();
    assert_eq!(indices_of(&batches, "run_a"), (0..7).collect::<Vec<u64>>());
    assert_eq!(indices_of(&batches, "run_b"), (0..7).collect::<Vec<u64>>());
    let state: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&state_path).unwrap()).unwrap();
    assert_eq!(state["version"], 1);
    assert_eq!(state["logs"][&url_a]["next_index"], 7);
    assert_eq!(state["logs"][&url_a]["tree_size"], 7);
    assert_eq!(state["logs"][&url_b]["next_index"], 7);
}

#[tokio::test]
async fn run_resumes_from_state_file() {
    let log = FakeLog::start(12, 3).await;
    let dir = tempfile::tempdir().unwrap();
    let list_path = dir.path().join("log_list.json");
    let state_path = dir.path().join("state.json");
    let url = log.url("resume");
    std::fs::write(&list_path, log_list_json(&[("Resume", url.as_str())])).unwrap();
    let state = serde_json::json!({
        "version": 1,
        "logs": {url.clone(): {"next_index": 9, "tree_size": 12}}
    });
    std::fs::write(&state_path, state.to_string()).unwrap();
    let (bus, mut consumer) = memory_bus().await;
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(run(
        settings(&list_path, &state_path),
        bus,
        shutdown.clone(),
    ));

    let batches = collect_entries(&mut consumer, 3).await;
    shutdown.cancel();
    task.await.unwrap().unwrap();

    assert_eq!(indices_of(&batches, "resume"), [9, 10, 11]);
}

#[tokio::test]
async fn run_rejects_corrupt_state_file() {
    let dir = tempfile::tempdir().unwrap();
    let list_path = dir.path().join("log_list.json");
    let state_path = dir.path().join("state.json");
    std::fs::write(
        &list_path,
        log_list_json(&[("Unused", "http://127.0.0.1:9/")]),
    )
    .unwrap();
    std::fs::write(&state_path, "not json").unwrap();
    let (bus, _consumer) = memory_bus().await;

    let err = run(
        settings(&list_path, &state_path),
        bus,
        CancellationToken::new(),
    )
    .await
    .unwrap_err();

    let message = format!("{err:#}");
    assert!(
        message.contains(&format!(
            "invalid cursor state file {}",
            state_path.display()
        )),
        "{message}"
    );
}

#[tokio::test]
async fn run_rejects_missing_log_list() {
    let dir = tempfile::tempdir().unwrap();
    let list_path = dir.path().join("absent.json");
    let (bus, _consumer) = memory_bus().await;

    let err = run(
        settings(&list_path, &dir.path().join("state.json")),
        bus,
        CancellationToken::new(),
    )
    .await
    .unwrap_err();

    let message = format!("{err:#}");
    assert!(
        message.contains(&format!(
            "failed to read log list file {}",
            list_path.display()
        )),
        "{message}"
    );
}

#[tokio::test]
async fn run_rejects_list_without_followed_logs() {
    let dir = tempfile::tempdir().unwrap();
    let list_path = dir.path().join("log_list.json");
    std::fs::write(
        &list_path,
        r#"{"operators": [{"name": "Empty", "logs": []}]}"#,
    )
    .unwrap();
    let (bus, _consumer) = memory_bus().await;

    let err = run(
        settings(&list_path, &dir.path().join("state.json")),
        bus,
        CancellationToken::new(),
    )
    .await
    .unwrap_err();

    assert!(
        err.to_string().contains("contains no log in state usable"),
        "{err:#}"
    );
}

#[tokio::test]
async fn refreshed_list_starts_new_logs() {
    let log = FakeLog::start(4, 3).await;
    let dir = tempfile::tempdir().unwrap();
    let list_path = dir.path().join("log_list.json");
    let url_old = log.url("old");
    let url_new = log.url("new");
    std::fs::write(&list_path, log_list_json(&[("Old", url_old.as_str())])).unwrap();
    log.serve_file(
        "refresh.json",
        log_list_json(&[("Old", url_old.as_str()), ("New", url_new.as_str())]),
    );
    let plan = LogListPlan {
        source: LogListSource::File(list_path.clone()),
        extra: None,
        verifier: None,
        refresh_url: Some(log.file_url("refresh.json")),
        refresh_interval: Duration::from_secs(3600),
    };
    let (bus, mut consumer) = memory_bus().await;
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(run_with_log_list(
        settings(&list_path, &dir.path().join("state.json")),
        bus,
        shutdown.clone(),
        plan,
    ));

    let batches = collect_entries(&mut consumer, 8).await;
    shutdown.cancel();
    task.await.unwrap().unwrap();

    assert_eq!(indices_of(&batches, "old"), [0, 1, 2, 3]);
    assert_eq!(indices_of(&batches, "new"), [0, 1, 2, 3]);
}

#[tokio::test]
async fn failed_refresh_keeps_current_list() {
    let log = FakeLog::start(4, 3).await;
    let dir = tempfile::tempdir().unwrap();
    let list_path = dir.path().join("log_list.json");
    let url = log.url("kept");
    std::fs::write(&list_path, log_list_json(&[("Kept", url.as_str())])).unwrap();
    let plan = LogListPlan {
        source: LogListSource::File(list_path.clone()),
        extra: None,
        verifier: None,
        refresh_url: Some(log.file_url("missing.json")),
        refresh_interval: Duration::from_secs(3600),
    };
    let (bus, mut consumer) = memory_bus().await;
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(run_with_log_list(
        settings(&list_path, &dir.path().join("state.json")),
        bus,
        shutdown.clone(),
        plan,
    ));

    let batches = collect_entries(&mut consumer, 4).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    shutdown.cancel();
    task.await.unwrap().unwrap();

    assert_eq!(indices_of(&batches, "kept"), [0, 1, 2, 3]);
    assert!(log.requests().contains(&"/missing.json".to_string()));
}

#[tokio::test]
async fn extra_list_adds_its_new_logs() {
    let log = FakeLog::start(4, 3).await;
    let dir = tempfile::tempdir().unwrap();
    let list_path = dir.path().join("log_list.json");
    let extra_path = dir.path().join("extra.json");
    let url_main = log.url("main");
    let url_extra = log.url("extra");
    std::fs::write(&list_path, log_list_json(&[("Main", url_main.as_str())])).unwrap();
    // "Main" has the same log_id in both lists, so only "Extra" is added.
    std::fs::write(
        &extra_path,
        log_list_json(&[("Main", url_main.as_str()), ("Extra", url_extra.as_str())]),
    )
    .unwrap();
    let settings = Settings::try_from_args([
        "certstream-ingest",
        "--log-list",
        list_path.to_str().unwrap(),
        "--log-list-extra",
        extra_path.to_str().unwrap(),
        "--ct-log-poll-interval-ms",
        "20",
        "--ct-log-batch-size",
        "5",
        "--ct-log-backfill-entries",
        "100",
    ])
    .unwrap();
    let (bus, mut consumer) = memory_bus().await;
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(run(settings, bus, shutdown.clone()));

    let batches = collect_entries(&mut consumer, 8).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    shutdown.cancel();
    task.await.unwrap().unwrap();

    assert_eq!(indices_of(&batches, "main"), [0, 1, 2, 3]);
    assert_eq!(indices_of(&batches, "extra"), [0, 1, 2, 3]);
}

#[tokio::test]
async fn wrong_signature_stops_startup() {
    let dir = tempfile::tempdir().unwrap();
    let list_path = dir.path().join("log_list.json");
    std::fs::write(
        &list_path,
        log_list_json(&[("Never", "http://127.0.0.1:9/never/")]),
    )
    .unwrap();
    std::fs::write(dir.path().join("log_list.sig"), [0u8; 256]).unwrap();
    let key = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/test_list_key.pem");
    let settings = Settings::try_from_args([
        "certstream-ingest",
        "--log-list",
        list_path.to_str().unwrap(),
        "--log-list-public-key",
        key.to_str().unwrap(),
    ])
    .unwrap();
    let (bus, _consumer) = memory_bus().await;

    let err = run(settings, bus, CancellationToken::new())
        .await
        .unwrap_err();
    assert!(format!("{err:#}").contains("does not verify"), "{err:#}");
}

#[tokio::test]
async fn missing_public_key_stops_startup() {
    let dir = tempfile::tempdir().unwrap();
    let list_path = dir.path().join("log_list.json");
    std::fs::write(&list_path, log_list_json(&[])).unwrap();
    let settings = Settings::try_from_args([
        "certstream-ingest",
        "--log-list",
        list_path.to_str().unwrap(),
        "--log-list-public-key",
        dir.path().join("absent.pem").to_str().unwrap(),
    ])
    .unwrap();
    let (bus, _consumer) = memory_bus().await;

    let err = run(settings, bus, CancellationToken::new())
        .await
        .unwrap_err();
    assert!(
        format!("{err:#}").contains("failed to read log list public key"),
        "{err:#}"
    );
}

#[tokio::test]
async fn operator_budget_limits_requests() {
    let log = FakeLog::start(4, 3).await;
    let dir = tempfile::tempdir().unwrap();
    let list_path = dir.path().join("log_list.json");
    let url_first = log.url("first");
    let url_second = log.url("second");
    std::fs::write(
        &list_path,
        log_list_json(&[
            ("First", url_first.as_str()),
            ("Second", url_second.as_str()),
        ]),
    )
    .unwrap();
    // Both logs belong to operator "Test" and poll every 20 ms, about 100 requests per second
    // together without the budget.
    let settings = Settings::try_from_args([
        "certstream-ingest",
        "--log-list",
        list_path.to_str().unwrap(),
        "--ct-log-poll-interval-ms",
        "20",
        "--ct-log-operator-requests-per-sec",
        "5",
    ])
    .unwrap();
    let (bus, _consumer) = memory_bus().await;
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(run(settings, bus, shutdown.clone()));

    tokio::time::sleep(Duration::from_secs(2)).await;
    shutdown.cancel();
    task.await.unwrap().unwrap();

    // A full bucket of 5, then 5 per second for 2 s, and one request of slack for timing.
    let requests = log.requests().len();
    assert!(requests <= 16, "{requests} requests in 2 s");
    assert!(requests >= 5, "{requests} requests in 2 s");
}

/// A log whose tree heads are signed by a key other than the one in the log list streams
/// nothing: ingest rejects every tree head and counts a signature error.
#[tokio::test]
async fn tree_head_with_wrong_key_is_rejected() {
    use ring::rand::SystemRandom;
    use ring::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_ASN1_SIGNING};

    let log = FakeLog::start(6, 3).await;
    let dir = tempfile::tempdir().unwrap();
    let list_path = dir.path().join("log_list.json");
    let state_path = dir.path().join("state.json");
    let url = log.url("forged");
    let listed_key = support::log_key_base64();
    let rng = SystemRandom::new();
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &rng).unwrap();
    let other =
        EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8.as_ref(), &rng).unwrap();
    let mut other_spki = BASE64.decode(&listed_key).unwrap()[..26].to_vec();
    other_spki.extend_from_slice(other.public_key().as_ref());
    let list =
        log_list_json(&[("Forged", url.as_str())]).replace(&listed_key, &BASE64.encode(other_spki));
    std::fs::write(&list_path, list).unwrap();

    let (bus, mut consumer) = memory_bus().await;
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(run(
        settings(&list_path, &state_path),
        bus,
        shutdown.clone(),
    ));
    let batch = next_batch(&mut consumer, Duration::from_secs(2)).await;
    shutdown.cancel();
    tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .unwrap()
        .unwrap()
        .unwrap();

    assert!(
        batch.is_none(),
        "entries of a log with a forged tree head were published"
    );
    let metrics = certstream_shared::telemetry::render_metrics();
    let counted = metrics.lines().any(|line| {
        line.starts_with("certstream_ingest_errors_total{")
            && line.contains("forged")
            && line.contains("signature")
    });
    assert!(counted, "signature error counted:\n{metrics}");
}
