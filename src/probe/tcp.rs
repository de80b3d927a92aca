//! `tcp`: a port is reachable (or must be closed), optionally with a small,
//! bounded protocol greeting — Redis `PING`, PostgreSQL `SSLRequest`, a TLS
//! handshake, a banner, or raw bytes sent and a reply matched.

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::ServerName;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Value as Json, json};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;

use super::fetch;
use super::{Check, Context, Findings, Probe, ProbeError, TlsSettings};
use crate::expect::{self, Dur, Pattern};
use crate::redact::Redactor;

/// The default `connect_timeout`: shorter than any sensible probe timeout, so
/// a filtered port is told apart from a slow one.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// The most bytes of a greeting read.
pub const READ_LIMIT: usize = 64 * 1024;

/// After the first bytes of a reply, how long a pause ends it.
const IDLE: Duration = Duration::from_millis(500);

/// Characters of a greeting kept in evidence.
const EXCERPT: usize = 256;

/// Redis `PING` as a RESP array (every Redis version understands it).
const REDIS_PING: &[u8] = b"*1\r\n$4\r\nPING\r\n";

/// PostgreSQL `SSLRequest`: length 8, code 80877103.
const POSTGRES_SSL_REQUEST: [u8; 8] = [0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f];

/// Settings of a `tcp` probe.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(try_from = "TcpSettings")]
#[schemars(with = "TcpSettings")]
pub struct Tcp {
    /// The address as written, for descriptions.
    written: Option<String>,
    host: Option<String>,
    ports: Vec<u16>,
    /// Whether the ports came from `ports:` (not from `address`).
    port_list: bool,
    connect_timeout: Duration,
    exchange: Option<Exchange>,
    tls: TlsSettings,
    expect: TcpExpect,
}

/// The `tcp:` settings as written.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TcpSettings {
    /// `host:port`, `[v6]:port`, `:port` (the target's host) or `host` (with
    /// `ports:`); default: the target's host and port.
    #[serde(default)]
    address: Option<String>,
    /// Several ports of one host, each its own check (no `hello` then).
    #[serde(default)]
    ports: Vec<u16>,
    /// How long a connect may go unanswered before the port counts as
    /// filtered (default 2s); keep it below the probe's `timeout`.
    #[serde(default)]
    connect_timeout: Option<Dur>,
    /// A protocol greeting after connecting: `redis`, `postgres`, `tls` or `banner`.
    #[serde(default)]
    hello: Option<Hello>,
    /// Raw text to send after connecting (YAML escapes such as `\r\n`); the
    /// reply is read up to 64 KiB and checked by `expect.reply`.
    #[serde(default)]
    send: Option<String>,
    /// A PEM bundle of extra trusted roots (`hello: tls`).
    #[serde(default)]
    ca: Option<PathBuf>,
    /// A PEM client certificate for mTLS (`hello: tls`).
    #[serde(default)]
    client_cert: Option<PathBuf>,
    /// The client certificate's PEM key.
    #[serde(default)]
    client_key: Option<PathBuf>,
    /// Skip certificate verification (`hello: tls`; shown in evidence).
    #[serde(default)]
    insecure: bool,
    /// What must hold.
    #[serde(default)]
    expect: TcpExpect,
}

/// A known protocol greeting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Hello {
    /// Sends `PING`: `+PONG`, or `-NOAUTH` (a password is required).
    Redis,
    /// Sends `SSLRequest`: `S` (TLS offered) or `N` (not offered).
    Postgres,
    /// A TLS handshake (trust as for `http`: `ca`, `insecure`).
    Tls,
    /// Reads what the server says first (SSH, SMTP, FTP) without sending.
    Banner,
}

impl fmt::Display for Hello {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Hello::Redis => "redis",
            Hello::Postgres => "postgres",
            Hello::Tls => "tls",
            Hello::Banner => "banner",
        })
    }
}

/// What is exchanged after connecting.
#[derive(Debug, Clone)]
enum Exchange {
    Hello(Hello),
    Send(String),
}

/// Expectations of a `tcp` probe.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TcpExpect {
    /// `true` (default): the port accepts connections; `false`: it must not
    /// (refused, unreachable, or no answer within `connect_timeout`).
    #[serde(default)]
    pub open: Option<bool>,
    /// `hello: redis`: whether `PING` must be refused for want of a password.
    #[serde(default)]
    pub auth_required: Option<bool>,
    /// `hello: postgres`: whether the server must (or must not) offer TLS.
    #[serde(default)]
    pub tls_offered: Option<bool>,
    /// `hello: banner` or `send`: a regex the reply must match.
    #[serde(default)]
    pub reply: Option<Pattern>,
}

impl TryFrom<TcpSettings> for Tcp {
    type Error = String;

