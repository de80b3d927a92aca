//! Facts of a Dockerfile, parsed rather than grepped: its stages, the final
//! stage's base image (global `ARG` defaults substituted), effective `USER`,
//! `HEALTHCHECK` and `EXPOSE`d ports. Line continuations, comments, the
//! `# escape=` directive and heredocs (`RUN <<EOF … EOF`) are understood, so
//! `USER` inside a heredoc or a comment is not taken for an instruction.

use std::collections::HashMap;

use serde::Serialize;

/// One `FROM` and what it starts.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Stage {
    /// `AS name`, when given.
    pub name: Option<String>,
    /// The base image after `ARG` substitution.
    pub base: String,
    /// The base as written, when substitution changed it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub written: Option<String>,
    /// The 1-based line of the `FROM`.
    pub line: usize,
    /// The last `USER` of the stage (as written, variables substituted).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// The last `HEALTHCHECK` of the stage: `Some("NONE")` disables one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub healthcheck: Option<String>,
    /// Ports of `EXPOSE` (`8080/tcp`).
    pub expose: Vec<String>,
}

/// What a Dockerfile says about the image its final stage builds.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Facts {
    /// Every stage in order.
    pub stages: Vec<Stage>,
    /// The final stage's effective user (`None`: never set, so root).
    pub user: Option<String>,
    /// Whether that user is root (`root`, `0`, `root:root`, `0:0`, or unset).
    pub root: bool,
    /// The final stage's effective health check command (`None`: none, or `NONE`).
    pub healthcheck: Option<String>,
    /// The final stage's base image: when it is built `FROM` an earlier
    /// stage, that stage's image, back to the first that is not a stage.
    pub base: String,
    /// Ports the final image exposes (`8080/tcp`), inherited ones included.
    pub expose: Vec<String>,
}

impl Facts {
    /// `3 stages, USER app, HEALTHCHECK, FROM gcr.io/distroless/static`.
    pub fn summary(&self) -> String {
        let stages = match self.stages.len() {
            1 => "1 stage".to_owned(),
            n => format!("{n} stages"),
        };
        let user = match &self.user {
            Some(u) => format!("USER {u}"),
            None => "USER root (none set)".to_owned(),
        };
        let health = if self.healthcheck.is_some() {
            "HEALTHCHECK"
        } else {
            "no HEALTHCHECK"
        };
        format!("{stages}, {user}, {health}, FROM {}", self.base)
    }

    /// Whether the final image exposes `port` (any protocol).
    pub fn exposes(&self, port: u16) -> bool {
        self.expose
            .iter()
            .any(|p| p.split('/').next() == Some(port.to_string().as_str()))
    }
}

/// One instruction, continuation lines joined.
#[derive(Debug)]
struct Instruction {
    keyword: String,
    args: String,
    line: usize,
}

