//! Tests of the running server over HTTP on 127.0.0.1.

use std::time::Duration;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use ring::signature::{UnparsedPublicKey, ECDSA_P256_SHA256_ASN1};
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::*;

/// Upper bound for one HTTP request to the local server.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// Starts a server whose logs are complete from the start and never grow.
async fn full_log(page_size: usize) -> FakeLog {
    let mut config = FakeLogConfig::with_growth(Growth::default());
    config.page_size = page_size;
    for spec in &mut config.logs {
        spec.growth.initial_size = if spec.fixture == LogFixture::Live {
            20
        } else {
            1024
        };
        spec.growth.step = 0;
    }
    FakeLog::start(config).await.expect("fake log starts")
}

async fn get(url: &str) -> (u16, Value) {
    let client = reqwest::Client::builder()
        .timeout(REQUEST_TIMEOUT)
        .build()
        .expect("client builds");
    let response = client.get(url).send().await.expect("request succeeds");
    let status = response.status().as_u16();
    let body = response.json().await.expect("body is JSON");
    (status, body)
}

fn entries_url(fake: &FakeLog, log: LogFixture, start: &str, end: &str) -> String {
    format!(
        "{}ct/v1/get-entries?start={start}&end={end}",
        fake.log_url(log)
    )
}

fn entry_count(body: &Value) -> usize {
    body["entries"].as_array().expect("entries array").len()
}

#[tokio::test]
async fn live_entry_0_served_unchanged() {
    let fake = full_log(256).await;
    let fixture_text =
        std::fs::read_to_string(crate::fixtures_dir().join(crate::fixtures::LIVE_ENTRIES))
            .expect("live fixture reads");
    let fixture: Value = serde_json::from_str(&fixture_text).expect("live fixture is JSON");

    let (status, body) = get(&entries_url(&fake, LogFixture::Live, "0", "0")).await;

    assert_eq!(status, 200);
    assert_eq!(entry_count(&body), 1);
    assert_eq!(body["entries"][0]["leaf_input"], fixture[0]["leaf_input"]);
    assert_eq!(body["entries"][0]["extra_data"], fixture[0]["extra_data"]);
}

#[tokio::test]
async fn get_entries_pages_are_capped() {
    let fake = full_log(100).await;

    let cases = [
        (LogFixture::Navigli, "0", "1023", 100),
        (LogFixture::Navigli, "1000", "5000", 24),
        (LogFixture::Navigli, "1023", "1023", 1),
        (LogFixture::Live, "5", "100", 15),
        (LogFixture::Live, "0", "99", 20),
    ];
    for (log, start, end, expected) in cases {
        let (status, body) = get(&entries_url(&fake, log, start, end)).await;
        assert_eq!(status, 200, "{} {start}..{end}", log.name());
        assert_eq!(
            entry_count(&body),
            expected,
            "{} {start}..{end}",
            log.name()
        );
    }
}

#[tokio::test]
async fn get_entries_pages_concatenate_to_log() {
    let fake = full_log(100).await;
    let expected = entries::LogEntries::load(LogFixture::Navigli).expect("navigli loads");

    let mut served = Vec::new();
    while served.len() < 1024 {
        let start = served.len().to_string();
        let (_, body) = get(&entries_url(&fake, LogFixture::Navigli, &start, "1023")).await;
        served.extend(body["entries"].as_array().expect("entries array").clone());
    }

    assert_eq!(served.len(), 1024);
    for (index, (served, expected)) in served.iter().zip(&expected.entries).enumerate() {
        assert_eq!(
            served["leaf_input"],
            expected.leaf_input.as_str(),
            "index {index}"
        );
        assert_eq!(
            served["extra_data"],
            expected.extra_data.as_str(),
            "index {index}"
        );
    }
}

#[tokio::test]
async fn get_entries_rejects_bad_ranges() {
    let fake = full_log(256).await;
    let live = fake.log_url(LogFixture::Live);

    let cases = [
        (
            format!("{live}ct/v1/get-entries?end=5"),
            "missing query parameter start",
        ),
        (
            format!("{live}ct/v1/get-entries?start=5"),
            "missing query parameter end",
        ),
        (
            format!("{live}ct/v1/get-entries"),
            "missing query parameter start",
        ),
        (
            format!("{live}ct/v1/get-entries?start=6&end=5"),
            "start 6 is greater than end 5",
        ),
        (
            format!("{live}ct/v1/get-entries?start=20&end=30"),
            "start 20 is beyond the tree of size 20",
        ),
        (
            format!("{live}ct/v1/get-entries?start=a&end=5"),
            "invalid query parameter start=a: expected a non-negative integer",
        ),
    ];
    for (url, message) in cases {
        let (status, body) = get(&url).await;
        assert_eq!(status, 400, "{url}");
        assert_eq!(body["error"], message, "{url}");
    }
}

