//! End-to-end: a decoder process on a real nats-server gets a good raw batch (with one malformed
//! entry inside) and two raw messages that are not raw batches at all. The good batch's frames
//! reach the subjects, the malformed entry still yields a message, the two bad messages land in
//! the dead-letter stream with their bytes and error after their last delivery, and no raw
//! message stays unacknowledged.

mod decoder_common;
mod support;

use std::time::Duration;

use base64::Engine as _;
use certstream_shared::raw::{LogSource, RawBatch, RawEntry};
use certstream_tests::fixtures;
use decoder_common::{
    collect_frames, connect, jetstream_api, nats, stream_messages, wait_until_all_acked,
    DEAD_LETTER_STREAM,
};
use serde_json::{json, Value};
use support::{NatsServer, Service};

/// Deliveries before a bad message is dead-lettered; small so the test waits one retry delay.
const MAX_DELIVER: &str = "2";

/// Index of the entry whose `leaf_input` is cut short.
const TRUNCATED_INDEX: u64 = 999;

/// The 20 live fixture entries plus one entry whose `leaf_input` ends inside the certificate.
fn good_batch() -> RawBatch {
    let live = fixtures::read_live_entries().expect("live fixture");
    let mut entries: Vec<RawEntry> = live
        .iter()
        .map(|item| RawEntry {
            index: item.cert_index,
            leaf_input: item.leaf_input.clone(),
            extra_data: item.extra_data.clone(),
            cert_link: None,
        })
        .collect();
    let b64 = base64::engine::general_purpose::STANDARD;
    let leaf = b64.decode(&live[0].leaf_input).expect("fixture base64");
    entries.push(RawEntry {
        index: TRUNCATED_INDEX,
        leaf_input: b64.encode(&leaf[..40]),
        extra_data: String::new(),
        cert_link: None,
    });
    RawBatch {
        log: LogSource {
            id: "live".to_string(),
            name: live[0].log_name.clone(),
            url: live[0].log_url.clone(),
        },
        seen: 1_700_000_000.5,
        entries,
    }
}

/// Publishes `payload` to a raw subject and waits for JetStream's publish acknowledgement.
async fn publish_to_raw_stream(bus: &certstream_shared::Bus, log_id: &str, payload: &[u8]) {
    let subject = nats(bus).subjects().raw(log_id);
    let response = nats(bus)
        .client()
        .request(subject.clone(), payload.to_vec().into())
        .await
        .unwrap_or_else(|err| panic!("publishing to {subject} failed: {err}"));
    let ack: Value = serde_json::from_slice(&response.payload).expect("publish ack JSON");
    assert_eq!(ack["stream"], "CERTSTREAM_RAW", "publish ack: {ack}");
}