/// Parses a Dockerfile. `Err` when it has no `FROM`.
pub fn parse(text: &str) -> Result<Facts, String> {
    let instructions = instructions(text);
    let mut globals: HashMap<String, String> = HashMap::new();
    let mut stages: Vec<Stage> = Vec::new();
    // Variables of the current stage: its `ARG` defaults and `ENV` values.
    let mut scope: HashMap<String, String> = HashMap::new();
    for ins in &instructions {
        match ins.keyword.as_str() {
            "ARG" if stages.is_empty() => {
                for (name, value) in assignments(&ins.args) {
                    globals.insert(name, value.unwrap_or_default());
                }
            }
            "FROM" => {
                let (written, name) = from_args(&ins.args);
                let base = substitute(&written, &globals);
                scope.clear();
                stages.push(Stage {
                    name,
                    written: (base != written).then_some(written),
                    base,
                    line: ins.line,
                    user: None,
                    healthcheck: None,
                    expose: Vec::new(),
                });
            }
            _ => {}
        }
        let Some(stage) = stages.last_mut() else {
            continue;
        };
        match ins.keyword.as_str() {
            "ARG" => {
                for (name, value) in assignments(&ins.args) {
                    // `ARG NAME` inside a stage takes the global default.
                    let value = value.or_else(|| globals.get(&name).cloned());
                    scope.insert(name, value.unwrap_or_default());
                }
            }
            "ENV" => {
                for (name, value) in assignments(&ins.args) {
                    let value = substitute(&value.unwrap_or_default(), &scope);
                    scope.insert(name, value);
                }
            }
            "USER" => stage.user = Some(substitute(ins.args.trim(), &scope)),
            "HEALTHCHECK" => stage.healthcheck = Some(ins.args.trim().to_owned()),
            "EXPOSE" => {
                for port in ins.args.split_whitespace() {
                    let port = substitute(port, &scope);
                    let port = if port.contains('/') {
                        port.to_lowercase()
                    } else {
                        format!("{port}/tcp")
                    };
                    stage.expose.push(port);
                }
            }
            _ => {}
        }
    }
    let Some(last) = stages.last() else {
        return Err("no FROM instruction: not a Dockerfile".to_owned());
    };
    // The final image inherits from a stage it is built `FROM`.
    let chain = lineage(&stages, stages.len() - 1);
    let user = chain.iter().find_map(|&i| stages[i].user.clone());
    let healthcheck = chain
        .iter()
        .find_map(|&i| stages[i].healthcheck.clone())
        .filter(|h| !h.eq_ignore_ascii_case("none"));
    let mut expose: Vec<String> = Vec::new();
    for &i in chain.iter().rev() {
        for port in &stages[i].expose {
            if !expose.contains(port) {
                expose.push(port.clone());
            }
        }
    }
    Ok(Facts {
        root: user.as_deref().is_none_or(is_root),
        user,
        healthcheck,
        base: chain
            .last()
            .map_or_else(|| last.base.clone(), |&i| stages[i].base.clone()),
        expose,
        stages,
    })
}

/// Whether a `USER` value names root: `root`, `0`, `root:…`, `0:…`.
pub fn is_root(user: &str) -> bool {
    let name = user.split(':').next().unwrap_or(user).trim();
    name == "root" || name == "0"
}

/// The stage at `index`, then the stages it is built from, nearest first.
fn lineage(stages: &[Stage], index: usize) -> Vec<usize> {
    let mut chain = vec![index];
    let mut current = index;
    while chain.len() <= stages.len() {
        let base = &stages[current].base;
        let parent = stages[..current].iter().rposition(|s| {
            s.name
                .as_deref()
                .is_some_and(|n| n.eq_ignore_ascii_case(base))
        });
        match parent {
            Some(p) => {
                chain.push(p);
                current = p;
            }
            None => break,
        }
    }
    chain
}

/// `[--platform=…] image [AS name]` → image and name.
fn from_args(args: &str) -> (String, Option<String>) {
    let words: Vec<&str> = args
        .split_whitespace()
        .filter(|w| !w.starts_with("--"))
        .collect();
    let image = words.first().copied().unwrap_or_default().to_owned();
    let name = match words.as_slice() {
        [_, as_, name, ..] if as_.eq_ignore_ascii_case("as") => Some((*name).to_owned()),
        _ => None,
    };
    (image, name)
}

/// `A=1 B="two words"` or the legacy `ENV A value`; `ARG NAME` has no value.
fn assignments(args: &str) -> Vec<(String, Option<String>)> {
    let args = args.trim();
    let first = args.split_whitespace().next().unwrap_or_default();
    if !first.contains('=') {
        // `ENV NAME value with spaces` (legacy) or `ARG NAME`.
        return match args.split_once(char::is_whitespace) {
            Some((name, value)) => vec![(name.to_owned(), Some(unquote(value.trim())))],
            None if !args.is_empty() => vec![(args.to_owned(), None)],
            None => Vec::new(),
        };
    }
    let mut out = Vec::new();
    for word in split_words(args) {
        match word.split_once('=') {
            Some((name, value)) => out.push((name.to_owned(), Some(unquote(value)))),
            None => out.push((word, None)),
        }
    }
    out
}

