use super::*;

const APPLE_LIST: &str = include_str!("../../tests/fixtures/apple_log_list_v511.json");

fn bundled() -> LogList {
    LogList::parse(BUNDLED_LOG_LIST.as_bytes(), "bundled").unwrap()
}

fn followed_names(list: &LogList) -> Vec<String> {
    list.followed_logs()
        .into_iter()
        .map(|log| log.name)
        .collect()
}

#[test]
fn bundled_list_follows_31_logs() {
    let followed = bundled().followed_logs();
    assert_eq!(followed.len(), 31);
    assert_eq!(followed[0].id, "google_argon2026h1_log");
    assert_eq!(followed[0].name, "Google 'Argon2026h1' log");
    assert_eq!(
        followed[0].url,
        "https://ct.googleapis.com/logs/us1/argon2026h1/"
    );
    assert_eq!(followed[30].id, "trustasia_hetu2027");
}

#[test]
fn bundled_list_skips_retired_logs() {
    let list = bundled();
    let names = followed_names(&list);
    assert!(!names.contains(&"Let's Encrypt 'Oak2026h1'".to_string()));
    assert!(!names.contains(&"Let's Encrypt 'Oak2026h2'".to_string()));
    let retired = list
        .operators
        .iter()
        .flat_map(|operator| &operator.logs)
        .filter(|log| log.state == Some(LogState::Retired))
        .count();
    assert_eq!(retired, 4);
}

#[test]
fn bundled_list_follows_readonly_logs() {
    let names = followed_names(&bundled());
    assert!(names.contains(&"Sectigo 'Mammoth2026h1'".to_string()));
    assert!(names.contains(&"Sectigo 'Sabre2026h2'".to_string()));
}

#[test]
fn bundled_list_keeps_tiled_logs() {
    let list = bundled();
    let tiled: Vec<&TiledLog> = list
        .operators
        .iter()
        .flat_map(|operator| &operator.tiled_logs)
        .collect();
    assert_eq!(tiled.len(), 21);
    assert_eq!(tiled[0].description, "Let's Encrypt 'Sycamore2026h1'");
    assert_eq!(tiled[0].state, Some(LogState::Usable));
    let followed = bundled().followed_logs();
    assert!(followed.iter().all(|log| !log.name.contains("Sycamore")));
}

#[test]
fn bundled_list_follows_tiled_logs() {
    let list = bundled();
    let tiled: Vec<&TiledLog> = list
        .operators
        .iter()
        .flat_map(|operator| &operator.tiled_logs)
        .filter(|log| log.state.as_ref().is_some_and(LogState::is_followed))
        .collect();
    let followed = list.followed();
    let static_ct: Vec<&FollowedLog> = followed
        .iter()
        .filter(|log| matches!(log.api, LogApi::StaticCt { .. }))
        .collect();

    assert_eq!(static_ct.len(), tiled.len());
    assert_eq!(followed.len(), 31 + tiled.len());
    let sycamore = static_ct
        .iter()
        .find(|log| log.source.name == "Let's Encrypt 'Sycamore2026h1'")
        .expect("Sycamore2026h1 is followed");
    assert_eq!(sycamore.source.url, tiled[0].monitoring_url);
    let LogApi::StaticCt {
        submission_url,
        key,
    } = &sycamore.api
    else {
        unreachable!("filtered on StaticCt")
    };
    assert_eq!(submission_url, &tiled[0].submission_url);
    assert_eq!(key.len(), 91, "DER of a P-256 SubjectPublicKeyInfo");
}

#[test]
fn bundled_list_parses_log_fields() {
    let list = bundled();
    let log = &list.operators[0].logs[0];
    assert_eq!(log.log_id, "DleUvPOuqT4zGyyZB7P3kN+bwj1xMiXdIaklrGHFTiE=");
    assert!(log.key.starts_with("MFkwEwYHKoZIzj0CAQYI"));
    assert_eq!(log.mmd, Some(86400));
    let interval = log.temporal_interval.as_ref().unwrap();
    assert_eq!(interval.start_inclusive, "2026-01-01T00:00:00Z");
    assert_eq!(interval.end_exclusive, "2026-07-01T00:00:00Z");
}

#[test]
fn apple_list_skips_rejected_logs() {
    let list = LogList::parse(APPLE_LIST.as_bytes(), "apple").unwrap();
    let rejected = list
        .operators
        .iter()
        .flat_map(|operator| &operator.logs)
        .filter(|log| log.state == Some(LogState::Rejected))
        .count();
    assert_eq!(rejected, 102);
    let followed = list.followed_logs();
    assert_eq!(followed.len(), 33);
    assert!(followed.iter().all(|log| log.name != "StartCom log"));
    assert!(followed
        .iter()
        .all(|log| log.url != "https://ct.cloudflare.com/logs/nimbus2017/"));
}

