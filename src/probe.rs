//! The probe contract: every kind takes its settings, runs once against the
//! target and returns findings (checks and evidence). Timeouts, retries,
//! timing, concurrency and redaction belong to the runner, not here.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use url::Url;

/// Declares a settings struct with, after its own fields, the TLS trust
/// fields every HTTP-based kind takes (`ca`, `client_cert`, `client_key`,
/// `insecure`), and `tls()` to read them as [`TlsSettings`]. A macro, not
/// `#[serde(flatten)]`, which would lose the positions diagnostics need and
/// `deny_unknown_fields`.
macro_rules! with_tls {
    (
        $(#[$attr:meta])*
        $vis:vis struct $name:ident {
            $( $(#[$fattr:meta])* $fvis:vis $field:ident : $ty:ty ),* $(,)?
        }
    ) => {
        $(#[$attr])*
        $vis struct $name {
            $( $(#[$fattr])* $fvis $field : $ty, )*
            /// A PEM bundle of extra trusted roots (private CAs), added to the system roots.
            #[serde(default)]
            pub ca: Option<std::path::PathBuf>,
            /// A PEM client certificate (chain) for mTLS.
            #[serde(default)]
            pub client_cert: Option<std::path::PathBuf>,
            /// The PEM private key of `client_cert`.
            #[serde(default)]
            pub client_key: Option<std::path::PathBuf>,
            /// Skip certificate verification. Off by default; always shown in evidence.
            #[serde(default)]
            pub insecure: bool,
        }

        impl $name {
            /// The TLS trust and client identity these settings give.
            pub fn tls(&self) -> $crate::probe::TlsSettings {
                $crate::probe::TlsSettings {
                    ca: self.ca.clone(),
                    client_cert: self.client_cert.clone(),
                    client_key: self.client_key.clone(),
                    insecure: self.insecure,
                }
            }
        }
    };
}
pub(crate) use with_tls;

pub mod alertmanager;
pub mod auth;
pub mod cors;
pub mod exec;
pub mod fetch;
pub mod file;
pub mod headers;
pub mod health;
pub mod http;
pub mod image;
pub mod jsonrpc;
pub mod load;
pub mod mcp;
pub mod metrics;
pub mod oauth2;
pub mod postgres;
pub mod progress;
pub mod prometheus;
pub mod rate_limit;
pub mod redis;
pub mod tcp;
pub mod tls;
pub mod traffic;
pub mod websocket;

/// One kind of probe, run once.
pub trait Probe {
    /// Runs once. Never panics. `Err` only when the probe could not run at all
    /// (the agent's side, e.g. an unreadable CA file); a deployment that does
    /// not meet the expectation is `Ok` with failed checks.
    fn run(&self, cx: &Context) -> impl Future<Output = Result<Findings, ProbeError>> + Send;

    /// The most traffic one run may send, and the phase it runs in: part of
    /// the contract, so the runner and `--dry-run` never name a kind. Most
    /// kinds send one request and run with the others; a kind that sends
    /// several states its own count, one that sends bursts asks for
    /// [`Phase::Isolated`].
    fn budget(&self) -> Budget {
        Budget::SINGLE
    }

    /// Whether a run must allow it first (`--allow-exec`): a kind that runs
    /// programs on this machine says so, and without the permission the
    /// runner reports it skipped, unrun, and `check` lists it.
    fn runs_programs(&self) -> bool {
        false
    }

    /// Whether the kind sends HTTP requests through vouch's clients, which
    /// carry the `oauth2:` token (the runner obtains it only for such kinds).
    fn sends_http(&self) -> bool {
        false
    }

    /// Whether the kind's first response is kept for `capture:` (it sends
    /// its requests through [`fetch::send`] and the first is the one that
    /// matters).
    fn records_response(&self) -> bool {
        false
    }
}

/// When a probe runs relative to the others.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// With every other probe, bounded by `--concurrency`.
    Concurrent,
    /// After the concurrent phase, alone, with a cool-down before it: bursts
    /// that must not trip a limiter other probes then hit, nor share the
    /// target with other measurements. Never retried.
    Isolated,
}

/// The most traffic one run of a probe sends, as declared by its kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    /// The phase it runs in.
    pub phase: Phase,
    /// The most requests (or connections) one run sends.
    pub max_requests: u64,
    /// How long it sends traffic by design (a load run, a paced burst and its
    /// recovery wait); `None` for a single exchange bounded by the timeout.
    pub duration: Option<Duration>,
}

impl Budget {
    /// One exchange, in the concurrent phase.
    pub const SINGLE: Budget = Budget {
        phase: Phase::Concurrent,
        max_requests: 1,
        duration: None,
    };

    /// Whether the budget is over the caps that need `--allow-heavy`
    /// ([`MAX_REQUESTS`], [`MAX_DURATION`]); says why.
    pub fn heavy(&self) -> Option<String> {
        if self.max_requests > MAX_REQUESTS {
            return Some(format!(
                "up to {} requests, over the cap of {MAX_REQUESTS}",
                self.max_requests
            ));
        }
        match self.duration {
            Some(d) if d > MAX_DURATION => Some(format!(
                "traffic for {}, over the cap of {}",
                humantime::format_duration(d),
                humantime::format_duration(MAX_DURATION)
            )),
            _ => None,
        }
    }

    /// How long the runner lets one attempt take: the planned traffic plus
    /// one `timeout` (the probe applies `timeout` to each request itself).
    pub fn deadline(&self, timeout: Duration) -> Duration {
        self.duration.unwrap_or_default().saturating_add(timeout)
    }
}

/// Without `--allow-heavy`, no probe may plan more requests than this.
pub const MAX_REQUESTS: u64 = 10_000;

/// Without `--allow-heavy`, no probe may plan traffic for longer than this.
pub const MAX_DURATION: Duration = Duration::from_secs(60);

/// The probe kinds, as written in probe files: `http: {…}`, `health: {…}`.
/// Adding a kind is one variant here and one arm in [`ProbeSpec::run`].
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ProbeSpec {
    /// An HTTP request and expectations on its response.
    Http(Box<http::Http>),
    /// A health endpoint in any common shape, with its dependencies.
    Health(Box<health::Health>),
    /// Security headers: the `baseline` policy and per-header matchers.
    Headers(Box<headers::Headers>),
    /// CORS preflights and simple requests from allowed and foreign origins.
    Cors(Box<cors::Cors>),
    /// 401/403 without and with wrong credentials, 2xx with the right ones.
    Auth(Box<auth::Auth>),
    /// A TCP port open (or required closed), with an optional protocol greeting.
    Tcp(Box<tcp::Tcp>),
    /// A WebSocket upgrade, an optional echo, and a clean close.
    Websocket(Box<websocket::Websocket>),
    /// A TLS handshake and the certificates: trust, hostname, expiry, protocol, key.
    Tls(Box<tls::Tls>),
    /// A JSON-RPC 2.0 call, notification or batch; envelope rules, optional compliance suite.
    Jsonrpc(Box<jsonrpc::Jsonrpc>),
    /// A Model Context Protocol server over Streamable HTTP: initialize, tools, resources, prompts.
    Mcp(Box<mcp::Mcp>),
    /// A Prometheus/OpenMetrics exposition: series, values, quantiles, cardinality, lint.
    Metrics(Box<metrics::Metrics>),
    /// A Prometheus server's API: targets up, rules loaded, alerts, PromQL queries.
    Prometheus(Box<prometheus::Prometheus>),
    /// An Alertmanager's v2 API: receivers, routing (computed, nothing sent), silences, cluster.
    Alertmanager(Box<alertmanager::Alertmanager>),
    /// A bounded burst or paced run until the limit answers (`429`), its
    /// headers, and recovery after the window.
    RateLimit(Box<rate_limit::RateLimit>),
    /// Load at a concurrency or an arrival rate: latency percentiles, error
    /// rate, throughput.
    Load(Box<load::Load>),
    /// A file or directory of the repository or host: existence, mode, size,
    /// age, glob counts, text, JSON/YAML/TOML values, Dockerfile facts.
    File(Box<file::File>),
    /// A program run where vouch runs (only with `--allow-exec`): exit
    /// status, output, JSON on stdout, duration.
    Exec(Box<exec::Exec>),
    /// A PostgreSQL login in a read-only transaction: TLS, version, settings,
    /// replication, a query's rows, a password-less user refused.
    Postgres(Box<postgres::Postgres>),
    /// A container image in an OCI registry: manifest, config and tags —
    /// user, health check, size, layers, age, labels, platforms.
    Image(Box<image::Image>),
    /// A read-only Redis session: `AUTH`, whether a password is required,
    /// `INFO` fields, `CONFIG GET` parameters, TTLs of sampled keys.
    Redis(Box<redis::Redis>),
}

/// The kind names, in the order of [`ProbeSpec`]'s variants.
pub const KINDS: &[&str] = &[
    "http",
    "health",
    "headers",
    "cors",
    "auth",
    "tcp",
    "websocket",
    "tls",
    "jsonrpc",
    "mcp",
    "metrics",
    "prometheus",
    "alertmanager",
    "rate_limit",
    "load",
    "file",
    "exec",
    "postgres",
    "image",
    "redis",
];

impl ProbeSpec {
    /// The kind's name, as written in probe files.
    pub fn kind(&self) -> &'static str {
        match self {
            ProbeSpec::Http(_) => "http",
            ProbeSpec::Health(_) => "health",
            ProbeSpec::Headers(_) => "headers",
            ProbeSpec::Cors(_) => "cors",
            ProbeSpec::Auth(_) => "auth",
            ProbeSpec::Tcp(_) => "tcp",
            ProbeSpec::Websocket(_) => "websocket",
            ProbeSpec::Tls(_) => "tls",
            ProbeSpec::Jsonrpc(_) => "jsonrpc",
            ProbeSpec::Mcp(_) => "mcp",
            ProbeSpec::Metrics(_) => "metrics",
            ProbeSpec::Prometheus(_) => "prometheus",
            ProbeSpec::Alertmanager(_) => "alertmanager",
            ProbeSpec::RateLimit(_) => "rate_limit",
            ProbeSpec::Load(_) => "load",
            ProbeSpec::File(_) => "file",
            ProbeSpec::Exec(_) => "exec",
            ProbeSpec::Postgres(_) => "postgres",
            ProbeSpec::Image(_) => "image",
            ProbeSpec::Redis(_) => "redis",
        }
    }

    /// Runs the probe once.
    pub async fn run(&self, cx: &Context) -> Result<Findings, ProbeError> {
        match self {
            ProbeSpec::Http(p) => p.run(cx).await,
            ProbeSpec::Health(p) => p.run(cx).await,
            ProbeSpec::Headers(p) => p.run(cx).await,
            ProbeSpec::Cors(p) => p.run(cx).await,
            ProbeSpec::Auth(p) => p.run(cx).await,
            ProbeSpec::Tcp(p) => p.run(cx).await,
            ProbeSpec::Websocket(p) => p.run(cx).await,
            ProbeSpec::Tls(p) => p.run(cx).await,
            ProbeSpec::Jsonrpc(p) => p.run(cx).await,
            ProbeSpec::Mcp(p) => p.run(cx).await,
            ProbeSpec::Metrics(p) => p.run(cx).await,
            ProbeSpec::Prometheus(p) => p.run(cx).await,
            ProbeSpec::Alertmanager(p) => p.run(cx).await,
            ProbeSpec::RateLimit(p) => p.run(cx).await,
            ProbeSpec::Load(p) => p.run(cx).await,
            ProbeSpec::File(p) => p.run(cx).await,
            ProbeSpec::Exec(p) => p.run(cx).await,
            ProbeSpec::Postgres(p) => p.run(cx).await,
            ProbeSpec::Image(p) => p.run(cx).await,
            ProbeSpec::Redis(p) => p.run(cx).await,
        }
    }

    /// A short description of what the probe does, for plans and reports
    /// (`GET /health`).
    pub fn describe(&self) -> String {
        match self {
            ProbeSpec::Http(p) => p.describe(),
            ProbeSpec::Health(p) => p.describe(),
            ProbeSpec::Headers(p) => p.describe(),
            ProbeSpec::Cors(p) => p.describe(),
            ProbeSpec::Auth(p) => p.describe(),
            ProbeSpec::Tcp(p) => p.describe(),
            ProbeSpec::Websocket(p) => p.describe(),
            ProbeSpec::Tls(p) => p.describe(),
            ProbeSpec::Jsonrpc(p) => p.describe(),
            ProbeSpec::Mcp(p) => p.describe(),
            ProbeSpec::Metrics(p) => p.describe(),
            ProbeSpec::Prometheus(p) => p.describe(),
            ProbeSpec::Alertmanager(p) => p.describe(),
            ProbeSpec::RateLimit(p) => p.describe(),
            ProbeSpec::Load(p) => p.describe(),
            ProbeSpec::File(p) => p.describe(),
            ProbeSpec::Exec(p) => p.describe(),
            ProbeSpec::Postgres(p) => p.describe(),
            ProbeSpec::Image(p) => p.describe(),
            ProbeSpec::Redis(p) => p.describe(),
        }
    }

    /// The paths and URLs the probe resolves against the target, as written
    /// (`""` for the target itself). Loading checks that a target is set for
    /// each one that is a path, so a missing `--target` is a load error (exit 2)
    /// before any traffic, not a probe error after it.
    pub fn target_paths(&self) -> Vec<&str> {
        match self {
            ProbeSpec::Http(p) => p.target_paths(),
            ProbeSpec::Health(p) => vec![p.url.as_str()],
            ProbeSpec::Headers(p) => p.target_paths(),
            ProbeSpec::Cors(p) => vec![p.url.as_str()],
            ProbeSpec::Auth(p) => p.target_paths(),
            ProbeSpec::Tcp(p) => p.target_paths(),
            ProbeSpec::Websocket(p) => vec![p.url.as_str()],
            ProbeSpec::Tls(p) => p.target_paths(),
            ProbeSpec::Jsonrpc(p) => p.target_paths(),
            ProbeSpec::Mcp(p) => vec![p.url.as_str()],
            ProbeSpec::Metrics(p) => vec![p.url.as_str()],
            ProbeSpec::Prometheus(p) => vec![p.url.as_deref().unwrap_or("")],
            ProbeSpec::Alertmanager(p) => p.target_paths(),
            ProbeSpec::RateLimit(p) => p.target_paths(),
            ProbeSpec::Load(p) => p.target_paths(),
            ProbeSpec::Image(p) => p.target_paths(),
            ProbeSpec::Redis(p) => p.target_paths(),
            ProbeSpec::File(_) | ProbeSpec::Exec(_) => Vec::new(),
            ProbeSpec::Postgres(p) => p.target_paths(),
        }
    }

    /// The kind's declared traffic: phase, most requests, planned duration.
    pub fn budget(&self) -> Budget {
        match self {
            ProbeSpec::Http(p) => p.budget(),
            ProbeSpec::Health(p) => p.budget(),
            ProbeSpec::Headers(p) => p.budget(),
            ProbeSpec::Cors(p) => p.budget(),
            ProbeSpec::Auth(p) => p.budget(),
            ProbeSpec::Tcp(p) => p.budget(),
            ProbeSpec::Websocket(p) => p.budget(),
            ProbeSpec::Tls(p) => p.budget(),
            ProbeSpec::Jsonrpc(p) => p.budget(),
            ProbeSpec::Mcp(p) => p.budget(),
            ProbeSpec::Metrics(p) => p.budget(),
            ProbeSpec::Prometheus(p) => p.budget(),
            ProbeSpec::Alertmanager(p) => p.budget(),
            ProbeSpec::RateLimit(p) => p.budget(),
            ProbeSpec::Load(p) => p.budget(),
            ProbeSpec::File(p) => p.budget(),
            ProbeSpec::Exec(p) => p.budget(),
            ProbeSpec::Image(p) => p.budget(),
            ProbeSpec::Postgres(p) => p.budget(),
            ProbeSpec::Redis(p) => p.budget(),
        }
    }

    /// Whether the probe records certificate dates that `vouch watch` exports
    /// as series (leaf and chain expiry), so the series bound counts them.
    pub fn exports_certificates(&self) -> bool {
        matches!(self, ProbeSpec::Tls(_))
    }

    /// Whether the kind sends HTTP requests that carry the `oauth2:` token.
    pub fn sends_http(&self) -> bool {
        match self {
            ProbeSpec::Http(p) => p.sends_http(),
            ProbeSpec::Health(p) => p.sends_http(),
            ProbeSpec::Headers(p) => p.sends_http(),
            ProbeSpec::Cors(p) => p.sends_http(),
            ProbeSpec::Auth(p) => p.sends_http(),
            ProbeSpec::Tcp(p) => p.sends_http(),
            ProbeSpec::Websocket(p) => p.sends_http(),
            ProbeSpec::Tls(p) => p.sends_http(),
            ProbeSpec::Jsonrpc(p) => p.sends_http(),
            ProbeSpec::Mcp(p) => p.sends_http(),
            ProbeSpec::Metrics(p) => p.sends_http(),
            ProbeSpec::Prometheus(p) => p.sends_http(),
            ProbeSpec::RateLimit(p) => p.sends_http(),
            ProbeSpec::Load(p) => p.sends_http(),
            ProbeSpec::File(p) => p.sends_http(),
            ProbeSpec::Exec(p) => p.sends_http(),
            ProbeSpec::Postgres(p) => p.sends_http(),
            ProbeSpec::Image(p) => p.sends_http(),
            ProbeSpec::Redis(p) => p.sends_http(),
            ProbeSpec::Alertmanager(p) => p.sends_http(),
        }
    }

    /// Whether the kind's first HTTP response can be captured from (`capture:`).
    pub fn records_response(&self) -> bool {
        match self {
            ProbeSpec::Http(p) => p.records_response(),
            ProbeSpec::Health(p) => p.records_response(),
            ProbeSpec::Headers(p) => p.records_response(),
            ProbeSpec::Cors(p) => p.records_response(),
            ProbeSpec::Auth(p) => p.records_response(),
            ProbeSpec::Tcp(p) => p.records_response(),
            ProbeSpec::Websocket(p) => p.records_response(),
            ProbeSpec::Tls(p) => p.records_response(),
            ProbeSpec::Jsonrpc(p) => p.records_response(),
            ProbeSpec::Mcp(p) => p.records_response(),
            ProbeSpec::Metrics(p) => p.records_response(),
            ProbeSpec::Prometheus(p) => p.records_response(),
            ProbeSpec::RateLimit(p) => p.records_response(),
            ProbeSpec::Load(p) => p.records_response(),
            ProbeSpec::File(p) => p.records_response(),
            ProbeSpec::Exec(p) => p.records_response(),
            ProbeSpec::Postgres(p) => p.records_response(),
            ProbeSpec::Image(p) => p.records_response(),
            ProbeSpec::Redis(p) => p.records_response(),
            ProbeSpec::Alertmanager(p) => p.records_response(),
        }
    }

    /// Whether the kind runs programs, so the run must allow it (`--allow-exec`).
    pub fn runs_programs(&self) -> bool {
        match self {
            ProbeSpec::Exec(p) => p.runs_programs(),
            _ => false,
        }
    }
}

/// Everything a probe may use while it runs.
#[derive(Debug, Clone)]
pub struct Context {
    /// The target's base URL, when one is set.
    pub target: Option<Url>,
    /// TLS trust and client identity from `defaults:` and the command line.
    pub tls: TlsSettings,
    /// The most bytes of a response body a probe may read.
    pub body_limit: u64,
    /// The directory of the probe file, for relative paths (`ca: certs/ca.pem`).
    pub base_dir: PathBuf,
    /// `root:` of `defaults:` (relative to `base_dir`): where `file` paths
    /// start and stay; `None` is `base_dir` itself.
    pub root: Option<PathBuf>,
    /// HTTP clients shared by all probes, one per TLS and redirect setting.
    pub clients: Arc<fetch::Clients>,
    /// The attempt's timeout. The runner enforces it around single-exchange
    /// probes; probes that send many requests apply it to each request.
    pub timeout: Duration,
    /// How far the attempt got: kinds name each phase they enter (connect,
    /// TLS handshake, response headers, body, a protocol call) and what they
    /// reached, so a timeout can say where it struck. The runner gives every
    /// attempt a fresh one.
    pub progress: progress::Progress,
    /// The run's secrets, for probes that must mask raw bytes before they
    /// escape or encode them for evidence (the runner redacts the text after).
    pub redactor: Arc<crate::redact::Redactor>,
    /// The `Authorization` value (the `oauth2:` token) the runner obtained
    /// for the probe: sent with every HTTP request that has none of its own.
    pub authorization: Option<Arc<str>>,
    /// Where the attempt's first HTTP response is kept, when the probe
    /// captures values from it (`capture:`).
    pub recorder: Option<Arc<fetch::Recorder>>,
}

impl Context {
    /// The attempt's progress record (see [`progress::Progress`]).
    pub fn progress(&self) -> &progress::Progress {
        &self.progress
    }

    /// This context with a kind's body cap: its own `body_limit` when given,
    /// else the run's cap but at least `floor` (for kinds whose answers are
    /// routinely large).
    #[must_use]
    pub fn with_body_limit(&self, own: Option<u64>, floor: u64) -> Context {
        Context {
            body_limit: own.unwrap_or_else(|| self.body_limit.max(floor)),
            ..self.clone()
        }
    }

    /// Resolves a path or URL against the target. A path is appended to the
    /// target's own path, so `/health` on `https://h/api` is `https://h/api/health`.
    pub fn resolve(&self, path_or_url: &str) -> Result<Url, ProbeError> {
        if let Some(url) = absolute_url(path_or_url) {
            return Ok(url);
        }
        let Some(target) = &self.target else {
            return Err(ProbeError::Setup(format!(
                "`{path_or_url}` is a path, but no target is set: give `target:` or `--target`"
            )));
        };
        // Append to the target's path; keep the target's query unless the
        // path brings its own.
        let mut base = target.clone();
        base.set_fragment(None);
        let (path, query) = match path_or_url.split_once('?') {
            Some((path, query)) => (path, Some(query)),
            None => (path_or_url, None),
        };
        let prefix = base.path().trim_end_matches('/').to_owned();
        let joined = if path.starts_with('/') || path.is_empty() {
            format!("{prefix}{path}")
        } else {
            format!("{prefix}/{path}")
        };
        base.set_path(&joined);
        if let Some(query) = query {
            base.set_query(Some(query));
        }
        Ok(base)
    }
}

/// `path_or_url` as a URL when it is one with a host; `None` for a path,
/// which [`Context::resolve`] appends to the target.
pub fn absolute_url(path_or_url: &str) -> Option<Url> {
    Url::parse(path_or_url).ok().filter(Url::has_host)
}

/// TLS trust and client identity for HTTPS probes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TlsSettings {
    /// A PEM bundle of extra trusted roots (private CAs), added to the system roots.
    #[serde(default)]
    pub ca: Option<PathBuf>,
    /// A PEM client certificate (chain) for mTLS.
    #[serde(default)]
    pub client_cert: Option<PathBuf>,
    /// The PEM private key of `client_cert`.
    #[serde(default)]
    pub client_key: Option<PathBuf>,
    /// Skip certificate verification. Off by default; always shown in evidence.
    #[serde(default)]
    pub insecure: bool,
}

impl TlsSettings {
    /// Settings of `self` where given, else those of `fallback`.
    #[must_use]
    pub fn or(&self, fallback: &TlsSettings) -> TlsSettings {
        TlsSettings {
            ca: self.ca.clone().or_else(|| fallback.ca.clone()),
            client_cert: self
                .client_cert
                .clone()
                .or_else(|| fallback.client_cert.clone()),
            client_key: self
                .client_key
                .clone()
                .or_else(|| fallback.client_key.clone()),
            insecure: self.insecure || fallback.insecure,
        }
    }
}

/// What one run of a probe found.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Findings {
    /// Every expectation and whether it held.
    pub checks: Vec<Check>,
    /// One line for people: `GET /health → 200 in 12 ms; $.status = "healthy"`.
    pub summary: String,
    /// The structured record: what was sent, what came back, timings.
    pub evidence: serde_json::Value,
}

impl Findings {
    /// Whether every check held (and there was at least one).
    pub fn passed(&self) -> bool {
        !self.checks.is_empty() && self.checks.iter().all(|c| c.passed)
    }
}

/// One expectation and what was seen.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Check {
    /// What was checked: `status`, `$.status`, `header content-type`.
    pub name: String,
    /// What was expected, as people read it.
    pub expected: String,
    /// What was seen.
    pub actual: String,
    /// Whether the expectation held.
    pub passed: bool,
}

