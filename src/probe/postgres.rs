//! `postgres`: logs in to a PostgreSQL server (TLS as libpq's `sslmode`
//! says) and checks what it sees: whether the session is encrypted, the
//! server version, settings by name, replication (role, streaming replicas,
//! lag), a query's rows addressed with JSONPath, and that a user without a
//! password is refused.
//!
//! Safety: everything runs in one `BEGIN READ ONLY` transaction with
//! `statement_timeout` set from the probe's timeout, rolled back at the end;
//! the query must be a single statement (it is prepared first, which
//! PostgreSQL refuses for several); at most [`MAX_ROWS`] rows and the run's
//! body limit of their JSON are read, then the connection is closed, which
//! stops the server's work.

mod read;
mod tls;
mod value;

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::ServerName;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Map, Value as Json, json};
use tokio::net::TcpStream;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_postgres::Client;
use tokio_postgres::tls::{NoTls, TlsConnect};

use super::http::JsonExpect;
use super::tcp::{self, Reach};
use super::{Budget, Check, Context, Findings, Phase, Probe, ProbeError, TlsSettings, fetch};
use crate::expect::{self, Matcher};

/// The most rows of a query read; the connection is closed after them.
pub const MAX_ROWS: usize = 1000;

/// Rows kept in evidence (the checks see all that were read).
const ROWS_SHOWN: usize = 20;

/// The default port.
const DEFAULT_PORT: u16 = 5432;

super::with_tls! {
    /// The `postgres:` settings as written.
    #[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
    #[serde(deny_unknown_fields)]
    pub struct PostgresSettings {
        /// `postgres://user@host:port/database`, as libpq takes it; query
        /// parameters `sslmode`, `sslrootcert` (as `ca`) and
        /// `application_name` are understood. A password in the URL is a
        /// secret, as is `password:`.
        pub url: String,
        /// The user's password (`${secret:PG_PASSWORD}`); or in the URL.
        #[serde(default)]
        pub password: Option<String>,
        /// `disable`, `prefer` (default, as libpq), `require`, `verify-ca` or
        /// `verify-full`; or `?sslmode=` in the URL. Only the `verify-*`
        /// modes check the certificate (against the system roots and `ca`).
        #[serde(default)]
        pub sslmode: Option<SslMode>,
        /// One SQL statement, run in a read-only transaction; its rows are
        /// checked with `rows` and `cells`.
        #[serde(default)]
        pub query: Option<String>,
        /// What must hold.
        #[serde(default)]
        pub expect: PostgresExpect,
    }
}

/// libpq's `sslmode` values (`allow` is not offered: it tries plaintext first).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum SslMode {
    /// No TLS.
    Disable,
    /// TLS when the server offers it; the certificate is not checked.
    Prefer,
    /// TLS or fail; the certificate is not checked.
    Require,
    /// TLS, and the certificate chain must lead to a trusted root.
    VerifyCa,
    /// TLS, a trusted chain, and the host name must match.
    VerifyFull,
}

impl SslMode {
    fn parse(text: &str) -> Result<SslMode, String> {
        Ok(match text {
            "disable" => SslMode::Disable,
            "prefer" => SslMode::Prefer,
            "require" => SslMode::Require,
            "verify-ca" => SslMode::VerifyCa,
            "verify-full" => SslMode::VerifyFull,
            other => {
                return Err(format!(
                    "unknown sslmode `{other}`: expected disable, prefer, require, verify-ca or verify-full"
                ));
            }
        })
    }

    fn verifies(self) -> bool {
        matches!(self, SslMode::VerifyCa | SslMode::VerifyFull)
    }
}

impl fmt::Display for SslMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SslMode::Disable => "disable",
            SslMode::Prefer => "prefer",
            SslMode::Require => "require",
            SslMode::VerifyCa => "verify-ca",
            SslMode::VerifyFull => "verify-full",
        })
    }
}

/// Expectations of a `postgres` probe.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PostgresExpect {
    /// The number of rows the query returned (`{min: 1}`).
    #[serde(default)]
    pub rows: Option<Matcher>,
    /// The rows as a JSON array of objects, addressed with JSONPath
    /// (`"$[0].n": 1`).
    #[serde(default)]
    pub cells: JsonExpect,
    /// Whether the session must be encrypted (`true`) or must not be.
    #[serde(default)]
    pub tls: Option<bool>,
    /// The server version (`{min: "14"}`), compared part by part.
    #[serde(default)]
    pub version: Option<Matcher>,
    /// Settings by name (`max_connections: {min: 100}`, `ssl: "on"`).
    /// Memory settings compare in bytes (`{min: 1GiB}`), time settings in
    /// seconds (`{max: 30s}`); booleans are `on` / `off`.
    #[serde(default)]
    pub settings: BTreeMap<String, Matcher>,
    /// `true`: the URL's user, with no password, must be refused.
    #[serde(default)]
    pub login_refused: Option<bool>,
    /// The server's place in replication.
    #[serde(default)]
    pub replication: Option<ReplicationExpect>,
}