#[test]
fn apple_list_operators_with_empty_logs() {
    let list = LogList::parse(APPLE_LIST.as_bytes(), "apple").unwrap();
    let geomys = list
        .operators
        .iter()
        .find(|operator| operator.name == "Geomys")
        .unwrap();
    assert!(geomys.logs.is_empty());
    assert_eq!(geomys.tiled_logs.len(), 5);
}

#[test]
fn operator_without_logs_key() {
    let text = r#"{"operators": [
        {"name": "Tiles only", "tiled_logs": []},
        {"name": "Classic", "logs": [
            {"description": "Classic 'One'", "log_id": "aWQ=", "key": "a2V5",
             "url": "https://one.example/", "state": {"qualified": {"timestamp": "2026-01-01T00:00:00Z"}}},
            {"description": "Classic 'Two'", "log_id": "aWQ=", "key": "a2V5",
             "url": "https://two.example/", "state": {"pending": {"timestamp": "2026-01-01T00:00:00Z"}}},
            {"description": "Classic 'Three'", "log_id": "aWQ=", "key": "a2V5",
             "url": "https://three.example/", "state": {"frozen": {}}},
            {"description": "Classic 'Four'", "log_id": "aWQ=", "key": "a2V5",
             "url": "https://four.example/"}
        ]}
    ]}"#;
    let list = LogList::parse(text.as_bytes(), "inline").unwrap();
    assert!(list.operators[0].logs.is_empty());
    assert_eq!(
        list.operators[1].logs[2].state,
        Some(LogState::Other("frozen".to_string()))
    );
    assert_eq!(list.operators[1].logs[3].state, None);
    let followed = list.followed_logs();
    assert_eq!(followed.len(), 1);
    assert_eq!(followed[0].id, "classic_one");
}

#[test]
fn colliding_slugs_get_suffixes() {
    let mut taken = HashSet::new();
    assert_eq!(unique_slug("Log 'A'", &mut taken), "log_a");
    assert_eq!(unique_slug("log a", &mut taken), "log_a_2");
    assert_eq!(unique_slug("LOG-A", &mut taken), "log_a_3");
    assert_eq!(unique_slug("log_a_2", &mut taken), "log_a_2_2");
    assert_eq!(unique_slug("Other", &mut taken), "other");
}

#[test]
fn followed_ids_are_unique_and_urls_kept() {
    let text = r#"{"operators": [{"name": "Op", "logs": [
        {"description": "Same", "log_id": "", "key": "", "url": "https://a.example/ct",
         "state": {"usable": {}}},
        {"description": "same!", "log_id": "", "key": "", "url": "https://b.example/ct/",
         "state": {"usable": {}}},
        {"description": "Copy", "log_id": "", "key": "", "url": "https://a.example/ct",
         "state": {"usable": {}}}
    ]}]}"#;
    let followed = LogList::parse(text.as_bytes(), "inline")
        .unwrap()
        .followed_logs();
    let ids: Vec<&str> = followed.iter().map(|log| log.id.as_str()).collect();
    assert_eq!(ids, ["same", "same_2"]);
    assert_eq!(followed[0].url, "https://a.example/ct");
    assert_eq!(followed[1].url, "https://b.example/ct/");
}

#[test]
fn invalid_json_names_origin() {
    let err = LogList::parse(b"<html>", "/etc/list.json").unwrap_err();
    assert!(
        err.to_string()
            .starts_with("invalid log list /etc/list.json: "),
        "{err}"
    );
}

#[test]
fn setting_selects_source() {
    assert_eq!(LogListSource::from_setting(None), LogListSource::Bundled);
    assert_eq!(
        LogListSource::from_setting(Some(" ")),
        LogListSource::Bundled
    );
    assert_eq!(
        LogListSource::from_setting(Some("HTTPS://list.example/l.json")),
        LogListSource::Url("HTTPS://list.example/l.json".to_string())
    );
    assert_eq!(
        LogListSource::from_setting(Some("lists/log_list.json")),
        LogListSource::File(PathBuf::from("lists/log_list.json"))
    );
}

#[tokio::test]
async fn missing_file_names_path() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("absent.json");
    let source = LogListSource::File(path.clone());
    let err = source.load(&reqwest::Client::new()).await.unwrap_err();
    let message = err.to_string();
    assert!(
        message.starts_with("failed to read log list file "),
        "{message}"
    );
    assert!(message.contains(&path.display().to_string()), "{message}");
}

