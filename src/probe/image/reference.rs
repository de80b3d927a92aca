//! Image references as written in probe files (`registry.example/shop/api:1.4.2`,
//! `localhost:5000/x@sha256:…`) and platforms (`linux/arm64/v8`), checked when
//! the probe file loads, so a malformed one names its `file:line:column`.

use std::fmt;

use schemars::JsonSchema;
use serde::Deserialize;

/// A parsed image reference: registry host, repository, tag and/or digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRef {
    /// `host[:port]` of the registry, as written; empty when the probe's
    /// `registry:` names it instead.
    pub registry: String,
    /// The repository path (`shop/api`).
    pub repository: String,
    /// The tag, when one was written (`latest` when neither a tag nor a digest was).
    pub tag: Option<String>,
    /// `sha256:…`, when written.
    pub digest: Option<String>,
}

impl ImageRef {
    /// What the manifest is asked for by: the digest when given, else the tag.
    pub fn reference(&self) -> &str {
        self.digest
            .as_deref()
            .or(self.tag.as_deref())
            .unwrap_or("latest")
    }
}

impl fmt::Display for ImageRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.registry.is_empty() {
            write!(f, "{}/", self.registry)?;
        }
        f.write_str(&self.repository)?;
        if let Some(tag) = &self.tag {
            write!(f, ":{tag}")?;
        }
        if let Some(digest) = &self.digest {
            write!(f, "@{digest}")?;
        }
        Ok(())
    }
}

/// Parses `host[:port]/repository[:tag][@algorithm:hex]`.
pub fn parse(text: &str) -> Result<ImageRef, String> {
    parse_with(text, true)
}

/// Parses `repository[:tag][@algorithm:hex]`, without a host (the probe's
/// `registry:` names it).
pub fn parse_path(text: &str) -> Result<ImageRef, String> {
    parse_with(text, false)
}

fn parse_with(text: &str, with_host: bool) -> Result<ImageRef, String> {
    let shown = crate::expect::excerpt(text, 80);
    if text.contains("://") {
        return Err(format!(
            "image ref `{shown}` has a scheme: write `host/repository:tag` (`plain_http: true` for a registry without TLS)"
        ));
    }
    let (rest, digest) = match text.split_once('@') {
        Some((rest, digest)) => (rest, Some(parse_digest(digest, &shown)?)),
        None => (text, None),
    };
    let (registry, path) = if with_host {
        let Some((registry, path)) = rest.split_once('/') else {
            return Err(format!(
                "image ref `{shown}` names no registry: write `host[:port]/repository:tag`, or give `registry:`"
            ));
        };
        if !(registry.contains('.') || registry.contains(':') || registry == "localhost") {
            return Err(format!(
                "image ref `{shown}` names no registry host (`{registry}` is not one: a host has a dot or a port, or is `localhost`): write `registry.example/{rest}`, or give `registry:`"
            ));
        }
        if !valid_host(registry) {
            return Err(format!(
                "image ref `{shown}`: `{registry}` is not a registry host"
            ));
        }
        (registry, path)
    } else {
        ("", rest)
    };
    // A tag follows the last `:` after the last `/`.
    let last_slash = path.rfind('/').map_or(0, |i| i + 1);
    let (repository, tag) = match path[last_slash..].rfind(':') {
        Some(i) => (&path[..last_slash + i], Some(&path[last_slash + i + 1..])),
        None => (path, None),
    };
    if !valid_repository(repository) {
        return Err(format!(
            "image ref `{shown}`: repository `{}` is not valid (lowercase letters, digits and `._-` between `/`-separated parts){}",
            crate::expect::excerpt(repository, 80),
            if with_host {
                ""
            } else {
                "; with `registry:`, `ref` is the repository without a host (`shop/api:1.4.2`)"
            }
        ));
    }
    if let Some(tag) = tag
        && !valid_tag(tag)
    {
        return Err(format!(
            "image ref `{shown}`: tag `{}` is not valid (letters, digits, `_.-`, at most 128, not starting with `.` or `-`)",
            crate::expect::excerpt(tag, 80)
        ));
    }
    let tag = match (tag, &digest) {
        (Some(t), _) => Some(t.to_owned()),
        (None, None) => Some("latest".to_owned()),
        (None, Some(_)) => None,
    };
    Ok(ImageRef {
        registry: registry.to_owned(),
        repository: repository.to_owned(),
        tag,
        digest,
    })
}

fn parse_digest(digest: &str, shown: &str) -> Result<String, String> {
    if is_digest(digest) {
        Ok(digest.to_owned())
    } else {
        Err(format!(
            "image ref `{shown}`: the digest is not `sha256:` and 64 lowercase hex digits (or `sha512:` and 128)"
        ))
    }
}

/// Whether `text` is a digest vouch can check: `sha256:` and 64 lowercase
/// hex digits, or `sha512:` and 128 (so it is safe in a URL path, too).
pub fn is_digest(text: &str) -> bool {
    let hex_of = |hex: &str, len: usize| {
        hex.len() == len
            && hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    };
    match text.split_once(':') {
        Some(("sha256", hex)) => hex_of(hex, 64),
        Some(("sha512", hex)) => hex_of(hex, 128),
        _ => false,
    }
}

fn valid_host(host: &str) -> bool {
    let (name_ok, port) = if let Some(rest) = host.strip_prefix('[') {
        let Some((ip, tail)) = rest.split_once(']') else {
            return false;
        };
        let port = match tail {
            "" => None,
            _ => match tail.strip_prefix(':') {
                Some(port) => Some(port),
                None => return false,
            },
        };
        (ip.parse::<std::net::Ipv6Addr>().is_ok(), port)
    } else {
        let (name, port) = match host.split_once(':') {
            Some((name, port)) => (name, Some(port)),
            None => (host, None),
        };
        let name_ok = !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-');
        (name_ok, port)
    };
    name_ok && port.is_none_or(|p| p.parse::<u16>().is_ok_and(|p| p > 0))
}

