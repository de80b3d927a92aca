//! `websocket`: an HTTP upgrade to WebSocket (`ws://`, `wss://` or a path on
//! the target) — the `101`, the negotiated subprotocol, an optional message
//! sent and a reply matched (echo), and a clean close handshake.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use reqwest::header::{HeaderName, HeaderValue};
use rustls::pki_types::ServerName;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Value as Json, json};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, WebSocketConfig};
use tokio_tungstenite::tungstenite::{self, Message};
use url::Url;

use super::fetch;
use super::tcp::{self, Reach};

mod conversation;

use super::{Check, Context, Findings, Probe, ProbeError};
use crate::expect::{self, Matcher};
pub use conversation::{Skip, Step};

/// How long to wait for the peer's close frame after sending ours.
const CLOSE_WAIT: Duration = Duration::from_secs(2);

/// Most messages read while waiting for the peer's close frame.
const CLOSE_MAX_MESSAGES: usize = 1000;

/// The shortest wait for the peer's close frame, even past the timeout.
const CLOSE_GRACE: Duration = Duration::from_millis(250);

/// Characters of a message kept in evidence.
const EXCERPT: usize = 512;

super::with_tls! {
    /// Settings of a `websocket` probe, as written.
    #[derive(Debug, Clone, Deserialize, JsonSchema)]
    #[serde(deny_unknown_fields)]
    pub struct WebsocketSettings {
        /// `ws://…`, `wss://…`, or a path on the target (`/ws`; an `https`
        /// target means `wss`).
        url: String,
        /// Headers of the upgrade request (`origin`, `authorization`, …).
        #[serde(default)]
        headers: BTreeMap<String, String>,
        /// Subprotocols offered (`Sec-WebSocket-Protocol`), in order of preference.
        #[serde(default)]
        subprotocols: Vec<String>,
        /// A text message to send once connected.
        #[serde(default)]
        send: Option<String>,
        /// Messages sent and expected, in order (instead of `send` and
        /// `expect.receive`).
        #[serde(default)]
        conversation: Option<Vec<Step>>,
        /// What must hold.
        #[serde(default)]
        expect: WebsocketExpect,
    }
}

/// Settings of a `websocket` probe.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(try_from = "WebsocketSettings")]
#[schemars(with = "WebsocketSettings")]
pub struct Websocket {
    /// `ws://…`, `wss://…`, or a path on the target.
    pub url: String,
    /// Headers of the upgrade request.
    pub headers: BTreeMap<String, String>,
    /// Subprotocols offered, in order of preference.
    pub subprotocols: Vec<String>,
    /// What is sent and expected after the upgrade, in order: `send` and
    /// `expect.receive`, or the `conversation`.
    pub steps: Vec<Step>,
    /// Whether the steps are a `conversation` (their checks are numbered).
    pub conversation: bool,
    /// What must hold.
    pub expect: WebsocketExpect,
    tls: super::TlsSettings,
}

impl TryFrom<WebsocketSettings> for Websocket {
    type Error = String;

    fn try_from(s: WebsocketSettings) -> Result<Websocket, String> {
        let tls = s.tls();
        let (steps, conversation) = match s.conversation {
            Some(_) if s.send.is_some() || s.expect.receive.is_some() => {
                return Err(
                    "give `conversation:` or `send:`/`expect.receive`, not both: put the message in the conversation"
                        .to_owned(),
                );
            }
            Some(steps) if steps.is_empty() => {
                return Err("`conversation` is empty: list at least one step".to_owned());
            }
            Some(steps) => (steps, true),
            None => {
                let mut steps = Vec::new();
                if let Some(text) = &s.send {
                    steps.push(Step::Send(text.clone()));
                }
                // A message sent is answered: without a matcher, any message.
                if s.send.is_some() || s.expect.receive.is_some() {
                    steps.push(Step::Receive {
                        matcher: s.expect.receive.clone(),
                        skip: Skip::AtMost(0),
                        within: None,
                    });
                }
                (steps, false)
            }
        };
        Ok(Websocket {
            url: s.url,
            headers: s.headers,
            subprotocols: s.subprotocols,
            steps,
            conversation,
            expect: s.expect,
            tls,
        })
    }
}