#[tokio::test]
async fn file_source_loads_list() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("list.json");
    std::fs::write(&path, BUNDLED_LOG_LIST).unwrap();
    let list = LogListSource::File(path)
        .load(&reqwest::Client::new())
        .await
        .unwrap();
    assert_eq!(list.followed_logs().len(), 31);
}

// === Merging ===

fn all_log_ids(list: &LogList) -> Vec<String> {
    list.operators
        .iter()
        .flat_map(|operator| {
            let logs = operator.logs.iter().map(|log| log.log_id.clone());
            let tiled = operator.tiled_logs.iter().map(|log| log.log_id.clone());
            logs.chain(tiled)
        })
        .collect()
}

#[test]
fn merge_with_apple_deduplicates_log_ids() {
    let apple = LogList::parse(APPLE_LIST.as_bytes(), "apple").unwrap();
    let apple_ids: HashSet<String> = all_log_ids(&apple).into_iter().collect();
    let mut merged = bundled();
    let google_ids: HashSet<String> = all_log_ids(&merged).into_iter().collect();
    merged.merge(apple);

    let ids = all_log_ids(&merged);
    let unique: HashSet<&String> = ids.iter().collect();
    assert_eq!(unique.len(), ids.len(), "a log_id appears twice");
    assert_eq!(google_ids.len(), 56);
    assert_eq!(apple_ids.len(), 166);
    assert_eq!(google_ids.intersection(&apple_ids).count(), 54);
    assert_eq!(ids.len(), 56 + 166 - 54);
}

#[test]
fn merge_keeps_first_list_entries() {
    let mut merged = bundled();
    let before: Vec<FollowedLog> = merged.followed();
    merged.merge(LogList::parse(APPLE_LIST.as_bytes(), "apple").unwrap());
    let after = merged.followed();
    assert_eq!(&after[..before.len()], &before[..]);
    assert!(after.len() >= before.len());
}

#[test]
fn merge_appends_operators_with_new_logs() {
    let mut merged = bundled();
    let operators_before = merged.operators.len();
    merged.merge(LogList::parse(APPLE_LIST.as_bytes(), "apple").unwrap());
    let appended = &merged.operators[operators_before..];
    assert!(!appended.is_empty());
    for operator in appended {
        assert!(
            !operator.logs.is_empty() || !operator.tiled_logs.is_empty(),
            "operator {} was appended without logs",
            operator.name
        );
    }
    assert!(appended.iter().any(|operator| operator.name == "StartCom"));
}

#[test]
fn merge_with_itself_changes_nothing() {
    let mut merged = bundled();
    merged.merge(bundled());
    assert_eq!(all_log_ids(&merged), all_log_ids(&bundled()));
}

// === Signatures ===

fn fixture_path(name: &str) -> PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn test_verifier() -> ListVerifier {
    ListVerifier::from_file(&fixture_path("test_list_key.pem")).unwrap()
}

/// Copies the Google list fixture into a directory, with `signature` as `log_list.sig`.
fn signed_list_dir(signature: Option<&str>) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("log_list.json");
    std::fs::copy(fixture_path("google_log_list_v85.92.json"), &path).unwrap();
    if let Some(signature) = signature {
        std::fs::copy(fixture_path(signature), dir.path().join("log_list.sig")).unwrap();
    }
    (dir, path)
}

#[tokio::test]
async fn file_with_valid_signature_loads() {
    let (_dir, path) = signed_list_dir(Some("google_log_list_v85.92.test_key.sig"));
    let list = LogListSource::File(path)
        .load_verified(&reqwest::Client::new(), Some(&test_verifier()))
        .await
        .unwrap();
    assert_eq!(list.followed_logs().len(), 31);
}

#[tokio::test]
async fn file_with_wrong_signature_is_rejected() {
    let (_dir, path) = signed_list_dir(Some("google_log_list_v85.92.sig"));
    let err = LogListSource::File(path)
        .load_verified(&reqwest::Client::new(), Some(&test_verifier()))
        .await
        .unwrap_err();
    assert!(matches!(err, LogListError::Signature(_)), "{err}");
}

#[tokio::test]
async fn file_without_signature_loads() {
    let (_dir, path) = signed_list_dir(None);
    let list = LogListSource::File(path)
        .load_verified(&reqwest::Client::new(), Some(&test_verifier()))
        .await
        .unwrap();
    assert_eq!(list.followed_logs().len(), 31);
}

/// The bundled list loads with its signature checked against Google's key.
#[tokio::test]
async fn bundled_list_verifies_with_google_key() {
    let verifier = signature::ListVerifier::google();
    let list = LogListSource::Bundled
        .load_verified(&reqwest::Client::new(), Some(&verifier))
        .await
        .expect("bundled list verifies");
    assert!(!list.followed().is_empty());
}
