//! `image`: a container image as its registry serves it, through the OCI
//! distribution API — the manifest (from an index, the platform's), the
//! config blob and the tag list — checked for what checklists ask of images:
//! it exists, does not run as root, has a health check, is small, has few
//! layers, is recent, carries labels, and the previous version's tag is kept.
//! Read-only `GET`s, each body bounded.

mod reference;
mod registry;

use std::collections::BTreeMap;
use std::fmt;

use schemars::JsonSchema;
use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};
use serde_json::{Map, Value as Json, json};
use url::Url;

pub use reference::{ImageRef, Platform};
use registry::{Session, has_digest, next_link, registry_error};

use super::auth::BasicSecret;
use super::fetch::Response;
use super::http::unreachable_findings;
use super::{Budget, Check, Context, Findings, Probe, ProbeError, TlsSettings, append_failures};
use crate::expect::{self, Matcher, Size};
use crate::redact::Redactor;

/// The default cap on each answer (manifests, config, tag pages): the
/// distribution spec lets registries refuse manifests over 4 MiB.
pub const DEFAULT_BODY_LIMIT: u64 = 4 << 20;

/// Tag list pages read at most (`n=1000` each).
pub const MAX_TAG_PAGES: u64 = 10;

/// Tags asked for per page.
const TAGS_PER_PAGE: u32 = 1000;

/// Tags and labels kept as evidence.
const SHOWN: usize = 50;

/// Requests an authentication dance may add: a challenged request, its
/// retry, and a token fetch, twice (a held token refused, a fresh one).
const AUTH_REQUESTS: u64 = 4;

/// The manifest media types vouch asks for, most wanted first.
const MANIFEST_TYPES: &str = "application/vnd.oci.image.index.v1+json, \
application/vnd.docker.distribution.manifest.list.v2+json, \
application/vnd.oci.image.manifest.v1+json, \
application/vnd.docker.distribution.manifest.v2+json";

const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";

super::with_tls! {
    /// The `image:` settings as written.
    #[derive(Debug, Clone, Deserialize, JsonSchema)]
    #[serde(deny_unknown_fields)]
    pub struct ImageSettings {
        /// The image: `registry.example/shop/api:1.4.2`, `localhost:5000/x@sha256:…`
        /// (a registry host is required: a host with a dot or a port, or `localhost`;
        /// no tag and no digest means `latest`). With `registry:`, the repository
        /// path alone: `shop/api:1.4.2`.
        #[serde(rename = "ref")]
        image: String,
        /// Where the registry is, instead of the ref's host: a URL
        /// (`http://127.0.0.1:5000`), or a path or `""` resolved against the target.
        #[serde(default)]
        registry: Option<String>,
        /// The platform picked from a multi-platform index: `os/arch[/variant]`
        /// (default `linux/amd64`).
        #[serde(default)]
        platform: Option<Platform>,
        /// Speak plain HTTP to the ref's registry host (default: HTTPS); with
        /// `registry:`, its URL's scheme decides.
        #[serde(default)]
        plain_http: bool,
        /// Credentials: sent as HTTP Basic to a registry that asks for them, or to
        /// its token realm (the `WWW-Authenticate: Bearer` dance).
        #[serde(default)]
        basic: Option<BasicSecret>,
        /// The most bytes of each answer read (manifest, config, tag page);
        /// default 4 MiB, or the run's body limit when that is larger.
        #[serde(default)]
        body_limit: Option<Size>,
        /// What must hold.
        #[serde(default)]
        expect: ImageExpect,
    }
}

/// Settings of an `image` probe, checked.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(try_from = "ImageSettings")]
#[schemars(with = "ImageSettings")]
pub struct Image {
    /// The image.
    pub image: ImageRef,
    /// Where the registry is, when not the ref's host.
    pub registry: Option<String>,
    /// The platform to pick from an index.
    pub platform: Option<Platform>,
    /// Plain HTTP to the ref's host.
    pub plain_http: bool,
    /// Credentials.
    pub basic: Option<BasicSecret>,
    /// The cap on each answer.
    pub body_limit: Option<Size>,
    /// What must hold.
    pub expect: ImageExpect,
    /// TLS trust and client identity.
    pub tls: TlsSettings,
}

impl TryFrom<ImageSettings> for Image {
    type Error = String;

    fn try_from(s: ImageSettings) -> Result<Image, String> {
        let tls = s.tls();
        let image = match &s.registry {
            Some(_) => reference::parse_path(&s.image)?,
            None => reference::parse(&s.image)?,
        };
        if let Some(b) = &s.basic
            && b.user.contains(':')
        {
            return Err("a basic `user` cannot contain `:`".to_owned());
        }
        Ok(Image {
            image,
            registry: s.registry,
            platform: s.platform,
            plain_http: s.plain_http,
            basic: s.basic,
            body_limit: s.body_limit,
            expect: s.expect,
            tls,
        })
    }
}