/// Expectations of a `websocket` probe.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WebsocketExpect {
    /// The status of the upgrade response (default 101); e.g. `[401, 403]`
    /// to check that an upgrade without credentials is refused.
    #[serde(default)]
    pub status: Option<Matcher>,
    /// The subprotocol the server chose (`absent` for none).
    #[serde(default)]
    pub subprotocol: Option<Matcher>,
    /// The first message received (after `send`, if given), within the timeout.
    #[serde(default)]
    pub receive: Option<Matcher>,
    /// A clean close handshake (default true; `false` records it without checking).
    #[serde(default)]
    pub close: Option<bool>,
}

impl Websocket {
    /// `websocket /ws`.
    pub fn describe(&self) -> String {
        format!("websocket {}", self.url)
    }

    /// The TLS trust and client identity of this probe.
    fn tls(&self) -> super::TlsSettings {
        self.tls.clone()
    }

    /// The `ws://` or `wss://` URL: absolute, or a path on the target.
    fn resolve(&self, cx: &Context) -> Result<Url, ProbeError> {
        let mut url = cx.resolve(&self.url)?;
        let scheme = match url.scheme() {
            "ws" | "http" => "ws",
            "wss" | "https" => "wss",
            other => {
                return Err(ProbeError::Setup(format!(
                    "`{}` is not a WebSocket URL (scheme `{other}`): use `ws://`, `wss://` or a path",
                    self.url
                )));
            }
        };
        if url.scheme() != scheme && url.set_scheme(scheme).is_err() {
            return Err(ProbeError::Setup(format!(
                "cannot use `{}` as a WebSocket URL",
                self.url
            )));
        }
        Ok(url)
    }