/// Reads message `sequence` of the dead-letter stream: subject, headers text and payload.
async fn dead_letter(bus: &certstream_shared::Bus, sequence: u64) -> (String, String, Vec<u8>) {
    let response = jetstream_api(
        bus,
        &format!("$JS.API.STREAM.MSG.GET.{DEAD_LETTER_STREAM}"),
        json!({ "seq": sequence }),
    )
    .await;
    let message = &response["message"];
    let b64 = base64::engine::general_purpose::STANDARD;
    let headers = b64
        .decode(message["hdrs"].as_str().expect("dead letter has headers"))
        .expect("headers base64");
    let payload = b64
        .decode(message["data"].as_str().unwrap_or(""))
        .expect("payload base64");
    (
        message["subject"].as_str().expect("subject").to_string(),
        String::from_utf8(headers).expect("UTF-8 headers"),
        payload,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_raw_messages_go_to_dead_letter_stream() {
    let nats_server = NatsServer::start();
    let bus = connect(&nats_server.url).await;
    let batch = good_batch();
    let entry_count = batch.entries.len();

    let mut decoder = Service::spawn(
        "decoder",
        &support::binary("certstream-decoder"),
        &[
            "--nats-url",
            nats_server.url.as_str(),
            "--host",
            "127.0.0.1",
            "--metrics-port",
            "0",
        ],
        &[("CERTSTREAM_NATS_DECODER_MAX_DELIVER", MAX_DELIVER)],
    );
    decoder.wait_for_line("Decoder started", Duration::from_secs(30));

    let timeout = Duration::from_secs(60);
    let quiet = Duration::from_secs(1);
    let (full, _) = collect_frames(&bus, "certstream.full.>", entry_count, quiet, timeout).await;
    let (lite, _) = collect_frames(&bus, "certstream.lite.>", entry_count, quiet, timeout).await;
    let mut domains = nats(&bus)
        .client()
        .subscribe("certstream.domains.>".to_string())
        .await
        .expect("domains subscription");

    let not_json = b"\xff\x00 this is not JSON".to_vec();
    let wrong_shape = br#"{"log":{"id":"Broken Log!"},"entries":"not a list"}"#.to_vec();
    publish_to_raw_stream(&bus, "unknown", &not_json).await;
    bus.publish_raw(batch.clone())
        .await
        .expect("good batch published");
    publish_to_raw_stream(&bus, "broken_log", &wrong_shape).await;

    // The good batch: every entry once on the full and lite subjects, in batch order.
    let full = full.await.expect("full collector");
    let lite = lite.await.expect("lite collector");
    for (stream, collected) in [("full", &full), ("lite", &lite)] {
        assert_eq!(collected.total, entry_count, "{stream}: frame count");
        assert_eq!(collected.duplicates(), 0, "{stream}: duplicate frames");
        for entry in &batch.entries {
            assert!(
                collected.by_index.contains_key(&entry.index),
                "{stream}: entry {} missing",
                entry.index
            );
        }
    }
    for _ in 0..entry_count {
        let message = tokio::time::timeout(
            Duration::from_secs(10),
            futures::StreamExt::next(&mut domains),
        )
        .await
        .expect("domains frame within 10 s")
        .expect("domains subscription open");
        let value: Value = serde_json::from_slice(&message.payload).expect("domains JSON");
        assert_eq!(
            value["message_type"], "dns_entries",
            "domains frame {value}"
        );
    }

    // The truncated entry still streams, with the hashes of its raw bytes and no names.
    let partial = &full.by_index[&TRUNCATED_INDEX][0]["data"];
    let raw_leaf = base64::engine::general_purpose::STANDARD
        .decode(&batch.entries.last().expect("entry").leaf_input)
        .expect("base64");
    assert_eq!(
        partial["leaf_cert"]["as_der"],
        base64::engine::general_purpose::STANDARD.encode(&raw_leaf),
        "partial entry: as_der holds the raw leaf_input bytes"
    );
    assert_eq!(
        partial["leaf_cert"]["all_domains"],
        json!([]),
        "partial entry: all_domains"
    );
    assert_eq!(
        partial["source"]["url"],
        batch.log.url.as_str(),
        "partial entry: source"
    );
    assert!(
        partial["leaf_cert"]["sha256"]
            .as_str()
            .is_some_and(|h| h.len() == 95),
        "partial entry: sha256 {}",
        partial["leaf_cert"]["sha256"]
    );

    // The bad messages: dead-lettered after MAX_DELIVER deliveries, with bytes and error.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while stream_messages(&bus, DEAD_LETTER_STREAM).await != Some(2) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "dead-letter stream holds {:?} messages, expected 2:\n{}",
            stream_messages(&bus, DEAD_LETTER_STREAM).await,
            decoder.output()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let mut letters = [dead_letter(&bus, 1).await, dead_letter(&bus, 2).await];
    letters.sort();
    let (subject, headers, payload) = &letters[0];
    assert_eq!(
        subject, "certstream.deadletter.broken_log",
        "log id from the JSON"
    );
    assert_eq!(payload, &wrong_shape, "dead letter keeps the raw bytes");
    assert!(
        headers.contains("Certstream-Error: invalid raw batch:"),
        "error header missing: {headers:?}"
    );
    let (subject, headers, payload) = &letters[1];
    assert_eq!(
        subject, "certstream.deadletter.unknown",
        "log id of bytes that are not JSON"
    );
    assert_eq!(payload, &not_json, "dead letter keeps the raw bytes");
    assert!(
        headers.contains("Certstream-Error: invalid raw batch:"),
        "error header missing: {headers:?}"
    );
    assert!(
        decoder
            .output()
            .contains("Raw batch cannot be read, it will be delivered again"),
        "a bad message is retried before it is dead-lettered:\n{}",
        decoder.output()
    );

    let consumer = wait_until_all_acked(&bus, Duration::from_secs(10)).await;
    assert_eq!(
        consumer["num_ack_pending"], 0,
        "unacknowledged raw messages"
    );
}