/// Splits on whitespace outside double or single quotes.
fn split_words(text: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut quote = None;
    for c in text.chars() {
        match (quote, c) {
            (None, '"' | '\'') => {
                quote = Some(c);
                word.push(c);
            }
            (Some(q), _) if c == q => {
                quote = None;
                word.push(c);
            }
            (None, c) if c.is_whitespace() => {
                if !word.is_empty() {
                    words.push(std::mem::take(&mut word));
                }
            }
            _ => word.push(c),
        }
    }
    if !word.is_empty() {
        words.push(word);
    }
    words
}

fn unquote(text: &str) -> String {
    let t = text.trim();
    for q in ['"', '\''] {
        if let Some(inner) = t.strip_prefix(q).and_then(|r| r.strip_suffix(q)) {
            return inner.to_owned();
        }
    }
    t.to_owned()
}

/// Replaces `$NAME`, `${NAME}` and `${NAME:-default}` from `vars`; unknown
/// names are left as written (the build would fill them from `--build-arg`).
fn substitute(text: &str, vars: &HashMap<String, String>) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        if let Some(body) = after.strip_prefix('{')
            && let Some(end) = body.find('}')
        {
            let inner = &body[..end];
            let (name, default) = match inner.split_once(":-") {
                Some((n, d)) => (n, Some(d)),
                None => (inner, None),
            };
            match (vars.get(name).filter(|v| !v.is_empty()), default) {
                (Some(v), _) => out.push_str(v),
                (None, Some(d)) => out.push_str(d),
                (None, None) if vars.contains_key(name) => {}
                (None, None) => out.push_str(&rest[at..at + 2 + end + 1]),
            }
            rest = &body[end + 1..];
            continue;
        }
        let len = after
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(after.len());
        let name = &after[..len];
        match vars.get(name) {
            Some(v) if len > 0 => out.push_str(v),
            _ => {
                out.push('$');
                out.push_str(name);
            }
        }
        rest = &after[len..];
    }
    out.push_str(rest);
    out
}

/// Splits the text into instructions: comments dropped, continuation lines
/// joined, heredoc bodies skipped.
fn instructions(text: &str) -> Vec<Instruction> {
    let mut escape = '\\';
    let lines: Vec<&str> = text.lines().collect();
    // Parser directives come first, before any instruction or blank line.
    for line in &lines {
        let Some(directive) = line.trim().strip_prefix('#') else {
            break;
        };
        match directive.trim().split_once('=') {
            Some((key, value)) if key.trim().eq_ignore_ascii_case("escape") => {
                if value.trim() == "`" {
                    escape = '`';
                }
            }
            Some((key, _)) if key.trim().eq_ignore_ascii_case("syntax") => {}
            _ => break,
        }
    }
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i].trim();
        i += 1;
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let start = i;
        let mut joined = String::new();
        let mut current = line.to_owned();
        loop {
            match current.trim_end().strip_suffix(escape) {
                Some(head) => {
                    joined.push_str(head);
                    joined.push(' ');
                    // The next non-comment line continues this one.
                    let mut next = None;
                    while i < lines.len() {
                        let l = lines[i].trim();
                        i += 1;
                        if !l.starts_with('#') {
                            next = Some(l.to_owned());
                            break;
                        }
                    }
                    match next {
                        Some(n) => current = n,
                        None => break,
                    }
                }
                None => {
                    joined.push_str(&current);
                    break;
                }
            }
        }
        let (keyword, args) = match joined.split_once(char::is_whitespace) {
            Some((k, a)) => (k.to_ascii_uppercase(), a.trim().to_owned()),
            None => (joined.to_ascii_uppercase(), String::new()),
        };
        // Heredocs: `<<EOF`, `<<-EOF`, `<<"EOF"`: skip each body to its delimiter.
        for (delimiter, dash) in heredocs(&args) {
            while i < lines.len() {
                let l = if dash {
                    lines[i].trim_start_matches('\t')
                } else {
                    lines[i]
                };
                i += 1;
                if l.trim_end() == delimiter {
                    break;
                }
            }
        }
        out.push(Instruction {
            keyword,
            args,
            line: start,
        });
    }
    out
}