    fn request(&self, url: &Url) -> Result<tungstenite::handshake::client::Request, ProbeError> {
        let mut request = url
            .as_str()
            .into_client_request()
            .map_err(|e| ProbeError::Setup(format!("invalid WebSocket URL `{url}`: {e}")))?;
        let headers = request.headers_mut();
        for (name, value) in &self.headers {
            let header = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| ProbeError::Setup(format!("invalid header name `{name}`")))?;
            let value = HeaderValue::from_str(value)
                .map_err(|_| ProbeError::Setup(format!("invalid value for header `{name}`")))?;
            headers.insert(header, value);
        }
        if !self.subprotocols.is_empty() {
            let offered = HeaderValue::from_str(&self.subprotocols.join(", "))
                .map_err(|_| ProbeError::Setup("invalid `subprotocols`".to_owned()))?;
            headers.insert("sec-websocket-protocol", offered);
        }
        Ok(request)
    }

    fn request_record(&self, url: &Url, cx: &Context) -> Json {
        let mut record = json!({
            "request": {
                "url": url.as_str(),
                "headers": self.headers,
                "subprotocols": self.subprotocols,
            },
        });
        if self.tls().or(&cx.tls).insecure {
            record["tls"] =
                json!({"insecure": true, "note": "certificate verification was skipped"});
        }
        record
    }

    /// The expected upgrade status, as people read it.
    fn expected_status(&self) -> String {
        self.expect
            .status
            .as_ref()
            .map_or("101".to_owned(), Matcher::to_string)
    }

    fn is_expected_status(&self, status: u16) -> bool {
        match &self.expect.status {
            Some(m) => m.check(Some(&Json::from(status))).is_ok(),
            None => status == 101,
        }
    }

    /// Findings for an upgrade that got no HTTP answer at all.
    fn no_answer(&self, reason: String, mut record: Json, started: Instant) -> Findings {
        let expected = self.expected_status();
        record["error"] = json!(reason);
        record["timings"] = json!({"total_ms": fetch::millis(started.elapsed())});
        Findings {
            checks: vec![Check::new(
                "upgrade",
                format!("status {expected}"),
                reason.clone(),
                false,
            )],
            summary: format!("{} → {reason}", self.describe()),
            evidence: record,
        }
    }

    /// The upgrade and everything after it, on a connected stream.
    async fn session<S>(
        &self,
        stream: S,
        request: tungstenite::handshake::client::Request,
        cx: &Context,
        mut record: Json,
        started: Instant,
    ) -> Findings
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        let limit = usize::try_from(cx.body_limit).unwrap_or(usize::MAX);
        let config = WebSocketConfig::default()
            .max_message_size(Some(limit))
            .max_frame_size(Some(limit));
        let (mut ws, response) = match tokio_tungstenite::client_async_with_config(
            request,
            stream,
            Some(config),
        )
        .await
        {
            Ok(done) => done,
            Err(tungstenite::Error::Http(response)) => {
                // Refused upgrade: the answer is the evidence (and may be what was expected).
                let status = response.status().as_u16();
                let body = response
                    .body()
                    .as_deref()
                    .map(String::from_utf8_lossy)
                    .unwrap_or_default();
                // Masked before the excerpt cuts a secret in two.
                let body = cx.redactor.text(&body);
                record["response"] = json!({
                    "status": status,
                    "headers": fetch::headers_json(response.headers()),
                    "body_excerpt": expect::excerpt(&body, EXCERPT),
                });
                record["timings"] = json!({"total_ms": fetch::millis(started.elapsed())});
                let check = Check::new(
                    "status",
                    self.expected_status(),
                    status.to_string(),
                    self.is_expected_status(status),
                );
                let summary = summarize(
                    &self.describe(),
                    status,
                    started.elapsed(),
                    std::slice::from_ref(&check),
                    "",
                );
                return Findings {
                    checks: vec![check],
                    summary,
                    evidence: record,
                };
            }
            Err(e) => {
                return self.no_answer(
                    format!("upgrade failed: {}", describe_error(&e)),
                    record,
                    started,
                );
            }
        };
        let upgraded_after = started.elapsed();
        let status = response.status().as_u16();
        let chosen = response
            .headers()
            .get("sec-websocket-protocol")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        record["response"] = json!({
            "status": status,
            "headers": fetch::headers_json(response.headers()),
        });
        record["subprotocol"] = json!(chosen);
        let mut checks = vec![Check::new(
            "status",
            self.expected_status(),
            status.to_string(),
            self.is_expected_status(status),
        )];
        if let Some(m) = &self.expect.subprotocol {
            checks.push(Check::new(
                "subprotocol",
                m.to_string(),
                chosen
                    .as_deref()
                    .map_or("none".to_owned(), |p| format!("{p:?}")),
                m.check_str(chosen.as_deref()).is_ok(),
            ));
        }

        let mut talk = Talk::default();
        let receives = self
            .steps
            .iter()
            .filter(|s| matches!(s, Step::Receive { .. }))
            .count();
        let mut number = 0;
        for step in &self.steps {
            if let Step::Receive { .. } = step {
                number += 1;
            }
            let name = if self.conversation && receives > 1 {
                format!("receive #{number}")
            } else {
                "receive".to_owned()
            };
            if talk.broken.is_some() || talk.peer_close.is_some() || talk.failed {
                // An earlier step failed: what was not reached is said so.
                if let Step::Receive { matcher, .. } = step {
                    checks.push(Check::new(
                        name,
                        expected_message(matcher.as_ref()),
                        "not reached (an earlier step failed)",
                        false,
                    ));
                }
                continue;
            }
            match step {
                Step::Send(text) => match ws.send(Message::text(text.clone())).await {
                    Ok(()) => {
                        talk.messages.push(message_record("sent", "text", text));
                        talk.notes
                            .push(format!("sent {:?}", expect::excerpt(text, 40)));
                    }
                    Err(e) => {
                        let why = describe_error(&e);
                        checks.push(Check::new("send", "message sent", why.clone(), false));
                        talk.broken = Some(why);
                    }
                },
                Step::Receive {
                    matcher,
                    skip,
                    within,
                } => {
                    let wait = within.unwrap_or(cx.timeout);
                    let check =
                        receive(&mut ws, cx, &mut talk, matcher.as_ref(), *skip, wait, name).await;
                    talk.failed |= !check.passed;
                    checks.push(check);
                }
            }
        }
        let Talk {
            mut messages,
            mut notes,
            peer_close,
            broken,
            skipped_not_shown,
            ..
        } = talk;
        if skipped_not_shown > 0 {
            messages.push(json!({"skipped_not_shown": skipped_not_shown}));
        }
        record["messages"] = json!(messages);

        let close = match (peer_close, broken) {
            (Some(frame), _) => Close {
                code: frame.as_ref().map(|f| u16::from(f.code)),
                reason: frame
                    .map(|f| f.reason.as_str().to_owned())
                    .unwrap_or_default(),
                clean: true,
                initiated_by: "server",
                error: None,
            },
            (None, Some(why)) => Close {
                code: None,
                reason: String::new(),
                clean: false,
                initiated_by: "none",
                error: Some(why),
            },
            // The close handshake gets what is left of the timeout (at
            // least CLOSE_GRACE): a peer that floods or never closes
            // cannot add CLOSE_WAIT to a probe that spent its time.
            (None, None) => close(&mut ws, started + cx.timeout).await,
        };
        record["close"] = close.record();
        if self.expect.close.unwrap_or(true) {
            checks.push(Check::new(
                "close",
                "a clean close handshake",
                close.describe(),
                close.is_clean(),
            ));
        }
        if close.is_clean() {
            notes.push(format!("closed {}", close.describe()));
        }
        record["timings"] = json!({
            "upgrade_ms": fetch::millis(upgraded_after),
            "total_ms": fetch::millis(started.elapsed()),
        });
        Findings {
            summary: summarize(
                &self.describe(),
                status,
                upgraded_after,
                &checks,
                &notes.join(", "),
            ),
            checks,
            evidence: record,
        }
    }
}

