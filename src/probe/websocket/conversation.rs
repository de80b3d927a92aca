//! A WebSocket conversation: messages sent and messages expected, in order.
//! A feed that greets on connect and answers a subscription reads
//!
//! ```yaml
//! conversation:
//!   - receive: { contains: welcome }       # the next message
//!   - send: '{"subscribe": "prices"}'
//!   - receive: { contains: snapshot }
//!     skip: any                            # other messages may come first…
//!     within: 2s                           # …for at most 2 seconds
//! ```

use std::fmt;
use std::time::Duration;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};

use crate::expect::{Dur, Matcher};

/// One step as written: `send:` or `receive:` (with `skip` and `within`).
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StepSettings {
    /// A text message to send.
    #[serde(default)]
    send: Option<String>,
    /// A matcher the next message (or, with `skip`, a later one) must satisfy.
    #[serde(default)]
    receive: Option<Matcher>,
    /// Messages that do not match and may come first: a number (default 0)
    /// or `any`.
    #[serde(default)]
    skip: Option<Skip>,
    /// How long to wait for the matching message (default: the probe's timeout).
    #[serde(default)]
    within: Option<Dur>,
}

/// One step of a conversation.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(try_from = "StepSettings")]
#[schemars(with = "StepSettings")]
pub enum Step {
    /// Send a text message.
    Send(String),
    /// Wait for a message that satisfies the matcher.
    Receive {
        /// What the message must satisfy (`None`: any message).
        matcher: Option<Matcher>,
        /// Non-matching messages skipped before it, at most.
        skip: Skip,
        /// The longest wait for it.
        within: Option<Duration>,
    },
}

impl TryFrom<StepSettings> for Step {
    type Error = String;

    fn try_from(s: StepSettings) -> Result<Step, String> {
        match (s.send, s.receive) {
            (Some(_), Some(_)) => Err(
                "a step either sends or receives: split `send:` and `receive:` into two steps"
                    .to_owned(),
            ),
            (None, None) => Err("a step needs `send:` or `receive:`".to_owned()),
            (Some(_), None) if s.skip.is_some() || s.within.is_some() => {
                Err("`skip` and `within` belong to a `receive:` step".to_owned())
            }
            (Some(text), None) => Ok(Step::Send(text)),
            (None, Some(matcher)) => Ok(Step::Receive {
                matcher: Some(matcher),
                skip: s.skip.unwrap_or(Skip::AtMost(0)),
                within: s.within.map(|d| d.0),
            }),
        }
    }
}

/// How many non-matching messages a `receive` step passes over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Skip {
    /// At most this many.
    AtMost(u32),
    /// Any number (bounded by `within` or the timeout).
    Any,
}

impl Skip {
    /// Whether `skipped` messages are still within the allowance.
    pub fn allows(self, skipped: u32) -> bool {
        match self {
            Skip::AtMost(n) => skipped <= n,
            Skip::Any => true,
        }
    }
}

impl fmt::Display for Skip {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Skip::AtMost(n) => write!(f, "{n}"),
            Skip::Any => f.write_str("any"),
        }
    }
}

impl<'de> Deserialize<'de> for Skip {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Skip;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a number of messages or `any`")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Skip, E> {
                u32::try_from(v)
                    .map(Skip::AtMost)
                    .map_err(|_| E::custom(format!("`skip: {v}` is too many: write `any`")))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Skip, E> {
                match u64::try_from(v) {
                    Ok(v) => self.visit_u64(v),
                    Err(_) => Err(E::custom(format!(
                        "`skip: {v}`: expected a number ≥ 0 or `any`"
                    ))),
                }
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Skip, E> {
                if v == "any" {
                    Ok(Skip::Any)
                } else {
                    Err(E::custom(format!(
                        "invalid skip `{v}`: expected a number of messages or `any`"
                    )))
                }
            }
        }
        deserializer.deserialize_any(V)
    }
}

impl JsonSchema for Skip {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Skip".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "Non-matching messages that may come first: a number or `any`.",
            "oneOf": [
                {"type": "integer", "minimum": 0},
                {"const": "any"}
            ]
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn steps(yaml: &str) -> Result<Vec<Step>, String> {
        crate::spec::de::from_yaml(yaml)
    }

    #[test]
    fn sends_and_receives_in_order() {
        let s = steps(
            "- receive: {contains: welcome}\n- send: hi\n- receive: {contains: snapshot}\n  skip: any\n  within: 2s\n- receive: pong\n  skip: 3\n",
        )
        .expect("valid");
        assert_eq!(s.len(), 4);
        assert!(matches!(&s[1], Step::Send(t) if t == "hi"));
        match &s[2] {
            Step::Receive { skip, within, .. } => {
                assert_eq!(*skip, Skip::Any);
                assert_eq!(*within, Some(Duration::from_secs(2)));
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            &s[3],
            Step::Receive {
                skip: Skip::AtMost(3),
                within: None,
                ..
            }
        ));
        assert!(matches!(
            &s[0],
            Step::Receive {
                skip: Skip::AtMost(0),
                ..
            }
        ));
    }

    #[test]
    fn a_step_does_one_thing() {
        for (yaml, message) in [
            ("- {send: a, receive: b}\n", "either sends or receives"),
            ("- {}\n", "needs `send:` or `receive:`"),
            ("- {send: a, within: 1s}\n", "belong to a `receive:` step"),
            ("- {receive: a, skip: some}\n", "invalid skip `some`"),
            ("- {receive: a, skip: -1}\n", "expected a number ≥ 0"),
            ("- {recieve: a}\n", "unknown field `recieve`"),
        ] {
            let err = steps(yaml).expect_err(yaml);
            assert!(err.contains(message), "{yaml}: {err}");
        }
    }
}
