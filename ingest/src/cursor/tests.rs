use std::io::Read;

use super::*;

const LOG_A: &str = "https://a.example/ct/";
const LOG_B: &str = "https://b.example/";

fn cursor(next_index: u64, tree_size: u64) -> Cursor {
    Cursor {
        next_index,
        tree_size,
    }
}

#[test]
fn start_index_with_backfill() {
    assert_eq!(start_index(1000, 256), 744);
    assert_eq!(start_index(256, 256), 0);
}

#[test]
fn start_index_small_log_starts_at_zero() {
    assert_eq!(start_index(10, 256), 0);
    assert_eq!(start_index(0, 256), 0);
}

#[test]
fn start_index_without_backfill_is_head() {
    assert_eq!(start_index(1000, 0), 1000);
}

#[test]
fn file_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.json");
    let store = CursorStore::open(path.clone()).unwrap();
    assert!(store.is_empty());
    store.set(LOG_A, cursor(10, 20));
    store.set(LOG_B, cursor(0, 5));
    assert!(store.save_if_dirty().unwrap());

    let reopened = CursorStore::open(path).unwrap();
    assert_eq!(reopened.len(), 2);
    assert_eq!(reopened.get(LOG_A), Some(cursor(10, 20)));
    assert_eq!(reopened.get(LOG_B), Some(cursor(0, 5)));
    assert_eq!(reopened.get("https://c.example/"), None);
}

#[test]
fn save_skips_unchanged_store() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.json");
    let store = CursorStore::open(path.clone()).unwrap();
    assert!(!store.save_if_dirty().unwrap());
    assert!(!path.exists());

    store.set(LOG_A, cursor(1, 2));
    assert!(store.save_if_dirty().unwrap());
    store.set(LOG_A, cursor(1, 2));
    assert!(!store.save_if_dirty().unwrap());
}

#[test]
fn save_replaces_file_atomically() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.json");
    let store = CursorStore::open(path.clone()).unwrap();
    store.set(LOG_A, cursor(1, 2));
    store.save_if_dirty().unwrap();

    // A reader that opened the old file keeps reading the old contents: the new file is a new
    // inode renamed over the old name, not the old file rewritten in place.
    let mut old_reader = File::open(&path).unwrap();
    store.set(LOG_A, cursor(3, 4));
    store.save_if_dirty().unwrap();
    let mut old_text = String::new();
    old_reader.read_to_string(&mut old_text).unwrap();
    assert!(old_text.contains("\"next_index\": 1"), "{old_text}");

    let reopened = CursorStore::open(path).unwrap();
    assert_eq!(reopened.get(LOG_A), Some(cursor(3, 4)));
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["state.json"]);
}

#[test]
fn missing_file_gives_empty_store() {
    let dir = tempfile::tempdir().unwrap();
    let store = CursorStore::open(dir.path().join("absent.json")).unwrap();
    assert!(store.is_empty());
}

#[test]
fn corrupt_file_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.json");
    std::fs::write(&path, "{\"version\": 1, \"logs\": {").unwrap();
    let message = CursorStore::open(path.clone()).unwrap_err().to_string();
    assert!(
        message.starts_with(&format!("invalid cursor state file {}", path.display())),
        "{message}"
    );
}

#[test]
fn unknown_version_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.json");
    std::fs::write(&path, r#"{"version": 7, "logs": {}}"#).unwrap();
    let err = CursorStore::open(path).unwrap_err();
    assert!(
        matches!(err, CursorError::Version { version: 7, .. }),
        "{err}"
    );
}

#[test]
fn current_index_name_is_accepted() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.json");
    let text = r#"{"version": 1, "logs": {"https://a.example/ct/":
        {"current_index": 42, "tree_size": 1000, "last_success": 1700000000}}}"#;
    std::fs::write(&path, text).unwrap();
    let store = CursorStore::open(path).unwrap();
    assert_eq!(store.get(LOG_A), Some(cursor(42, 1000)));
}

#[test]
fn failed_save_keeps_changes_pending() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("missing_dir").join("state.json");
    let store = CursorStore::open(path.clone()).unwrap();
    store.set(LOG_A, cursor(1, 2));
    let message = store.save_if_dirty().unwrap_err().to_string();
    assert!(
        message.starts_with(&format!(
            "failed to write cursor state file {}",
            path.display()
        )),
        "{message}"
    );

    std::fs::create_dir(dir.path().join("missing_dir")).unwrap();
    assert!(store.save_if_dirty().unwrap());
    assert_eq!(
        CursorStore::open(path).unwrap().get(LOG_A),
        Some(cursor(1, 2))
    );
}

#[test]
fn in_memory_store_never_writes() {
    let store = CursorStore::in_memory();
    store.set(LOG_A, cursor(1, 2));
    assert!(!store.save_if_dirty().unwrap());
    assert_eq!(store.get(LOG_A), Some(cursor(1, 2)));
}