/// What a conversation has been so far.
#[derive(Default)]
struct Talk {
    /// Messages sent and received, for evidence.
    messages: Vec<Json>,
    /// Skipped messages beyond those kept in evidence.
    skipped_not_shown: usize,
    /// For the summary: `sent "hi"`, `received "hi"`.
    notes: Vec<String>,
    /// The server's close frame, when it closed first.
    peer_close: Option<Option<CloseFrame>>,
    /// Why the connection broke, if it did.
    broken: Option<String>,
    /// A step's expectation failed: the rest is not run.
    failed: bool,
}

/// What a `receive` step expects, as people read it.
fn expected_message(matcher: Option<&Matcher>) -> String {
    matcher.map_or_else(|| "a message".to_owned(), Matcher::to_string)
}

/// Skipped messages kept in evidence per `receive` step.
const SKIPPED_SHOWN: u32 = 10;

/// One `receive` step: reads messages until one satisfies `matcher`,
/// passing over at most `skip` others, for at most `wait`.
async fn receive<S>(
    ws: &mut tokio_tungstenite::WebSocketStream<S>,
    cx: &Context,
    talk: &mut Talk,
    matcher: Option<&Matcher>,
    skip: Skip,
    wait: Duration,
    name: String,
) -> Check
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let deadline = Instant::now() + wait;
    let mut skipped: u32 = 0;
    let expected = match skip {
        Skip::AtMost(0) => expected_message(matcher),
        _ => format!(
            "{} (skipping at most {skip} others, within {})",
            expected_message(matcher),
            humantime::format_duration(wait)
        ),
    };
    let skipped_note = |skipped: u32| {
        if skipped == 0 {
            String::new()
        } else if skipped == 1 {
            " after 1 skipped message".to_owned()
        } else {
            format!(" after {skipped} skipped messages")
        }
    };
    loop {
        // What the expectation sees, and what evidence shows: a binary
        // frame is masked as raw bytes before its bytes are escaped, a text
        // frame before an excerpt cuts it.
        let next = match tokio::time::timeout_at(deadline, ws.next()).await {
            Ok(next) => next,
            Err(_) => {
                let actual = format!(
                    "no matching message within {}{}",
                    humantime::format_duration(wait),
                    skipped_note(skipped)
                );
                return Check::new(name, expected, actual, false);
            }
        };
        let (kind, text, shown) = match next {
            Some(Ok(Message::Text(t))) => {
                let shown = cx.redactor.text(t.as_str()).into_owned();
                ("text", t.as_str().to_owned(), shown)
            }
            Some(Ok(Message::Binary(b))) => {
                let shown = tcp::printable_masked(&b, &cx.redactor.spans(&b), EXCERPT);
                ("binary", tcp::printable(&b, EXCERPT), shown)
            }
            Some(Ok(Message::Close(frame))) => {
                let shown = close_text(frame.as_ref());
                talk.peer_close = Some(frame);
                let actual = format!(
                    "closed by the server ({shown}) before a{} message{}",
                    if skipped == 0 { "" } else { " matching" },
                    skipped_note(skipped)
                );
                return Check::new(name, expected, actual, false);
            }
            // Pings are answered by tungstenite; pongs and raw frames carry no data.
            Some(Ok(_)) => continue,
            Some(Err(e)) => {
                let why = describe_error(&e);
                talk.broken = Some(why.clone());
                return Check::new(name, expected, why, false);
            }
            None => {
                talk.broken = Some("the connection ended".to_owned());
                let actual = format!(
                    "the connection ended before a message{}",
                    skipped_note(skipped)
                );
                return Check::new(name, expected, actual, false);
            }
        };
        let matched = matcher.is_none_or(|m| m.check_str(Some(&text)).is_ok());
        let actual = format!("{:?}", expect::excerpt(&shown, 120));
        if matched {
            let mut message = message_record("received", kind, &shown);
            message["bytes"] = json!(text.len());
            talk.messages.push(message);
            talk.notes
                .push(format!("received {:?}", expect::excerpt(&shown, 40)));
            return Check::new(
                name,
                expected,
                format!("{actual}{}", skipped_note(skipped)),
                true,
            );
        }
        if !skip.allows(skipped + 1) {
            let mut message = message_record("received", kind, &shown);
            message["bytes"] = json!(text.len());
            talk.messages.push(message);
            return Check::new(
                name,
                expected,
                format!("{actual}{}", skipped_note(skipped)),
                false,
            );
        }
        skipped += 1;
        if skipped <= SKIPPED_SHOWN {
            let mut message = message_record("skipped", kind, &shown);
            message["bytes"] = json!(text.len());
            talk.messages.push(message);
        } else {
            talk.skipped_not_shown += 1;
        }
    }
}

