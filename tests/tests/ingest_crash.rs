//! Ingest killed with SIGKILL at random moments while the logs grow: with its cursors in the
//! NATS key-value bucket, no index is lost and a restart repeats at most one batch per log.
//! A consumer of the raw JetStream stream records every published index.

mod support;

use std::collections::hash_map::RandomState;
use std::collections::BTreeMap;
use std::hash::BuildHasher;
use std::process::Command;
use std::time::Duration;

use certstream_shared::{Bus, Settings};
use certstream_tests::fake_log::Growth;
use support::{NatsServer, Service};

/// SIGKILLs of ingest before the last run.
const KILLS: usize = 10;

/// Entries per get-entries page, so one batch is at most this many entries.
const PAGE_SIZE: usize = 50;

/// Every fixture entry: 20 live entries and 1024 navigli entries.
const TOTAL_ENTRIES: usize = 1044;

/// Returns a random duration between `min` and `max`.
fn random_between(min: Duration, max: Duration) -> Duration {
    let spread = (max - min).as_millis() as u64;
    let random = RandomState::new().hash_one(0u8);
    min + Duration::from_millis(random % spread.max(1))
}

fn spawn_ingest(nats_url: &str, log_list: &str, run: usize) -> Service {
    Service::spawn(
        &format!("ingest run {run}"),
        &support::binary("certstream-ingest"),
        &[
            "--nats-url",
            nats_url,
            "--metrics-port",
            "0",
            "--log-list",
            log_list,
            "--ct-log-backfill-entries",
            "100000",
            "--ct-log-poll-interval-ms",
            "100",
            "--ct-log-batch-size",
            &PAGE_SIZE.to_string(),
            // Every run takes back the leases of the killed one at once instead of waiting for
            // them to expire.
            "--ingest-replica-id",
            "crash-test-replica",
        ],
        &[],
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkilled_ingest_loses_no_index() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let nats = NatsServer::start();
    let (fake, list) = support::start_growing_fake_log(
        dir.path(),
        Growth {
            initial_size: 0,
            step: 16,
            interval: Duration::from_millis(150),
        },
        PAGE_SIZE,
    )
    .await;

    let settings =
        Settings::try_from_args(["test", "--nats-url", nats.url.as_str()]).expect("settings");
    let bus = Bus::from_settings(&settings).await.expect("NATS connects");
    let mut consumer = bus.raw_consumer().await.expect("raw consumer");
    let mut seen = BTreeMap::new();

    for run in 0..KILLS {
        let ingest = spawn_ingest(&nats.url, &list, run);
        let lifetime = random_between(Duration::from_millis(300), Duration::from_millis(1500));
        support::drain_raw(&mut consumer, &mut seen, lifetime).await;
        let status = Command::new("kill")
            .args(["-KILL", &ingest.pid().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success(), "SIGKILL of ingest run {run}");
        drop(ingest);
    }
    let mut last = spawn_ingest(&nats.url, &list, KILLS);
    // JetStream de-duplication would hide a restart from index 0, so check that the last run
    // resumed from the cursors in the key-value bucket.
    last.wait_for_line("Watcher started next_index=Some(", Duration::from_secs(30));
    fake.wait_fully_grown(Duration::from_secs(60))
        .await
        .expect("fake logs grow");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while seen.len() < TOTAL_ENTRIES && tokio::time::Instant::now() < deadline {
        support::drain_raw(&mut consumer, &mut seen, Duration::from_millis(500)).await;
    }
    assert!(last.is_running(), "the last ingest run is still running");

    let mut missing = Vec::new();
    for (log_id, size) in [("test_log_live", 20u64), ("test_log_navigli", 1024)] {
        for index in 0..size {
            if !seen.contains_key(&(log_id.to_string(), index)) {
                missing.push(format!("{log_id}:{index}"));
            }
        }
    }
    assert!(missing.is_empty(), "indices never published: {missing:?}");
    assert_eq!(seen.len(), TOTAL_ENTRIES, "distinct entries");
    let repeats: usize = seen.values().map(|count| count - 1).sum();
    // One unacknowledged batch per log and kill at most.
    let allowed = KILLS * 2 * PAGE_SIZE;
    assert!(
        repeats <= allowed,
        "{repeats} repeated entries, at most {allowed} allowed"
    );
    fake.shutdown().await.expect("fake log stops");
}
