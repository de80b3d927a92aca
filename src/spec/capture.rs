//! `capture:` on a probe entry: values taken from the probe's HTTP response
//! (a JSONPath into the JSON body, a header, a regex group of the body) for
//! the later probes of the same item, which write `${capture:NAME}`. Such
//! references stay in the probe's settings through loading and are filled
//! in by the runner just before the probe runs.

use std::collections::HashMap;

use regex::Regex;
use serde_json::Value as Json;
use serde_json_path::JsonPath;

use super::node::{Key, Node, Pos, Value};
use crate::probe::fetch::Response;

/// One `NAME: source` of a `capture:` map.
#[derive(Debug, Clone)]
pub struct Capture {
    /// The variable's name (`${capture:NAME}`).
    pub name: String,
    /// Where the value comes from.
    pub source: Source,
    /// Whether the value is a credential: the name says so (`token`,
    /// `session_id`) or a later probe sends it as one (`Authorization`,
    /// `Cookie`, a password). Its value is then redacted everywhere.
    pub secret: bool,
    /// Where the capture was written.
    pub pos: Pos,
}

/// Where a captured value comes from.
#[derive(Debug, Clone)]
pub enum Source {
    /// The first node a JSONPath selects in the JSON body (`$.access_token`).
    Json(JsonPath, String),
    /// A response header (`header: Location`).
    Header(String),
    /// The first group (else the whole match) of a regex on the body text.
    Regex(Regex),
}

impl Source {
    /// How the source is written, for checks (`$.access_token`, `header Location`).
    pub fn describe(&self) -> String {
        match self {
            Source::Json(_, text) => text.clone(),
            Source::Header(name) => format!("header {name}"),
            Source::Regex(regex) => format!("regex {}", regex.as_str()),
        }
    }

    /// The value in `response`, if it has one.
    pub fn extract(&self, response: &Response) -> Option<String> {
        match self {
            Source::Json(path, _) => {
                let body: Json = serde_json::from_slice(&response.body).ok()?;
                let node = path.query(&body).all().into_iter().next()?;
                Some(match node {
                    Json::String(s) => s.clone(),
                    Json::Null => return None,
                    other => other.to_string(),
                })
            }
            Source::Header(name) => response.header(name).map(str::to_owned),
            Source::Regex(regex) => {
                let text = String::from_utf8_lossy(&response.body);
                let found = regex.captures(&text)?;
                found
                    .get(1)
                    .or_else(|| found.get(0))
                    .map(|m| m.as_str().to_owned())
            }
        }
    }
}

/// Reads a `capture:` map; the errors found, with their positions.
pub fn parse(node: &Node<'_>) -> Result<Vec<Capture>, Vec<(Pos, String)>> {
    let Some(entries) = node.as_map() else {
        return Err(vec![(
            node.pos,
            format!(
                "`capture` must map names to sources (`token: $.access_token`, `{{header: Location}}`, `{{regex: \"id=(\\\\w+)\"}}`), found {}",
                node.shape()
            ),
        )]);
    };
    let mut captures = Vec::new();
    let mut errors = Vec::new();
    for (key, value) in entries {
        if !is_name(&key.name) {
            errors.push((
                key.pos,
                format!(
                    "invalid capture name `{}`: use letters, digits, `_`, `-` and `.`",
                    key.name
                ),
            ));
            continue;
        }
        match source(value) {
            Ok(source) => captures.push(Capture {
                name: key.name.to_string(),
                secret: super::vars::name_says_secret(&key.name),
                source,
                pos: key.pos,
            }),
            Err(e) => errors.push(e),
        }
    }
    if errors.is_empty() {
        Ok(captures)
    } else {
        Err(errors)
    }
}

fn source(node: &Node<'_>) -> Result<Source, (Pos, String)> {
    const FORMS: &str = "expected a JSONPath (`$.access_token`), `{json: $.path}`, `{header: NAME}` or `{regex: PATTERN}`";
    let json = |text: &str, pos: Pos| {
        JsonPath::parse(text)
            .map(|path| Source::Json(path, text.to_owned()))
            .map_err(|e| (pos, format!("invalid JSONPath `{text}`: {e}")))
    };
    match &node.value {
        Value::Str(text) if text.starts_with('$') => json(text, node.pos),
        Value::Str(text) => Err((node.pos, format!("`{text}`: {FORMS}"))),
        Value::Map(entries) if entries.len() == 1 => {
            let (key, value) = &entries[0];
            let Some(text) = value.as_str() else {
                return Err((
                    value.pos,
                    format!("`{}` takes a string, found {}", key.name, value.shape()),
                ));
            };
            match key.name.as_ref() {
                "json" => json(text, value.pos),
                "header" if !text.is_empty() => Ok(Source::Header(text.to_owned())),
                "regex" => match Regex::new(text) {
                    Ok(regex) => Ok(Source::Regex(regex)),
                    Err(e) => Err((value.pos, format!("invalid regex `{text}`: {e}"))),
                },
                _ => Err((
                    key.pos,
                    format!("unknown capture source `{}`: {FORMS}", key.name),
                )),
            }
        }
        _ => Err((node.pos, format!("{FORMS}, found {}", node.shape()))),
    }
}