/// Expectations on an image. With none, it must exist.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ImageExpect {
    /// The manifest is there (`true`) or the registry says it is unknown (`false`).
    #[serde(default)]
    pub exists: Option<bool>,
    /// The config's user, before any `:group`; `""`, `0` and `root` read as
    /// `root` (`user: {ne: root}`).
    #[serde(default)]
    pub user: Option<Matcher>,
    /// A health check is configured (the Docker config's `Healthcheck`, not `NONE`).
    #[serde(default)]
    pub healthcheck: Option<bool>,
    /// The compressed layers' total, as pulled (`{max: 200MiB}`).
    #[serde(default)]
    pub size: Option<Matcher>,
    /// The number of layers (`{max: 30}`).
    #[serde(default)]
    pub layers: Option<Matcher>,
    /// The age from the config's `created` (`{max: 90d}`).
    #[serde(default)]
    pub created: Option<Matcher>,
    /// The config's labels by name (`org.opencontainers.image.source: {exists: true}`).
    #[serde(default)]
    pub labels: BTreeMap<String, Matcher>,
    /// Platforms the index must list (`[linux/amd64, linux/arm64]`); a
    /// single-platform image lists its config's.
    #[serde(default)]
    pub platforms: Vec<Platform>,
    /// The repository's tags (`{contains: [1.4.1]}`).
    #[serde(default)]
    pub tags: Option<TagsExpect>,
}

/// Expectations on the repository's tag list.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TagsExpect {
    /// Tags that must be listed (one or a list; a number is read as its text:
    /// quote versions like `"1.10"`).
    #[serde(default, deserialize_with = "texts")]
    #[schemars(with = "TextsSchema")]
    pub contains: Vec<String>,
    /// A matcher on how many tags are listed.
    #[serde(default)]
    pub count: Option<Matcher>,
}

/// The schema of `contains:`.
#[derive(JsonSchema)]
#[serde(untagged)]
#[allow(dead_code)]
enum TextsSchema {
    /// One tag.
    One(String),
    /// Several.
    Many(Vec<String>),
}

/// Reads one scalar or a list of scalars as texts.
fn texts<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<String>, D::Error> {
    struct V;
    impl<'de> Visitor<'de> for V {
        type Value = Vec<String>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a tag or a list of tags")
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
            Ok(vec![v.to_owned()])
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
            Ok(vec![v.to_string()])
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
            Ok(vec![v.to_string()])
        }
        fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
            Ok(vec![v.to_string()])
        }
        fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            let mut out = Vec::new();
            while let Some(v) = seq.next_element::<Json>()? {
                match v {
                    Json::String(s) => out.push(s),
                    Json::Number(n) => out.push(n.to_string()),
                    other => {
                        return Err(de::Error::custom(format!(
                            "a tag must be text, not {}",
                            expect::show(&other)
                        )));
                    }
                }
            }
            Ok(out)
        }
    }
    deserializer.deserialize_any(V)
}

impl Image {
    /// `image registry.example/shop/api:1.4.2`, `image shop/api:1.4.2 at
    /// http://127.0.0.1:5000`, with the platform when one is asked for.
    pub fn describe(&self) -> String {
        let mut line = format!("image {}", self.image);
        match self.registry.as_deref() {
            Some("" | "/") => line.push_str(" at the target"),
            Some(registry) => line.push_str(&format!(" at {registry}")),
            None => {}
        }
        if let Some(p) = &self.platform {
            line.push_str(&format!(" ({p})"));
        }
        line
    }

    /// The registry, when `registry:` is a path resolved against the target.
    pub fn target_paths(&self) -> Vec<&str> {
        self.registry.as_deref().into_iter().collect()
    }

    fn platform(&self) -> Platform {
        self.platform
            .clone()
            .unwrap_or_else(Platform::default_platform)
    }

    /// Whether the config blob must be read.
    fn needs_config(&self) -> bool {
        let e = &self.expect;
        e.user.is_some()
            || e.healthcheck.is_some()
            || e.created.is_some()
            || !e.labels.is_empty()
            || !e.platforms.is_empty()
    }

    fn nothing_asked(&self) -> bool {
        let e = &self.expect;
        e.exists.is_none()
            && !self.needs_config()
            && e.size.is_none()
            && e.layers.is_none()
            && e.tags.is_none()
    }

    fn base(&self, cx: &Context) -> Result<Url, ProbeError> {
        if let Some(registry) = &self.registry {
            let mut url = cx.resolve(registry)?;
            if !matches!(url.scheme(), "http" | "https") {
                return Err(ProbeError::Setup(format!(
                    "registry `{registry}` is not an HTTP(S) URL"
                )));
            }
            // The API lives at the host's root (`/v2/`).
            url.set_path("/");
            url.set_query(None);
            url.set_fragment(None);
            return Ok(url);
        }
        let scheme = if self.plain_http { "http" } else { "https" };
        Url::parse(&format!("{scheme}://{}/", self.image.registry)).map_err(|e| {
            ProbeError::Setup(format!(
                "registry `{}` is not a usable host: {e}",
                self.image.registry
            ))
        })
    }
}