    fn try_from(s: TcpSettings) -> Result<Tcp, String> {
        let (host, port) = match &s.address {
            Some(text) => parse_address(text)?,
            None => (None, None),
        };
        let ports = match (port, s.ports.is_empty()) {
            (Some(_), false) => {
                return Err(
                    "`address` has a port and `ports:` names more: give the port in one place"
                        .to_owned(),
                );
            }
            (Some(p), true) => vec![p],
            (None, false) => {
                if let Some(zero) = s.ports.iter().find(|p| **p == 0) {
                    return Err(format!("invalid port {zero} in `ports`"));
                }
                s.ports.clone()
            }
            (None, true) if host.is_some() => {
                return Err(format!(
                    "`{}` has no port: write `host:port`, or list `ports:`",
                    s.address.as_deref().unwrap_or_default()
                ));
            }
            // The target's port.
            (None, true) => Vec::new(),
        };
        let exchange = match (s.hello, s.send) {
            (Some(_), Some(_)) => {
                return Err(
                    "give `hello:` (a known greeting) or `send:` (raw bytes), not both".to_owned(),
                );
            }
            (Some(h), None) => Some(Exchange::Hello(h)),
            (None, Some(text)) => Some(Exchange::Send(text)),
            (None, None) => None,
        };
        let hello = match &exchange {
            Some(Exchange::Hello(h)) => Some(*h),
            _ => None,
        };
        let e = &s.expect;
        if e.open == Some(false) && (exchange.is_some() || has_greeting_expectations(e)) {
            return Err(
                "`open: false` checks that nothing answers: it takes no `hello`, `send` or reply expectations"
                    .to_owned(),
            );
        }
        if exchange.is_some() && ports.len() > 1 {
            return Err(
                "`hello` and `send` talk to one port: give `address: host:port`, not `ports:`"
                    .to_owned(),
            );
        }
        if e.auth_required.is_some() && hello != Some(Hello::Redis) {
            return Err("`auth_required` needs `hello: redis`".to_owned());
        }
        if e.tls_offered.is_some() && hello != Some(Hello::Postgres) {
            return Err("`tls_offered` needs `hello: postgres`".to_owned());
        }
        if e.reply.is_some()
            && !matches!(
                exchange,
                Some(Exchange::Send(_)) | Some(Exchange::Hello(Hello::Banner))
            )
        {
            return Err("`reply` needs `hello: banner` or `send:`".to_owned());
        }
        let tls = TlsSettings {
            ca: s.ca,
            client_cert: s.client_cert,
            client_key: s.client_key,
            insecure: s.insecure,
        };
        if tls != TlsSettings::default() && hello != Some(Hello::Tls) {
            return Err(
                "`ca`, `client_cert`, `client_key` and `insecure` apply to `hello: tls`".to_owned(),
            );
        }
        let connect_timeout = s.connect_timeout.map_or(DEFAULT_CONNECT_TIMEOUT, |d| d.0);
        if connect_timeout.is_zero() {
            return Err("`connect_timeout` must be more than zero".to_owned());
        }
        Ok(Tcp {
            written: s.address,
            host,
            port_list: !s.ports.is_empty(),
            ports,
            connect_timeout,
            exchange,
            tls,
            expect: s.expect,
        })
    }
}

fn has_greeting_expectations(e: &TcpExpect) -> bool {
    e.auth_required.is_some() || e.tls_offered.is_some() || e.reply.is_some()
}

/// Splits `host:port`, `[v6]:port`, `:port` and `host` into their parts.
pub fn parse_address(text: &str) -> Result<(Option<String>, Option<u16>), String> {
    let text = text.trim();
    let invalid = |why: &str| format!("invalid address `{text}`: {why}");
    let port = |p: &str| match p.parse::<u16>() {
        Ok(0) | Err(_) => Err(invalid("the port must be a number from 1 to 65535")),
        Ok(n) => Ok(n),
    };
    if text.is_empty() {
        return Err(invalid("expected `host:port`"));
    }
    if text.contains("://") {
        return Err(invalid("expected `host:port`, not a URL"));
    }
    if let Some(rest) = text.strip_prefix('[') {
        let Some((host, after)) = rest.split_once(']') else {
            return Err(invalid("missing `]`"));
        };
        let host = Some(host.to_owned());
        return match after {
            "" => Ok((host, None)),
            _ => match after.strip_prefix(':') {
                Some(p) => Ok((host, Some(port(p)?))),
                None => Err(invalid("expected `[address]:port`")),
            },
        };
    }
    match text.matches(':').count() {
        0 => Ok((Some(text.to_owned()), None)),
        1 => {
            let (host, p) = text.split_once(':').unwrap_or((text, ""));
            let host = (!host.is_empty()).then(|| host.to_owned());
            Ok((host, Some(port(p)?)))
        }
        _ => Err(invalid("write an IPv6 address in brackets: `[::1]:6379`")),
    }
}

impl Tcp {
    /// `tcp :6379 hello redis`, `tcp target ports 22, 2375 must be closed`.
    pub fn describe(&self) -> String {
        let mut line = match (&self.written, self.port_list) {
            (Some(a), false) => format!("tcp {a}"),
            (None, false) => "tcp target".to_owned(),
            (_, true) => format!(
                "tcp {} ports {}",
                self.host.as_deref().unwrap_or("target"),
                join_ports(&self.ports)
            ),
        };
        match &self.exchange {
            Some(Exchange::Hello(h)) => line.push_str(&format!(" hello {h}")),
            Some(Exchange::Send(_)) => line.push_str(" send"),
            None if !self.wants_open() => line.push_str(" must be closed"),
            None => {}
        }
        line
    }

    fn wants_open(&self) -> bool {
        self.expect.open.unwrap_or(true)
    }

    /// The host and ports to connect to, filled in from the target.
    fn endpoints(&self, cx: &Context) -> Result<(String, Vec<u16>), ProbeError> {
        let target = cx.target.as_ref();
        let host = match &self.host {
            Some(h) => h.clone(),
            None => match target.and_then(url::Url::host) {
                Some(url::Host::Ipv6(ip)) => ip.to_string(),
                Some(h) => h.to_string(),
                None => {
                    return Err(ProbeError::Setup(
                        "`tcp` has no host: give `address: host:port`, or `target:` / `--target`"
                            .to_owned(),
                    ));
                }
            },
        };
        let ports = if self.ports.is_empty() {
            match target.and_then(url::Url::port_or_known_default) {
                Some(p) => vec![p],
                None => {
                    return Err(ProbeError::Setup(
                        "`tcp` has no port: give `address: host:port` or `ports:`".to_owned(),
                    ));
                }
            }
        } else {
            self.ports.clone()
        };
        Ok((host, ports))
    }