impl Check {
    /// A check that held or did not.
    pub fn new(
        name: impl Into<String>,
        expected: impl Into<String>,
        actual: impl Into<String>,
        passed: bool,
    ) -> Check {
        Check {
            name: name.into(),
            expected: expected.into(),
            actual: actual.into(),
            passed,
        }
    }
}

/// Appends `; name: expected X, got Y` for the first `shown` failed checks
/// of a summary line, and `; and N more` when `count_rest` and some were left out.
pub fn append_failures(summary: &mut String, failed: &[&Check], shown: usize, count_rest: bool) {
    for c in failed.iter().take(shown) {
        summary.push_str(&format!(
            "; {}: expected {}, got {}",
            c.name, c.expected, c.actual
        ));
    }
    if count_rest && failed.len() > shown {
        summary.push_str(&format!("; and {} more", failed.len() - shown));
    }
}

/// Why a probe could not run at all (not: why the deployment failed it).
#[derive(Debug, Clone, thiserror::Error)]
pub enum ProbeError {
    /// The probe's own settings cannot be used (bad CA file, no target for a path).
    #[error("{0}")]
    Setup(String),
}

/// The default probe timeout.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// The default cap on response bodies.
pub const DEFAULT_BODY_LIMIT: u64 = 1 << 20;

