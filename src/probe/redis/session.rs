//! One connection to a Redis server: connect (and TLS), send a command, read
//! its reply within the reply cap, and log each exchange for evidence. After
//! a reply that breaks the protocol the connection is out of step: later
//! commands are not sent, and say why.

use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::ServerName;
use serde_json::{Value as Json, json};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::time::Instant;

use super::resp::{self, Value};
use crate::probe::Context;
use crate::probe::fetch;
use crate::probe::progress::Progress;
use crate::probe::tcp::{self, Reach};
use crate::redact::Redactor;

/// The most characters of server text kept in a check or a log line.
const EXCERPT: usize = 200;

/// A byte stream, plain or TLS.
trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// Why the server refused a command, by its error's first word.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// `ERR unknown command`: renamed or removed (`rename-command CONFIG ""`).
    Disabled,
    /// `NOPERM`: the ACL user may not run it.
    NoPermission,
    /// `NOAUTH`: a password is required.
    NoAuth,
}

/// An open connection and the record of what went over it.
pub struct Session {
    reader: BufReader<Box<dyn Io>>,
    /// The most bytes of one reply.
    reply_limit: u64,
    progress: Progress,
    redactor: Arc<Redactor>,
    /// Why the connection is no longer usable.
    broken: Option<String>,
    /// How long connecting (and the TLS handshake) took.
    pub connected_after: Duration,
    /// Each command as shown (never a password), its reply in short, and its time.
    pub log: Vec<Json>,
}

impl Session {
    /// Connects to `host:port`, with TLS when `tls` is given. `Err` says
    /// what happened, as people read it (`connection refused`).
    pub async fn open(
        cx: &Context,
        host: &str,
        port: u16,
        tls: Option<Arc<rustls::ClientConfig>>,
    ) -> Result<Session, String> {
        let progress = cx.progress().clone();
        progress.phase(format!("connecting to {}", tcp::join_host_port(host, port)));
        let started = Instant::now();
        let stream = match tcp::connect(host, port, Some(tcp::DEFAULT_CONNECT_TIMEOUT)).await {
            Reach::Open { stream, .. } => stream,
            other => return Err(other.describe()),
        };
        progress.step(format!(
            "connected in {}",
            fetch::format_latency(started.elapsed())
        ));
        let io: Box<dyn Io> = match tls {
            Some(config) => {
                progress.phase("waiting for the TLS handshake");
                let name = ServerName::try_from(host.to_owned())
                    .map_err(|e| format!("invalid server name `{host}`: {e}"))?;
                let stream = tokio_rustls::TlsConnector::from(config)
                    .connect(name, stream)
                    .await
                    .map_err(|e| format!("TLS handshake failed: {}", fetch::error_chain(&e)))?;
                progress.step("TLS established");
                Box::new(stream)
            }
            None => Box::new(stream),
        };
        Ok(Session {
            reader: BufReader::new(io),
            reply_limit: cx.body_limit.max(1024),
            progress,
            redactor: Arc::clone(&cx.redactor),
            broken: None,
            connected_after: started.elapsed(),
            log: Vec::new(),
        })
    }

    /// Sends a command and reads its reply. `shown` is how the command
    /// appears in evidence and progress (`AUTH «password»`): the raw
    /// arguments never do. `Err` when no reply could be read.
    pub async fn command(&mut self, args: &[&[u8]], shown: &str) -> Result<Value, String> {
        if let Some(why) = &self.broken {
            return Err(format!("not run: {why}"));
        }
        self.progress
            .phase(format!("waiting for the reply to {shown}"));
        let started = Instant::now();
        let sent = async {
            let writer = self.reader.get_mut();
            writer.write_all(&resp::encode(args)).await?;
            writer.flush().await
        }
        .await;
        let reply = match sent {
            Ok(()) => resp::read(&mut self.reader, self.reply_limit)
                .await
                .map_err(|e| e.to_string()),
            Err(e) => Err(format!("sending: {}", fetch::error_chain(&e))),
        };
        let mut entry = json!({
            "sent": shown,
            "ms": fetch::millis(started.elapsed()),
        });
        match &reply {
            Ok(value) => {
                entry["reply"] = json!(self.describe(value));
                self.progress.step(format!("{shown} answered"));
            }
            Err(e) => {
                entry["error"] = json!(e);
                self.broken = Some(format!("the connection broke at {shown}: {e}"));
            }
        }
        self.log.push(entry);
        reply
    }

    /// A reply in short, for a log line or a check: `+OK`, `-ERR …`, `:5`,
    /// `a bulk string of 4521 bytes`, `an array of 2`.
    pub fn describe(&self, value: &Value) -> String {
        match value {
            Value::Simple(s) => format!("+{}", self.shown(s)),
            Value::Error(e) => format!("-{}", self.shown(e)),
            Value::Integer(n) => format!(":{n}"),
            Value::Bulk(Some(b)) if b.len() <= 64 => {
                format!("${:?}", self.shown_bytes(b, 64))
            }
            Value::Bulk(Some(b)) => format!("a bulk string of {} bytes", b.len()),
            Value::Array(Some(items)) => format!("an array of {}", items.len()),
            other => other.shape().to_owned(),
        }
    }

    /// Server text made printable, secrets masked before escaping.
    pub fn shown(&self, text: &str) -> String {
        self.shown_bytes(text.as_bytes(), EXCERPT)
    }

    /// Server bytes made printable, at most `max` characters.
    pub fn shown_bytes(&self, bytes: &[u8], max: usize) -> String {
        tcp::printable_masked(bytes, &self.redactor.spans(bytes), max)
    }

    /// Why the server refused a command, when it did in a known way.
    pub fn refusal(&self, reply: &Result<Value, String>) -> Option<Refusal> {
        let Ok(Value::Error(e)) = reply else {
            return None;
        };
        if e.starts_with("ERR unknown command") {
            Some(Refusal::Disabled)
        } else if e.starts_with("NOPERM") {
            Some(Refusal::NoPermission)
        } else if e.starts_with("NOAUTH") {
            Some(Refusal::NoAuth)
        } else {
            None
        }
    }
}