    fn tls_config(&self, cx: &Context) -> Result<Option<Arc<rustls::ClientConfig>>, ProbeError> {
        if !matches!(self.exchange, Some(Exchange::Hello(Hello::Tls))) {
            return Ok(None);
        }
        let mut config = fetch::client_tls_config(&self.tls.or(&cx.tls), &cx.base_dir)
            .map_err(ProbeError::Setup)?;
        // A raw TLS port speaks no HTTP: offering `h2` could only confuse it.
        config.alpn_protocols.clear();
        Ok(Some(Arc::new(config)))
    }
}

fn join_ports(ports: &[u16]) -> String {
    ports
        .iter()
        .map(u16::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// How a connect attempt ended.
#[derive(Debug)]
pub enum Reach {
    /// Connected.
    Open {
        /// The connection.
        stream: TcpStream,
        /// The address that answered.
        peer: SocketAddr,
        /// Time to connect (name resolution included).
        after: Duration,
    },
    /// Actively refused (RST).
    Refused {
        /// After how long.
        after: Duration,
    },
    /// No answer within the connect deadline (dropped by a firewall, or no host).
    NoAnswer {
        /// The deadline.
        after: Duration,
    },
    /// The network said the host or network is unreachable (ICMP).
    Unreachable {
        /// The error.
        reason: String,
        /// After how long.
        after: Duration,
    },
    /// Anything else: the name did not resolve, or the connect failed oddly.
    Failed {
        /// The error.
        reason: String,
        /// After how long.
        after: Duration,
    },
}

impl Reach {
    /// A short state word for evidence.
    pub fn state(&self) -> &'static str {
        match self {
            Reach::Open { .. } => "open",
            Reach::Refused { .. } => "refused",
            Reach::NoAnswer { .. } => "no_answer",
            Reach::Unreachable { .. } => "unreachable",
            Reach::Failed { .. } => "error",
        }
    }

    /// Whether nothing accepted the connection (what `open: false` wants).
    pub fn is_closed(&self) -> bool {
        matches!(
            self,
            Reach::Refused { .. } | Reach::NoAnswer { .. } | Reach::Unreachable { .. }
        )
    }

    fn after(&self) -> Duration {
        match self {
            Reach::Open { after, .. }
            | Reach::Refused { after }
            | Reach::NoAnswer { after }
            | Reach::Unreachable { after, .. }
            | Reach::Failed { after, .. } => *after,
        }
    }

    /// As people read it: `connection refused`, `connect timed out after 2s (no answer)`.
    pub fn describe(&self) -> String {
        match self {
            Reach::Open { after, .. } => {
                format!("open, connected in {}", fetch::format_latency(*after))
            }
            Reach::Refused { .. } => "connection refused".to_owned(),
            Reach::NoAnswer { after } => format!(
                "connect timed out after {} (no answer)",
                humantime::format_duration(*after)
            ),
            Reach::Unreachable { reason, .. } | Reach::Failed { reason, .. } => reason.clone(),
        }
    }

    /// The evidence record of this attempt.
    pub fn record(&self, host: &str, port: u16) -> Json {
        let mut record = json!({
            "address": join_host_port(host, port),
            "state": self.state(),
            "connect_ms": fetch::millis(self.after()),
        });
        match self {
            Reach::Open { peer, .. } => record["peer"] = json!(peer.to_string()),
            Reach::Refused { .. } | Reach::NoAnswer { .. } => {
                record["error"] = json!(self.describe());
            }
            Reach::Unreachable { reason, .. } | Reach::Failed { reason, .. } => {
                record["error"] = json!(reason);
            }
        }
        record
    }
}

/// `host:port`, with brackets around an IPv6 address.
pub fn join_host_port(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// Connects to `host:port`, trying each resolved address in turn, within
/// `limit` if given (name resolution included).
pub async fn connect(host: &str, port: u16, limit: Option<Duration>) -> Reach {
    let started = Instant::now();
    let attempt = async {
        let addrs: Vec<SocketAddr> = match tokio::net::lookup_host((host, port)).await {
            Ok(addrs) => addrs.collect(),
            Err(e) => {
                return Reach::Failed {
                    reason: format!("cannot resolve `{host}`: {}", fetch::error_chain(&e)),
                    after: started.elapsed(),
                };
            }
        };
        let mut last: Option<io::Error> = None;
        for addr in addrs {
            match TcpStream::connect(addr).await {
                Ok(stream) => {
                    // Greetings are tiny: send them at once.
                    let _ = stream.set_nodelay(true);
                    return Reach::Open {
                        stream,
                        peer: addr,
                        after: started.elapsed(),
                    };
                }
                Err(e) => last = Some(e),
            }
        }
        let after = started.elapsed();
        match last {
            None => Reach::Failed {
                reason: format!("`{host}` resolved to no address"),
                after,
            },
            Some(e) => match e.kind() {
                io::ErrorKind::ConnectionRefused => Reach::Refused { after },
                io::ErrorKind::TimedOut => Reach::NoAnswer { after },
                io::ErrorKind::HostUnreachable | io::ErrorKind::NetworkUnreachable => {
                    Reach::Unreachable {
                        reason: fetch::error_chain(&e),
                        after,
                    }
                }
                _ => Reach::Failed {
                    reason: fetch::error_chain(&e),
                    after,
                },
            },
        }
    };
    match limit {
        Some(limit) => tokio::time::timeout(limit, attempt)
            .await
            .unwrap_or(Reach::NoAnswer { after: limit }),
        None => attempt.await,
    }
}

/// Bytes read from a peer.
#[derive(Debug, Default)]
struct Reply {
    bytes: Vec<u8>,
    /// Where `bytes` hold a spelling of a secret: masked before the bytes
    /// are escaped for evidence, since escaped, a secret is spelt differently.
    secret_spans: Vec<(usize, usize)>,
    /// The peer closed the connection.
    eof: bool,
    /// Reading stopped at [`READ_LIMIT`].
    truncated: bool,
    /// A read error (e.g. connection reset).
    error: Option<String>,
}

impl Reply {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.bytes).into_owned()
    }

    /// What was received, for a check's `actual`.
    fn shown(&self) -> String {
        if self.bytes.is_empty() {
            return match &self.error {
                Some(e) => format!("nothing ({e})"),
                None if self.eof => "nothing: the connection was closed".to_owned(),
                None => "nothing".to_owned(),
            };
        }
        format!(
            "{:?}",
            printable_masked(&self.bytes, &self.secret_spans, 80)
        )
    }

    fn record(&self) -> Json {
        let mut record = json!({
            "received": printable_masked(&self.bytes, &self.secret_spans, EXCERPT),
            "received_bytes": self.bytes.len(),
        });
        if self.eof {
            record["closed_by_peer"] = json!(true);
        }
        if self.truncated {
            record["truncated"] = json!(true);
        }
        if let Some(e) = &self.error {
            record["error"] = json!(e);
        }
        record
    }
}