/// Replication expectations.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReplicationExpect {
    /// `primary` or `replica` (`pg_is_in_recovery()`).
    #[serde(default)]
    pub role: Option<Role>,
    /// Streaming replicas connected to this server (`pg_stat_replication`
    /// rows in state `streaming`): `{min: 1}`.
    #[serde(default)]
    pub replicas: Option<Matcher>,
    /// Replication lag (`{max: 10s}`): on a replica, how far replay is
    /// behind (0 when all WAL received is replayed, else the age of the
    /// last replayed transaction); on a primary, the largest `replay_lag`
    /// of its streaming replicas.
    #[serde(default)]
    pub lag: Option<Matcher>,
}

/// A server's role in replication.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Accepts writes (not in recovery).
    Primary,
    /// A standby in recovery.
    Replica,
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Role::Primary => "primary",
            Role::Replica => "replica",
        })
    }
}

/// A `postgres` probe, checked at load.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(try_from = "PostgresSettings")]
#[schemars(with = "PostgresSettings")]
pub struct Postgres {
    host: String,
    port: u16,
    user: String,
    database: String,
    password: Option<String>,
    application_name: String,
    sslmode: SslMode,
    tls: TlsSettings,
    query: Option<String>,
    expect: PostgresExpect,
}

/// A percent-encoded URL part, decoded.
fn decode(text: &str) -> String {
    let query = format!("p={}", text.replace('+', "%2B"));
    url::form_urlencoded::parse(query.as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

impl TryFrom<PostgresSettings> for Postgres {
    type Error = String;

    fn try_from(s: PostgresSettings) -> Result<Postgres, String> {
        let mut tls = s.tls();
        let url = url::Url::parse(s.url.trim()).map_err(|e| format!("invalid `url`: {e}"))?;
        if !matches!(url.scheme(), "postgres" | "postgresql") {
            return Err(format!(
                "`url` must start with `postgres://`, not `{}://`",
                url.scheme()
            ));
        }
        let host = match url.host() {
            Some(url::Host::Ipv6(ip)) => ip.to_string(),
            Some(h) => h.to_string(),
            None => {
                return Err(
                    "`url` has no host: write `postgres://user@host:5432/db` (Unix sockets are not supported)"
                        .to_owned(),
                );
            }
        };
        let user = decode(url.username());
        if user.is_empty() {
            return Err("`url` names no user: write `postgres://user@host/db`".to_owned());
        }
        // An empty `password:` (`${secret:PG_PASSWORD:-}` unset) is none.
        let password = match (
            url.password().map(decode),
            s.password.filter(|p| !p.is_empty()),
        ) {
            (Some(_), Some(_)) => {
                return Err(
                    "a password is in the `url` and in `password:`: give it in one place"
                        .to_owned(),
                );
            }
            (from_url, setting) => from_url.or(setting),
        };
        let database = match decode(url.path().trim_start_matches('/')) {
            db if db.is_empty() => user.clone(),
            db => db,
        };
        let mut sslmode = s.sslmode;
        let mut application_name = "vouch".to_owned();
        for (name, value) in url.query_pairs() {
            match name.as_ref() {
                "sslmode" => {
                    let mode = SslMode::parse(&value)?;
                    if sslmode.is_some_and(|m| m != mode) {
                        return Err(format!(
                            "`sslmode: {}` and the URL's `sslmode={mode}` differ",
                            sslmode.unwrap_or(mode)
                        ));
                    }
                    sslmode = Some(mode);
                }
                "sslrootcert" => {
                    if tls.ca.is_some() {
                        return Err("`ca` and the URL's `sslrootcert` both name a CA".to_owned());
                    }
                    tls.ca = Some(PathBuf::from(value.as_ref()));
                }
                "application_name" => application_name = value.into_owned(),
                other => {
                    return Err(format!(
                        "unsupported URL parameter `{other}`: vouch understands sslmode, sslrootcert and application_name"
                    ));
                }
            }
        }
        let sslmode = sslmode.unwrap_or(SslMode::Prefer);
        if tls.ca.is_some() && !sslmode.verifies() {
            return Err(format!(
                "a CA is given but `sslmode` is {sslmode}, which does not check certificates: use verify-ca or verify-full"
            ));
        }
        if tls.insecure && sslmode.verifies() {
            return Err(format!(
                "`insecure: true` contradicts `sslmode` {sslmode}: drop one"
            ));
        }
        if (tls.client_cert.is_some() || tls.insecure) && sslmode == SslMode::Disable {
            return Err("TLS settings are given but `sslmode` is disable".to_owned());
        }
        let query = match s.query {
            Some(q) if q.trim().is_empty() => return Err("`query` is empty".to_owned()),
            other => other,
        };
        let e = &s.expect;
        if query.is_none() && (e.rows.is_some() || !e.cells.0.is_empty()) {
            return Err("`rows` and `cells` check a query's rows: give `query:`".to_owned());
        }
        if let Some(version) = &e.version {
            version
                .version_bounds()
                .map_err(|why| format!("`version`: {why}"))?;
        }
        let replication = e.replication.as_ref();
        if replication.is_some_and(|r| r.role.is_none() && r.replicas.is_none() && r.lag.is_none())
        {
            return Err("`replication` is empty: give `role`, `replicas` or `lag`".to_owned());
        }
        Ok(Postgres {
            host,
            port: url.port().unwrap_or(DEFAULT_PORT),
            user,
            database,
            password,
            application_name,
            sslmode,
            tls,
            query,
            expect: s.expect,
        })
    }
}

impl Postgres {
    /// `postgres vouch@db:5432/app: SELECT count(*) …`.
    pub fn describe(&self) -> String {
        let mut line = format!("postgres {}", self.address());
        if let Some(q) = &self.query {
            line.push_str(&format!(
                ": {}",
                expect::excerpt(&expect::one_line(q.trim()), 60)
            ));
        }
        line
    }

    /// `user@host:port/database`, never the password.
    fn address(&self) -> String {
        format!(
            "{}@{}/{}",
            self.user,
            tcp::join_host_port(&self.host, self.port),
            self.database
        )
    }

    /// Nothing resolves against the target: the URL is absolute.
    pub fn target_paths(&self) -> Vec<&str> {
        Vec::new()
    }

    /// Whether a logged-in session is needed (anything but `login_refused` alone).
    fn wants_session(&self) -> bool {
        let e = &self.expect;
        self.query.is_some()
            || e.tls.is_some()
            || e.version.is_some()
            || !e.settings.is_empty()
            || e.replication.is_some()
            || e.login_refused.is_none()
    }

    /// The rustls configuration for the mode (`None`: no TLS), and how the
    /// certificate is checked, for evidence.
    fn tls_config(
        &self,
        cx: &Context,
    ) -> Result<Option<(Arc<rustls::ClientConfig>, &'static str)>, ProbeError> {
        let setup = |e: String| ProbeError::Setup(e);
        let mut settings = self.tls.or(&cx.tls);
        let checked = match self.sslmode {
            SslMode::Disable => return Ok(None),
            // The CA of `defaults:` is for the modes that check.
            SslMode::Prefer | SslMode::Require => {
                settings.ca = None;
                settings.insecure = true;
                "not checked (sslmode does not verify)"
            }
            _ if settings.insecure => "not checked (insecure: true)",
            SslMode::VerifyCa => "chain checked, host name not (verify-ca)",
            SslMode::VerifyFull => "chain and host name checked (verify-full)",
        };
        let mut config = fetch::client_tls_config(&settings, &cx.base_dir).map_err(setup)?;
        if self.sslmode == SslMode::VerifyCa && !settings.insecure {
            let roots = fetch::trust_roots(&settings, &cx.base_dir).map_err(setup)?;
            config
                .dangerous()
                .set_certificate_verifier(Arc::new(tls::ChainOnly::new(roots).map_err(setup)?));
        }
        // PostgreSQL 17 checks the ALPN it is offered; older servers ignore it.
        config.alpn_protocols = vec![b"postgresql".to_vec()];
        Ok(Some((Arc::new(config), checked)))
    }

    fn config(&self, password: Option<&str>) -> tokio_postgres::Config {
        let mut config = tokio_postgres::Config::new();
        config
            .user(&self.user)
            .dbname(&self.database)
            .application_name(&self.application_name)
            .ssl_mode(match self.sslmode {
                SslMode::Disable => tokio_postgres::config::SslMode::Disable,
                SslMode::Prefer => tokio_postgres::config::SslMode::Prefer,
                _ => tokio_postgres::config::SslMode::Require,
            });
        if let Some(p) = password {
            config.password(p);
        }
        config
    }

    /// Connects and logs in (with `password`, or none), by `deadline`.
    async fn login(
        &self,
        tls: Option<&(Arc<rustls::ClientConfig>, &'static str)>,
        password: Option<&str>,
        deadline: Instant,
        cx: &Context,
    ) -> Login {
        cx.progress().exchange();
        cx.progress().phase(format!(
            "connecting to {}",
            tcp::join_host_port(&self.host, self.port)
        ));
        let started = Instant::now();
        let left = deadline.saturating_duration_since(started);
        let stream = match tcp::connect(&self.host, self.port, Some(left)).await {
            Reach::Open { stream, after, .. } => {
                cx.progress()
                    .step(format!("connected in {}", fetch::format_latency(after)));
                stream
            }
            other => return Login::Unreachable(other.describe()),
        };
        cx.progress().phase(match tls {
            Some(_) => "waiting for the TLS handshake and the login",
            None => "waiting for the login",
        });
        let config = self.config(password);
        let seen: tls::Seen = Arc::default();
        let handshake = async {
            match tls {
                Some((config_tls, _)) => {
                    let name = ServerName::try_from(self.host.clone())
                        .map_err(|e| format!("invalid server name `{}`: {e}", self.host))?;
                    let connector = tls::Connector {
                        config: config_tls.clone(),
                        name,
                        seen: seen.clone(),
                    };
                    start(&config, stream, connector)
                        .await
                        .map_err(Failure::from)
                }
                None => start(&config, stream, NoTls).await.map_err(Failure::from),
            }
        };
        let result = match tokio::time::timeout_at(deadline, handshake).await {
            Ok(result) => result,
            Err(_) => Err(Failure {
                text: format!(
                    "timed out after {} waiting for the login",
                    humantime::format_duration(round_ms(deadline - started))
                ),
                auth: false,
            }),
        };
        let negotiated = seen
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        match result {
            Ok(session) => Login::In {
                session,
                negotiated,
                after: started.elapsed(),
            },
            Err(f) => Login::Refused(f, negotiated),
        }
    }
}

fn round_ms(d: Duration) -> Duration {
    Duration::from_millis(d.as_millis().try_into().unwrap_or(u64::MAX))
}

/// A logged-in session; the connection task stops when it is dropped.
struct Session {
    client: Client,
    task: JoinHandle<()>,
}

impl Drop for Session {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn start<T>(
    config: &tokio_postgres::Config,
    stream: TcpStream,
    tls: T,
) -> Result<Session, tokio_postgres::Error>
where
    T: TlsConnect<TcpStream>,
    T::Stream: Send + 'static,
{
    let (client, connection) = config.connect_raw(stream, tls).await?;
    let task = tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok(Session { client, task })
}

/// Why a login or a statement failed, as people read it.
#[derive(Debug)]
struct Failure {
    text: String,
    /// The server refused the credentials (SQLSTATE class 28), or asked for
    /// a password that was not given.
    auth: bool,
}

impl From<String> for Failure {
    fn from(text: String) -> Failure {
        Failure { text, auth: false }
    }
}

impl From<tokio_postgres::Error> for Failure {
    fn from(e: tokio_postgres::Error) -> Failure {
        if let Some(db) = e.as_db_error() {
            let code = db.code().code();
            let mut text = format!("{} {code}: {}", db.severity(), db.message());
            if let Some(hint) = db.hint() {
                text.push_str(&format!(" (hint: {hint})"));
            }
            return Failure {
                text,
                auth: code.starts_with("28"),
            };
        }
        let text = fetch::error_chain(&e);
        // tokio-postgres says so when the server asks for a password and none
        // was configured: the server would not let the user in without one.
        let auth = text.contains("password missing");
        let text = if auth {
            "the server asked for a password".to_owned()
        } else {
            text
        };
        Failure { text, auth }
    }
}

enum Login {
    In {
        session: Session,
        negotiated: Option<tls::Negotiated>,
        after: Duration,
    },
    Refused(Failure, Option<tls::Negotiated>),
    Unreachable(String),
}

/// A check for each expectation the session could not reach.
fn not_run(checks: &mut Vec<Check>, names: Vec<(String, String)>, why: &str) {
    for (name, expected) in names {
        checks.push(Check::new(name, expected, format!("not run: {why}"), false));
    }
}

impl Postgres {
    /// The checks a session makes, named, with what they expect: for
    /// reporting them unrun when the session fails first.
    fn session_checks(&self) -> Vec<(String, String)> {
        let e = &self.expect;
        let mut names = Vec::new();
        if let Some(t) = e.tls {
            names.push(("tls".to_owned(), encrypted(t).to_owned()));
        }
        if let Some(m) = &e.version {
            names.push(("version".to_owned(), m.to_string()));
        }
        for (name, m) in &e.settings {
            names.push((format!("setting {name}"), m.to_string()));
        }
        if let Some(r) = &e.replication {
            if let Some(role) = r.role {
                names.push(("replication role".to_owned(), role.to_string()));
            }
            if let Some(m) = &r.replicas {
                names.push(("replicas".to_owned(), m.to_string()));
            }
            if let Some(m) = &r.lag {
                names.push(("replication lag".to_owned(), m.to_string()));
            }
        }
        if self.query.is_some() {
            names.push(("query".to_owned(), "runs".to_owned()));
            if let Some(m) = &e.rows {
                names.push(("rows".to_owned(), m.to_string()));
            }
            for (key, m) in &e.cells.0 {
                names.push((key.text.clone(), m.to_string()));
            }
        }
        names
    }

    /// `login_refused`: logs in as the URL's user without a password.
    async fn check_refused(
        &self,
        want: bool,
        tls: Option<&(Arc<rustls::ClientConfig>, &'static str)>,
        deadline: Instant,
        cx: &Context,
    ) -> (Check, Json, String) {
        let expected = if want {
            "refused without a password"
        } else {
            "let in without a password"
        };
        let (actual, passed, record) = match self.login(tls, None, deadline, cx).await {
            Login::In { .. } => (
                format!("user {} let in without a password", self.user),
                !want,
                json!({"outcome": "let in"}),
            ),
            Login::Refused(f, _) if f.auth => (
                format!("refused: {}", f.text),
                want,
                json!({"outcome": "refused", "reason": f.text}),
            ),
            Login::Refused(f, _) => (
                format!("could not tell: {}", f.text),
                false,
                json!({"outcome": "error", "error": f.text}),
            ),
            Login::Unreachable(why) => (
                format!("could not tell: {why}"),
                false,
                json!({"outcome": "unreachable", "error": why}),
            ),
        };
        let note = if passed {
            format!(
                "no-password login {}",
                if want { "refused" } else { "let in" }
            )
        } else {
            String::new()
        };
        (
            Check::new("login refused", expected, actual, passed),
            record,
            note,
        )
    }
}

fn encrypted(t: bool) -> &'static str {
    if t { "encrypted" } else { "not encrypted" }
}

impl Probe for Postgres {
    async fn run(&self, cx: &Context) -> Result<Findings, ProbeError> {
        let started = Instant::now();
        // A little before the runner's own timeout, so the evidence says
        // where the time went.
        let margin = (cx.timeout / 10).min(Duration::from_millis(500));
        let deadline = started + cx.timeout.saturating_sub(margin);
        let tls = self.tls_config(cx)?;
        let mut checks = Vec::new();
        let mut notes = Vec::new();
        let mut record = json!({
            "address": self.address(),
            "sslmode": self.sslmode.to_string(),
            "password_given": self.password.is_some(),
        });
        if let Some(want) = self.expect.login_refused {
            let (check, refused, note) = self.check_refused(want, tls.as_ref(), deadline, cx).await;
            checks.push(check);
            record["login_refused"] = refused;
            if !note.is_empty() {
                notes.push(note);
            }
        }
        if self.wants_session() {
            self.session(
                cx,
                tls.as_ref(),
                deadline,
                &mut checks,
                &mut notes,
                &mut record,
            )
            .await;
        }
        let mut line = format!("postgres {}", self.address());
        let failed: Vec<&Check> = checks.iter().filter(|c| !c.passed).collect();
        if !notes.is_empty() {
            line.push_str(&format!(" → {}", notes.join("; ")));
        }
        super::append_failures(&mut line, &failed, 2, true);
        Ok(Findings {
            checks,
            summary: line,
            evidence: record,
        })
    }

    fn budget(&self) -> Budget {
        let logins =
            u64::from(self.expect.login_refused.is_some()) + u64::from(self.wants_session());
        Budget {
            phase: Phase::Concurrent,
            max_requests: logins,
            duration: None,
        }
    }
}

impl Postgres {
    /// Logs in, runs the read-only transaction and checks what it saw.
    async fn session(
        &self,
        cx: &Context,
        tls: Option<&(Arc<rustls::ClientConfig>, &'static str)>,
        deadline: Instant,
        checks: &mut Vec<Check>,
        notes: &mut Vec<String>,
        record: &mut Json,
    ) {
        let began = Instant::now();
        let pending = self.session_checks();
        let (session, negotiated, after) = match self
            .login(tls, self.password.as_deref(), deadline, cx)
            .await
        {
            Login::In {
                session,
                negotiated,
                after,
            } => (session, negotiated, after),
            Login::Refused(f, negotiated) => {
                record["error"] = json!(f.text);
                record["tls"] = negotiated.map_or(
                    Json::Null,
                    |n| json!({"version": n.version, "cipher": n.cipher}),
                );
                checks.push(Check::new("login", "logged in", f.text, false));
                not_run(checks, pending, "no session");
                return;
            }
            Login::Unreachable(why) => {
                record["error"] = json!(why);
                checks.push(Check::new("connect", "connected", why, false));
                not_run(checks, pending, "no connection");
                return;
            }
        };
        record["login_ms"] = json!(fetch::millis(after));
        let tls_shown = match (&negotiated, tls) {
            (Some(n), Some((_, checked))) => {
                record["tls"] = json!({
                    "version": n.version,
                    "cipher": n.cipher,
                    "handshake_ms": fetch::millis(n.handshake),
                    "certificate": checked,
                });
                format!("{}, {}", n.version, n.cipher)
            }
            _ => {
                record["tls"] = Json::Null;
                format!("not encrypted (sslmode={})", self.sslmode)
            }
        };
        let mut line = format!("logged in in {}", fetch::format_latency(after));
        if negotiated.is_some() {
            line.push_str(&format!(", {}", tls_shown));
        }
        if let Some(want) = self.expect.tls {
            checks.push(Check::new(
                "tls",
                encrypted(want),
                tls_shown.clone(),
                negotiated.is_some() == want,
            ));
        }
        let outcome = tokio::time::timeout_at(
            deadline,
            self.transaction(&session, cx, deadline, checks, record),
        )
        .await;
        match outcome {
            Ok(Ok(shown)) => {
                if !shown.is_empty() {
                    line.push_str(&format!("; {shown}"));
                }
            }
            Ok(Err(why)) => {
                let done: Vec<String> = checks.iter().map(|c| c.name.clone()).collect();
                let left = pending
                    .into_iter()
                    .filter(|(name, _)| !done.contains(name))
                    .collect();
                not_run(checks, left, &why);
            }
            Err(_) => {
                let phase = cx.progress().reached().phase;
                let why = format!(
                    "timed out after {} {phase}",
                    humantime::format_duration(round_ms(began.elapsed()))
                );
                record["error"] = json!(why);
                let done: Vec<String> = checks.iter().map(|c| c.name.clone()).collect();
                let left: Vec<_> = pending
                    .into_iter()
                    .filter(|(name, _)| !done.contains(name))
                    .collect();
                not_run(checks, left, &why);
            }
        }
        notes.insert(0, line);
    }

    /// The read-only transaction: version, settings, replication, the query.
    /// `Err` says why the rest could not run (checks so far are kept).
    async fn transaction(
        &self,
        session: &Session,
        cx: &Context,
        deadline: Instant,
        checks: &mut Vec<Check>,
        record: &mut Json,
    ) -> Result<String, String> {
        let client = &session.client;
        let progress = cx.progress();
        // Three quarters of the time left: the server cancels a slow
        // statement, and its error arrives, before the probe gives up.
        let left = deadline.saturating_duration_since(Instant::now()) * 3 / 4;
        let timeout_ms = left.as_millis().clamp(1, i32::MAX as u128);
        progress.phase("starting the read-only transaction");
        let begin = format!(
            "BEGIN READ ONLY; SET LOCAL statement_timeout = {timeout_ms}; \
             SET LOCAL DateStyle = 'ISO, YMD'; SET LOCAL TimeZone = 'UTC'"
        );
        client
            .batch_execute(&begin)
            .await
            .map_err(|e| Failure::from(e).text)?;
        record["read_only"] = json!(true);
        record["statement_timeout_ms"] = json!(timeout_ms as u64);
        let mut shown = Vec::new();

        progress.phase("reading the server version");
        let full: String = client
            .query_one("SELECT current_setting('server_version')", &[])
            .await
            .and_then(|row| row.try_get(0))
            .map_err(|e| Failure::from(e).text)?;
        let version = full
            .split_whitespace()
            .next()
            .unwrap_or_default()
            .to_owned();
        record["server_version"] = json!(full);
        shown.push(format!("PostgreSQL {version}"));
        if let Some(m) = &self.expect.version {
            let result = m.check_version(Some(&full));
            checks.push(Check::new(
                "version",
                m.to_string(),
                version.clone(),
                result.is_ok(),
            ));
        }

        if !self.expect.settings.is_empty() {
            progress.phase("reading settings");
            let names: Vec<String> = self
                .expect
                .settings
                .keys()
                .map(|k| k.to_ascii_lowercase())
                .collect();
            let found = read::read_settings(client, &names)
                .await
                .map_err(|e| Failure::from(e).text)?;
            let mut shown_settings = Map::new();
            for (name, m) in &self.expect.settings {
                let setting = found.get(&name.to_ascii_lowercase());
                let (actual, passed) = match setting {
                    Some(s) => (s.shown.clone(), m.check(Some(&s.value)).is_ok()),
                    None => (
                        "unknown, or not visible to this user".to_owned(),
                        m.check(None).is_ok(),
                    ),
                };
                if let Some(s) = setting {
                    shown_settings.insert(
                        name.clone(),
                        json!({"shown": s.shown, "setting": s.raw, "unit": s.unit, "compared": s.value}),
                    );
                }
                checks.push(Check::new(
                    format!("setting {name}"),
                    m.to_string(),
                    actual,
                    passed,
                ));
            }
            record["settings"] = Json::Object(shown_settings);
        }

        if let Some(r) = &self.expect.replication {
            progress.phase("reading replication state");
            let rep = read::read_replication(client)
                .await
                .map_err(|e| Failure::from(e).text)?;
            let role = if rep.in_recovery {
                Role::Replica
            } else {
                Role::Primary
            };
            record["replication"] = json!({
                "role": role.to_string(),
                "replicas": rep.senders,
                "streaming": rep.streaming,
                "lag_s": rep.lag,
                "wal_receiver": rep.receiver,
            });
            shown.push(role.to_string());
            if let Some(want) = r.role {
                checks.push(Check::new(
                    "replication role",
                    want.to_string(),
                    role.to_string(),
                    want == role,
                ));
            }
            if let Some(m) = &r.replicas {
                let mut actual = format!("{} streaming", rep.streaming);
                if rep.hidden {
                    actual.push_str(
                        " (some states hidden: the user needs pg_monitor or pg_read_all_stats)",
                    );
                }
                let passed = m.check(Some(&json!(rep.streaming))).is_ok();
                checks.push(Check::new("replicas", m.to_string(), actual, passed));
            }
            if let Some(m) = &r.lag {
                let (actual, passed) = match rep.lag {
                    Some(s) => (
                        fetch::format_latency(Duration::from_secs_f64(s.max(0.0))),
                        m.check(Some(&json!(s))).is_ok(),
                    ),
                    None if rep.in_recovery => ("unknown: nothing replayed yet".to_owned(), false),
                    None => ("unknown: no streaming replica".to_owned(), false),
                };
                checks.push(Check::new("replication lag", m.to_string(), actual, passed));
            }
        }

        if let Some(sql) = &self.query {
            progress.phase("running the query");
            record["query"] = json!({"sql": sql});
            match read::run_query(client, sql, cx.body_limit).await {
                Ok(result) => {
                    let count = result.rows.len();
                    let count_shown = if result.truncated {
                        format!("at least {count} rows (reading stopped at the cap)")
                    } else if count == 1 {
                        "1 row".to_owned()
                    } else {
                        format!("{count} rows")
                    };
                    checks.push(Check::new("query", "runs", count_shown.clone(), true));
                    if let Some(m) = &self.expect.rows {
                        let passed = m.check(Some(&json!(count))).is_ok();
                        checks.push(Check::new(
                            "rows",
                            m.to_string(),
                            count_shown.clone(),
                            passed,
                        ));
                    }
                    let doc = Json::Array(result.rows);
                    checks.extend(super::file::check_json_doc(
                        &self.expect.cells,
                        Ok(&doc),
                        "",
                    ));
                    let shown_rows: Vec<Json> = doc
                        .as_array()
                        .map(|rows| rows.iter().take(ROWS_SHOWN).cloned().collect())
                        .unwrap_or_default();
                    record["query"] = json!({
                        "sql": sql,
                        "columns": result.columns.iter().map(|(n, t)| json!({"name": n, "type": t})).collect::<Vec<_>>(),
                        "row_count": count,
                        "truncated": result.truncated,
                        "command_count": result.command_count,
                        "rows": shown_rows,
                        "rows_shown_max": ROWS_SHOWN,
                    });
                    shown.push(count_shown);
                    if result.truncated {
                        // Closing the connection stops the server's work; no
                        // ROLLBACK round trip behind the unread rows.
                        return Ok(shown.join(", "));
                    }
                }
                Err(e) => {
                    let why = Failure::from(e).text;
                    record["query"]["error"] = json!(why);
                    checks.push(Check::new("query", "runs", why.clone(), false));
                    let rest: Vec<_> = self
                        .session_checks()
                        .into_iter()
                        .filter(|(name, _)| {
                            name != "query" && !checks.iter().any(|c| &c.name == name)
                        })
                        .collect();
                    not_run(checks, rest, "the query failed");
                    return Ok(shown.join(", "));
                }
            }
        }
        progress.phase("rolling back");
        let _ = client.batch_execute("ROLLBACK").await;
        Ok(shown.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pg(yaml: &str) -> Result<Postgres, String> {
        crate::spec::de::from_yaml(yaml)
    }

    #[test]
    fn reads_the_url_like_libpq() {
        let p = pg("url: postgres://vouch:s%40cret@db.example:6432/app?sslmode=verify-full&application_name=ci\n")
            .expect("valid");
        assert_eq!(p.user, "vouch");
        assert_eq!(p.password.as_deref(), Some("s@cret"));
        assert_eq!((p.host.as_str(), p.port), ("db.example", 6432));
        assert_eq!(p.database, "app");
        assert_eq!(p.sslmode, SslMode::VerifyFull);
        assert_eq!(p.application_name, "ci");
        assert_eq!(p.describe(), "postgres vouch@db.example:6432/app");
        let p = pg("url: postgresql://u@[::1]\nquery: SELECT 1\n").expect("valid");
        assert_eq!(
            (p.host.as_str(), p.port, p.database.as_str()),
            ("::1", 5432, "u")
        );
        assert_eq!(p.sslmode, SslMode::Prefer);
        assert_eq!(p.describe(), "postgres u@[::1]:5432/u: SELECT 1");
    }

    #[test]
    fn rejects_contradictory_settings() {
        let err = |yaml: &str| pg(yaml).expect_err(yaml);
        assert!(err("url: http://db/app\n").contains("postgres://"));
        assert!(err("url: postgres://db/app\n").contains("names no user"));
        assert!(err("url: postgres://u:p@db/app\npassword: q\n").contains("one place"));
        assert!(err("url: postgres://u@db/app?sslmode=allow\n").contains("unknown sslmode"));
        assert!(
            err("url: postgres://u@db/app?sslmode=require\nsslmode: disable\n").contains("differ")
        );
        assert!(
            err("url: postgres://u@db/app?connect_timeout=3\n")
                .contains("unsupported URL parameter")
        );
        assert!(err("url: postgres://u@db/app\nca: ca.pem\n").contains("verify-ca or verify-full"));
        assert!(
            err("url: postgres://u@db/app\nsslmode: verify-full\ninsecure: true\n")
                .contains("contradicts")
        );
        assert!(err("url: postgres://u@db/app\nexpect: {rows: 1}\n").contains("give `query:`"));
        assert!(err("url: postgres://u@db/app\nquery: ' '\n").contains("empty"));
        assert!(
            err("url: postgres://u@db/app\nexpect: {version: {min: 1GiB}}\n")
                .contains("not a version")
        );
        assert!(err("url: postgres://u@db/app\nexpect: {replication: {}}\n").contains("is empty"));
        assert!(err("url: postgres://u@db/app\nsslmode: allow\n").contains("unknown variant"));
    }

    #[test]
    fn a_login_refused_probe_alone_needs_one_login() {
        let p =
            pg("url: postgres://nopass@db/app\nexpect: {login_refused: true}\n").expect("valid");
        assert!(!p.wants_session());
        assert_eq!(p.budget().max_requests, 1);
        let p = pg("url: postgres://u@db/app\nexpect: {login_refused: true, tls: true}\n")
            .expect("valid");
        assert_eq!(p.budget().max_requests, 2);
        let p = pg("url: postgres://u@db/app\n").expect("valid");
        assert_eq!(p.budget().max_requests, 1);
    }
}