/// How the connection ended.
struct Close {
    code: Option<u16>,
    reason: String,
    clean: bool,
    initiated_by: &'static str,
    error: Option<String>,
}

impl Close {
    fn is_clean(&self) -> bool {
        self.clean && matches!(self.code, None | Some(1000 | 1001))
    }

    fn describe(&self) -> String {
        match (&self.error, self.code) {
            (Some(e), _) => e.clone(),
            (None, Some(code)) => format!("{code} ({})", close_name(code)),
            (None, None) => "close frame without a code".to_owned(),
        }
    }

    fn record(&self) -> Json {
        let mut record = json!({
            "code": self.code,
            "reason": self.reason,
            "clean": self.is_clean(),
            "initiated_by": self.initiated_by,
        });
        if let Some(e) = &self.error {
            record["error"] = json!(e);
        }
        record
    }
}

/// Sends our close frame and waits for the peer's: at most [`CLOSE_WAIT`],
/// and no later than `deadline` unless that leaves less than [`CLOSE_GRACE`].
async fn close<S>(ws: &mut tokio_tungstenite::WebSocketStream<S>, deadline: Instant) -> Close
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let frame = CloseFrame {
        code: CloseCode::Normal,
        reason: "".into(),
    };
    let mut outcome = Close {
        code: None,
        reason: String::new(),
        clean: false,
        initiated_by: "client",
        error: None,
    };
    if let Err(e) = ws.close(Some(frame)).await {
        outcome.error = Some(format!("sending the close frame: {}", describe_error(&e)));
        return outcome;
    }
    let wait = async {
        // A peer that floods instead of closing keeps `next` ready, so the
        // wait also ends after a bounded number of messages.
        let mut ignored = 0usize;
        loop {
            match ws.next().await {
                Some(Ok(Message::Close(frame))) => return Ok(frame),
                Some(Ok(_)) if ignored >= CLOSE_MAX_MESSAGES => {
                    return Err(format!(
                        "the server sent {ignored} more messages instead of a close frame"
                    ));
                }
                Some(Ok(_)) => ignored += 1,
                Some(Err(e)) => return Err(describe_error(&e)),
                None => return Err("the connection ended without a close frame".to_owned()),
            }
        }
    };
    let limit = CLOSE_WAIT
        .min(deadline.saturating_duration_since(Instant::now()))
        .max(CLOSE_GRACE);
    match tokio::time::timeout(limit, wait).await {
        Ok(Ok(frame)) => {
            outcome.clean = true;
            outcome.code = frame.as_ref().map(|f| u16::from(f.code));
            outcome.reason = frame
                .map(|f| f.reason.as_str().to_owned())
                .unwrap_or_default();
        }
        Ok(Err(why)) => outcome.error = Some(why),
        Err(_) => {
            outcome.error = Some(format!(
                "no close frame within {}",
                fetch::format_latency(limit)
            ));
        }
    }
    outcome
}

