//! The settings of a proposed probe as a small tree, and the YAML writing of
//! it: block maps, flow lists of scalars, short flow maps (`{ max: 2ms }`),
//! scalars quoted only where YAML would misread them.

use std::fmt::Write;

/// A YAML value of a proposal. Scalars hold their text unquoted (`2ms`,
/// `/health`, `${var:redis_address}`); quoting happens when written.
#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    /// A plain value.
    Scalar(String),
    /// A list.
    List(Vec<Node>),
    /// A map, keys in the order written.
    Map(Vec<(String, Node)>),
}

impl Node {
    /// An empty map.
    pub fn map() -> Node {
        Node::Map(Vec::new())
    }

    /// A scalar.
    pub fn s(text: impl Into<String>) -> Node {
        Node::Scalar(text.into())
    }

    /// A list of scalars.
    pub fn list<I: IntoIterator<Item = S>, S: Into<String>>(items: I) -> Node {
        Node::List(items.into_iter().map(|s| Node::s(s)).collect())
    }

    /// This map with `key: value` added (or replaced).
    #[must_use]
    pub fn with(mut self, key: &str, value: Node) -> Node {
        self.set(key, value);
        self
    }

    /// Sets `key` of a map; a `/` in `key` walks (and makes) nested maps.
    pub fn set(&mut self, key: &str, value: Node) {
        let Node::Map(entries) = self else { return };
        let (head, rest) = match key.split_once('/') {
            Some((head, rest)) => (head, Some(rest)),
            None => (key, None),
        };
        let index = match entries.iter().position(|(k, _)| k == head) {
            Some(i) => i,
            None => {
                entries.push((head.to_owned(), Node::map()));
                entries.len() - 1
            }
        };
        match rest {
            Some(rest) => entries[index].1.set(rest, value),
            None => entries[index].1 = value,
        }
    }

    /// The value at a `/`-separated key path, written as in a flow context
    /// (`2ms`, `[401, 403]`, `{ max: 2ms }`), for tests and `--explain`.
    pub fn get(&self, path: &str) -> Option<String> {
        let mut node = self;
        for key in path.split('/') {
            let Node::Map(entries) = node else {
                return None;
            };
            node = &entries.iter().find(|(k, _)| k == key)?.1;
        }
        Some(node.flow())
    }

    /// The value at a `/`-separated key path as plain text: scalars
    /// unquoted, lists `[a, b]`, maps in flow style. A number picks a list
    /// item (`expect/rules/0/name`).
    pub fn value(&self, path: &str) -> Option<String> {
        let mut node = self;
        for key in path.split('/') {
            node = match node {
                Node::Map(entries) => &entries.iter().find(|(k, _)| k == key)?.1,
                Node::List(items) => items.get(key.parse::<usize>().ok()?)?,
                Node::Scalar(_) => return None,
            };
        }
        Some(node.plain())
    }

    /// The value as plain text (`2ms`, `[a, b]`, `{ max: 2ms }`), for `why`.
    pub fn shown(&self) -> String {
        self.plain()
    }

    /// Whether this is a map with nothing in it.
    pub fn is_empty_map(&self) -> bool {
        matches!(self, Node::Map(entries) if entries.is_empty())
    }

    fn plain(&self) -> String {
        match self {
            Node::Scalar(s) => s.clone(),
            Node::List(items) => {
                let inner: Vec<String> = items.iter().map(Node::plain).collect();
                format!("[{}]", inner.join(", "))
            }
            Node::Map(_) => self.flow(),
        }
    }

    /// Every `key/path = value` leaf, in order.
    pub fn leaves(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        self.collect_leaves("", &mut out);
        out
    }

    fn collect_leaves(&self, prefix: &str, out: &mut Vec<(String, String)>) {
        match self {
            Node::Map(entries) => {
                for (k, v) in entries {
                    let path = if prefix.is_empty() {
                        k.clone()
                    } else {
                        format!("{prefix}/{k}")
                    };
                    v.collect_leaves(&path, out);
                }
            }
            other => out.push((prefix.to_owned(), other.flow())),
        }
    }

    fn is_scalar(&self) -> bool {
        matches!(self, Node::Scalar(_))
    }

    /// Short enough to write on one line.
    fn is_flat(&self) -> bool {
        match self {
            Node::Scalar(_) => true,
            Node::List(items) => items.iter().all(Node::is_scalar),
            Node::Map(entries) => entries.len() <= 3 && entries.iter().all(|(_, v)| v.is_scalar()),
        }
    }

