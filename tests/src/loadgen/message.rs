//! Reads what the load generator needs from a certstream message (its type, `data.seen` and
//! the entry's identity) without building a JSON tree.

use std::borrow::Cow;
use std::fmt;
use std::hash::{DefaultHasher, Hash, Hasher};

use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;

/// What one received message is.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum MessageKind {
    /// `{"message_type":"heartbeat",...}`.
    Heartbeat,
    /// Any other message, with `data.seen` (float Unix seconds) and an entry id (a hash of
    /// `data.source.url` and `data.cert_index`) when it has them. Domains-only messages have
    /// neither.
    Update {
        seen: Option<f64>,
        entry: Option<u64>,
    },
}

#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(borrow)]
    message_type: Cow<'a, str>,
    #[serde(default)]
    data: SeenField,
}

/// `data.seen` and the entry id when `data` is an object; neither for an array (domains-only)
/// or anything else.
#[derive(Default)]
struct SeenField {
    seen: Option<f64>,
    entry: Option<u64>,
}

#[derive(Deserialize)]
struct DataFields<'a> {
    #[serde(default)]
    seen: Option<f64>,
    #[serde(default)]
    cert_index: Option<u64>,
    #[serde(default, borrow)]
    source: Option<Source<'a>>,
}

#[derive(Deserialize)]
struct Source<'a> {
    #[serde(borrow)]
    url: Cow<'a, str>,
}

impl<'de> Deserialize<'de> for SeenField {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(SeenVisitor)
    }
}

struct SeenVisitor;

impl<'de> Visitor<'de> for SeenVisitor {
    type Value = SeenField;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("a JSON object or array")
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<SeenField, A::Error> {
        let fields = DataFields::deserialize(de::value::MapAccessDeserializer::new(map))?;
        let entry = match (&fields.source, fields.cert_index) {
            (Some(source), Some(index)) => {
                let mut hasher = DefaultHasher::new();
                source.url.hash(&mut hasher);
                index.hash(&mut hasher);
                Some(hasher.finish())
            }
            _ => None,
        };
        Ok(SeenField {
            seen: fields.seen,
            entry,
        })
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<SeenField, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(SeenField::default())
    }

    fn visit_unit<E: de::Error>(self) -> Result<SeenField, E> {
        Ok(SeenField::default())
    }
}

/// Parses one message. Fails when the text is not a JSON object with a string `message_type`.
pub fn classify(text: &str) -> Result<MessageKind, serde_json::Error> {
    let envelope: Envelope = serde_json::from_str(text)?;
    if envelope.message_type == "heartbeat" {
        Ok(MessageKind::Heartbeat)
    } else {
        Ok(MessageKind::Update {
            seen: envelope.data.seen,
            entry: envelope.data.entry,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lite_message_has_seen() {
        let text = r#"{"message_type":"certificate_update","data":{"update_type":"X509LogEntry",
            "leaf_cert":{"all_domains":["a.example"],"extensions":{}},"cert_index":7,
            "seen":1700000000.123,"source":{"name":"x","url":"http://127.0.0.1/"}}}"#;

        let MessageKind::Update { seen, entry } = classify(text).unwrap() else {
            panic!("not an update");
        };
        assert_eq!(seen, Some(1700000000.123));
        assert!(entry.is_some());
    }

    #[test]
    fn entry_id_depends_on_log_and_index() {
        let message = |url: &str, index: u64| {
            format!(
                r#"{{"message_type":"certificate_update","data":{{"cert_index":{index},
                    "seen":1.0,"source":{{"name":"x","url":"{url}"}}}}}}"#
            )
        };
        let entry = |text: String| match classify(&text).unwrap() {
            MessageKind::Update { entry, .. } => entry.unwrap(),
            MessageKind::Heartbeat => panic!("not an update"),
        };

        let first = entry(message("http://a/", 1));
        assert_eq!(first, entry(message("http://a/", 1)));
        assert_ne!(first, entry(message("http://a/", 2)));
        assert_ne!(first, entry(message("http://b/", 1)));
    }

    #[test]
    fn heartbeat_is_recognized() {
        let text = r#"{"message_type":"heartbeat","timestamp":1700000000.5}"#;

        assert_eq!(classify(text).unwrap(), MessageKind::Heartbeat);
    }

    #[test]
    fn domains_message_has_no_seen() {
        let text = r#"{"message_type":"dns_entries","data":["a.example","b.example"]}"#;

        assert_eq!(
            classify(text).unwrap(),
            MessageKind::Update {
                seen: None,
                entry: None
            }
        );
    }

    #[test]
    fn invalid_messages_are_rejected() {
        assert!(classify("not json").is_err());
        assert!(classify(r#"{"data":{"seen":1.0}}"#).is_err());
        assert!(classify(r#"{"message_type":"certificate_update","data":{"seen":"x"}}"#).is_err());
    }
}
