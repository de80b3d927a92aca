//! Alertmanager's routing, computed from the route tree of its loaded
//! configuration the way its dispatcher walks it (and `amtool config routes
//! test` shows it): nothing is sent, no receiver is notified.

use std::collections::BTreeMap;

use regex::Regex;
use serde_json::Value as Json;

/// One label matcher of a route (`severity="critical"`, `team=~"a|b"`).
#[derive(Debug, Clone)]
pub struct LabelMatch {
    name: String,
    op: Op,
    value: String,
    regex: Option<Regex>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Eq,
    Ne,
    Re,
    NotRe,
}

impl LabelMatch {
    fn new(name: &str, op: Op, value: &str) -> Result<LabelMatch, String> {
        let regex = match op {
            Op::Re | Op::NotRe => Some(
                crate::expect::compile_regex(&format!("^(?:{value})$"))
                    .map_err(|e| format!("route matcher `{name}`: {e}"))?,
            ),
            Op::Eq | Op::Ne => None,
        };
        Ok(LabelMatch {
            name: name.to_owned(),
            op,
            value: value.to_owned(),
            regex,
        })
    }

    /// Whether the labels satisfy it; a missing label is the empty value.
    fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        let value = labels.get(&self.name).map_or("", String::as_str);
        let re = |v: &str| self.regex.as_ref().is_some_and(|r| r.is_match(v));
        match self.op {
            Op::Eq => value == self.value,
            Op::Ne => value != self.value,
            Op::Re => re(value),
            Op::NotRe => !re(value),
        }
    }
}

impl std::fmt::Display for LabelMatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let op = match self.op {
            Op::Eq => "=",
            Op::Ne => "!=",
            Op::Re => "=~",
            Op::NotRe => "!~",
        };
        write!(f, "{}{op}{:?}", self.name, self.value)
    }
}

/// Parses one `matchers:` entry: `name op value` items, comma-separated,
/// optionally in braces; values bare or double-quoted.
pub fn parse_matchers(text: &str) -> Result<Vec<LabelMatch>, String> {
    let bad = |why: &str| format!("route matcher `{text}`: {why}");
    let mut rest = text.trim();
    if let Some(inner) = rest.strip_prefix('{') {
        rest = inner
            .strip_suffix('}')
            .ok_or_else(|| bad("unclosed `{`"))?
            .trim();
    }
    let mut out = Vec::new();
    while !rest.is_empty() {
        let name_end = rest
            .find(|c: char| !(c.is_alphanumeric() || c == '_'))
            .ok_or_else(|| bad("no operator"))?;
        let name = &rest[..name_end];
        if name.is_empty() {
            return Err(bad("no label name"));
        }
        let after = rest[name_end..].trim_start();
        let (op, after) = [
            ("=~", Op::Re),
            ("!~", Op::NotRe),
            ("!=", Op::Ne),
            ("=", Op::Eq),
        ]
        .into_iter()
        .find_map(|(s, op)| after.strip_prefix(s).map(|a| (op, a.trim_start())))
        .ok_or_else(|| bad("expected `=`, `!=`, `=~` or `!~`"))?;
        let (value, after) = if let Some(quoted) = after.strip_prefix('"') {
            let mut value = String::new();
            let mut chars = quoted.char_indices();
            let mut end = None;
            while let Some((i, c)) = chars.next() {
                match c {
                    '\\' => match chars.next() {
                        Some((_, 'n')) => value.push('\n'),
                        Some((_, other)) => value.push(other),
                        None => return Err(bad("unfinished escape")),
                    },
                    '"' => {
                        end = Some(i + 1);
                        break;
                    }
                    other => value.push(other),
                }
            }
            let end = end.ok_or_else(|| bad("unclosed quote"))?;
            (value, &quoted[end..])
        } else {
            let end = after.find(',').unwrap_or(after.len());
            (after[..end].trim().to_owned(), &after[end..])
        };
        out.push(LabelMatch::new(name, op, &value).map_err(|e| bad(&e))?);
        rest = after.trim_start();
        if let Some(next) = rest.strip_prefix(',') {
            rest = next.trim_start();
        } else if !rest.is_empty() {
            return Err(bad("expected `,` between matchers"));
        }
    }
    Ok(out)
}

/// One node of the route tree.
#[derive(Debug, Clone)]
pub struct Route {
    /// The receiver, inherited from the parent when the route names none.
    pub receiver: String,
    /// Every matcher must hold (from `matchers`, `match` and `match_re`).
    pub matchers: Vec<LabelMatch>,
    /// After a match, siblings are still tried.
    pub continue_: bool,
    /// Child routes, tried in order.
    pub routes: Vec<Route>,
}

impl Route {
    /// Reads the route tree of a configuration (`route:` of the YAML, as JSON).
    pub fn from_config(route: &Json) -> Result<Route, String> {
        if !route.is_object() {
            return Err("the configuration has no `route`".to_owned());
        }
        Route::read(route, "")
    }

