//! Test tools for the certstream end-to-end tests.
//!
//! - [`fake_log`]: a fake CT log server that serves committed fixture entries over the RFC 6962
//!   API and writes a log list pointing at itself.
//! - [`expected`]: what a certstream client must receive for each served entry.
//! - [`fixtures`]: paths and loaders of the fixture files in `tests/fixtures`.

pub mod expected;
pub mod fake_log;
pub mod fixtures;
pub mod loadgen;

pub use fixtures::fixtures_dir;
