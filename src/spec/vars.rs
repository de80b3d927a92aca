//! Variable interpolation: `${env:NAME}`, `${env:NAME:-default}`,
//! `${var:NAME}` and `${target}`; `$${` writes a literal `${`.
//! Values read from the environment are recorded as secrets.

use std::collections::BTreeMap;

use crate::redact::Secrets;

/// What a `${…}` can refer to.
pub struct Scope<'a> {
    /// Reads an environment variable.
    pub env: &'a dyn Fn(&str) -> Option<String>,
    /// `vars:` of the file, after `--set` overrides, already interpolated.
    pub vars: &'a BTreeMap<String, String>,
    /// The target base URL, when known.
    pub target: Option<&'a str>,
}

/// A reference that could not be resolved, with its byte offset in the text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VarError {
    /// Byte offset of the `${` in the interpolated text.
    pub offset: usize,
    /// What is wrong.
    pub message: String,
}

/// Replaces every reference in `text`. Collects every unresolved reference
/// rather than stopping at the first.
pub fn interpolate(
    text: &str,
    scope: &Scope<'_>,
    secrets: &mut Secrets,
) -> Result<String, Vec<VarError>> {
    if !text.contains("${") {
        return Ok(text.to_owned());
    }
    let mut out = String::with_capacity(text.len());
    let mut errors = Vec::new();
    let mut rest = text;
    let mut offset = 0;
    while let Some(start) = rest.find('$') {
        out.push_str(&rest[..start]);
        let after = &rest[start..];
        if let Some(escaped) = after.strip_prefix("$${") {
            out.push_str("${");
            rest = escaped;
            offset += start + 3;
            continue;
        }
        if !after.starts_with("${") {
            out.push('$');
            rest = &after[1..];
            offset += start + 1;
            continue;
        }
        let Some(end) = after.find('}') else {
            errors.push(VarError {
                offset: offset + start,
                message: "unterminated `${`: expected a closing `}`".to_owned(),
            });
            out.push_str(after);
            rest = "";
            break;
        };
        let reference = &after[2..end];
        match resolve(reference, scope, secrets) {
            Ok(value) => out.push_str(&value),
            Err(message) => errors.push(VarError {
                offset: offset + start,
                message,
            }),
        }
        rest = &after[end + 1..];
        offset += start + end + 1;
    }
    out.push_str(rest);
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

fn resolve(reference: &str, scope: &Scope<'_>, secrets: &mut Secrets) -> Result<String, String> {
    if reference == "target" {
        return scope.target.map(str::to_owned).ok_or_else(|| {
            "`${target}` used but no target is set: give `target:` or `--target`".to_owned()
        });
    }
    if let Some(spec) = reference.strip_prefix("env:") {
        let (name, default) = match spec.split_once(":-") {
            Some((name, default)) => (name, Some(default)),
            None => (spec, None),
        };
        check_name(name)?;
        return match (scope.env)(name) {
            Some(value) => {
                secrets.add(&value);
                Ok(value)
            }
            None => default.map(str::to_owned).ok_or_else(|| {
                format!(
                    "environment variable `{name}` is not set (give a default with `${{env:{name}:-…}}`)"
                )
            }),
        };
    }
    if let Some(name) = reference.strip_prefix("var:") {
        check_name(name)?;
        return scope.vars.get(name).cloned().ok_or_else(|| {
            let known: Vec<&str> = scope.vars.keys().map(String::as_str).collect();
            match super::diag::closest(name, &known) {
                Some(near) => format!("unknown variable `{name}`; did you mean `{near}`?"),
                None if known.is_empty() => {
                    format!("unknown variable `{name}`: the file has no `vars:`")
                }
                None => format!(
                    "unknown variable `{name}`, expected one of `{}`",
                    known.join("`, `")
                ),
            }
        });
    }
    Err(format!(
        "unknown reference `${{{reference}}}`: expected `${{env:NAME}}`, `${{var:NAME}}` or `${{target}}`"
    ))
}

fn check_name(name: &str) -> Result<(), String> {
    if !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.')
    {
        Ok(())
    } else {
        Err(format!("invalid variable name `{name}`"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scope_with<'a>(
        env: &'a dyn Fn(&str) -> Option<String>,
        vars: &'a BTreeMap<String, String>,
    ) -> Scope<'a> {
        Scope {
            env,
            vars,
            target: Some("http://t"),
        }
    }

    #[test]
    fn replaces_env_var_and_target_references() {
        let env = |name: &str| (name == "KEY").then(|| "s3cret".to_owned());
        let vars = BTreeMap::from([("region".to_owned(), "eu".to_owned())]);
        let mut secrets = Secrets::default();
        let out = interpolate(
            "${target}/x?k=${env:KEY}&r=${var:region}&d=${env:NOPE:-dflt}",
            &scope_with(&env, &vars),
            &mut secrets,
        )
        .expect("resolves");
        assert_eq!(out, "http://t/x?k=s3cret&r=eu&d=dflt");
        assert!(secrets.contains("s3cret"));
        assert!(!secrets.contains("dflt"));
    }

    #[test]
    fn collects_every_unset_variable_with_offsets() {
        let env = |_: &str| None;
        let vars = BTreeMap::new();
        let errors = interpolate(
            "a ${env:ONE} b ${env:TWO}",
            &scope_with(&env, &vars),
            &mut Secrets::default(),
        )
        .expect_err("unset");
        assert_eq!(errors.len(), 2);
        assert_eq!(errors[0].offset, 2);
        assert_eq!(errors[1].offset, 15);
        assert!(errors[0].message.contains("`ONE` is not set"));
    }

    #[test]
    fn escapes_and_lone_dollars_are_kept() {
        let env = |_: &str| None;
        let vars = BTreeMap::new();
        let out = interpolate(
            "cost $5 and $${literal}",
            &scope_with(&env, &vars),
            &mut Secrets::default(),
        )
        .expect("ok");
        assert_eq!(out, "cost $5 and ${literal}");
    }

    #[test]
    fn unknown_var_suggests_the_closest() {
        let env = |_: &str| None;
        let vars = BTreeMap::from([("api_key".to_owned(), "k".to_owned())]);
        let errors = interpolate(
            "${var:api_kye}",
            &scope_with(&env, &vars),
            &mut Secrets::default(),
        )
        .expect_err("unknown");
        assert!(errors[0].message.contains("did you mean `api_key`"));
    }
}