/// Reads until `done` holds, the peer closes, [`READ_LIMIT`] is reached or,
/// once something arrived, the peer pauses for [`IDLE`]. Waiting for the
/// first byte is bounded by the probe's timeout (the runner's).
async fn read_reply<S: AsyncRead + Unpin>(
    stream: &mut S,
    done: impl Fn(&[u8]) -> bool,
    redactor: &Redactor,
) -> Reply {
    let mut reply = Reply::default();
    let mut chunk = vec![0u8; 8192];
    loop {
        let read = if reply.bytes.is_empty() {
            stream.read(&mut chunk).await
        } else {
            match tokio::time::timeout(IDLE, stream.read(&mut chunk)).await {
                Ok(read) => read,
                Err(_) => break,
            }
        };
        match read {
            Ok(0) => {
                reply.eof = true;
                break;
            }
            Ok(n) => {
                let room = READ_LIMIT - reply.bytes.len();
                reply.bytes.extend_from_slice(&chunk[..n.min(room)]);
                if n >= room {
                    reply.truncated = true;
                    break;
                }
                if done(&reply.bytes) {
                    break;
                }
            }
            Err(e) => {
                reply.error = Some(fetch::error_chain(&e));
                break;
            }
        }
    }
    reply.secret_spans = redactor.spans(&reply.bytes);
    reply
}

/// Bytes as printable text: ASCII kept, `\r`, `\n`, `\t` escaped, anything
/// else as `\xNN`; at most `max` characters, the cut marked.
pub fn printable(bytes: &[u8], max: usize) -> String {
    printable_masked(bytes, &[], max)
}

/// [`printable`], with `«redacted»` for each of the sorted, disjoint
/// `secret` ranges (from [`Redactor::spans`]).
pub fn printable_masked(bytes: &[u8], secret: &[(usize, usize)], max: usize) -> String {
    let mut out = String::new();
    let mut chars = 0;
    let mut secret = secret.iter().peekable();
    let mut i = 0;
    while i < bytes.len() {
        if chars >= max {
            out.push('…');
            break;
        }
        while secret.next_if(|(_, end)| *end <= i).is_some() {}
        if let Some(&&(start, end)) = secret.peek()
            && start <= i
        {
            out.push_str(crate::redact::REDACTED);
            chars += crate::redact::REDACTED.chars().count();
            i = end;
            continue;
        }
        let b = bytes[i];
        let before = out.len();
        match b {
            b'\r' => out.push_str("\\r"),
            b'\n' => out.push_str("\\n"),
            b'\t' => out.push_str("\\t"),
            b'\\' => out.push_str("\\\\"),
            0x20..=0x7e => out.push(char::from(b)),
            _ => out.push_str(&format!("\\x{b:02x}")),
        }
        // Everything pushed here is ASCII: bytes are characters.
        chars += out.len() - before;
        i += 1;
    }
    out
}

/// What a Redis server said to `PING`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RedisReply {
    /// `+PONG`: no password needed.
    Pong,
    /// `-NOAUTH …`: a password is required.
    NoAuth(String),
    /// `-DENIED …`: protected mode refuses this client.
    Denied(String),
    /// Another error reply.
    Error(String),
    /// Not a Redis reply.
    Other(String),
}

/// Reads the first line of a reply to `PING`.
pub fn classify_redis(bytes: &[u8]) -> RedisReply {
    let text = String::from_utf8_lossy(bytes);
    let line = text.lines().next().unwrap_or("").trim_end().to_owned();
    if line == "+PONG" {
        RedisReply::Pong
    } else if line.starts_with("-NOAUTH") {
        RedisReply::NoAuth(line)
    } else if line.starts_with("-DENIED") {
        RedisReply::Denied(line)
    } else if line.starts_with('-') {
        RedisReply::Error(line)
    } else {
        RedisReply::Other(line)
    }
}

/// What a PostgreSQL server said to `SSLRequest`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PostgresReply {
    /// `S`: TLS is offered.
    Offered,
    /// `N`: TLS is not offered.
    NotOffered,
    /// Anything else: not PostgreSQL.
    Other,
}