impl Probe for Image {
    /// The manifest, the platform's manifest from an index, the config blob
    /// and up to [`MAX_TAG_PAGES`] tag pages, plus an authentication dance.
    fn budget(&self) -> Budget {
        let tags = if self.expect.tags.is_some() {
            MAX_TAG_PAGES
        } else {
            0
        };
        Budget {
            max_requests: 3 + tags + AUTH_REQUESTS,
            ..Budget::SINGLE
        }
    }

    async fn run(&self, cx: &Context) -> Result<Findings, ProbeError> {
        let cx = &cx.with_body_limit(self.body_limit.map(|s| s.0), DEFAULT_BODY_LIMIT);
        let basic = self
            .basic
            .as_ref()
            .map(|b| (b.user.clone(), b.password.clone()));
        let mut session = Session::new(
            cx,
            self.base(cx)?,
            &self.image.repository,
            self.tls.clone(),
            basic,
            self.budget().max_requests,
        );
        let mut findings = self.inspect(cx, &mut session).await?;
        // Tokens are this run's secrets: the runner's redactor never saw them.
        let tokens = Redactor::new(&session.secrets);
        tokens.string(&mut findings.summary);
        for check in &mut findings.checks {
            tokens.string(&mut check.name);
            tokens.string(&mut check.expected);
            tokens.string(&mut check.actual);
        }
        tokens.json(&mut findings.evidence);
        Ok(findings)
    }
}

/// A manifest as read: its digest, media type and document.
struct Manifest {
    digest: String,
    media_type: String,
    doc: Json,
}

/// What a step of the walk got: `Ok(Ok(value))`; `Ok(Err(why))` when the
/// registry answered, but not with something usable; `Err(findings)` when it
/// did not answer at all.
type Step<T> = Result<Result<T, String>, Box<Findings>>;

/// How a manifest request ended.
enum Fetched {
    Found(Manifest),
    /// The registry says it does not know it (404).
    Absent(String),
    /// Anything else: refused, an error, not a manifest.
    Failed(String),
    /// No answer at all.
    Unreachable(Box<Findings>),
}

/// What the checks read, gathered as the run goes.
#[derive(Default)]
struct Facts {
    record: Map<String, Json>,
    checks: Vec<Check>,
}

impl Facts {
    fn check(
        &mut self,
        name: impl Into<String>,
        expected: impl Into<String>,
        actual: impl Into<String>,
        passed: bool,
    ) {
        self.checks.push(Check::new(name, expected, actual, passed));
    }
}

impl Image {
    async fn inspect(
        &self,
        cx: &Context,
        session: &mut Session<'_>,
    ) -> Result<Findings, ProbeError> {
        let line = self.describe();
        let mut facts = Facts::default();
        facts
            .record
            .insert("ref".to_owned(), json!(self.image.to_string()));
        facts
            .record
            .insert("registry".to_owned(), json!(session.base.as_str()));
        facts
            .record
            .insert("repository".to_owned(), json!(self.image.repository));
        facts
            .record
            .insert("reference".to_owned(), json!(self.image.reference()));
        let result = self.walk(cx, session, &line, &mut facts).await?;
        facts
            .record
            .insert("auth".to_owned(), session.auth.evidence());
        if let Some(problem) = &session.auth_problem {
            facts
                .record
                .insert("auth_problem".to_owned(), json!(problem));
        }
        facts
            .record
            .insert("requests".to_owned(), json!(session.sent));
        if let Err(unreachable) = result {
            let mut findings = *unreachable;
            if let Json::Object(map) = &mut findings.evidence {
                for (k, v) in std::mem::take(&mut facts.record) {
                    map.entry(k).or_insert(v);
                }
            }
            return Ok(findings);
        }
        let checks = facts.checks;
        let passed = checks.iter().filter(|c| c.passed).count();
        let mut summary = format!("{line}: {passed}/{} checks held", checks.len());
        if let Some(digest) = facts.record.get("digest").and_then(Json::as_str) {
            summary = format!(
                "{line} → {}: {passed}/{} checks held",
                short(digest),
                checks.len()
            );
        }
        let failed: Vec<&Check> = checks.iter().filter(|c| !c.passed).collect();
        append_failures(&mut summary, &failed, 2, true);
        Ok(Findings {
            checks,
            summary,
            evidence: Json::Object(facts.record),
        })
    }

