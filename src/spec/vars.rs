//! Variable interpolation: `${env:NAME}`, `${env:NAME:-default}`,
//! `${secret:NAME}`, `${secret:NAME:-default}`, `${var:NAME}` and
//! `${target}`; `$${` writes a literal `${`. `${capture:NAME}` is kept as
//! written: the runner fills it in (see [`super::capture`]).
//!
//! The secrets policy: a `${secret:…}` value is a secret; an `${env:…}` value
//! is a secret when the variable's name says credential (see
//! [`name_says_secret`]) or when it is used as a credential (the loader
//! interpolates credentials with [`Scope::credential`] set). Any other value
//! (URLs, hosts, ports, paths) is evidence and stays readable. A secret
//! reference's value is a secret whether it came from the environment or from
//! its default.

use std::collections::{BTreeMap, BTreeSet};

use crate::redact::{SecretSource, Secrets};

/// Words that make a variable's value a secret when one is a part of its name.
pub const SECRET_WORDS: &[&str] = &[
    "TOKEN",
    "SECRET",
    "PASSWORD",
    "PASSWD",
    "PASSPHRASE",
    "PASS",
    "PWD",
    "KEY",
    "APIKEY",
    "AUTH",
    "CREDENTIAL",
    "COOKIE",
    "SESSION",
    "PRIVATE",
];

/// Words that also make a secret at the end of a part (`APITOKEN`,
/// `CLIENTSECRET`, `DBPASSWORD`); short ones (`KEY`, `PASS`, `AUTH`) do not,
/// or `MONKEY`, `BYPASS` and `OAUTH2`-free names would be secrets.
const SECRET_ENDINGS: &[&str] = &["TOKEN", "SECRET", "PASSWORD", "PASSWD", "CREDENTIAL"];

/// Whether an environment variable's name says its value is a credential:
/// the name is split into parts at `_`, `-`, `.`, digits and lower-to-upper
/// case changes, and a part (case-insensitive, a trailing `S` ignored) is one
/// of [`SECRET_WORDS`] or ends with `TOKEN`, `SECRET`, `PASSWORD`, `PASSWD` or
/// `CREDENTIAL`. So `API_KEY`, `DB_PASSWORD`, `GITHUB_TOKEN`, `apiKey` and
/// `CLIENTSECRET` are secrets; `KEYCLOAK_URL`, `MONKEY`, `BYPASS_MODE` and
/// `STAGING_URL` are not.
pub fn name_says_secret(name: &str) -> bool {
    name_parts(name).iter().any(|part| {
        let part = part.to_ascii_uppercase();
        let singular = part.strip_suffix('S').unwrap_or(&part);
        SECRET_WORDS.iter().any(|w| *w == part || *w == singular)
            || SECRET_ENDINGS
                .iter()
                .any(|w| part.ends_with(w) || singular.ends_with(w))
    })
}

fn name_parts(name: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut start = 0;
    let mut previous: Option<char> = None;
    for (i, c) in name.char_indices() {
        let separator = !c.is_ascii_alphabetic();
        let camel = c.is_ascii_uppercase() && previous.is_some_and(|p| p.is_ascii_lowercase());
        if separator || camel {
            if start < i {
                parts.push(&name[start..i]);
            }
            start = if separator { i + c.len_utf8() } else { i };
        }
        previous = Some(c);
    }
    if start < name.len() {
        parts.push(&name[start..]);
    }
    parts
}

/// What a `${…}` can refer to.
#[derive(Clone, Copy)]
pub struct Scope<'a> {
    /// Reads an environment variable.
    pub env: &'a dyn Fn(&str) -> Option<String>,
    /// `vars:` of the file, after `--set` overrides, already interpolated.
    pub vars: &'a BTreeMap<String, String>,
    /// The target base URL, when known.
    pub target: Option<&'a str>,
    /// The text is a credential (a password, an `Authorization` value): every
    /// environment value in it is a secret, whatever its variable's name.
    pub credential: bool,
    /// `vars:` (and `target`, by that name) whose own value could not be
    /// resolved: a reference to one is a follow-on, not a second problem.
    pub unresolved: &'a BTreeSet<String>,
}