#[cfg(test)]
mod tests {
    use super::*;

    fn cx(target: Option<&str>) -> Context {
        Context {
            target: target.map(|t| Url::parse(t).expect("url")),
            tls: TlsSettings::default(),
            body_limit: DEFAULT_BODY_LIMIT,
            base_dir: PathBuf::from("."),
            root: None,
            clients: Arc::new(fetch::Clients::default()),
            timeout: DEFAULT_TIMEOUT,
            progress: progress::Progress::default(),
            redactor: Arc::default(),
            authorization: None,
            recorder: None,
        }
    }

    #[test]
    fn paths_are_appended_to_the_target_path() {
        let c = cx(Some("https://h.example/api/"));
        assert_eq!(
            c.resolve("/health?x=1").expect("ok").as_str(),
            "https://h.example/api/health?x=1"
        );
        assert_eq!(
            c.resolve("http://other:8080/x").expect("ok").as_str(),
            "http://other:8080/x"
        );
    }

    #[test]
    fn a_target_query_survives_and_a_path_query_wins() {
        let c = cx(Some("http://h/api?tenant=a"));
        assert_eq!(
            c.resolve("/health").expect("ok").as_str(),
            "http://h/api/health?tenant=a"
        );
        assert_eq!(
            c.resolve("/x?y=1").expect("ok").as_str(),
            "http://h/api/x?y=1"
        );
    }

    #[test]
    fn a_path_without_a_target_is_a_setup_error() {
        let err = cx(None).resolve("/health").expect_err("no target");
        assert!(err.to_string().contains("no target is set"));
    }

    #[test]
    fn probe_settings_override_defaults() {
        let defaults = TlsSettings {
            ca: Some("ca.pem".into()),
            insecure: false,
            ..TlsSettings::default()
        };
        let own = TlsSettings {
            insecure: true,
            ..TlsSettings::default()
        };
        let merged = own.or(&defaults);
        assert_eq!(merged.ca, Some("ca.pem".into()));
        assert!(merged.insecure);
    }
}
