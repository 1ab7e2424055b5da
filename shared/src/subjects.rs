//! NATS subject names. Tokens go from general to specific so that wildcards select a stream kind
//! or a single log: `<prefix>.raw.<log>` carries raw batches, `<prefix>.<lite|full|domains>.<log>`
//! carries the exact bytes a client receives, `<prefix>.deadletter.<log>` carries raw messages
//! that could not be decoded.

use crate::bus::StreamKind;

/// Subject names under one configurable prefix.
#[derive(Debug, Clone)]
pub struct Subjects {
    prefix: String,
}

impl Subjects {
    /// Validates the prefix: one or more dot-separated tokens of letters, digits, `_` and `-`.
    pub fn new(prefix: &str) -> Result<Self, String> {
        let valid = !prefix.is_empty()
            && prefix.split('.').all(|token| {
                !token.is_empty()
                    && token
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
            });
        if !valid {
            return Err(format!(
                "invalid subject prefix {prefix:?}: use dot-separated tokens of letters, digits, '_' and '-'"
            ));
        }
        Ok(Subjects {
            prefix: prefix.to_string(),
        })
    }

    pub fn raw(&self, log_id: &str) -> String {
        format!("{}.raw.{log_id}", self.prefix)
    }

    /// Wildcard that matches the raw batches of every log.
    pub fn raw_all(&self) -> String {
        format!("{}.raw.>", self.prefix)
    }

    pub fn frames(&self, kind: StreamKind, log_id: &str) -> String {
        format!("{}.{}.{log_id}", self.prefix, kind.as_str())
    }

    /// Wildcard that matches one stream kind of every log.
    pub fn frames_all(&self, kind: StreamKind) -> String {
        format!("{}.{}.>", self.prefix, kind.as_str())
    }

    pub fn dead_letter(&self, log_id: &str) -> String {
        format!("{}.deadletter.{log_id}", self.prefix)
    }
}

/// Turns a log description into a subject token: lowercase ASCII letters and digits with single
/// `_` between words, for example `Google 'Argon2026h2' log` becomes `google_argon2026h2_log`.
pub fn slug(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for ch in text.chars() {
        if ch.is_ascii_alphanumeric() {
            out.push(ch.to_ascii_lowercase());
        } else if !out.is_empty() && !out.ends_with('_') {
            out.push('_');
        }
    }
    while out.ends_with('_') {
        out.pop();
    }
    if out.is_empty() {
        out.push_str("log");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slug_of_log_description() {
        assert_eq!(slug("Google 'Argon2026h2' log"), "google_argon2026h2_log");
        assert_eq!(slug("Let's Encrypt 'Oak2026h1'"), "let_s_encrypt_oak2026h1");
        assert_eq!(slug("  ...  "), "log");
    }

    #[test]
    fn subjects_use_prefix() {
        let subjects = Subjects::new("certstream").unwrap();
        assert_eq!(
            subjects.frames(StreamKind::Lite, "a_log"),
            "certstream.lite.a_log"
        );
        assert_eq!(
            subjects.frames_all(StreamKind::Domains),
            "certstream.domains.>"
        );
        assert_eq!(subjects.raw("a_log"), "certstream.raw.a_log");
    }

    #[test]
    fn prefix_with_wildcard_is_rejected() {
        assert!(Subjects::new("certstream.>").is_err());
        assert!(Subjects::new("a..b").is_err());
        assert!(Subjects::new("prod.certstream").is_ok());
    }
}