/// A reference that could not be resolved, with its byte offset in the text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VarError {
    /// Byte offset of the `${` in the interpolated text.
    pub offset: usize,
    /// What is wrong.
    pub message: String,
    /// The reference is to a variable (or the target) that is itself
    /// unresolved, already reported where it is defined.
    pub follow_on: bool,
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
                follow_on: false,
            });
            out.push_str(after);
            rest = "";
            break;
        };
        let reference = &after[2..end];
        let follow_on = match reference {
            "target" => scope.unresolved.contains("target"),
            _ => reference
                .strip_prefix("var:")
                .is_some_and(|name| scope.unresolved.contains(name)),
        };
        if follow_on {
            errors.push(VarError {
                offset: offset + start,
                message: format!("`${{{reference}}}` is unresolved"),
                follow_on: true,
            });
            // Keep the reference as written: the text is not used.
            out.push_str(&after[..=end]);
        } else {
            match resolve(reference, scope, secrets) {
                Ok(value) => out.push_str(&value),
                Err(message) => errors.push(VarError {
                    offset: offset + start,
                    message,
                    follow_on: false,
                }),
            }
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
    let from_env = |prefix: &str| reference.strip_prefix(prefix);
    if let Some((spec, secret_ref)) = from_env("env:")
        .map(|spec| (spec, false))
        .or_else(|| from_env("secret:").map(|spec| (spec, true)))
    {
        let (name, default) = match spec.split_once(":-") {
            Some((name, default)) => (name, Some(default)),
            None => (spec, None),
        };
        check_name(name)?;
        let source = if secret_ref {
            Some(SecretSource::SecretRef)
        } else if name_says_secret(name) {
            Some(SecretSource::NameSaysCredential)
        } else if scope.credential {
            Some(SecretSource::UsedAsCredential)
        } else {
            None
        };
        let kind = if secret_ref { "secret" } else { "env" };
        let value = match (scope.env)(name) {
            Some(value) => value,
            None => default.map(str::to_owned).ok_or_else(|| {
                format!(
                    "environment variable `{name}` is not set (give a default with `${{{kind}:{name}:-…}}`)"
                )
            })?,
        };
        if let Some(source) = source {
            secrets.add(&value);
            secrets.add_variable(name, source);
        }
        return Ok(value);
    }
    // Filled in when the probe runs, from an earlier probe of its item
    // (checked when the item is read).
    if let Some(name) = reference.strip_prefix("capture:") {
        check_name(name)?;
        return Ok(format!("${{capture:{name}}}"));
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
        "unknown reference `${{{reference}}}`: expected `${{env:NAME}}`, `${{secret:NAME}}`, `${{var:NAME}}`, `${{capture:NAME}}` or `${{target}}`"
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

    static NONE_UNRESOLVED: BTreeSet<String> = BTreeSet::new();

    fn scope_with<'a>(
        env: &'a dyn Fn(&str) -> Option<String>,
        vars: &'a BTreeMap<String, String>,
    ) -> Scope<'a> {
        Scope {
            env,
            vars,
            target: Some("http://t"),
            credential: false,
            unresolved: &NONE_UNRESOLVED,
        }
    }

    #[test]
    fn a_reference_to_an_unresolved_variable_is_a_follow_on() {
        let env = |_: &str| None;
        let vars = BTreeMap::from([("url".to_owned(), "${env:URL}".to_owned())]);
        let unresolved = BTreeSet::from(["url".to_owned(), "target".to_owned()]);
        let scope = Scope {
            unresolved: &unresolved,
            ..scope_with(&env, &vars)
        };
        let errors = interpolate(
            "${var:url}/x ${target} ${env:OTHER}",
            &scope,
            &mut Secrets::default(),
        )
        .expect_err("unresolved");
        assert_eq!(errors.len(), 3);
        assert!(errors[0].follow_on && errors[1].follow_on, "{errors:?}");
        assert!(!errors[2].follow_on);
        assert!(errors[2].message.contains("`OTHER` is not set"));
    }

    #[test]
    fn replaces_env_var_and_target_references() {
        let env = |name: &str| (name == "API_KEY").then(|| "s3cret".to_owned());
        let vars = BTreeMap::from([("region".to_owned(), "eu".to_owned())]);
        let mut secrets = Secrets::default();
        let out = interpolate(
            "${target}/x?k=${env:API_KEY}&r=${var:region}&d=${env:NOPE:-dflt}",
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

    #[test]
    fn names_that_say_credential() {
        for name in [
            "API_KEY",
            "DB_PASSWORD",
            "GITHUB_TOKEN",
            "api_token",
            "apiKey",
            "APIKEY",
            "CLIENTSECRET",
            "AWS_SECRET_ACCESS_KEY",
            "REDIS_PASS",
            "DB2_PWD",
            "SESSION-ID",
            "auth.header",
            "PRIVATE_PEM",
            "COOKIES",
            "CREDENTIALS_JSON",
            "VOUCH_TEST_SECRET",
            "SSH_PASSPHRASE",
        ] {
            assert!(name_says_secret(name), "{name} should be a secret");
        }
        for name in [
            "STAGING_URL",
            "KEYCLOAK_URL",
            "MONKEY",
            "BYPASS_MODE",
            "PASSAGE_HOST",
            "TARGET",
            "VOUCH_TARGET",
            "PORT",
            "AUTHOR",
            "HOST",
            "SECRETARY_EMAIL",
        ] {
            assert!(!name_says_secret(name), "{name} should be shown");
        }
    }

    #[test]
    fn the_policy_decides_which_values_are_secrets() {
        let env = |name: &str| match name {
            "API_TOKEN" => Some("tok-value-1".to_owned()),
            "STAGING_URL" => Some("https://staging.example".to_owned()),
            "DB_PW" => Some("pw-value-22".to_owned()),
            _ => None,
        };
        let vars = BTreeMap::new();
        let mut secrets = Secrets::default();
        let scope = scope_with(&env, &vars);
        let out = interpolate(
            "${env:STAGING_URL} ${env:API_TOKEN} ${secret:DB_PW} ${secret:UNSET:-dflt-secret}",
            &scope,
            &mut secrets,
        )
        .expect("resolves");
        assert_eq!(
            out,
            "https://staging.example tok-value-1 pw-value-22 dflt-secret"
        );
        assert!(secrets.contains("tok-value-1"));
        assert!(secrets.contains("pw-value-22"));
        assert!(secrets.contains("dflt-secret"));
        assert!(!secrets.contains("https://staging.example"));
        let named: Vec<_> = secrets.variables().collect();
        assert_eq!(
            named,
            vec![
                ("API_TOKEN", SecretSource::NameSaysCredential),
                ("DB_PW", SecretSource::SecretRef),
                ("UNSET", SecretSource::SecretRef),
            ]
        );

        // Used as a credential, any environment value is a secret.
        let mut secrets = Secrets::default();
        let credential = Scope {
            credential: true,
            ..scope
        };
        interpolate("Bearer ${env:STAGING_URL}", &credential, &mut secrets).expect("resolves");
        assert!(secrets.contains("https://staging.example"));
        assert_eq!(
            secrets.variables().collect::<Vec<_>>(),
            vec![("STAGING_URL", SecretSource::UsedAsCredential)]
        );
    }

    #[test]
    fn an_unset_secret_says_how_to_give_a_default() {
        let env = |_: &str| None;
        let vars = BTreeMap::new();
        let errors = interpolate(
            "${secret:DB_PASS}",
            &scope_with(&env, &vars),
            &mut Secrets::default(),
        )
        .expect_err("unset");
        assert!(
            errors[0].message.contains("`${secret:DB_PASS:-…}`"),
            "{}",
            errors[0].message
        );
    }
}
