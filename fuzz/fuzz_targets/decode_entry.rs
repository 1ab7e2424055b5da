//! `decode_entry_partial` on arbitrary `leaf_input` and `extra_data` bytes (base64-encoded as a
//! log serves them). Input layout: a 3-byte big-endian length, that many `leaf_input` bytes,
//! then the `extra_data` bytes. `fuzz/write_seeds.py` writes real entries in this layout.

#![no_main]

mod common;

use base64::Engine as _;
use certstream_decoder::{decode_entry, decode_entry_partial};
use certstream_shared::raw::{LogSource, RawEntry};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((length, rest)) = data.split_first_chunk::<3>() else {
        return;
    };
    let leaf_length =
        usize::from(length[0]) << 16 | usize::from(length[1]) << 8 | usize::from(length[2]);
    let split = leaf_length.min(rest.len());
    let (leaf, extra) = rest.split_at(split);

    let b64 = base64::engine::general_purpose::STANDARD;
    let log = LogSource {
        id: "fuzz".into(),
        name: "Fuzz \"log\" \u{7f}\\".into(),
        url: "https://fuzz.test/log/".into(),
    };
    let entry = RawEntry {
        index: u64::MAX,
        leaf_input: b64.encode(leaf),
        extra_data: b64.encode(extra),
        cert_link: None,
    };
    let (decoded, error) = decode_entry_partial(&log, &entry, 1_700_000_000.25);
    common::check_frames(&decoded.frames);
    assert_eq!(
        error.is_none(),
        decode_entry(&log, &entry, 1_700_000_000.25).is_ok(),
        "decode_entry_partial reports an error exactly when decode_entry fails"
    );
});
