//! Loading a log list from an http URL served on 127.0.0.1.

mod support;

use std::path::Path;

use certstream_ingest::log_list::signature::ListVerifier;
use certstream_ingest::log_list::{LogListError, LogListSource};

use support::FakeLog;

const LIST: &str = r#"{"operators": [{"name": "Op", "logs": [
    {"description": "Url 'Log'", "log_id": "aWQ=", "key": "a2V5", "url": "https://u.example/",
     "state": {"readonly": {"timestamp": "2026-01-01T00:00:00Z"}}}]}]}"#;

#[tokio::test]
async fn url_source_loads_list() {
    let server = FakeLog::start(0, 1).await;
    server.serve_file("list.json", LIST.to_string());
    let source = LogListSource::from_setting(Some(&server.file_url("list.json")));

    let list = source.load(&reqwest::Client::new()).await.unwrap();

    let followed = list.followed_logs();
    assert_eq!(followed.len(), 1);
    assert_eq!(followed[0].id, "url_log");
}

#[tokio::test]
async fn url_source_status_names_url() {
    let server = FakeLog::start(0, 1).await;
    let url = server.file_url("absent.json");

    let err = LogListSource::Url(url.clone())
        .load(&reqwest::Client::new())
        .await
        .unwrap_err();

    assert!(matches!(err, LogListError::Status { .. }), "{err}");
    assert_eq!(
        err.to_string(),
        format!("log list {url} returned HTTP status 404 Not Found")
    );
}

#[tokio::test]
async fn url_source_invalid_json_names_url() {
    let server = FakeLog::start(0, 1).await;
    server.serve_file("list.json", "<html>".to_string());
    let url = server.file_url("list.json");

    let err = LogListSource::Url(url.clone())
        .load(&reqwest::Client::new())
        .await
        .unwrap_err();

    assert!(
        err.to_string()
            .starts_with(&format!("invalid log list {url}: ")),
        "{err}"
    );
}

fn test_verifier() -> ListVerifier {
    let key = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/test_list_key.pem");
    ListVerifier::from_file(&key).unwrap()
}

#[tokio::test]
async fn url_signature_mismatch_is_rejected() {
    let server = FakeLog::start(0, 1).await;
    server.serve_file("list.json", LIST.to_string());
    server.serve_file("list.sig", "x".repeat(256));

    let err = LogListSource::Url(server.file_url("list.json"))
        .load_verified(&reqwest::Client::new(), Some(&test_verifier()))
        .await
        .unwrap_err();

    assert!(matches!(err, LogListError::Signature(_)), "{err}");
    assert!(server.requests().contains(&"/list.sig".to_string()));
}

#[tokio::test]
async fn url_without_signature_loads() {
    let server = FakeLog::start(0, 1).await;
    server.serve_file("list.json", LIST.to_string());

    let list = LogListSource::Url(server.file_url("list.json"))
        .load_verified(&reqwest::Client::new(), Some(&test_verifier()))
        .await
        .unwrap();

    assert_eq!(list.followed_logs().len(), 1);
    assert!(server.requests().contains(&"/list.sig".to_string()));
}