/// Reads the one-byte answer to `SSLRequest`.
pub fn classify_postgres(bytes: &[u8]) -> PostgresReply {
    match bytes.first() {
        Some(b'S') => PostgresReply::Offered,
        Some(b'N') => PostgresReply::NotOffered,
        _ => PostgresReply::Other,
    }
}

/// The outcome of a greeting: its checks and its record.
struct Greeting {
    checks: Vec<Check>,
    record: Json,
    /// A short note for the summary when everything held (`+PONG`).
    note: String,
}

impl Tcp {
    async fn greet(
        &self,
        exchange: &Exchange,
        mut stream: TcpStream,
        host: &str,
        tls: Option<Arc<rustls::ClientConfig>>,
        redactor: &Redactor,
    ) -> Greeting {
        match exchange {
            Exchange::Hello(Hello::Redis) => {
                let (sent, reply) =
                    match send_and_read(&mut stream, REDIS_PING, |b| b.contains(&b'\n'), redactor)
                        .await
                    {
                        Ok(reply) => (true, reply),
                        Err(reply) => (false, reply),
                    };
                self.redis_checks(sent, &reply)
            }
            Exchange::Hello(Hello::Postgres) => {
                let reply = match send_and_read(
                    &mut stream,
                    &POSTGRES_SSL_REQUEST,
                    |b| !b.is_empty(),
                    redactor,
                )
                .await
                {
                    Ok(reply) | Err(reply) => reply,
                };
                self.postgres_checks(&reply)
            }
            Exchange::Hello(Hello::Banner) => {
                let reply = read_reply(&mut stream, self.reply_done(), redactor).await;
                let mut record = reply.record();
                record["hello"] = json!("banner");
                let (checks, note) = self.reply_checks(&reply);
                Greeting {
                    checks,
                    record,
                    note,
                }
            }
            Exchange::Send(text) => {
                let reply =
                    match send_and_read(&mut stream, text.as_bytes(), self.reply_done(), redactor)
                        .await
                    {
                        Ok(reply) | Err(reply) => reply,
                    };
                let mut record = reply.record();
                // `AUTH password` is sent as written: masked before escaping.
                let sent = text.as_bytes();
                record["sent"] = json!(printable_masked(sent, &redactor.spans(sent), EXCERPT));
                record["sent_bytes"] = json!(text.len());
                let (checks, note) = self.reply_checks(&reply);
                Greeting {
                    checks,
                    record,
                    note,
                }
            }
            Exchange::Hello(Hello::Tls) => tls_greeting(stream, host, tls, &self.tls).await,
        }
    }

    /// When a banner or reply is complete: the pattern matches, or (without
    /// one) a line has ended.
    fn reply_done(&self) -> impl Fn(&[u8]) -> bool + use<> {
        let pattern = self.expect.reply.as_ref().map(|p| p.0.clone());
        move |bytes: &[u8]| match &pattern {
            Some(re) => re.is_match(&String::from_utf8_lossy(bytes)),
            None => bytes.contains(&b'\n'),
        }
    }

    fn reply_checks(&self, reply: &Reply) -> (Vec<Check>, String) {
        let shown = reply.shown();
        let check = match &self.expect.reply {
            Some(Pattern(re)) => Check::new(
                "reply",
                format!("matches /{}/", re.as_str()),
                shown.clone(),
                re.is_match(&reply.text()),
            ),
            None => Check::new(
                "reply",
                "some bytes",
                shown.clone(),
                !reply.bytes.is_empty(),
            ),
        };
        (vec![check], format!("reply {shown}"))
    }

    fn redis_checks(&self, sent: bool, reply: &Reply) -> Greeting {
        let answer = classify_redis(&reply.bytes);
        let shown = if reply.bytes.is_empty() {
            reply.shown()
        } else {
            match &answer {
                RedisReply::Pong => "+PONG".to_owned(),
                RedisReply::NoAuth(l)
                | RedisReply::Denied(l)
                | RedisReply::Error(l)
                | RedisReply::Other(l) => format!("{:?}", expect::excerpt(l, 80)),
            }
        };
        let is_redis = matches!(answer, RedisReply::Pong | RedisReply::NoAuth(_)) && sent;
        let verdict = match &answer {
            RedisReply::Pong => "pong",
            RedisReply::NoAuth(_) => "password required",
            RedisReply::Denied(_) => "protected mode",
            RedisReply::Error(_) => "error",
            RedisReply::Other(_) => "not redis",
        };
        let mut checks = vec![Check::new(
            "redis",
            "+PONG or -NOAUTH (a Redis server)",
            shown.clone(),
            is_redis,
        )];
        if let Some(required) = self.expect.auth_required {
            let actual = match &answer {
                RedisReply::Pong => format!("not required (PING answered {shown})"),
                RedisReply::NoAuth(_) => format!("required ({shown})"),
                _ => format!("unknown ({shown})"),
            };
            let ok = match answer {
                RedisReply::Pong => !required,
                RedisReply::NoAuth(_) => required,
                _ => false,
            };
            checks.push(Check::new(
                "password",
                if required { "required" } else { "not required" },
                actual,
                ok,
            ));
        }
        let mut record = reply.record();
        record["hello"] = json!("redis");
        record["sent"] = json!(printable(REDIS_PING, EXCERPT));
        record["verdict"] = json!(verdict);
        let note = match answer {
            RedisReply::NoAuth(_) => format!("redis PING → {shown}: password required"),
            _ => format!("redis PING → {shown}"),
        };
        Greeting {
            checks,
            record,
            note,
        }
    }