#[tokio::test]
async fn get_entries_rejects_empty_tree() {
    let config = FakeLogConfig::with_growth(Growth {
        initial_size: 0,
        step: 0,
        interval: Duration::ZERO,
    });
    let fake = FakeLog::start(config).await.expect("fake log starts");

    let (status, body) = get(&entries_url(&fake, LogFixture::Live, "0", "0")).await;

    assert_eq!(status, 400);
    assert_eq!(body["error"], "start 0 is beyond the tree of size 0");
}

#[tokio::test]
async fn get_sth_verifies_with_log_list_key() {
    let fake = full_log(256).await;
    let directory = tempfile::tempdir().expect("temporary directory");
    let path = directory.path().join("log_list.json");
    fake.write_log_list(&path).expect("log list written");
    let list: Value =
        serde_json::from_slice(&std::fs::read(&path).expect("log list reads")).expect("JSON");

    for log in LogFixture::ALL {
        let listed = list["operators"][0]["logs"]
            .as_array()
            .expect("logs array")
            .iter()
            .find(|listed| listed["url"] == fake.log_url(log).as_str())
            .expect("log is listed");
        let spki = BASE64
            .decode(listed["key"].as_str().expect("key"))
            .expect("base64");
        let log_id = BASE64
            .decode(listed["log_id"].as_str().expect("log_id"))
            .expect("base64");
        let (status, sth) = get(&format!("{}ct/v1/get-sth", fake.log_url(log))).await;
        let signature = BASE64
            .decode(sth["tree_head_signature"].as_str().expect("signature"))
            .expect("base64");
        let root: Hash = BASE64
            .decode(sth["sha256_root_hash"].as_str().expect("root"))
            .expect("base64")
            .try_into()
            .expect("32-byte root");
        let tree_size = sth["tree_size"].as_u64().expect("tree_size");
        let timestamp = sth["timestamp"].as_u64().expect("timestamp");

        assert_eq!(status, 200);
        assert_eq!(listed["description"], log.description());
        assert_eq!(log_id, Sha256::digest(&spki).as_slice());
        assert_eq!(spki[..P256_SPKI_PREFIX.len()], P256_SPKI_PREFIX);
        assert_eq!(signature[..2], [4, 3], "sha256 and ecdsa");
        assert_eq!(
            usize::from(u16::from_be_bytes([signature[2], signature[3]])),
            signature.len() - 4
        );
        let public_key =
            UnparsedPublicKey::new(&ECDSA_P256_SHA256_ASN1, &spki[P256_SPKI_PREFIX.len()..]);
        let message = tree_head_signature_input(timestamp, tree_size, &root);
        assert!(
            public_key.verify(&message, &signature[4..]).is_ok(),
            "{}",
            log.name()
        );
    }
}

#[tokio::test]
async fn get_sth_of_navigli_has_known_root() {
    let fake = full_log(256).await;

    let (status, sth) = get(&format!(
        "{}ct/v1/get-sth",
        fake.log_url(LogFixture::Navigli)
    ))
    .await;

    assert_eq!(status, 200);
    assert_eq!(sth["tree_size"], 1024);
    assert_eq!(
        sth["sha256_root_hash"],
        "EMfGG85uIddeOXt5/wdQGP3IQd0COCqoLg9Q6CsPLJA="
    );
}

#[tokio::test]
async fn log_list_points_at_server() {
    let fake = full_log(256).await;
    let directory = tempfile::tempdir().expect("temporary directory");
    let path = directory.path().join("log_list.json");

    fake.write_log_list(&path).expect("log list written");

    let list: Value =
        serde_json::from_slice(&std::fs::read(&path).expect("log list reads")).expect("JSON");
    let logs = list["operators"][0]["logs"].as_array().expect("logs array");
    assert_eq!(logs.len(), 2);
    assert_eq!(logs[0]["description"], "Test Log 'Live'");
    assert_eq!(logs[0]["url"], format!("{}/live/", fake.base_url()));
    assert_eq!(logs[1]["description"], "Test Log 'Navigli'");
    assert_eq!(logs[1]["url"], format!("{}/navigli/", fake.base_url()));
    assert_eq!(logs[0]["mmd"], 86_400);
    assert!(logs[0]["state"]["usable"]["timestamp"].is_string());
    assert_ne!(logs[0]["log_id"], logs[1]["log_id"]);
    assert!(!directory.path().join("log_list.json.tmp").exists());
}

