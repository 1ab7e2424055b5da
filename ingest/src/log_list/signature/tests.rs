use super::*;

const GOOGLE_LIST: &[u8] = include_bytes!("../../../tests/fixtures/google_log_list_v85.92.json");
const GOOGLE_SIGNATURE: &[u8] =
    include_bytes!("../../../tests/fixtures/google_log_list_v85.92.sig");
const TEST_KEY_SIGNATURE: &[u8] =
    include_bytes!("../../../tests/fixtures/google_log_list_v85.92.test_key.sig");

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn test_key() -> ListVerifier {
    ListVerifier::from_file(&fixture("test_list_key.pem")).unwrap()
}

#[test]
fn signature_by_key_verifies() {
    test_key()
        .verify(GOOGLE_LIST, TEST_KEY_SIGNATURE, "google")
        .unwrap();
}

#[test]
fn changed_list_fails_verification() {
    let mut list = GOOGLE_LIST.to_vec();
    list[10] ^= 1;
    let err = test_key()
        .verify(&list, TEST_KEY_SIGNATURE, "changed")
        .unwrap_err();
    assert!(matches!(err, SignatureError::Mismatch { .. }), "{err}");
}

#[test]
fn signature_of_other_key_fails() {
    // Google's real signature, made with Google's key and not with the test key.
    assert_eq!(GOOGLE_SIGNATURE.len(), 512);
    let err = test_key()
        .verify(GOOGLE_LIST, GOOGLE_SIGNATURE, "google")
        .unwrap_err();
    assert!(err.to_string().contains("does not verify"), "{err}");
}

#[test]
fn der_key_file_loads() {
    let pem = std::fs::read(fixture("test_list_key.pem")).unwrap();
    let der = pem_body(&pem).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("key.der");
    std::fs::write(&path, der).unwrap();
    ListVerifier::from_file(&path)
        .unwrap()
        .verify(GOOGLE_LIST, TEST_KEY_SIGNATURE, "google")
        .unwrap();
}

#[test]
fn non_key_file_is_rejected() {
    let err = ListVerifier::from_file(&fixture("google_log_list_v85.92.sig")).unwrap_err();
    assert!(matches!(err, SignatureError::InvalidKey { .. }), "{err}");
    assert!(err.to_string().contains("expected an RSA"), "{err}");
}

#[test]
fn missing_key_file_is_reported() {
    let err = ListVerifier::from_file(Path::new("/nonexistent/key.pem")).unwrap_err();
    assert!(matches!(err, SignatureError::ReadKey { .. }), "{err}");
}

#[test]
fn signature_url_replaces_json() {
    assert_eq!(
        signature_url("https://www.gstatic.com/ct/log_list/v3/log_list.json"),
        "https://www.gstatic.com/ct/log_list/v3/log_list.sig"
    );
    assert_eq!(
        signature_url("http://127.0.0.1:1/list"),
        "http://127.0.0.1:1/list.sig"
    );
}

#[test]
fn signature_path_uses_sig_extension() {
    assert_eq!(
        signature_path(Path::new("/etc/certstream/log_list.json")),
        PathBuf::from("/etc/certstream/log_list.sig")
    );
}

/// Google's real signature of its list verifies with the bundled Google key.
#[test]
fn google_signature_verifies_with_google_key() {
    ListVerifier::google()
        .verify(GOOGLE_LIST, GOOGLE_SIGNATURE, "google")
        .unwrap();
}

/// One changed byte in Google's list breaks Google's signature.
#[test]
fn changed_google_list_fails_with_google_key() {
    let mut list = GOOGLE_LIST.to_vec();
    list[100] ^= 1;
    let err = ListVerifier::google()
        .verify(&list, GOOGLE_SIGNATURE, "changed")
        .unwrap_err();
    assert!(matches!(err, SignatureError::Mismatch { .. }), "{err}");
}