    fn read(node: &Json, parent_receiver: &str) -> Result<Route, String> {
        let receiver = node["receiver"]
            .as_str()
            .filter(|r| !r.is_empty())
            .unwrap_or(parent_receiver)
            .to_owned();
        let mut matchers = Vec::new();
        for entry in node["matchers"].as_array().map_or(&[][..], Vec::as_slice) {
            let text = entry
                .as_str()
                .ok_or_else(|| format!("route matcher {entry} is not a string"))?;
            matchers.extend(parse_matchers(text)?);
        }
        for (field, op) in [("match", Op::Eq), ("match_re", Op::Re)] {
            if let Some(map) = node[field].as_object() {
                for (name, value) in map {
                    let value = value
                        .as_str()
                        .map_or_else(|| value.to_string(), str::to_owned);
                    matchers.push(LabelMatch::new(name, op, &value)?);
                }
            }
        }
        let routes = node["routes"]
            .as_array()
            .map_or(&[][..], Vec::as_slice)
            .iter()
            .map(|child| Route::read(child, &receiver))
            .collect::<Result<_, _>>()?;
        Ok(Route {
            receiver,
            matchers,
            continue_: node["continue"].as_bool().unwrap_or(false),
            routes,
        })
    }

    /// The routes an alert with these labels ends in, as the dispatcher finds
    /// them: depth first, the first matching child wins unless it says
    /// `continue`, and a matching route no child takes is itself an end.
    /// Each end comes with the matchers of the routes leading to it.
    pub fn ends<'a>(&'a self, labels: &BTreeMap<String, String>) -> Vec<(&'a Route, Vec<String>)> {
        self.walk(labels, &[])
    }

    fn walk<'a>(
        &'a self,
        labels: &BTreeMap<String, String>,
        path: &[String],
    ) -> Vec<(&'a Route, Vec<String>)> {
        if !self.matchers.iter().all(|m| m.matches(labels)) {
            return Vec::new();
        }
        let mut path = path.to_vec();
        if !self.matchers.is_empty() {
            let inner: Vec<String> = self.matchers.iter().map(ToString::to_string).collect();
            path.push(format!("{{{}}}", inner.join(",")));
        }
        let mut all = Vec::new();
        for child in &self.routes {
            let found = child.walk(labels, &path);
            let matched = !found.is_empty();
            all.extend(found);
            if matched && !child.continue_ {
                break;
            }
        }
        if all.is_empty() {
            all.push((self, path));
        }
        all
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn tree() -> Route {
        let config: Json = serde_saphyr::from_str(
            r#"
receiver: default
routes:
  - matchers: ['severity="critical"']
    receiver: pager
    continue: true
  - matchers: ['team=~"db|storage"']
    receiver: team-db
    routes:
      - match: { env: staging }
        receiver: blackhole
  - match_re: { service: "api-.*" }
"#,
        )
        .expect("yaml");
        Route::from_config(&config).expect("a route tree")
    }

    fn receivers(route: &Route, pairs: &[(&str, &str)]) -> Vec<String> {
        route
            .ends(&labels(pairs))
            .iter()
            .map(|(r, _)| r.receiver.clone())
            .collect()
    }

    #[test]
    fn first_match_wins_unless_it_continues() {
        let t = tree();
        assert_eq!(receivers(&t, &[("team", "web")]), ["default"]);
        assert_eq!(receivers(&t, &[("team", "db")]), ["team-db"]);
        assert_eq!(
            receivers(&t, &[("severity", "critical"), ("team", "storage")]),
            ["pager", "team-db"]
        );
        assert_eq!(
            receivers(&t, &[("team", "db"), ("env", "staging")]),
            ["blackhole"]
        );
        // A route without a receiver inherits its parent's.
        assert_eq!(receivers(&t, &[("service", "api-x")]), ["default"]);
        // Regexes are anchored, as in Alertmanager.
        assert_eq!(receivers(&t, &[("team", "dbx")]), ["default"]);
    }

    #[test]
    fn the_path_names_the_matchers_that_led_there() {
        let t = tree();
        let ends = t.ends(&labels(&[("team", "db"), ("env", "staging")]));
        assert_eq!(ends[0].1, [r#"{team=~"db|storage"}"#, r#"{env="staging"}"#]);
    }

    #[test]
    fn matcher_lists_in_any_spelling() {
        let m = parse_matchers(r#"{a="x,y", b!=z , c=~"q\"r"}"#).expect("valid");
        assert_eq!(m.len(), 3);
        assert_eq!(m[0].value, "x,y");
        assert_eq!(m[1].op, Op::Ne);
        assert_eq!(m[1].value, "z");
        assert_eq!(m[2].value, "q\"r");
        assert!(parse_matchers("a").is_err());
        assert!(parse_matchers(r#"a="x"#).is_err());
        assert!(parse_matchers("a=~(").is_err());
        assert!(parse_matchers(r#"a="x" b="y""#).is_err());
        // `!=` on a missing label holds; `=` of the empty value too.
        let missing = labels(&[]);
        assert!(parse_matchers("a!=x").expect("valid")[0].matches(&missing));
        assert!(parse_matchers(r#"a="""#).expect("valid")[0].matches(&missing));
    }
}