    /// Reads what the expectations need and checks it. `Err` carries the
    /// findings of a registry that did not answer.
    async fn walk(
        &self,
        cx: &Context,
        session: &mut Session<'_>,
        line: &str,
        facts: &mut Facts,
    ) -> Result<Result<(), Box<Findings>>, ProbeError> {
        let e = &self.expect;
        let want_present = e.exists.unwrap_or(true);
        let exists_expected = if want_present { "present" } else { "absent" };
        let top = match self
            .manifest(
                cx,
                session,
                line,
                self.image.reference(),
                self.image.digest.as_deref(),
            )
            .await?
        {
            Fetched::Unreachable(findings) => return Ok(Err(findings)),
            Fetched::Absent(why) => {
                facts.check(
                    "exists",
                    exists_expected,
                    format!("absent ({why})"),
                    !want_present,
                );
                if want_present {
                    self.not_checked(facts, "no manifest");
                }
                return Ok(Ok(()));
            }
            Fetched::Failed(why) => {
                facts.check("exists", exists_expected, why, false);
                self.not_checked(facts, "no manifest");
                return Ok(Ok(()));
            }
            Fetched::Found(manifest) => manifest,
        };
        facts.record.insert("digest".to_owned(), json!(top.digest));
        facts
            .record
            .insert("media_type".to_owned(), json!(top.media_type));
        if !want_present {
            facts.check(
                "exists",
                "absent",
                format!("present ({})", top.digest),
                false,
            );
            return Ok(Ok(()));
        }
        if e.exists.is_some() || self.nothing_asked() {
            facts.check(
                "exists",
                "present",
                format!("{} ({})", top.digest, kind_name(&top.media_type)),
                true,
            );
        }
        // An index: the platform's manifest.
        let mut index_platforms: Option<Vec<Platform>> = None;
        let image = if is_index(&top) {
            let platform = self.platform();
            let entries = index_entries(&top.doc);
            let listed: Vec<Platform> = entries.iter().map(|(p, _)| p.clone()).collect();
            facts.record.insert(
                "index".to_owned(),
                json!({
                    "digest": top.digest,
                    "media_type": top.media_type,
                    "manifests": top.doc["manifests"].as_array().map_or(0, Vec::len),
                    "platforms": listed.iter().map(ToString::to_string).collect::<Vec<_>>(),
                }),
            );
            facts
                .record
                .insert("platform".to_owned(), json!(platform.to_string()));
            index_platforms = Some(listed.clone());
            let chosen = entries
                .iter()
                .find(|(p, _)| platform.matches(&p.os, &p.architecture, p.variant.as_deref()));
            let Some((_, digest)) = chosen else {
                facts.check(
                    "platform",
                    format!("{platform} in the index"),
                    format!("not listed (the index lists {})", list_or_none(&listed)),
                    false,
                );
                self.check_platforms(facts, &listed);
                self.not_checked_except_platforms(facts, &format!("no {platform} manifest"));
                return Ok(Ok(()));
            };
            match self
                .manifest(cx, session, line, digest, Some(digest))
                .await?
            {
                Fetched::Unreachable(findings) => return Ok(Err(findings)),
                Fetched::Found(m) if !is_index(&m) => m,
                Fetched::Found(_) => {
                    self.platform_failed(
                        facts,
                        &platform,
                        &listed,
                        "another index (nested indexes are not followed)".to_owned(),
                    );
                    return Ok(Ok(()));
                }
                Fetched::Absent(why) | Fetched::Failed(why) => {
                    self.platform_failed(facts, &platform, &listed, why);
                    return Ok(Ok(()));
                }
            }
        } else {
            top
        };
        let layers: Vec<u64> = image.doc["layers"]
            .as_array()
            .map(|ls| ls.iter().map(|l| l["size"].as_u64().unwrap_or(0)).collect())
            .unwrap_or_default();
        let size: u64 = layers.iter().fold(0u64, |a, b| a.saturating_add(*b));
        facts.record.insert(
            "manifest".to_owned(),
            json!({
                "digest": image.digest,
                "media_type": image.media_type,
                "layers": layers.len(),
                "size": size,
                "size_text": expect::format_size(size),
            }),
        );
        if let Some(m) = &e.size {
            let ok = m.check(Some(&json!(size))).is_ok();
            facts.check(
                "size",
                m.to_string(),
                format!(
                    "{} in {} layers, compressed",
                    expect::format_size(size),
                    layers.len()
                ),
                ok,
            );
        }
        if let Some(m) = &e.layers {
            let ok = m.check(Some(&json!(layers.len()))).is_ok();
            facts.check("layers", m.to_string(), layers.len().to_string(), ok);
        }
        if self.needs_config() {
            match self.config(session, &image).await? {
                Ok(Ok(config)) => self.check_config(facts, &config, index_platforms.as_deref()),
                Ok(Err(why)) => {
                    if let Some(listed) = &index_platforms {
                        self.check_platforms(facts, listed);
                    }
                    self.config_not_checked(facts, &format!("no config: {why}"));
                }
                Err(findings) => return Ok(Err(findings)),
            }
        }
        if let Some(want) = &e.tags {
            match self.tags(session).await? {
                Ok(Ok(listing)) => check_tags(facts, want, listing),
                Ok(Err(why)) => {
                    facts.check("tags", tags_expected(want), why, false);
                }
                Err(findings) => return Ok(Err(findings)),
            }
        }
        Ok(Ok(()))
    }

