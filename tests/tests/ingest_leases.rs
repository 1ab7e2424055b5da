//! Two ingest replicas share one NATS server and one log list. The leases in the KV bucket let
//! exactly one replica poll each log. After a SIGKILL of the holder, the other replica takes its
//! logs over within seconds and no index is lost. A consumer of the raw JetStream stream records
//! every published index.

mod support;

use std::collections::BTreeMap;
use std::process::Command;
use std::time::Duration;

use certstream_shared::{Bus, Settings};
use certstream_tests::fake_log::Growth;
use support::{NatsServer, Service};

/// Entries per get-entries page.
const PAGE_SIZE: usize = 50;

/// Log ids of the fake log list and their final sizes.
const LOGS: [(&str, u64); 2] = [("test_log_live", 20), ("test_log_navigli", 1024)];

/// Maximum time from the SIGKILL of the holder until the other replica holds its logs: the
/// 10 s lease TTL, one 3 s acquisition interval and scheduling slack.
const TAKEOVER_LIMIT: Duration = Duration::from_secs(16);

fn spawn_ingest(nats_url: &str, log_list: &str, name: &str) -> Service {
    Service::spawn(
        name,
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
        ],
        &[],
    )
}

/// Returns how often `replica` logged that it acquired the lease of `log_id`.
fn acquisitions(replica: &Service, log_id: &str) -> usize {
    replica
        .output()
        .lines()
        .filter(|line| line.contains("Lease acquired") && line.contains(log_id))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_split_logs_and_take_over() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let nats = NatsServer::start();
    // The navigli log grows for about 25 s, so it still grows after the takeover.
    let (fake, list) = support::start_growing_fake_log(
        dir.path(),
        Growth {
            initial_size: 0,
            step: 8,
            interval: Duration::from_millis(200),
        },
        PAGE_SIZE,
    )
    .await;

    let settings =
        Settings::try_from_args(["test", "--nats-url", nats.url.as_str()]).expect("settings");
    let bus = Bus::from_settings(&settings).await.expect("NATS connects");
    let mut consumer = bus.raw_consumer().await.expect("raw consumer");
    let mut seen = BTreeMap::new();

    let mut replicas = [
        Some(spawn_ingest(&nats.url, &list, "ingest replica a")),
        Some(spawn_ingest(&nats.url, &list, "ingest replica b")),
    ];
    // Two acquisition rounds of 3 s each, so a replica that lost a race has tried again.
    support::drain_raw(&mut consumer, &mut seen, Duration::from_secs(7)).await;

    let mut holder_of = BTreeMap::new();
    for (log_id, _) in LOGS {
        let counts: Vec<usize> = replicas
            .iter()
            .map(|replica| acquisitions(replica.as_ref().expect("replica runs"), log_id))
            .collect();
        assert_eq!(
            counts.iter().sum::<usize>(),
            1,
            "{log_id}: lease acquisitions per replica {counts:?}, expected one in total"
        );
        let holder = counts.iter().position(|count| *count == 1).expect("holder");
        holder_of.insert(log_id, holder);
    }
    for replica in replicas.iter().flatten() {
        assert!(
            !replica.output().contains("Lease lost"),
            "no lease is lost while both replicas run:\n{}",
            replica.output()
        );
    }

    let killed = holder_of["test_log_navigli"];
    let survivor = 1 - killed;
    let victim = replicas[killed].take().expect("holder runs");
    let status = Command::new("kill")
        .args(["-KILL", &victim.pid().to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success(), "SIGKILL of the lease holder");
    drop(victim);
    let killed_at = tokio::time::Instant::now();

    let survivor_replica = replicas[survivor].as_ref().expect("survivor runs");
    for (log_id, _) in LOGS {
        while acquisitions(survivor_replica, log_id) == 0 {
            assert!(
                killed_at.elapsed() < TAKEOVER_LIMIT,
                "{log_id}: the surviving replica did not take the lease over within \
                 {TAKEOVER_LIMIT:?}:\n{}",
                survivor_replica.output()
            );
            support::drain_raw(&mut consumer, &mut seen, Duration::from_millis(200)).await;
        }
    }
    eprintln!("takeover after {:?}", killed_at.elapsed());

    fake.wait_fully_grown(Duration::from_secs(60))
        .await
        .expect("fake logs grow");
    let total: u64 = LOGS.iter().map(|(_, size)| size).sum();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while (seen.len() as u64) < total && tokio::time::Instant::now() < deadline {
        support::drain_raw(&mut consumer, &mut seen, Duration::from_millis(500)).await;
    }

    let mut missing = Vec::new();
    for (log_id, size) in LOGS {
        for index in 0..size {
            if !seen.contains_key(&(log_id.to_string(), index)) {
                missing.push(format!("{log_id}:{index}"));
            }
        }
    }
    assert!(missing.is_empty(), "indices never published: {missing:?}");
    assert_eq!(seen.len() as u64, total, "distinct entries");
    let survivor_replica = replicas[survivor].as_mut().expect("survivor runs");
    assert!(survivor_replica.is_running(), "the survivor still runs");
    for (log_id, _) in LOGS {
        assert_eq!(
            acquisitions(survivor_replica, log_id),
            1,
            "{log_id}: the survivor acquired the lease once"
        );
    }
    fake.shutdown().await.expect("fake log stops");
}
