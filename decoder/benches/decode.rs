//! Throughput of `decode_entry` (all three frames) on one thread over the real fixture entries:
//! the 20 live RFC 6962 entries and the 1024 Static CT navigli entries (converted to RFC 6962
//! with `decoder::tile` before timing starts). Run with `cargo bench -p certstream-decoder`;
//! prints entries per second for each set and for all entries together.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use base64::Engine as _;
use certstream_decoder::{decode_entry, tile};
use certstream_shared::raw::{LogSource, RawEntry};

/// Minimum time spent decoding each set, so a set is timed over many passes.
const MIN_DURATION: Duration = Duration::from_secs(3);

#[derive(serde::Deserialize)]
struct LiveEntry {
    log_name: String,
    log_url: String,
    cert_index: u64,
    leaf_input: String,
    extra_data: String,
}

fn fixture(relative: &str) -> String {
    format!(
        "{}/../tests/fixtures/{relative}",
        env!("CARGO_MANIFEST_DIR")
    )
}

fn live_entries() -> Vec<(LogSource, RawEntry)> {
    let text = std::fs::read_to_string(fixture("rfc6962/live-entries.json")).expect("fixture");
    let entries: Vec<LiveEntry> = serde_json::from_str(&text).expect("fixture JSON");
    entries
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
        .collect()
}

fn navigli_entries() -> Vec<(LogSource, RawEntry)> {
    let prefix = fixture("static-ct/navigli2025h2");
    let mut issuers = HashMap::new();
    for item in std::fs::read_dir(format!("{prefix}/issuer")).expect("issuer directory") {
        let path = item.expect("issuer file").path();
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .expect("file name");
        let fingerprint: [u8; 32] = hex::decode(name)
            .expect("hex file name")
            .try_into()
            .expect("32-byte fingerprint");
        issuers.insert(fingerprint, std::fs::read(&path).expect("issuer DER"));
    }
    let log = LogSource {
        id: "bench".into(),
        name: "Geomys 'navigli2025h2'".into(),
        url: "https://navigli2025h2.sunlight.geomys.org/".into(),
    };
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut out = Vec::new();
    for tile_number in 0..4 {
        let data = std::fs::read(format!("{prefix}/tile/data/{tile_number:03}")).expect("tile");
        for leaf in tile::tile_leaves(&data).expect("valid tile") {
            let (leaf_input, extra_data) = leaf
                .to_rfc6962(|fingerprint| issuers.get(fingerprint).map(Vec::as_slice))
                .expect("issuers resolve");
            let entry = RawEntry {
                index: leaf.leaf_index().expect("leaf_index extension"),
                leaf_input: b64.encode(leaf_input),
                extra_data: b64.encode(extra_data),
                cert_link: Some(format!("{}tile/data/{tile_number:03}", log.url)),
            };
            out.push((log.clone(), entry));
        }
    }
    out
}

/// Decodes `inputs` in passes until `MIN_DURATION` has passed; prints and returns entries/s.
fn measure(name: &str, inputs: &[(LogSource, RawEntry)]) -> f64 {
    let mut count = 0usize;
    let mut frame_bytes = 0usize;
    let start = Instant::now();
    while start.elapsed() < MIN_DURATION {
        for (log, entry) in inputs {
            let decoded = decode_entry(log, entry, 1_700_000_000.0).expect("fixture decodes");
            frame_bytes += decoded.frames.full.len()
                + decoded.frames.lite.len()
                + decoded.frames.domains.len();
        }
        count += inputs.len();
    }
    let elapsed = start.elapsed().as_secs_f64();
    let rate = count as f64 / elapsed;
    println!(
        "{name}: {count} entries in {elapsed:.2} s = {rate:.0} entries/s on one thread \
         ({:.0} MB/s of frames)",
        frame_bytes as f64 / elapsed / 1e6
    );
    rate
}

fn main() {
    let live = live_entries();
    let navigli = navigli_entries();
    measure("live RFC 6962 (20 entries)", &live);
    measure("navigli Static CT (1024 entries)", &navigli);
    let all: Vec<(LogSource, RawEntry)> = live.into_iter().chain(navigli).collect();
    measure("all fixture entries (1044)", &all);
}