#[tokio::test]
async fn get_roots_is_empty() {
    let fake = full_log(256).await;

    let (status, body) = get(&format!(
        "{}ct/v1/get-roots",
        fake.log_url(LogFixture::Live)
    ))
    .await;

    assert_eq!(status, 200);
    assert_eq!(body, serde_json::json!({ "certificates": [] }));
}

#[tokio::test]
async fn logs_grow_to_full_size() {
    let config = FakeLogConfig::with_growth(Growth {
        initial_size: 10,
        step: 300,
        interval: Duration::from_millis(50),
    });
    let fake = FakeLog::start(config).await.expect("fake log starts");

    assert_eq!(fake.tree_size(LogFixture::Live), Some(10));
    assert_eq!(fake.tree_size(LogFixture::Navigli), Some(10));
    assert_eq!(fake.total_entries(), 1044);
    assert!(!fake.is_fully_grown());

    fake.wait_fully_grown(Duration::from_secs(10))
        .await
        .expect("logs grow within 10 seconds");

    assert!(fake.is_fully_grown());
    assert_eq!(fake.tree_size(LogFixture::Live), Some(20));
    assert_eq!(fake.tree_size(LogFixture::Navigli), Some(1024));
    let (_, sth) = get(&format!(
        "{}ct/v1/get-sth",
        fake.log_url(LogFixture::Navigli)
    ))
    .await;
    assert_eq!(sth["tree_size"], 1024);
    assert_eq!(
        sth["sha256_root_hash"],
        "EMfGG85uIddeOXt5/wdQGP3IQd0COCqoLg9Q6CsPLJA="
    );
}

#[tokio::test]
async fn navigli_sth_at_778_has_known_root() {
    let mut config = FakeLogConfig::with_growth(Growth {
        initial_size: 778,
        step: 0,
        interval: Duration::ZERO,
    });
    config
        .logs
        .retain(|spec| spec.fixture == LogFixture::Navigli);
    let fake = FakeLog::start(config).await.expect("fake log starts");

    let (_, sth) = get(&format!(
        "{}ct/v1/get-sth",
        fake.log_url(LogFixture::Navigli)
    ))
    .await;

    assert_eq!(sth["tree_size"], 778);
    assert_eq!(
        sth["sha256_root_hash"],
        "+WnHOMRZl/LG1669oeskbdK9bcO4nkrY1cfVyknC52U="
    );
    assert_eq!(fake.tree_size(LogFixture::Live), None);
    assert_eq!(fake.total_entries(), 1024);
}

#[tokio::test]
async fn wait_fails_for_stalled_log() {
    let config = FakeLogConfig::with_growth(Growth {
        initial_size: 5,
        step: 0,
        interval: Duration::ZERO,
    });
    let fake = FakeLog::start(config).await.expect("fake log starts");

    let error = fake
        .wait_fully_grown(Duration::from_secs(1))
        .await
        .expect_err("a log with step 0 never grows");

    assert_eq!(
        error.to_string(),
        "log live has growth step 0 and stays at 5 of 20 entries"
    );
}

#[tokio::test]
async fn shutdown_stops_serving() {
    let fake = full_log(256).await;
    let url = format!("{}ct/v1/get-sth", fake.log_url(LogFixture::Live));

    fake.shutdown().await.expect("server stops");

    let client = reqwest::Client::builder()
        .timeout(REQUEST_TIMEOUT)
        .build()
        .expect("client builds");
    assert!(client.get(&url).send().await.is_err());
}

/// Starts a server with only the Static CT navigli log at `initial_size`, not growing.
async fn static_log(initial_size: u64) -> FakeLog {
    let config = FakeLogConfig::static_ct(Growth {
        initial_size,
        step: 0,
        interval: Duration::ZERO,
    });
    FakeLog::start(config).await.expect("fake log starts")
}

/// Sends a GET request without automatic decompression, so headers and bodies arrive as served.
async fn get_raw(url: &str) -> reqwest::Response {
    let client = reqwest::Client::builder()
        .timeout(REQUEST_TIMEOUT)
        .no_gzip()
        .build()
        .expect("client builds");
    client.get(url).send().await.expect("request succeeds")
}