/// The names of the close codes of RFC 6455 §7.4.1.
fn close_name(code: u16) -> &'static str {
    match code {
        1000 => "normal",
        1001 => "going away",
        1002 => "protocol error",
        1003 => "unsupported data",
        1005 => "no status",
        1006 => "abnormal",
        1007 => "invalid data",
        1008 => "policy violation",
        1009 => "message too big",
        1010 => "extension required",
        1011 => "internal error",
        1012 => "service restart",
        1013 => "try again later",
        _ => "other",
    }
}

fn close_text(frame: Option<&CloseFrame>) -> String {
    match frame {
        Some(f) => {
            let code = u16::from(f.code);
            format!("{code} {}", close_name(code))
        }
        None => "no code".to_owned(),
    }
}

fn message_record(direction: &str, kind: &str, text: &str) -> Json {
    json!({
        "direction": direction,
        "type": kind,
        "data": expect::excerpt(text, EXCERPT),
        "bytes": text.len(),
    })
}

/// A tungstenite error as people read it.
fn describe_error(error: &tungstenite::Error) -> String {
    match error {
        tungstenite::Error::Io(e) => fetch::error_chain(e),
        tungstenite::Error::ConnectionClosed | tungstenite::Error::AlreadyClosed => {
            "the connection was closed".to_owned()
        }
        other => fetch::error_chain(other),
    }
}

/// `websocket /ws → 101 in 2 ms; sent "hi", received "hi", closed 1000 (normal)`,
/// or the first failures.
fn summarize(line: &str, status: u16, after: Duration, checks: &[Check], notes: &str) -> String {
    let mut summary = format!("{line} → {status} in {}", fetch::format_latency(after));
    let failed: Vec<&Check> = checks.iter().filter(|c| !c.passed).collect();
    if failed.is_empty() {
        if !notes.is_empty() {
            summary.push_str(&format!("; {notes}"));
        }
    } else {
        super::append_failures(&mut summary, &failed, 2, true);
    }
    summary
}

impl Probe for Websocket {
    fn sends_http(&self) -> bool {
        true
    }