fn is_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.')
}

/// One `${capture:NAME}` in a probe's settings.
#[derive(Debug, Clone)]
pub struct Use {
    /// The name referred to.
    pub name: String,
    /// Where the reference is written.
    pub pos: Pos,
    /// Whether it is sent as a credential (an `Authorization` or `Cookie`
    /// header, a password, a token query parameter).
    pub credential: bool,
}

/// Every `${capture:NAME}` in `node` (the settings of a kind), in order.
pub fn uses(node: &Node<'_>, source_line: &mut dyn FnMut(usize) -> Option<String>) -> Vec<Use> {
    let mut found = Vec::new();
    collect(node, false, source_line, &mut found);
    found
}

fn collect(
    node: &Node<'_>,
    credential: bool,
    source_line: &mut dyn FnMut(usize) -> Option<String>,
    found: &mut Vec<Use>,
) {
    match &node.value {
        Value::Str(text) => {
            let references = references(text);
            if references.is_empty() {
                // The source line is looked up only for the rare value that
                // refers to a capture: a lookup per value made loading a
                // large file quadratic.
                return;
            }
            let quoted = source_line(node.pos.line)
                .and_then(|l| l.chars().nth(node.pos.column.saturating_sub(1)))
                .is_some_and(|c| c == '"' || c == '\'');
            for (offset, name) in references {
                found.push(Use {
                    name: name.to_owned(),
                    pos: Pos {
                        line: node.pos.line,
                        column: node.pos.column
                            + text[..offset].chars().count()
                            + usize::from(quoted),
                    },
                    credential: credential || after_token_param(&text[..offset]),
                });
            }
        }
        Value::Seq(items) => {
            for item in items {
                collect(item, credential, source_line, found);
            }
        }
        Value::Map(entries) => {
            // `{name: Authorization, value: …}`: the value is a credential.
            let named = entries.iter().any(|(k, v)| {
                k.name == "name"
                    && v.as_str().is_some_and(|n| {
                        crate::redact::is_credential_header(n) || crate::redact::is_token_param(n)
                    })
            });
            for (key, value) in entries {
                let credential = credential
                    || crate::redact::is_credential_setting(&key.name)
                    || crate::redact::is_token_param(&key.name)
                    || (named && key.name == "value");
                collect(value, credential, source_line, found);
            }
        }
        _ => {}
    }
}

/// Whether text ends inside a token-like query parameter (`…?token=`).
fn after_token_param(before: &str) -> bool {
    let Some(name) = before.strip_suffix('=') else {
        return false;
    };
    let start = name.rfind(['?', '&']).map_or(0, |i| i + 1);
    crate::redact::is_token_param(&name[start..])
}

/// The `${capture:NAME}` references in `text`: byte offset and name.
pub fn references(text: &str) -> Vec<(usize, &str)> {
    const OPEN: &str = "${capture:";
    let mut found = Vec::new();
    let mut from = 0;
    while let Some(at) = text[from..].find(OPEN) {
        let start = from + at;
        let rest = &text[start + OPEN.len()..];
        match rest.find('}') {
            Some(end) => {
                found.push((start, &rest[..end]));
                from = start + OPEN.len() + end + 1;
            }
            None => break,
        }
    }
    found
}

/// `key: value` as an owned one-entry mapping, to be filled in and read
/// again when the probe runs.
pub fn template(key: &Key<'_>, value: &Node<'_>) -> Node<'static> {
    Node {
        pos: value.pos,
        value: Value::Map(vec![(
            Key {
                name: key.name.to_string().into(),
                pos: key.pos,
            },
            owned(value),
        )]),
    }
}

fn owned(node: &Node<'_>) -> Node<'static> {
    let value = match &node.value {
        Value::Null => Value::Null,
        Value::Bool(b) => Value::Bool(*b),
        Value::Int(i) => Value::Int(*i),
        Value::Float(f) => Value::Float(*f),
        Value::Str(s) => Value::Str(s.to_string().into()),
        Value::Seq(items) => Value::Seq(items.iter().map(owned).collect()),
        Value::Map(entries) => Value::Map(
            entries
                .iter()
                .map(|(k, v)| {
                    (
                        Key {
                            name: k.name.to_string().into(),
                            pos: k.pos,
                        },
                        owned(v),
                    )
                })
                .collect(),
        ),
    };
    Node {
        pos: node.pos,
        value,
    }
}

/// A copy of `template` with every `${capture:NAME}` replaced by its value;
/// `Err(name)` names the first capture that has none.
pub fn fill(
    template: &Node<'static>,
    values: &HashMap<String, String>,
) -> Result<Node<'static>, String> {
    let mut node = template.clone();
    fill_in(&mut node, values)?;
    Ok(node)
}