#[tokio::test]
async fn static_checkpoint_is_signed_note() {
    let fake = static_log(778).await;
    let url = format!("{}checkpoint", fake.log_url(LogFixture::NavigliStatic));

    let text = get_raw(&url).await.text().await.expect("text body");

    let origin = format!(
        "{}/navigli-static",
        fake.base_url().trim_start_matches("http://")
    );
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 5, "{text}");
    assert_eq!(lines[0], origin);
    assert_eq!(lines[1], "778");
    assert_eq!(lines[2], "+WnHOMRZl/LG1669oeskbdK9bcO4nkrY1cfVyknC52U=");
    assert_eq!(lines[3], "");
    let signature_line = lines[4]
        .strip_prefix(&format!("\u{2014} {origin} "))
        .expect("signature line names the origin");
    let signature = BASE64.decode(signature_line).expect("base64 signature");
    let head = fake.tree_head(LogFixture::NavigliStatic).expect("served");
    assert_eq!(signature[4..12], head.timestamp_ms.to_be_bytes());
    assert_eq!(signature[12..], head.signature[..]);
}

#[tokio::test]
async fn static_tiles_use_three_encodings() {
    let fake = static_log(778).await;
    let base = fake.log_url(LogFixture::NavigliStatic);
    let fixture = |path: &str| crate::fixtures::read_navigli_file(path).expect("fixture tile");

    let even = get_raw(&format!("{base}tile/data/000")).await;
    assert_eq!(even.headers()["content-encoding"], "gzip");
    let even_body = gunzip(&even.bytes().await.expect("body"));
    assert_eq!(even_body, fixture("tile/data/000"));

    let odd = get_raw(&format!("{base}tile/data/001")).await;
    assert!(odd.headers().get("content-encoding").is_none());
    let odd_body = odd.bytes().await.expect("body");
    assert_eq!(odd_body[..2], [0x1f, 0x8b], "gzip without Content-Encoding");
    assert_eq!(gunzip(&odd_body), fixture("tile/data/001"));

    let partial = get_raw(&format!("{base}tile/data/003.p/10")).await;
    assert_eq!(partial.status(), 200);
    assert!(partial.headers().get("content-encoding").is_none());
    let partial_body = partial.bytes().await.expect("body");
    assert_eq!(partial_body[..], fixture("tile/data/003.p/10")[..]);
}

fn gunzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Read;
    let mut plain = Vec::new();
    flate2::read::GzDecoder::new(bytes)
        .read_to_end(&mut plain)
        .expect("valid gzip");
    plain
}

#[tokio::test]
async fn static_tiles_beyond_tree_are_missing() {
    let fake = static_log(778).await;
    let full = static_log(1024).await;
    let cases = [
        (&fake, "tile/data/003", 404),
        (&fake, "tile/data/003.p/11", 404),
        (&fake, "tile/data/003.p/9", 200),
        (&full, "tile/data/003", 200),
        (&full, "tile/data/003.p/10", 404),
        (&fake, "tile/data/3", 404),
    ];
    for (server, path, expected) in cases {
        let url = format!("{}{path}", server.log_url(LogFixture::NavigliStatic));
        assert_eq!(get_raw(&url).await.status(), expected, "{path}");
    }
}

#[tokio::test]
async fn static_issuer_served_by_fingerprint() {
    let fake = static_log(1).await;
    let fingerprint = "e70570a989f8565aabdf7cae27abd1621872d6a3f811e3fef27e3dba02912198";
    let url = format!(
        "{}issuer/{fingerprint}",
        fake.log_url(LogFixture::NavigliStatic)
    );

    let der = get_raw(&url).await.bytes().await.expect("body");

    assert_eq!(hex::encode(Sha256::digest(&der)), fingerprint);
    let missing = format!(
        "{}issuer/{}",
        fake.log_url(LogFixture::NavigliStatic),
        "00".repeat(32)
    );
    assert_eq!(get_raw(&missing).await.status(), 404);
}

#[tokio::test]
async fn log_list_has_tiled_log() {
    let fake = static_log(1).await;
    let directory = tempfile::tempdir().expect("temporary directory");
    let path = directory.path().join("log_list.json");

    fake.write_log_list(&path).expect("log list written");

    let list: Value =
        serde_json::from_slice(&std::fs::read(&path).expect("log list reads")).expect("JSON");
    let operator = &list["operators"][0];
    assert_eq!(operator["logs"].as_array().map(Vec::len), Some(0));
    let tiled = &operator["tiled_logs"][0];
    let url = fake.log_url(LogFixture::NavigliStatic);
    assert_eq!(tiled["description"], "Test Log 'Navigli Static'");
    assert_eq!(tiled["submission_url"], url.as_str());
    assert_eq!(tiled["monitoring_url"], url.as_str());
    assert!(tiled["key"].is_string());
}
