//! End-to-end: decoder processes sharing one durable JetStream consumer on a real nats-server.
//! Two decoders split the navigli fixture entries between them and decode each exactly once, and
//! a decoder killed with SIGKILL while it has unacknowledged batches loses none of them: after
//! the ack wait, JetStream delivers them to the surviving decoder.

mod decoder_common;
mod support;

use std::process::Command;
use std::time::Duration;

use certstream_shared::raw::RawEntry;
use decoder_common::{
    batches, collect_frames, connect, consumer_info, decoded_ok, metrics_address, navigli_entries,
    wait_until_all_acked,
};
use support::{NatsServer, Service};

/// Ack wait of the kill test: how long JetStream waits before redelivering the killed
/// decoder's batches.
const SHORT_ACK_WAIT_SECS: &str = "2";

/// Starts a decoder process and waits until it consumes; returns it with its metrics address.
fn start_decoder(name: &str, nats_url: &str, env: &[(&str, &str)]) -> (Service, String) {
    let mut decoder = Service::spawn(
        name,
        &support::binary("certstream-decoder"),
        &[
            "--nats-url",
            nats_url,
            "--host",
            "127.0.0.1",
            "--metrics-port",
            "0",
        ],
        env,
    );
    let line = decoder.wait_for_line("Metrics listening", Duration::from_secs(30));
    decoder.wait_for_line("Decoder started", Duration::from_secs(30));
    (decoder, metrics_address(&line))
}

/// Returns the navigli entries repeated `rounds` times under distinct indices, so a run lasts long
/// enough to kill a decoder in the middle of it.
fn repeated(entries: &[RawEntry], rounds: u64) -> Vec<RawEntry> {
    let count = entries.len() as u64;
    (0..rounds)
        .flat_map(|round| {
            entries.iter().map(move |entry| RawEntry {
                index: round * count + entry.index,
                ..entry.clone()
            })
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_decoders_share_work_once() {
    let nats_server = NatsServer::start();
    let bus = connect(&nats_server.url).await;
    let entries = navigli_entries().await;
    let total = entries.len();

    let (_first, first_metrics) = start_decoder("decoder 1", &nats_server.url, &[]);
    let (_second, second_metrics) = start_decoder("decoder 2", &nats_server.url, &[]);
    let (frames, _) = collect_frames(
        &bus,
        "certstream.full.>",
        total,
        Duration::from_secs(2),
        Duration::from_secs(120),
    )
    .await;
    for batch in batches(&entries, 8) {
        bus.publish_raw(batch).await.expect("raw batch published");
    }

    let frames = frames.await.expect("frame collector");
    assert_eq!(frames.by_index.len(), total, "distinct entries decoded");
    assert_eq!(frames.duplicates(), 0, "entries decoded more than once");
    for entry in &entries {
        let data = &frames.by_index[&entry.index][0]["data"];
        assert_eq!(
            data["update_type"], "PrecertLogEntry",
            "entry {}: update_type",
            entry.index
        );
    }

    let consumer = wait_until_all_acked(&bus, Duration::from_secs(10)).await;
    assert_eq!(consumer["num_redelivered"], 0, "redeliveries: {consumer}");
    let first = decoded_ok(&first_metrics).await;
    let second = decoded_ok(&second_metrics).await;
    println!("decoder 1 decoded {first} entries, decoder 2 decoded {second}");
    assert!(first > 0, "decoder 1 decoded nothing (decoder 2: {second})");
    assert!(second > 0, "decoder 2 decoded nothing (decoder 1: {first})");
    assert_eq!(first + second, total as u64, "entries decoded in total");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_decoder_loses_nothing() {
    let nats_server = NatsServer::start();
    let bus = connect(&nats_server.url).await;
    let entries = repeated(&navigli_entries().await, 4);
    let total = entries.len();
    let env = [("CERTSTREAM_NATS_DECODER_ACK_WAIT_SECS", SHORT_ACK_WAIT_SECS)];

    let (mut doomed, _) = start_decoder("decoder to kill", &nats_server.url, &env);
    let (frames, mut progress) = collect_frames(
        &bus,
        "certstream.full.>",
        total,
        Duration::from_secs(3),
        Duration::from_secs(180),
    )
    .await;
    for batch in batches(&entries, 16) {
        bus.publish_raw(batch).await.expect("raw batch published");
    }

    // Kill the decoder once it is well into the work, while it has fetched batches.
    tokio::time::timeout(
        Duration::from_secs(60),
        progress.wait_for(|&received| received >= 200),
    )
    .await
    .expect("first frames within 60 s")
    .expect("frame collector running");
    let status = Command::new("kill")
        .args(["-KILL", &doomed.pid().to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success(), "kill -KILL {} failed", doomed.pid());
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while doomed.is_running() {
        assert!(
            std::time::Instant::now() < deadline,
            "decoder survived SIGKILL"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let received_before = *progress.borrow();
    assert!(
        received_before < total,
        "the decoder finished all {total} entries before it was killed, so the test proves \
         nothing: publish more entries"
    );
    let orphaned = consumer_info(&bus).await;
    let unacked = orphaned["num_ack_pending"]
        .as_u64()
        .expect("num_ack_pending");
    assert!(
        unacked > 0,
        "the killed decoder held no unacknowledged batch: {orphaned}"
    );

    let (_survivor, _) = start_decoder("surviving decoder", &nats_server.url, &env);
    let frames = frames.await.expect("frame collector");
    let missing: Vec<u64> = entries
        .iter()
        .map(|entry| entry.index)
        .filter(|index| !frames.by_index.contains_key(index))
        .collect();
    assert!(
        missing.is_empty(),
        "{} of {total} entries never arrived, first {:?}",
        missing.len(),
        &missing[..missing.len().min(10)]
    );
    wait_until_all_acked(&bus, Duration::from_secs(20)).await;
    // A batch the killed decoder had partly published arrives again in full, so duplicates are
    // allowed, but at most the batches it left unacknowledged.
    println!(
        "killed after {received_before} frames with {unacked} batches unacknowledged; \
         {} duplicate frames after redelivery",
        frames.duplicates()
    );
    assert!(
        frames.duplicates() <= unacked as usize * 16,
        "{} duplicates, more than the {unacked} redelivered batches of 16 entries",
        frames.duplicates()
    );
}