fn fill_in(node: &mut Node<'static>, values: &HashMap<String, String>) -> Result<(), String> {
    match &mut node.value {
        Value::Str(text) => {
            let refs = references(text);
            if refs.is_empty() {
                return Ok(());
            }
            let mut out = String::with_capacity(text.len());
            let mut last = 0;
            for (offset, name) in refs {
                let value = values.get(name).ok_or_else(|| name.to_owned())?;
                out.push_str(&text[last..offset]);
                out.push_str(value);
                last = offset + "${capture:".len() + name.len() + 1;
            }
            out.push_str(&text[last..]);
            *text = out.into();
        }
        Value::Seq(items) => {
            for item in items {
                fill_in(item, values)?;
            }
        }
        Value::Map(entries) => {
            for (_, value) in entries {
                fill_in(value, values)?;
            }
        }
        _ => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::node;

    #[test]
    fn references_are_found_with_their_offsets() {
        assert_eq!(
            references("Bearer ${capture:token} and ${capture:id}/x"),
            vec![(7, "token"), (28, "id")]
        );
        assert!(references("${capture:unterminated").is_empty());
    }

    /// Looking up a value's source line costs a scan of the file: done for
    /// every string value, loading a file of 20,000 probes took 40 s.
    #[test]
    fn source_lines_are_looked_up_only_for_values_that_use_a_capture() {
        let source = "http:\n  get: /items\n  headers: {Accept: text/plain}\n  expect: {status: 200, body: {contains: ok}}\n";
        let root = node::parse(source).expect("yaml");
        let asked = std::cell::Cell::new(0);
        let mut line = |n: usize| {
            asked.set(asked.get() + 1);
            source.lines().nth(n - 1).map(str::to_owned)
        };
        assert!(uses(&root, &mut line).is_empty());
        assert_eq!(asked.get(), 0);

        let source = "http:\n  get: /items/${capture:id}\n  headers: {Accept: text/plain}\n";
        let root = node::parse(source).expect("yaml");
        let found = uses(&root, &mut line);
        assert_eq!(found.len(), 1);
        assert_eq!((found[0].pos.line, found[0].pos.column), (2, 15));
        assert_eq!(asked.get(), 1);
    }

    #[test]
    fn a_template_is_filled_and_a_missing_value_named() {
        let root = node::parse("http:\n  get: /items/${capture:id}\n  headers: {Authorization: 'Bearer ${capture:token}'}\n")
            .expect("yaml");
        let (key, value) = &root.as_map().expect("map")[0];
        let template = template(key, value);
        let values = HashMap::from([
            ("id".to_owned(), "42".to_owned()),
            ("token".to_owned(), "t0k3n".to_owned()),
        ]);
        let filled = fill(&template, &values).expect("filled");
        let json = filled.to_json();
        assert_eq!(json["http"]["get"], "/items/42");
        assert_eq!(json["http"]["headers"]["Authorization"], "Bearer t0k3n");
        let missing = fill(
            &template,
            &HashMap::from([("id".to_owned(), "1".to_owned())]),
        );
        assert_eq!(missing.expect_err("missing"), "token");
    }

    #[test]
    fn credential_positions_are_told_apart() {
        let root = node::parse(
            "get: /x?token=${capture:a}&page=${capture:b}\nheaders:\n  Cookie: sid=${capture:c}\n  X-Trace: ${capture:d}\n",
        )
        .expect("yaml");
        let found: Vec<(String, bool)> = uses(&root, &mut |_| None)
            .into_iter()
            .map(|u| (u.name, u.credential))
            .collect();
        assert_eq!(
            found,
            vec![
                ("a".to_owned(), true),
                ("b".to_owned(), false),
                ("c".to_owned(), true),
                ("d".to_owned(), false),
            ]
        );
    }

    #[test]
    fn sources_are_read_and_mistakes_named() {
        let root = node::parse(
            "token: $.access_token\nloc: {header: Location}\nid: {regex: 'id=(\\w+)'}\n",
        )
        .expect("yaml");
        let captures = parse(&root).expect("valid");
        assert_eq!(captures.len(), 3);
        assert!(captures[0].secret && !captures[1].secret && !captures[2].secret);
        assert_eq!(captures[1].source.describe(), "header Location");

        let root = node::parse("a: access_token\nb: {regex: '('}\nc d: $.x\n").expect("yaml");
        let errors = parse(&root).expect_err("invalid");
        assert_eq!(errors.len(), 3, "{errors:?}");
        assert!(
            errors[0].1.contains("expected a JSONPath"),
            "{}",
            errors[0].1
        );
        assert!(errors[1].1.contains("invalid regex"), "{}", errors[1].1);
        assert!(
            errors[2].1.contains("invalid capture name"),
            "{}",
            errors[2].1
        );
    }
}