    fn postgres_checks(&self, reply: &Reply) -> Greeting {
        let answer = classify_postgres(&reply.bytes);
        let shown = match answer {
            PostgresReply::Offered => "S: TLS offered".to_owned(),
            PostgresReply::NotOffered => "N: TLS not offered".to_owned(),
            PostgresReply::Other => reply.shown(),
        };
        let mut checks = vec![Check::new(
            "postgres",
            "S or N (a PostgreSQL server)",
            shown.clone(),
            answer != PostgresReply::Other,
        )];
        if let Some(wanted) = self.expect.tls_offered {
            let offered = match answer {
                PostgresReply::Offered => Some(true),
                PostgresReply::NotOffered => Some(false),
                PostgresReply::Other => None,
            };
            checks.push(Check::new(
                "tls offered",
                if wanted { "yes" } else { "no" },
                match offered {
                    Some(true) => "yes (S)".to_owned(),
                    Some(false) => "no (N)".to_owned(),
                    None => format!("unknown ({shown})"),
                },
                offered == Some(wanted),
            ));
        }
        let mut record = reply.record();
        record["hello"] = json!("postgres");
        record["sent"] = json!(printable(&POSTGRES_SSL_REQUEST, EXCERPT));
        record["tls_offered"] = match answer {
            PostgresReply::Offered => json!(true),
            PostgresReply::NotOffered => json!(false),
            PostgresReply::Other => Json::Null,
        };
        Greeting {
            checks,
            record,
            note: format!("postgres SSLRequest → {shown}"),
        }
    }
}

/// Writes `bytes`, then reads the reply. `Err` carries a reply whose
/// `error` says why writing failed.
async fn send_and_read(
    stream: &mut TcpStream,
    bytes: &[u8],
    done: impl Fn(&[u8]) -> bool,
    redactor: &Redactor,
) -> Result<Reply, Reply> {
    if let Err(e) = stream.write_all(bytes).await {
        return Err(Reply {
            error: Some(format!("sending: {}", fetch::error_chain(&e))),
            ..Reply::default()
        });
    }
    Ok(read_reply(stream, done, redactor).await)
}

async fn tls_greeting(
    stream: TcpStream,
    host: &str,
    config: Option<Arc<rustls::ClientConfig>>,
    settings: &TlsSettings,
) -> Greeting {
    let mut record = json!({"hello": "tls"});
    if settings.insecure {
        record["insecure"] = json!(true);
        record["note"] = json!("certificate verification was skipped");
    }
    let failed = |why: String, mut record: Json| {
        record["error"] = json!(why);
        Greeting {
            checks: vec![Check::new("tls handshake", "completed", why.clone(), false)],
            record,
            note: String::new(),
        }
    };
    let Some(config) = config else {
        return failed("no TLS configuration".to_owned(), record);
    };
    let name = match ServerName::try_from(host.to_owned()) {
        Ok(name) => name,
        Err(e) => return failed(format!("invalid server name `{host}`: {e}"), record),
    };
    let started = Instant::now();
    match tokio_rustls::TlsConnector::from(config)
        .connect(name, stream)
        .await
    {
        Ok(tls) => {
            let (_, connection) = tls.get_ref();
            let version = connection
                .protocol_version()
                .and_then(|v| v.as_str())
                .unwrap_or("unknown")
                .to_owned();
            let cipher = connection
                .negotiated_cipher_suite()
                .and_then(|c| c.suite().as_str())
                .unwrap_or("unknown")
                .to_owned();
            record["version"] = json!(version);
            record["cipher"] = json!(cipher);
            record["certificates"] = json!(connection.peer_certificates().map_or(0, <[_]>::len));
            record["handshake_ms"] = json!(fetch::millis(started.elapsed()));
            let shown = format!("{version}, {cipher}");
            Greeting {
                checks: vec![Check::new(
                    "tls handshake",
                    "completed",
                    shown.clone(),
                    true,
                )],
                record,
                note: format!("TLS handshake: {shown}"),
            }
        }
        Err(e) => failed(fetch::error_chain(&e), record),
    }
}