    /// Flow style: `x`, `[a, b]`, `{ k: v }`.
    fn flow(&self) -> String {
        match self {
            Node::Scalar(s) => scalar(s),
            Node::List(items) => {
                let inner: Vec<String> = items.iter().map(Node::flow).collect();
                format!("[{}]", inner.join(", "))
            }
            Node::Map(entries) => {
                let inner: Vec<String> = entries
                    .iter()
                    .map(|(k, v)| format!("{}: {}", key(k), v.flow()))
                    .collect();
                format!("{{ {} }}", inner.join(", "))
            }
        }
    }

    /// Block style, each line prefixed with `indent`; the caller has written
    /// the key this is the value of.
    pub fn write_block(&self, out: &mut String, indent: &str) {
        let Node::Map(entries) = self else {
            let _ = writeln!(out, "{indent}{}", self.flow());
            return;
        };
        for (k, v) in entries {
            match v {
                Node::Map(_) if !v.is_flat() => {
                    let _ = writeln!(out, "{indent}{}:", key(k));
                    v.write_block(out, &format!("{indent}  "));
                }
                Node::List(items) if !v.is_flat() => {
                    let _ = writeln!(out, "{indent}{}:", key(k));
                    for item in items {
                        write_list_item(out, item, &format!("{indent}  "));
                    }
                }
                _ => {
                    let _ = writeln!(out, "{indent}{}: {}", key(k), v.flow());
                }
            }
        }
    }
}

fn write_list_item(out: &mut String, item: &Node, indent: &str) {
    match item {
        Node::Map(_) if !item.is_flat() => {
            let mut inner = String::new();
            item.write_block(&mut inner, &format!("{indent}  "));
            // The first line of the map goes after the dash.
            let inner = inner.replacen(&format!("{indent}  "), &format!("{indent}- "), 1);
            out.push_str(&inner);
        }
        _ => {
            let _ = writeln!(out, "{indent}- {}", item.flow());
        }
    }
}

/// A map key: plain unless it has characters YAML reads otherwise.
fn key(k: &str) -> String {
    if k.chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        k.to_owned()
    } else {
        quoted(k)
    }
}

/// A scalar: plain when YAML reads it back as the same string or number,
/// else double-quoted.
pub fn scalar(s: &str) -> String {
    let plain_safe = !s.is_empty()
        && !s.starts_with(|c: char| c.is_whitespace() || "!&*-?[]{}|>'\"%@`#,:".contains(c))
        && !s.ends_with(|c: char| c.is_whitespace() || c == ':')
        && !s.contains(": ")
        && !s.contains(" #")
        && !s.contains([',', '[', ']', '{', '}', '\n', '"', '\''])
        && !matches!(
            s.to_ascii_lowercase().as_str(),
            "null" | "~" | "yes" | "no" | "on" | "off" | "y" | "n"
        );
    let variable = s.starts_with("${") && !s.contains([' ', '"', '\n']);
    if variable || s.starts_with(':') && s[1..].chars().all(|c| c.is_ascii_digit()) {
        return quoted(s);
    }
    if plain_safe { s.to_owned() } else { quoted(s) }
}

/// A YAML double-quoted string.
pub fn quoted(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// One line of text, whitespace collapsed (for comments).
pub fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_block_maps_with_short_flow_values() {
        let node = Node::map()
            .with("get", Node::s("/api"))
            .with("expect/p95/max", Node::s("2ms"))
            .with("expect/status", Node::list(["401", "403"]));
        let mut out = String::new();
        node.write_block(&mut out, "  ");
        assert_eq!(
            out,
            "  get: /api\n  expect:\n    p95: { max: 2ms }\n    status: [401, 403]\n"
        );
        assert_eq!(node.get("expect/p95/max").as_deref(), Some("2ms"));
        assert_eq!(node.get("expect/p95").as_deref(), Some("{ max: 2ms }"));
        assert_eq!(node.get("nothing"), None);
    }

    #[test]
    fn lists_of_maps_start_at_the_dash() {
        let node = Node::map().with(
            "series",
            Node::List(vec![
                Node::map()
                    .with("name", Node::s("up"))
                    .with("labels/job", Node::s("api")),
            ]),
        );
        let mut out = String::new();
        node.write_block(&mut out, "");
        assert_eq!(out, "series:\n  - name: up\n    labels: { job: api }\n");
    }

    #[test]
    fn quotes_what_yaml_would_misread() {
        assert_eq!(scalar("/health"), "/health");
        assert_eq!(scalar("${var:x}"), "\"${var:x}\"");
        assert_eq!(scalar(":5432"), "\":5432\"");
        assert_eq!(scalar("no"), "\"no\"");
        assert_eq!(scalar("a: b"), "\"a: b\"");
        assert_eq!(scalar("*"), "\"*\"");
        assert_eq!(scalar("say \"hi\""), "\"say \\\"hi\\\"\"");
    }
}