    async fn run(&self, cx: &Context) -> Result<Findings, ProbeError> {
        let url = self.resolve(cx)?;
        let mut request = self.request(&url)?;
        // The `oauth2:` token, unless the probe sends credentials of its own.
        if let Some(authorization) = &cx.authorization
            && !request.headers().contains_key("authorization")
        {
            let value = HeaderValue::from_str(authorization).map_err(|_| {
                ProbeError::Setup("the OAuth2 token is not a valid header value".to_owned())
            })?;
            request.headers_mut().insert("authorization", value);
        }
        let secure = url.scheme() == "wss";
        let tls = if secure {
            let mut config = fetch::client_tls_config(&self.tls().or(&cx.tls), &cx.base_dir)
                .map_err(ProbeError::Setup)?;
            // The upgrade is an HTTP/1.1 request: never negotiate h2.
            config.alpn_protocols = vec![b"http/1.1".to_vec()];
            Some(Arc::new(config))
        } else {
            None
        };
        let host = match url.host() {
            Some(url::Host::Ipv6(ip)) => ip.to_string(),
            Some(h) => h.to_string(),
            None => return Err(ProbeError::Setup(format!("`{url}` has no host"))),
        };
        let port = url
            .port_or_known_default()
            .unwrap_or(if secure { 443 } else { 80 });
        let mut record = self.request_record(&url, cx);
        let started = Instant::now();
        let reach = tcp::connect(&host, port, None).await;
        record["connection"] = reach.record(&host, port);
        let stream = match reach {
            Reach::Open { stream, .. } => stream,
            other => return Ok(self.no_answer(other.describe(), record, started)),
        };
        match tls {
            None => Ok(self.session(stream, request, cx, record, started).await),
            Some(config) => {
                let name = ServerName::try_from(host.clone())
                    .map_err(|e| ProbeError::Setup(format!("invalid server name `{host}`: {e}")))?;
                match tokio_rustls::TlsConnector::from(config)
                    .connect(name, stream)
                    .await
                {
                    Ok(stream) => Ok(self.session(stream, request, cx, record, started).await),
                    Err(e) => Ok(self.no_answer(
                        format!("TLS handshake failed: {}", fetch::error_chain(&e)),
                        record,
                        started,
                    )),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::TlsSettings;
    use std::path::PathBuf;

    fn ws(yaml: &str) -> Result<Websocket, String> {
        crate::spec::de::from_yaml(yaml)
    }

    fn cx(target: &str) -> Context {
        Context {
            target: Some(Url::parse(target).expect("url")),
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
    fn paths_take_the_targets_host_with_a_websocket_scheme() {
        let probe = ws("url: /ws\n").expect("valid");
        assert_eq!(
            probe
                .resolve(&cx("http://127.0.0.1:8080/app"))
                .expect("ok")
                .as_str(),
            "ws://127.0.0.1:8080/app/ws"
        );
        assert_eq!(
            probe
                .resolve(&cx("https://shop.example"))
                .expect("ok")
                .as_str(),
            "wss://shop.example/ws"
        );
        let absolute = ws("url: wss://chat.example/socket\n").expect("valid");
        assert_eq!(
            absolute.resolve(&cx("http://x")).expect("ok").as_str(),
            "wss://chat.example/socket"
        );
        let ftp = ws("url: ftp://files.example/\n").expect("valid");
        assert!(ftp.resolve(&cx("http://x")).is_err());
    }

    #[test]
    fn the_request_offers_subprotocols_and_carries_headers() {
        let probe = ws("url: /ws\nsubprotocols: [chat, superchat]\nheaders: {origin: 'https://shop.example'}\n")
            .expect("valid");
        let url = probe.resolve(&cx("http://127.0.0.1:1")).expect("url");
        let request = probe.request(&url).expect("request");
        assert_eq!(
            request.headers()["sec-websocket-protocol"],
            "chat, superchat"
        );
        assert_eq!(request.headers()["origin"], "https://shop.example");
        assert_eq!(request.headers()["upgrade"], "websocket");
    }

    #[test]
    fn rejects_unknown_settings() {
        let err = ws("url: /ws\nexpect: {recieve: hi}\n").expect_err("typo");
        assert!(err.contains("unknown field `recieve`"), "{err}");
    }

    #[test]
    fn close_codes_read_as_words() {
        assert_eq!(close_name(1000), "normal");
        assert_eq!(close_name(1011), "internal error");
        let clean = Close {
            code: Some(1000),
            reason: String::new(),
            clean: true,
            initiated_by: "client",
            error: None,
        };
        assert!(clean.is_clean());
        assert_eq!(clean.describe(), "1000 (normal)");
        let dropped = Close {
            error: Some("the connection ended without a close frame".to_owned()),
            clean: false,
            code: None,
            ..clean
        };
        assert!(!dropped.is_clean());
    }
}