/// The distribution spec's repository grammar: components of lowercase
/// alphanumerics joined by `.`, `_`, `__` or `-`s, separated by `/`.
fn valid_repository(repository: &str) -> bool {
    !repository.is_empty()
        && repository.len() <= 255
        && repository.split('/').all(|part| {
            let bytes = part.as_bytes();
            !part.is_empty()
                && bytes[0].is_ascii_alphanumeric()
                && bytes[bytes.len() - 1].is_ascii_alphanumeric()
                && part
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b))
        })
}

fn valid_tag(tag: &str) -> bool {
    let bytes = tag.as_bytes();
    !tag.is_empty()
        && tag.len() <= 128
        && (bytes[0].is_ascii_alphanumeric() || bytes[0] == b'_')
        && tag
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b))
}

/// A platform: `os/architecture[/variant]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(try_from = "String")]
#[schemars(with = "String")]
pub struct Platform {
    /// `linux`.
    pub os: String,
    /// `amd64`, `arm64`.
    pub architecture: String,
    /// `v8`, `v7`, when given.
    pub variant: Option<String>,
}

impl Platform {
    /// The default: `linux/amd64`.
    pub fn default_platform() -> Platform {
        Platform {
            os: "linux".to_owned(),
            architecture: "amd64".to_owned(),
            variant: None,
        }
    }

    /// Whether an index entry's platform is this one; a variant is compared
    /// only when this platform names one.
    pub fn matches(&self, os: &str, architecture: &str, variant: Option<&str>) -> bool {
        self.os == os
            && self.architecture == architecture
            && self.variant.as_deref().is_none_or(|v| Some(v) == variant)
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(variant) = &self.variant {
            write!(f, "/{variant}")?;
        }
        Ok(())
    }
}

impl TryFrom<String> for Platform {
    type Error = String;

    fn try_from(text: String) -> Result<Platform, String> {
        let parts: Vec<&str> = text.split('/').collect();
        let word = |p: &str| {
            !p.is_empty()
                && p.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        };
        if !(2..=3).contains(&parts.len()) || !parts.iter().all(|p| word(p)) {
            return Err(format!(
                "platform `{}` is not `os/architecture[/variant]` (e.g. `linux/amd64`, `linux/arm64/v8`)",
                crate::expect::excerpt(&text, 60)
            ));
        }
        Ok(Platform {
            os: parts[0].to_owned(),
            architecture: parts[1].to_owned(),
            variant: parts.get(2).map(|v| (*v).to_owned()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ref_splits_into_registry_repository_tag_and_digest() {
        let r = parse("registry.example/shop/api:1.4.2").expect("valid");
        assert_eq!(r.registry, "registry.example");
        assert_eq!(r.repository, "shop/api");
        assert_eq!(r.tag.as_deref(), Some("1.4.2"));
        assert_eq!(r.reference(), "1.4.2");
        let r = parse("localhost:5000/x").expect("valid");
        assert_eq!(
            (r.registry.as_str(), r.repository.as_str()),
            ("localhost:5000", "x")
        );
        assert_eq!(r.reference(), "latest");
        let digest = format!("sha256:{}", "ab".repeat(32));
        let r = parse(&format!("127.0.0.1:5000/a/b:1@{digest}")).expect("valid");
        assert_eq!(r.tag.as_deref(), Some("1"));
        assert_eq!(r.reference(), digest);
        assert_eq!(r.to_string(), format!("127.0.0.1:5000/a/b:1@{digest}"));
        let r = parse(&format!("[::1]:5000/a@{digest}")).expect("valid");
        assert_eq!((r.registry.as_str(), r.tag), ("[::1]:5000", None));
    }

    #[test]
    fn with_a_registry_setting_the_ref_is_a_repository_path() {
        let r = parse_path("shop/api:1.4.2").expect("valid");
        assert_eq!(
            (r.registry.as_str(), r.repository.as_str()),
            ("", "shop/api")
        );
        assert_eq!(r.to_string(), "shop/api:1.4.2");
        let err = parse_path("127.0.0.1:5000/shop/api:1").expect_err("a host");
        assert!(err.contains("without a host"), "{err}");
        assert!(
            parse("shop/api:1")
                .expect_err("no host")
                .contains("give `registry:`")
        );
    }

    #[test]
    fn malformed_refs_say_what_is_wrong() {
        for (text, says) in [
            ("shop/api:1", "names no registry host"),
            ("api", "names no registry"),
            ("https://r.example/a:1", "has a scheme"),
            ("r.example/Shop:1", "repository `Shop`"),
            ("r.example/a:-x", "tag `-x`"),
            ("r.example/a@sha256:xyz", "digest"),
            ("r.example:99999/a", "not a registry host"),
            ("r.example/a//b", "repository"),
        ] {
            let err = parse(text).expect_err(text);
            assert!(err.contains(says), "{text}: {err}");
        }
    }

    #[test]
    fn platforms_parse_and_match_with_an_optional_variant() {
        let p = Platform::try_from("linux/arm64".to_owned()).expect("valid");
        assert!(p.matches("linux", "arm64", Some("v8")));
        assert!(!p.matches("linux", "amd64", None));
        let p = Platform::try_from("linux/arm/v7".to_owned()).expect("valid");
        assert!(p.matches("linux", "arm", Some("v7")));
        assert!(!p.matches("linux", "arm", Some("v6")));
        assert!(Platform::try_from("linux".to_owned()).is_err());
        assert!(Platform::try_from("linux/amd64/v1/x".to_owned()).is_err());
    }
}