    /// GETs a manifest by tag or digest; checks the digest when one was
    /// asked for.
    async fn manifest(
        &self,
        cx: &Context,
        session: &mut Session<'_>,
        line: &str,
        reference: &str,
        digest: Option<&str>,
    ) -> Result<Fetched, ProbeError> {
        let url = session.url(&format!(
            "/v2/{}/manifests/{reference}",
            self.image.repository
        ))?;
        let response = match session.get(url, MANIFEST_TYPES).await? {
            Ok(response) => response,
            Err((request, unreachable)) => {
                return Ok(Fetched::Unreachable(Box::new(unreachable_findings(
                    line,
                    &request,
                    &unreachable,
                    cx,
                ))));
            }
        };
        match response.status {
            200 => {}
            404 => return Ok(Fetched::Absent(registry_error(&response))),
            _ => return Ok(Fetched::Failed(refused(&response, session))),
        }
        if response.truncated {
            return Ok(Fetched::Failed(format!(
                "the manifest is larger than {} (raise `body_limit`)",
                expect::format_size(cx.body_limit)
            )));
        }
        let Ok(doc) = serde_json::from_slice::<Json>(&response.body) else {
            return Ok(Fetched::Failed(format!(
                "not a manifest (not JSON): {}",
                expect::one_line(&response.excerpt(80))
            )));
        };
        let media_type = response
            .media_type()
            .filter(|t| t.starts_with("application/vnd."))
            .or_else(|| doc["mediaType"].as_str().map(str::to_owned))
            .unwrap_or_default();
        let shape_ok = doc.is_object()
            && (doc["manifests"].is_array()
                || (doc["layers"].is_array() && doc["config"].is_object()));
        if !shape_ok {
            let why = if media_type.contains("manifest.v1") || doc["schemaVersion"] == 1 {
                "a Docker schema 1 manifest (deprecated; vouch reads schema 2 and OCI)".to_owned()
            } else {
                format!(
                    "not an image manifest or index ({}): {}",
                    if media_type.is_empty() {
                        "no media type"
                    } else {
                        media_type.as_str()
                    },
                    expect::one_line(&response.excerpt(80))
                )
            };
            return Ok(Fetched::Failed(why));
        }
        let algorithm = digest
            .and_then(|d| d.split_once(':'))
            .map_or("sha256", |(a, _)| a);
        let Some(computed) = registry::digest_of(algorithm, &response.body) else {
            return Ok(Fetched::Failed(format!(
                "digest algorithm `{algorithm}` is not known to vouch"
            )));
        };
        if let Some(asked) = digest
            && asked != computed
        {
            return Ok(Fetched::Failed(format!(
                "the registry served a manifest whose digest is {computed}, not the {asked} asked for"
            )));
        }
        Ok(Fetched::Found(Manifest {
            digest: computed,
            media_type,
            doc,
        }))
    }

    /// The config blob, its digest checked. `Ok(Err(why))` when it cannot be used.
    async fn config(
        &self,
        session: &mut Session<'_>,
        image: &Manifest,
    ) -> Result<Step<Config>, ProbeError> {
        let descriptor = &image.doc["config"];
        let Some(digest) = descriptor["digest"].as_str() else {
            return Ok(Ok(Err("the manifest names no config digest".to_owned())));
        };
        if !reference::is_digest(digest) {
            return Ok(Ok(Err(format!(
                "the manifest's config digest `{}` is not one vouch can check",
                expect::excerpt(&expect::one_line(digest), 80)
            ))));
        }
        let media_type = descriptor["mediaType"].as_str().unwrap_or("").to_owned();
        let url = session.url(&format!("/v2/{}/blobs/{digest}", self.image.repository))?;
        let response = match session
            .get(
                url,
                &format!("{OCI_CONFIG}, {DOCKER_CONFIG}, application/json, */*"),
            )
            .await?
        {
            Ok(response) => response,
            Err((request, unreachable)) => {
                return Ok(Err(Box::new(unreachable_findings(
                    &self.describe(),
                    &request,
                    &unreachable,
                    session_cx(session),
                ))));
            }
        };
        if response.status != 200 {
            return Ok(Ok(Err(refused(&response, session))));
        }
        if response.truncated {
            return Ok(Ok(Err(format!(
                "the config is larger than {} (raise `body_limit`)",
                expect::format_size(session_cx(session).body_limit)
            ))));
        }
        if has_digest(digest, &response.body) == Some(false) {
            return Ok(Ok(Err(format!(
                "the config blob served does not have its digest {digest}"
            ))));
        }
        let Ok(doc) = serde_json::from_slice::<Json>(&response.body) else {
            return Ok(Ok(Err(format!(
                "the config is not JSON: {}",
                expect::one_line(&response.excerpt(80))
            ))));
        };
        Ok(Ok(Ok(Config {
            digest: digest.to_owned(),
            media_type,
            doc,
        })))
    }

