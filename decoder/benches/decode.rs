//! Throughput of `decode_entry` (all three frames) over the 20 live fixture entries.
//! Run with `cargo bench -p certstream-decoder`; prints entries per second on one core.

use std::time::Instant;

use certstream_decoder::decode_entry;
use certstream_shared::raw::{LogSource, RawEntry};

#[derive(serde::Deserialize)]
struct LiveEntry {
    log_name: String,
    log_url: String,
    cert_index: u64,
    leaf_input: String,
    extra_data: String,
}

fn main() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tests/fixtures/rfc6962/live-entries.json"
    );
    let entries: Vec<LiveEntry> =
        serde_json::from_str(&std::fs::read_to_string(path).expect("fixture")).expect("json");
    let inputs: Vec<(LogSource, RawEntry)> = entries
        .into_iter()
        .map(|e| {
            (
                LogSource {
                    id: "bench".into(),
                    name: e.log_name,
                    url: e.log_url,
                },
                RawEntry {
                    index: e.cert_index,
                    leaf_input: e.leaf_input,
                    extra_data: e.extra_data,
                    cert_link: None,
                },
            )
        })
        .collect();
    let rounds = 1000;
    let mut bytes = 0usize;
    let start = Instant::now();
    for _ in 0..rounds {
        for (log, entry) in &inputs {
            let decoded = decode_entry(log, entry, 1_700_000_000.0).expect("decodes");
            bytes += decoded.frames.full.len() + decoded.frames.lite.len();
        }
    }
    let elapsed = start.elapsed().as_secs_f64();
    let count = rounds * inputs.len();
    println!(
        "decode_entry: {count} entries in {elapsed:.2} s = {:.0} entries/s ({} MB of frames)",
        count as f64 / elapsed,
        bytes / 1_000_000
    );
}
