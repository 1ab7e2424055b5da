//! Checks shared by the fuzz targets: whatever the input, the three frames are valid JSON and
//! agree on the domains.

use certstream_decoder::Frames;
use serde_json::Value;

/// Panics (which the fuzzer reports as a crash) when a frame is not valid JSON or the frames
/// disagree on the domains.
pub fn check_frames(frames: &Frames) {
    let full: Value = serde_json::from_slice(&frames.full).expect("full frame is valid JSON");
    let lite: Value = serde_json::from_slice(&frames.lite).expect("lite frame is valid JSON");
    let domains: Value =
        serde_json::from_slice(&frames.domains).expect("domains frame is valid JSON");

    let all_domains = &full["data"]["leaf_cert"]["all_domains"];
    assert!(all_domains.is_array(), "all_domains is an array");
    assert_eq!(
        &domains["data"], all_domains,
        "domains frame equals all_domains"
    );
    assert_eq!(
        &lite["data"]["leaf_cert"]["all_domains"], all_domains,
        "lite and full agree on all_domains"
    );
    assert!(full["data"]["chain"].is_array(), "chain is an array");
    assert!(lite["data"].get("chain").is_none(), "lite has no chain");
}