    fn check_config(&self, facts: &mut Facts, config: &Config, index: Option<&[Platform]>) {
        let e = &self.expect;
        let c = &config.doc["config"];
        let user = c["User"].as_str().unwrap_or("");
        let user_name = user.split(':').next().unwrap_or("");
        let effective = if matches!(user_name, "" | "0" | "root") {
            "root"
        } else {
            user_name
        };
        let healthcheck = healthcheck(&c["Healthcheck"]);
        let created = config.doc["created"].as_str();
        let labels: Map<String, Json> = c["Labels"].as_object().cloned().unwrap_or_default();
        let own_platform = Platform {
            os: config.doc["os"].as_str().unwrap_or("").to_owned(),
            architecture: config.doc["architecture"].as_str().unwrap_or("").to_owned(),
            variant: config.doc["variant"].as_str().map(str::to_owned),
        };
        let format = config.format();
        facts.record.insert(
            "config".to_owned(),
            json!({
                "digest": config.digest,
                "media_type": config.media_type,
                "format": format,
                "user": user,
                "healthcheck": c.get("Healthcheck").cloned().unwrap_or(Json::Null),
                "created": created,
                "platform": own_platform.to_string(),
                "labels": labels.iter().take(SHOWN).map(|(k, v)| (k.clone(), v.clone())).collect::<Map<_, _>>(),
                "labels_total": labels.len(),
            }),
        );
        if let Some(m) = &e.user {
            let ok = m.check_str(Some(effective)).is_ok();
            let shown = if user.is_empty() {
                "root (no User set)".to_owned()
            } else {
                format!("{effective} (User {})", expect::show(&json!(user)))
            };
            facts.check("user", m.to_string(), shown, ok);
        }
        if let Some(want) = e.healthcheck {
            let actual = match &healthcheck {
                Some(test) => test.clone(),
                None if c["Healthcheck"].is_object() => "disabled (NONE)".to_owned(),
                None if format == "oci" => "none: the config is OCI format, which has no health check field (build with `--format docker`)".to_owned(),
                None => "none".to_owned(),
            };
            facts.check(
                "healthcheck",
                if want { "configured" } else { "none" },
                actual,
                healthcheck.is_some() == want,
            );
        }
        if let Some(m) = &e.created {
            let check = match created.map(|t| (t, humantime::parse_rfc3339_weak(t))) {
                Some((text, Ok(time))) => {
                    let age = std::time::SystemTime::now()
                        .duration_since(time)
                        .unwrap_or_default();
                    let ok = m.check(Some(&json!(age.as_secs_f64()))).is_ok();
                    let shown =
                        humantime::format_duration(std::time::Duration::from_secs(age.as_secs()));
                    Check::new(
                        "created",
                        m.to_string(),
                        format!("{shown} ago ({})", expect::excerpt(text, 40)),
                        ok,
                    )
                }
                Some((text, Err(_))) => Check::new(
                    "created",
                    m.to_string(),
                    format!(
                        "`{}` is not an RFC 3339 time",
                        expect::excerpt(&expect::one_line(text), 60)
                    ),
                    false,
                ),
                None => Check::new(
                    "created",
                    m.to_string(),
                    "no `created` in the config",
                    false,
                ),
            };
            facts.checks.push(check);
        }
        for (name, m) in &e.labels {
            let actual = labels.get(name);
            let ok = m.check(actual).is_ok();
            let shown = match actual {
                Some(v) => expect::excerpt(&expect::show(v), 120).into_owned(),
                None => "absent".to_owned(),
            };
            facts.check(format!("label {name}"), m.to_string(), shown, ok);
        }
        match index {
            Some(listed) => self.check_platforms(facts, listed),
            None => self.check_platforms(facts, std::slice::from_ref(&own_platform)),
        }
    }

    fn check_platforms(&self, facts: &mut Facts, listed: &[Platform]) {
        if self.expect.platforms.is_empty() {
            return;
        }
        let missing: Vec<String> = self
            .expect
            .platforms
            .iter()
            .filter(|want| {
                !listed
                    .iter()
                    .any(|p| want.matches(&p.os, &p.architecture, p.variant.as_deref()))
            })
            .map(ToString::to_string)
            .collect();
        let expected = self
            .expect
            .platforms
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ");
        let actual = if missing.is_empty() {
            list_or_none(listed)
        } else {
            format!(
                "missing {} (listed: {})",
                missing.join(", "),
                list_or_none(listed)
            )
        };
        facts.check("platforms", expected, actual, missing.is_empty());
    }

    fn platform_failed(
        &self,
        facts: &mut Facts,
        platform: &Platform,
        listed: &[Platform],
        why: String,
    ) {
        facts.check("platform", format!("{platform}'s manifest"), why, false);
        self.check_platforms(facts, listed);
        self.not_checked_except_platforms(facts, &format!("no {platform} manifest"));
    }

    /// Failed checks for every expectation that needs a manifest.
    fn not_checked(&self, facts: &mut Facts, why: &str) {
        if !self.expect.platforms.is_empty() {
            facts.check("platforms", "listed", format!("not checked: {why}"), false);
        }
        self.not_checked_except_platforms(facts, why);
    }

    fn not_checked_except_platforms(&self, facts: &mut Facts, why: &str) {
        let e = &self.expect;
        if e.size.is_some() {
            facts.check("size", "checked", format!("not checked: {why}"), false);
        }
        if e.layers.is_some() {
            facts.check("layers", "checked", format!("not checked: {why}"), false);
        }
        self.config_not_checked(facts, why);
    }

    fn config_not_checked(&self, facts: &mut Facts, why: &str) {
        let e = &self.expect;
        let mut names: Vec<String> = Vec::new();
        if e.user.is_some() {
            names.push("user".to_owned());
        }
        if e.healthcheck.is_some() {
            names.push("healthcheck".to_owned());
        }
        if e.created.is_some() {
            names.push("created".to_owned());
        }
        names.extend(e.labels.keys().map(|k| format!("label {k}")));
        for name in names {
            facts.check(name, "checked", format!("not checked: {why}"), false);
        }
    }