impl Probe for Tcp {
    async fn run(&self, cx: &Context) -> Result<Findings, ProbeError> {
        let (host, ports) = self.endpoints(cx)?;
        let tls = self.tls_config(cx)?;
        let open_wanted = self.wants_open();
        cx.progress().phase(format!("connecting to {host}"));
        let reaches = futures_util::future::join_all(
            ports
                .iter()
                .map(|port| connect(&host, *port, Some(self.connect_timeout))),
        )
        .await;
        let mut record = json!({
            "host": host,
            "expect": if open_wanted { "open" } else { "closed" },
            "connect_timeout_ms": fetch::millis(self.connect_timeout),
            "connections": ports.iter().zip(&reaches).map(|(p, r)| r.record(&host, *p)).collect::<Vec<_>>(),
        });
        let mut checks = Vec::new();
        let mut states = Vec::new();
        for (port, reach) in ports.iter().zip(&reaches) {
            let passed = if open_wanted {
                matches!(reach, Reach::Open { .. })
            } else {
                reach.is_closed()
            };
            let actual = if !open_wanted && reach.is_closed() {
                format!("closed ({})", reach.describe())
            } else {
                reach.describe()
            };
            let name = if ports.len() == 1 {
                "connect".to_owned()
            } else {
                format!("port {port}")
            };
            checks.push(Check::new(
                name,
                if open_wanted { "open" } else { "closed" },
                actual.clone(),
                passed,
            ));
            states.push((*port, actual, passed));
        }
        let address = match ports.as_slice() {
            [one] => join_host_port(&host, *one),
            many => format!("{host} ports {}", join_ports(many)),
        };
        record["address"] = json!(address);
        let mut line = format!("tcp {address} → ");
        match states.as_slice() {
            [(_, actual, passed)] => {
                line.push_str(actual);
                if !passed && !open_wanted {
                    line.push_str(" (expected closed)");
                }
            }
            many if many.iter().all(|(_, _, passed)| *passed) => {
                line.push_str(if open_wanted {
                    "all open"
                } else {
                    "all closed"
                });
            }
            many => {
                let failed: Vec<String> = many
                    .iter()
                    .filter(|(_, _, passed)| !passed)
                    .map(|(port, actual, _)| format!("{port} {actual}"))
                    .collect();
                line.push_str(&failed.join(", "));
                if !open_wanted {
                    line.push_str(" (expected closed)");
                }
            }
        }
        if let (Some(exchange), [port]) = (&self.exchange, ports.as_slice())
            && let Some(Reach::Open { stream, after, .. }) = reaches.into_iter().next()
        {
            let progress = cx.progress();
            progress.step(format!("connected in {}", fetch::format_latency(after)));
            progress.phase(match exchange {
                Exchange::Hello(Hello::Redis) => "waiting for the reply to PING",
                Exchange::Hello(Hello::Postgres) => "waiting for the reply to SSLRequest",
                Exchange::Hello(Hello::Tls) => "waiting for the TLS ServerHello",
                Exchange::Hello(Hello::Banner) => "waiting for the banner",
                Exchange::Send(_) => "waiting for the reply",
            });
            let greeting = self.greet(exchange, stream, &host, tls, &cx.redactor).await;
            let failed: Vec<&Check> = greeting.checks.iter().filter(|c| !c.passed).collect();
            if failed.is_empty() {
                if !greeting.note.is_empty() {
                    line.push_str(&format!("; {}", greeting.note));
                }
            } else {
                super::append_failures(&mut line, &failed, 2, false);
            }
            record["greeting"] = greeting.record;
            record["greeting"]["port"] = json!(port);
            checks.extend(greeting.checks);
        }
        Ok(Findings {
            checks,
            summary: line,
            evidence: record,
        })
    }
}