/// The heredoc delimiters an instruction opens, with whether `<<-` strips tabs.
fn heredocs(args: &str) -> Vec<(String, bool)> {
    let mut out = Vec::new();
    let mut rest = args;
    while let Some(at) = rest.find("<<") {
        let mut after = &rest[at + 2..];
        let dash = after.starts_with('-');
        if dash {
            after = &after[1..];
        }
        let quoted = after.starts_with(['"', '\'']);
        let word: String = after
            .trim_start_matches(['"', '\''])
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        if !word.is_empty() && (quoted || after.starts_with(|c: char| c.is_ascii_alphabetic())) {
            out.push((word, dash));
        }
        rest = after;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_final_stage_decides_user_base_and_healthcheck() {
        let facts = parse(
            "# syntax=docker/dockerfile:1\nARG GO=1.22\nFROM golang:${GO} AS build\nUSER root\nRUN go build \\\n  -o /app .\n\nFROM gcr.io/distroless/static\nCOPY --from=build /app /app\nUSER app\nHEALTHCHECK CMD [\"/app\", \"health\"]\nEXPOSE 8080 9090/udp\n",
        )
        .expect("parses");
        assert_eq!(facts.stages.len(), 2);
        assert_eq!(facts.stages[0].base, "golang:1.22");
        assert_eq!(facts.stages[0].written.as_deref(), Some("golang:${GO}"));
        assert_eq!(facts.base, "gcr.io/distroless/static");
        assert_eq!(facts.user.as_deref(), Some("app"));
        assert!(!facts.root);
        assert!(facts.healthcheck.is_some());
        assert_eq!(facts.expose, ["8080/tcp", "9090/udp"]);
        assert!(facts.exposes(8080) && !facts.exposes(80));
        assert_eq!(
            facts.summary(),
            "2 stages, USER app, HEALTHCHECK, FROM gcr.io/distroless/static"
        );
    }

    #[test]
    fn root_in_every_spelling() {
        for user in [
            "",
            "USER 0\n",
            "USER root:root\n",
            "USER 0:0\n",
            "USER root\n",
        ] {
            let facts = parse(&format!("FROM alpine\n{user}")).expect("parses");
            assert!(facts.root, "{user:?}");
        }
        assert!(!parse("FROM alpine\nUSER 1000:1000\n").expect("ok").root);
    }

    #[test]
    fn heredocs_comments_and_continuations_are_not_instructions() {
        let facts = parse(
            "FROM alpine\nUSER app\nRUN <<EOF\nUSER root\nHEALTHCHECK NONE\nEOF\n# USER root\nRUN echo a \\\n# USER root\n  && echo b\nCOPY <<-\"END\" /x\n\tUSER root\n\tEND\n",
        )
        .expect("parses");
        assert_eq!(facts.user.as_deref(), Some("app"));
        assert!(facts.healthcheck.is_none());
    }

    #[test]
    fn healthcheck_none_and_inheritance_from_a_named_stage() {
        let facts = parse(
            "FROM alpine AS base\nUSER app\nHEALTHCHECK CMD true\nEXPOSE 80\nFROM base\nHEALTHCHECK NONE\n",
        )
        .expect("parses");
        assert_eq!(facts.user.as_deref(), Some("app"));
        assert!(facts.healthcheck.is_none());
        assert_eq!(facts.expose, ["80/tcp"]);
        assert_eq!(facts.base, "alpine");
        assert!(parse("RUN x\n").is_err());
    }

    #[test]
    fn substitutes_defaults_and_leaves_unknown_names() {
        let vars = HashMap::from([("A".to_owned(), "1".to_owned())]);
        assert_eq!(substitute("x:$A-${A}", &vars), "x:1-1");
        assert_eq!(substitute("${B:-slim}", &vars), "slim");
        assert_eq!(substitute("img:${C}", &vars), "img:${C}");
        assert_eq!(
            parse("ARG BASE=python:3.12-slim\nFROM ${BASE}\n")
                .expect("ok")
                .base,
            "python:3.12-slim"
        );
    }
}