    /// Every tag of the repository, page by page (at most [`MAX_TAG_PAGES`]).
    async fn tags(&self, session: &mut Session<'_>) -> Result<Step<TagListing>, ProbeError> {
        let mut url = session.url(&format!(
            "/v2/{}/tags/list?n={TAGS_PER_PAGE}",
            self.image.repository
        ))?;
        let mut listing = TagListing::default();
        let mut seen: Vec<Url> = Vec::new();
        loop {
            seen.push(url.clone());
            let response = match session.get(url.clone(), "application/json").await? {
                Ok(response) => response,
                Err((request, unreachable)) => {
                    return Ok(Err(Box::new(unreachable_findings(
                        &self.describe(),
                        &request,
                        &unreachable,
                        session_cx(session),
                    ))));
                }
            };
            listing.pages += 1;
            if response.status != 200 {
                return Ok(Ok(Err(format!(
                    "the tag list: {}",
                    refused(&response, session)
                ))));
            }
            if response.truncated {
                return Ok(Ok(Err(
                    "a tag list page is larger than the body limit (raise `body_limit`)".to_owned(),
                )));
            }
            let Ok(doc) = serde_json::from_slice::<Json>(&response.body) else {
                return Ok(Ok(Err(format!(
                    "the tag list is not JSON: {}",
                    expect::one_line(&response.excerpt(80))
                ))));
            };
            match &doc["tags"] {
                Json::Array(tags) => listing
                    .tags
                    .extend(tags.iter().filter_map(Json::as_str).map(str::to_owned)),
                Json::Null => {}
                _ => return Ok(Ok(Err("the tag list's `tags` is not a list".to_owned()))),
            }
            let Some(next) = response.header("link").and_then(next_link) else {
                listing.complete = true;
                break;
            };
            let Ok(next) = response.final_url.join(next) else {
                listing.note = Some("the next page's link is not a URL".to_owned());
                break;
            };
            if next.origin() != session.base.origin() {
                listing.note = Some(format!(
                    "the next page is on another host ({}); not followed",
                    next.origin().ascii_serialization()
                ));
                break;
            }
            if seen.contains(&next) {
                listing.note = Some("the next page's link loops back".to_owned());
                break;
            }
            if listing.pages >= MAX_TAG_PAGES {
                listing.note = Some(format!(
                    "more than {MAX_TAG_PAGES} pages; the rest not read"
                ));
                break;
            }
            url = next;
        }
        Ok(Ok(Ok(listing)))
    }
}

/// The context a session's requests ran in (for unreachable findings).
fn session_cx<'a>(session: &Session<'a>) -> &'a Context {
    session.context()
}

/// A config blob as read.
struct Config {
    digest: String,
    media_type: String,
    doc: Json,
}

impl Config {
    /// `docker` or `oci` (by media type, else by whether it has Docker's fields).
    fn format(&self) -> &'static str {
        match self.media_type.as_str() {
            DOCKER_CONFIG => "docker",
            OCI_CONFIG => "oci",
            _ if self.doc.get("container_config").is_some() => "docker",
            _ => "oci",
        }
    }
}

/// The tag list as read.
#[derive(Default)]
struct TagListing {
    tags: Vec<String>,
    pages: u64,
    complete: bool,
    note: Option<String>,
}

fn tags_expected(want: &TagsExpect) -> String {
    let mut parts = Vec::new();
    if !want.contains.is_empty() {
        parts.push(format!("contains {}", want.contains.join(", ")));
    }
    if let Some(m) = &want.count {
        parts.push(format!("count {m}"));
    }
    if parts.is_empty() {
        "listed".to_owned()
    } else {
        parts.join(" and ")
    }
}

fn check_tags(facts: &mut Facts, want: &TagsExpect, listing: TagListing) {
    facts.record.insert(
        "tags".to_owned(),
        json!({
            "count": listing.tags.len(),
            "pages": listing.pages,
            "complete": listing.complete,
            "note": listing.note,
            "listed": listing.tags.iter().take(SHOWN).collect::<Vec<_>>(),
        }),
    );
    let partial = if listing.complete {
        String::new()
    } else {
        format!(" ({})", listing.note.as_deref().unwrap_or("incomplete"))
    };
    if !want.contains.is_empty() {
        let missing: Vec<&str> = want
            .contains
            .iter()
            .filter(|t| !listing.tags.contains(t))
            .map(String::as_str)
            .collect();
        let actual = if missing.is_empty() {
            format!("all listed among {} tags", listing.tags.len())
        } else {
            format!(
                "missing {} among {} tags{partial}",
                missing.join(", "),
                listing.tags.len()
            )
        };
        facts.check(
            "tags",
            format!("contains {}", want.contains.join(", ")),
            actual,
            missing.is_empty(),
        );
    }
    if let Some(m) = &want.count {
        let ok = listing.complete && m.check(Some(&json!(listing.tags.len()))).is_ok();
        facts.check(
            "tag count",
            m.to_string(),
            format!("{}{partial}", listing.tags.len()),
            ok,
        );
    }
    if want.contains.is_empty() && want.count.is_none() {
        facts.check(
            "tags",
            "listed",
            format!("{} tags{partial}", listing.tags.len()),
            true,
        );
    }
}