impl Tcp {
    /// `[""]` when the host or port comes from the target (`""` is the target
    /// itself): loading checks a target is set.
    pub fn target_paths(&self) -> Vec<&str> {
        if self.host.is_none() || self.ports.is_empty() {
            vec![""]
        } else {
            Vec::new()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::net::TcpListener;

    fn tcp(yaml: &str) -> Result<Tcp, String> {
        crate::spec::de::from_yaml(yaml)
    }

    fn cx(target: &str) -> Context {
        Context {
            target: Some(url::Url::parse(target).expect("url")),
            tls: TlsSettings::default(),
            body_limit: super::super::DEFAULT_BODY_LIMIT,
            base_dir: PathBuf::from("."),
            root: None,
            clients: Arc::new(fetch::Clients::default()),
            timeout: crate::probe::DEFAULT_TIMEOUT,
            progress: Default::default(),
            redactor: Arc::default(),
            authorization: None,
            recorder: None,
        }
    }

    #[test]
    fn parses_every_address_form() {
        assert_eq!(
            parse_address("db:5432"),
            Ok((Some("db".to_owned()), Some(5432)))
        );
        assert_eq!(parse_address(":6379"), Ok((None, Some(6379))));
        assert_eq!(parse_address("db"), Ok((Some("db".to_owned()), None)));
        assert_eq!(
            parse_address("[::1]:22"),
            Ok((Some("::1".to_owned()), Some(22)))
        );
        assert!(parse_address("db:0").is_err());
        assert!(parse_address("db:http").is_err());
        assert!(
            parse_address("::1:22")
                .expect_err("bare v6")
                .contains("brackets")
        );
        assert!(
            parse_address("redis://db:6379")
                .expect_err("url")
                .contains("not a URL")
        );
    }

    #[test]
    fn rejects_contradictory_settings() {
        let err = |yaml: &str| tcp(yaml).expect_err(yaml);
        assert!(err("address: db\n").contains("has no port"));
        assert!(err("address: db:1\nports: [2]\n").contains("one place"));
        assert!(err("hello: redis\nsend: x\n").contains("not both"));
        assert!(err("hello: redis\nexpect: {open: false}\n").contains("open: false"));
        assert!(err("ports: [1, 2]\nhello: redis\n").contains("one port"));
        assert!(err("expect: {auth_required: true}\n").contains("hello: redis"));
        assert!(err("hello: redis\nexpect: {tls_offered: true}\n").contains("hello: postgres"));
        assert!(err("hello: redis\nexpect: {reply: x}\n").contains("banner"));
        assert!(err("hello: redis\ninsecure: true\n").contains("hello: tls"));
        assert!(err("connect_timeout: 0s\n").contains("more than zero"));
        assert!(err("hello: smtp\n").contains("unknown variant"));
    }

    #[test]
    fn describes_what_it_checks() {
        let d = |yaml: &str| tcp(yaml).expect(yaml).describe();
        assert_eq!(
            d("address: ':6379'\nhello: redis\n"),
            "tcp :6379 hello redis"
        );
        assert_eq!(d("{}"), "tcp target");
        assert_eq!(
            d("ports: [22, 9229]\nexpect: {open: false}\n"),
            "tcp target ports 22, 9229 must be closed"
        );
        assert_eq!(
            d("address: db\nports: [5432]\nsend: x\n"),
            "tcp db ports 5432 send"
        );
    }

    #[test]
    fn classifies_redis_replies() {
        assert_eq!(classify_redis(b"+PONG\r\n"), RedisReply::Pong);
        assert!(matches!(
            classify_redis(b"-NOAUTH Authentication required.\r\n"),
            RedisReply::NoAuth(_)
        ));
        assert!(matches!(
            classify_redis(b"-DENIED Redis is running in protected mode\r\n"),
            RedisReply::Denied(_)
        ));
        assert!(matches!(
            classify_redis(b"HTTP/1.1 400 Bad Request\r\n"),
            RedisReply::Other(_)
        ));
    }

    #[test]
    fn classifies_postgres_answers() {
        assert_eq!(classify_postgres(b"S"), PostgresReply::Offered);
        assert_eq!(classify_postgres(b"N"), PostgresReply::NotOffered);
        assert_eq!(classify_postgres(b"HTTP/1.1"), PostgresReply::Other);
        assert_eq!(classify_postgres(b""), PostgresReply::Other);
    }

    #[test]
    fn printable_escapes_control_bytes_and_cuts() {
        assert_eq!(printable(b"+PONG\r\n", 80), "+PONG\\r\\n");
        assert_eq!(
            printable(&[0, 0, 0, 8, 0x04], 80),
            "\\x00\\x00\\x00\\x08\\x04"
        );
        assert_eq!(printable(b"abcdef", 3), "abc…");
    }

    #[tokio::test]
    async fn a_refused_port_is_told_from_an_open_one() {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let open = listener.local_addr().expect("addr").port();
        let closed = {
            let l = TcpListener::bind("127.0.0.1:0").await.expect("bind");
            l.local_addr().expect("addr").port()
        };
        let reach = connect("127.0.0.1", open, Some(DEFAULT_CONNECT_TIMEOUT)).await;
        assert_eq!(reach.state(), "open");
        let reach = connect("127.0.0.1", closed, Some(DEFAULT_CONNECT_TIMEOUT)).await;
        assert_eq!(reach.state(), "refused");
        assert!(reach.is_closed());
        assert_eq!(reach.describe(), "connection refused");
    }

    #[tokio::test]
    async fn a_port_list_gets_one_check_per_port() {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let open = listener.local_addr().expect("addr").port();
        let closed = {
            let l = TcpListener::bind("127.0.0.1:0").await.expect("bind");
            l.local_addr().expect("addr").port()
        };
        let probe = tcp(&format!(
            "ports: [{open}, {closed}]\nexpect: {{open: false}}\n"
        ))
        .expect("valid");
        let findings = probe.run(&cx("http://127.0.0.1:1")).await.expect("runs");
        assert_eq!(findings.checks.len(), 2);
        assert!(!findings.checks[0].passed, "{findings:?}");
        assert!(findings.checks[1].passed, "{findings:?}");
        assert!(
            findings.summary.contains(&format!("{open} open")),
            "{}",
            findings.summary
        );
        assert!(findings.summary.ends_with("(expected closed)"));
    }

    #[tokio::test]
    async fn a_banner_is_read_until_the_pattern_matches() {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("addr").port();
        tokio::spawn(async move {
            if let Ok((mut s, _)) = listener.accept().await {
                let _ = s.write_all(b"SSH-2.0-").await;
                tokio::time::sleep(Duration::from_millis(20)).await;
                let _ = s.write_all(b"OpenSSH_9.2\r\n").await;
                tokio::time::sleep(Duration::from_secs(5)).await;
            }
        });
        let probe = tcp(&format!(
            "address: 127.0.0.1:{port}\nhello: banner\nexpect: {{reply: '^SSH-2\\.0-OpenSSH'}}\n"
        ))
        .expect("valid");
        let findings = probe.run(&cx("http://127.0.0.1:1")).await.expect("runs");
        assert!(findings.passed(), "{findings:?}");
        assert_eq!(
            findings.evidence["greeting"]["received"],
            "SSH-2.0-OpenSSH_9.2\\r\\n"
        );
    }

    #[tokio::test]
    async fn a_reply_echoing_a_secret_is_masked_before_it_is_escaped() {
        const SECRET: &str = "pässwörd\\Zk9/q+Tr0ub4dor&3<x>w==";
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("addr").port();
        tokio::spawn(async move {
            if let Ok((mut s, _)) = listener.accept().await {
                let mut buf = [0u8; 256];
                let _ = s.read(&mut buf).await;
                let reply = format!("-ERR wrong password '{SECRET}'\x01\r\n");
                let _ = s.write_all(reply.as_bytes()).await;
            }
        });
        let probe = tcp(&format!(
            "address: 127.0.0.1:{port}\nsend: \"AUTH {}\\r\\n\"\nexpect: {{reply: '^\\+OK'}}\n",
            SECRET.replace('\\', "\\\\")
        ))
        .expect("valid");
        let mut secrets = crate::redact::Secrets::default();
        secrets.add(SECRET);
        let cx = Context {
            redactor: Arc::new(crate::redact::Redactor::new(&secrets)),
            ..cx("http://127.0.0.1:1")
        };
        let findings = probe.run(&cx).await.expect("runs");
        assert!(!findings.passed());
        let shown = format!("{findings:?}");
        for piece in ["Tr0ub4dor", "p\\xc3\\xa4ss", "pässw"] {
            assert!(!shown.contains(piece), "{piece} in {shown}");
        }
        assert_eq!(
            findings.evidence["greeting"]["received"],
            "-ERR wrong password '«redacted»'\\x01\\r\\n"
        );
        assert_eq!(
            findings.evidence["greeting"]["sent"],
            "AUTH «redacted»\\r\\n"
        );
    }
}
