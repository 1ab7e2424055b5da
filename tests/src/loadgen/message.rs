//! Reads the two facts the load generator needs from a certstream message, its type and
//! `data.seen`, without building a JSON tree.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;

/// What one received message is.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum MessageKind {
    /// `{"message_type":"heartbeat",...}`.
    Heartbeat,
    /// Any other message, with `data.seen` (float Unix seconds) when it has one. Domains-only
    /// messages have none.
    Update { seen: Option<f64> },
}

#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(borrow)]
    message_type: Cow<'a, str>,
    #[serde(default)]
    data: SeenField,
}

/// `data.seen` when `data` is an object; `None` for an array (domains-only) or anything else.
#[derive(Default)]
struct SeenField(Option<f64>);

#[derive(Deserialize)]
struct SeenOnly {
    #[serde(default)]
    seen: Option<f64>,
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
        let fields = SeenOnly::deserialize(de::value::MapAccessDeserializer::new(map))?;
        Ok(SeenField(fields.seen))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<SeenField, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(SeenField(None))
    }

    fn visit_unit<E: de::Error>(self) -> Result<SeenField, E> {
        Ok(SeenField(None))
    }
}

/// Parses one message. Fails when the text is not a JSON object with a string `message_type`.
pub fn classify(text: &str) -> Result<MessageKind, serde_json::Error> {
    let envelope: Envelope = serde_json::from_str(text)?;
    if envelope.message_type == "heartbeat" {
        Ok(MessageKind::Heartbeat)
    } else {
        Ok(MessageKind::Update {
            seen: envelope.data.0,
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

        assert_eq!(
            classify(text).unwrap(),
            MessageKind::Update {
                seen: Some(1700000000.123)
            }
        );
    }

    #[test]
    fn heartbeat_is_recognized() {
        let text = r#"{"message_type":"heartbeat","timestamp":1700000000.5}"#;

        assert_eq!(classify(text).unwrap(), MessageKind::Heartbeat);
    }

    #[test]
    fn domains_message_has_no_seen() {
        let text = r#"{"message_type":"dns_entries","data":["a.example","b.example"]}"#;

        assert_eq!(classify(text).unwrap(), MessageKind::Update { seen: None });
    }

    #[test]
    fn invalid_messages_are_rejected() {
        assert!(classify("not json").is_err());
        assert!(classify(r#"{"data":{"seen":1.0}}"#).is_err());
        assert!(classify(r#"{"message_type":"certificate_update","data":{"seen":"x"}}"#).is_err());
    }
}