/// Why a registry answer other than 200/404 is not an answer, with the
/// authentication problem when there was one.
fn refused(response: &Response, session: &Session<'_>) -> String {
    let error = registry_error(response);
    match (&session.auth_problem, response.status) {
        (Some(problem), _) => format!("{error}; {problem}"),
        (None, 401 | 403) if matches!(session.auth, registry::AuthUsed::None) => {
            format!("{error}; no credentials were sent (give `basic: {{user, password}}`)")
        }
        (None, 401 | 403) => format!("{error}; the credentials were refused"),
        _ => error,
    }
}

fn is_index(manifest: &Manifest) -> bool {
    manifest.doc["manifests"].is_array()
}

/// `OCI image index`, `Docker manifest list`, … for a media type.
fn kind_name(media_type: &str) -> &str {
    match media_type {
        "application/vnd.oci.image.index.v1+json" => "OCI image index",
        "application/vnd.docker.distribution.manifest.list.v2+json" => "Docker manifest list",
        "application/vnd.oci.image.manifest.v1+json" => "OCI image manifest",
        "application/vnd.docker.distribution.manifest.v2+json" => "Docker image manifest",
        "" => "no media type",
        other => other,
    }
}

/// An index's entries that name a platform and a well-formed digest.
fn index_entries(doc: &Json) -> Vec<(Platform, String)> {
    doc["manifests"]
        .as_array()
        .map(|entries| {
            entries
                .iter()
                .filter_map(|entry| {
                    let digest = entry["digest"].as_str()?;
                    if !reference::is_digest(digest) {
                        return None;
                    }
                    let p = &entry["platform"];
                    Some((
                        Platform {
                            os: p["os"].as_str()?.to_owned(),
                            architecture: p["architecture"].as_str()?.to_owned(),
                            variant: p["variant"].as_str().map(str::to_owned),
                        },
                        digest.to_owned(),
                    ))
                })
                .collect()
        })
        .unwrap_or_default()
}

/// `CMD /hello (every 30s)` for a configured health check; `None` when
/// absent or `NONE`.
fn healthcheck(value: &Json) -> Option<String> {
    let test: Vec<&str> = value["Test"]
        .as_array()?
        .iter()
        .filter_map(Json::as_str)
        .collect();
    match test.first() {
        None | Some(&"NONE") => None,
        Some(_) => {
            let mut shown = expect::excerpt(&expect::one_line(&test.join(" ")), 120).into_owned();
            if let Some(ns) = value["Interval"].as_u64().filter(|n| *n > 0) {
                shown.push_str(&format!(
                    " (every {})",
                    humantime::format_duration(std::time::Duration::from_nanos(ns))
                ));
            }
            Some(shown)
        }
    }
}

fn list_or_none(platforms: &[Platform]) -> String {
    if platforms.is_empty() {
        "no platform".to_owned()
    } else {
        platforms
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// `sha256:0123456789ab` of a digest.
fn short(digest: &str) -> &str {
    digest.get(..19).unwrap_or(digest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_health_check_reads_as_its_command_and_interval() {
        let hc = json!({"Test": ["CMD", "/hello"], "Interval": 30_000_000_000u64});
        assert_eq!(healthcheck(&hc).as_deref(), Some("CMD /hello (every 30s)"));
        assert_eq!(healthcheck(&json!({"Test": ["NONE"]})), None);
        assert_eq!(healthcheck(&Json::Null), None);
    }

    #[test]
    fn tags_to_contain_read_one_or_many_and_numbers_as_text() {
        let e: ImageExpect =
            serde_json::from_str(r#"{"tags": {"contains": "1.4.1", "count": {"min": 2}}}"#)
                .expect("valid");
        assert_eq!(e.tags.expect("tags").contains, ["1.4.1"]);
        let e: ImageExpect =
            serde_json::from_str(r#"{"tags": {"contains": [2, "1.4", 1.5]}}"#).expect("valid");
        assert_eq!(e.tags.expect("tags").contains, ["2", "1.4", "1.5"]);
        let err = serde_json::from_str::<ImageExpect>(r#"{"tags": {"contains": [true]}}"#)
            .expect_err("a bool is no tag");
        assert!(err.to_string().contains("a tag must be text"), "{err}");
    }

    #[test]
    fn index_entries_without_a_platform_or_digest_are_left_out() {
        let digest = format!("sha256:{}", "a".repeat(64));
        let doc = json!({"manifests": [
            {"digest": digest, "platform": {"os": "linux", "architecture": "arm64", "variant": "v8"}},
            {"digest": digest},
            {"digest": "sha256:../../x", "platform": {"os": "linux", "architecture": "amd64"}},
        ]});
        let entries = index_entries(&doc);
        assert_eq!(entries.len(), 1);
        assert_eq!(entries[0].0.to_string(), "linux/arm64/v8");
    }
}
