//! `refuses:` of a `tls` probe: whether a server still accepts SSLv3,
//! TLS 1.0, 1.1 (or 1.2). rustls cannot offer those versions, so this sends
//! a hand-made ClientHello for exactly one version — the cipher suites and
//! extensions legacy servers expect, no fallback signal — and reads what
//! comes back: a ServerHello (accepted), an alert or a closed connection
//! (refused), or something else, said as it is. Nothing more is sent.

use std::fmt;
use std::time::Duration;

use serde::Deserialize;
use serde::de::{self, Deserializer};
use serde_json::{Value as Json, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::Instant;

use super::Version;
use crate::probe::tcp::{self, Reach};
use crate::probe::{Check, fetch};

/// A protocol version a server can be asked to refuse.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Legacy {
    /// SSL 3.0.
    Ssl3,
    /// TLS 1.0.
    Tls10,
    /// TLS 1.1.
    Tls11,
    /// TLS 1.2 (for servers that must speak TLS 1.3 only).
    Tls12,
}

impl Legacy {
    /// Parses `SSLv3` or a TLS version up to 1.2 in any spelling `protocol:` takes.
    pub fn parse(text: &str) -> Result<Legacy, String> {
        let t = text.trim().to_ascii_lowercase();
        if matches!(t.as_str(), "sslv3" | "ssl3" | "sslv3.0" | "ssl3.0") {
            return Ok(Legacy::Ssl3);
        }
        match Version::parse(text) {
            Ok(Version::Tls10) => Ok(Legacy::Tls10),
            Ok(Version::Tls11) => Ok(Legacy::Tls11),
            Ok(Version::Tls12) => Ok(Legacy::Tls12),
            Ok(Version::Tls13) => Err(
                "`refuses` takes SSLv3, TLSv1.0, TLSv1.1 or TLSv1.2: to require TLS 1.3, use `protocol: TLSv1.3`"
                    .to_owned(),
            ),
            Err(_) => Err(format!(
                "invalid version `{text}`: expected `SSLv3`, `TLSv1.0`, `TLSv1.1` or `TLSv1.2`"
            )),
        }
    }

    /// The version's number on the wire.
    fn wire(self) -> [u8; 2] {
        match self {
            Legacy::Ssl3 => [3, 0],
            Legacy::Tls10 => [3, 1],
            Legacy::Tls11 => [3, 2],
            Legacy::Tls12 => [3, 3],
        }
    }
}

impl fmt::Display for Legacy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Legacy::Ssl3 => "SSLv3",
            Legacy::Tls10 => "TLSv1.0",
            Legacy::Tls11 => "TLSv1.1",
            Legacy::Tls12 => "TLSv1.2",
        })
    }
}

impl<'de> Deserialize<'de> for Legacy {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = Json::deserialize(deserializer)?;
        let text = match &value {
            Json::String(s) => s.clone(),
            other => other.to_string(),
        };
        Legacy::parse(&text).map_err(de::Error::custom)
    }
}

/// A version's name on the wire, as people read it.
fn version_name(wire: [u8; 2]) -> String {
    match wire {
        [3, 0] => "SSLv3".to_owned(),
        [3, 1] => "TLSv1.0".to_owned(),
        [3, 2] => "TLSv1.1".to_owned(),
        [3, 3] => "TLSv1.2".to_owned(),
        [3, 4] => "TLSv1.3".to_owned(),
        [a, b] => format!("0x{a:02x}{b:02x}"),
    }
}

/// Cipher suites offered to every version: the CBC suites with SHA-1 that
/// SSLv3 to TLS 1.1 servers speak (ECDHE, DHE and plain RSA key exchange),
/// 3DES and RC4 last, and the renegotiation SCSV. Never `TLS_FALLBACK_SCSV`:
/// a server that also speaks a newer version would refuse for that reason.
const LEGACY_SUITES: &[(u16, &str)] = &[
    (0xc013, "ECDHE-RSA-AES128-SHA"),
    (0xc014, "ECDHE-RSA-AES256-SHA"),
    (0xc009, "ECDHE-ECDSA-AES128-SHA"),
    (0xc00a, "ECDHE-ECDSA-AES256-SHA"),
    (0x0033, "DHE-RSA-AES128-SHA"),
    (0x0039, "DHE-RSA-AES256-SHA"),
    (0x002f, "AES128-SHA"),
    (0x0035, "AES256-SHA"),
    (0x000a, "DES-CBC3-SHA"),
    (0x0005, "RC4-SHA"),
    (0x0004, "RC4-MD5"),
];

/// Added for TLS 1.2: the AEAD and SHA-2 suites of its servers.
const TLS12_SUITES: &[(u16, &str)] = &[
    (0xc02f, "ECDHE-RSA-AES128-GCM-SHA256"),
    (0xc030, "ECDHE-RSA-AES256-GCM-SHA384"),
    (0xc02b, "ECDHE-ECDSA-AES128-GCM-SHA256"),
    (0xc02c, "ECDHE-ECDSA-AES256-GCM-SHA384"),
    (0xcca8, "ECDHE-RSA-CHACHA20-POLY1305"),
    (0xcca9, "ECDHE-ECDSA-CHACHA20-POLY1305"),
    (0xc027, "ECDHE-RSA-AES128-SHA256"),
    (0x009c, "AES128-GCM-SHA256"),
    (0x009d, "AES256-GCM-SHA384"),
    (0x003c, "AES128-SHA256"),
];

const RENEGOTIATION_SCSV: u16 = 0x00ff;

/// The OpenSSL name of a cipher suite, or its number.
fn suite_name(code: u16) -> String {
    LEGACY_SUITES
        .iter()
        .chain(TLS12_SUITES)
        .find(|(c, _)| *c == code)
        .map_or_else(|| format!("0x{code:04x}"), |(_, n)| (*n).to_owned())
}

fn push_u16(out: &mut Vec<u8>, v: u16) {
    out.extend_from_slice(&v.to_be_bytes());
}

/// `bytes` prefixed by its length in `width` bytes (1, 2 or 3).
fn with_length(width: usize, bytes: &[u8]) -> Vec<u8> {
    let len = bytes.len().to_be_bytes();
    let mut out = len[len.len() - width..].to_vec();
    out.extend_from_slice(bytes);
    out
}

fn extension(kind: u16, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    push_u16(&mut out, kind);
    out.extend(with_length(2, body));
    out
}

/// The ClientHello record offering only `version`. `sni` is sent when it is
/// a DNS name (never an IP address, as RFC 6066 says); SSLv3 gets no
/// extensions, which it predates.
pub fn client_hello(version: Legacy, sni: Option<&str>, random: [u8; 32]) -> Vec<u8> {
    let mut suites = Vec::new();
    let offered: Vec<&(u16, &str)> = if version == Legacy::Tls12 {
        TLS12_SUITES.iter().chain(LEGACY_SUITES).collect()
    } else {
        LEGACY_SUITES.iter().collect()
    };
    for (code, _) in offered {
        push_u16(&mut suites, *code);
    }
    push_u16(&mut suites, RENEGOTIATION_SCSV);
    let mut extensions = Vec::new();
    if version != Legacy::Ssl3 {
        if let Some(name) = sni.filter(|n| n.parse::<std::net::IpAddr>().is_err() && !n.is_empty())
        {
            let mut entry = vec![0u8];
            entry.extend(with_length(2, name.as_bytes()));
            extensions.extend(extension(0x0000, &with_length(2, &entry)));
        }
        // supported_groups: x25519, secp256r1, secp384r1.
        let mut groups = Vec::new();
        for g in [0x001d_u16, 0x0017, 0x0018] {
            push_u16(&mut groups, g);
        }
        extensions.extend(extension(0x000a, &with_length(2, &groups)));
        // ec_point_formats: uncompressed.
        extensions.extend(extension(0x000b, &with_length(1, &[0])));
        if version == Legacy::Tls12 {
            let mut schemes = Vec::new();
            for s in [
                0x0403_u16, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601, 0x0201, 0x0203,
            ] {
                push_u16(&mut schemes, s);
            }
            extensions.extend(extension(0x000d, &with_length(2, &schemes)));
        }
    }
    let mut body = version.wire().to_vec();
    body.extend_from_slice(&random);
    body.push(0); // no session id
    body.extend(with_length(2, &suites));
    body.extend_from_slice(&[1, 0]); // compression: null only
    if !extensions.is_empty() {
        body.extend(with_length(2, &extensions));
    }
    let mut handshake = vec![1u8]; // client_hello
    handshake.extend(with_length(3, &body));
    // The record layer says TLS 1.0 for every TLS version, as clients do
    // (some servers drop a first record with a higher one); SSLv3 says 3.0.
    let record_version = if version == Legacy::Ssl3 {
        [3, 0]
    } else {
        [3, 1]
    };
    let mut record = vec![22u8, record_version[0], record_version[1]];
    record.extend(with_length(2, &handshake));
    record
}

/// The name of a TLS alert description.
fn alert_name(code: u8) -> &'static str {
    match code {
        0 => "close_notify",
        10 => "unexpected_message",
        20 => "bad_record_mac",
        22 => "record_overflow",
        40 => "handshake_failure",
        42 => "bad_certificate",
        47 => "illegal_parameter",
        50 => "decode_error",
        51 => "decrypt_error",
        70 => "protocol_version",
        71 => "insufficient_security",
        80 => "internal_error",
        86 => "inappropriate_fallback",
        90 => "user_canceled",
        109 => "missing_extension",
        110 => "unsupported_extension",
        112 => "unrecognized_name",
        _ => "unknown alert",
    }
}

/// What the server answered to one ClientHello.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    /// A ServerHello: the version and cipher suite it chose.
    ServerHello {
        /// The server's version.
        version: [u8; 2],
        /// The chosen cipher suite.
        suite: u16,
    },
    /// An alert record.
    Alert {
        /// 1 warning, 2 fatal.
        level: u8,
        /// The alert's description code.
        description: u8,
    },
    /// The connection closed before any byte, or mid-record after some.
    Closed {
        /// Bytes read before the close.
        after_bytes: usize,
    },
    /// The connection was reset.
    Reset,
    /// Nothing within the time given.
    Silent,
    /// Bytes that are not a TLS answer.
    Garbage(String),
    /// The TCP connection itself failed.
    Unreachable(String),
}

impl Answer {
    /// Whether the answer refuses the version: an alert, a close or reset,
    /// or a ServerHello for a different version. Silence, garbage and an
    /// unreachable port leave it unknown, which is not a refusal.
    pub fn refuses(&self, asked: Legacy) -> bool {
        match self {
            Answer::ServerHello { version, .. } => *version != asked.wire(),
            Answer::Alert { .. } | Answer::Closed { .. } | Answer::Reset => true,
            Answer::Silent | Answer::Garbage(_) | Answer::Unreachable(_) => false,
        }
    }

    /// The answer as people read it.
    pub fn describe(&self) -> String {
        match self {
            Answer::ServerHello { version, suite } => format!(
                "ServerHello {}, {}",
                version_name(*version),
                suite_name(*suite)
            ),
            Answer::Alert { level, description } => format!(
                "alert {} {} ({description})",
                if *level == 1 { "warning" } else { "fatal" },
                alert_name(*description)
            ),
            Answer::Closed { after_bytes: 0 } => "connection closed without an answer".to_owned(),
            Answer::Closed { after_bytes } => {
                format!("connection closed mid-record after {after_bytes} bytes")
            }
            Answer::Reset => "connection reset".to_owned(),
            Answer::Silent => "no answer".to_owned(),
            Answer::Garbage(why) => format!("not a TLS answer: {why}"),
            Answer::Unreachable(why) => format!("cannot connect: {why}"),
        }
    }
}

/// The most bytes of a TLS record (2^14 plus expansion).
const MAX_RECORD: usize = 16_384 + 2_048;

/// The first bytes read, in hex and as text, for an answer that is not TLS.
fn show_bytes(bytes: &[u8]) -> String {
    let shown = &bytes[..bytes.len().min(16)];
    let hex: Vec<String> = shown.iter().map(|b| format!("{b:02x}")).collect();
    let text: String = shown
        .iter()
        .map(|&b| {
            if b.is_ascii_graphic() || b == b' ' {
                char::from(b)
            } else {
                '.'
            }
        })
        .collect();
    format!("{} ({text:?})", hex.join(" "))
}

/// Reads the answer to a ClientHello from a stream already sent it: the
/// first record, judged by its type.
pub async fn read_answer<R: tokio::io::AsyncRead + Unpin>(stream: &mut R) -> Answer {
    let mut header = [0u8; 5];
    let mut got = 0;
    while got < header.len() {
        match stream.read(&mut header[got..]).await {
            Ok(0) => return Answer::Closed { after_bytes: got },
            Ok(n) => got += n,
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return Answer::Reset,
            Err(e) => return Answer::Unreachable(fetch::error_chain(&e)),
        }
    }
    let [kind, major, _, hi, lo] = header;
    let length = usize::from(u16::from_be_bytes([hi, lo]));
    if !matches!(kind, 21 | 22) || major != 3 {
        return Answer::Garbage(format!("first bytes {}", show_bytes(&header)));
    }
    if length == 0 || length > MAX_RECORD {
        return Answer::Garbage(format!(
            "a record of {length} bytes (first bytes {})",
            show_bytes(&header)
        ));
    }
    let wanted = if kind == 21 {
        2
    } else {
        length.min(6 + 32 + 1 + 32 + 2)
    };
    let mut body = vec![0u8; length];
    let mut read = 0;
    while read < wanted {
        match stream.read(&mut body[read..]).await {
            Ok(0) => {
                return Answer::Closed {
                    after_bytes: header.len() + read,
                };
            }
            Ok(n) => read += n,
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return Answer::Reset,
            Err(e) => return Answer::Unreachable(fetch::error_chain(&e)),
        }
    }
    if kind == 21 {
        return Answer::Alert {
            level: body[0],
            description: body[1],
        };
    }
    server_hello(&body[..read.min(length)])
}

/// Reads a ServerHello from the start of a handshake record.
fn server_hello(body: &[u8]) -> Answer {
    // type(1) length(3) version(2) random(32) session_id_len(1) …
    if body.first() != Some(&2) {
        return Answer::Garbage(format!(
            "a handshake message of type {} where a ServerHello (2) was due",
            body.first().copied().unwrap_or(0)
        ));
    }
    let (Some(&major), Some(&minor), Some(&sid_len)) = (body.get(4), body.get(5), body.get(38))
    else {
        return Answer::Garbage("a ServerHello cut short".to_owned());
    };
    let at = 39 + usize::from(sid_len);
    match (body.get(at), body.get(at + 1)) {
        (Some(&a), Some(&b)) => Answer::ServerHello {
            version: [major, minor],
            suite: u16::from_be_bytes([a, b]),
        },
        _ => Answer::Garbage("a ServerHello cut short".to_owned()),
    }
}

/// One version tried: what was offered and what came back.
#[derive(Debug, Clone)]
pub struct Attempt {
    /// The version offered alone.
    pub version: Legacy,
    /// The answer.
    pub answer: Answer,
    /// The time from sending to the answer.
    pub after: Duration,
    /// The ClientHello's size and cipher suite count, for evidence.
    hello_bytes: usize,
    suites: usize,
    sni: bool,
}

/// Offers `version` alone to `host:port` and reads the answer, all within `limit`.
pub async fn attempt(
    host: &str,
    port: u16,
    sni: Option<&str>,
    version: Legacy,
    limit: Duration,
) -> Attempt {
    let started = Instant::now();
    let mut random = [0u8; 32];
    random.iter_mut().for_each(|b| *b = fastrand::u8(..));
    let hello = client_hello(version, sni, random);
    let suites = usize::from(u16::from_be_bytes([hello[44], hello[45]])) / 2;
    let sent_sni = version != Legacy::Ssl3
        && sni.is_some_and(|n| n.parse::<std::net::IpAddr>().is_err() && !n.is_empty());
    let done = |answer: Answer| Attempt {
        version,
        answer,
        after: started.elapsed(),
        hello_bytes: hello.len(),
        suites,
        sni: sent_sni,
    };
    let exchange = async {
        let mut stream = match tcp::connect(host, port, Some(limit)).await {
            Reach::Open { stream, .. } => stream,
            other => return Answer::Unreachable(other.describe()),
        };
        if let Err(e) = stream.write_all(&hello).await {
            return if e.kind() == std::io::ErrorKind::ConnectionReset {
                Answer::Reset
            } else {
                Answer::Unreachable(fetch::error_chain(&e))
            };
        }
        read_answer(&mut stream).await
    };
    match tokio::time::timeout(limit, exchange).await {
        Ok(answer) => done(answer),
        Err(_) => done(Answer::Silent),
    }
}

impl Attempt {
    /// The check: `refuses TLSv1.0`.
    pub fn check(&self) -> Check {
        let refused = self.answer.refuses(self.version);
        let verdict = match (&self.answer, refused) {
            (Answer::Silent, _) => format!(
                "unknown: no answer within {}",
                fetch::format_latency(self.after)
            ),
            (_, true) => format!("refused: {}", self.answer.describe()),
            (Answer::ServerHello { .. }, false) => format!("accepted: {}", self.answer.describe()),
            (_, false) => format!("unknown: {}", self.answer.describe()),
        };
        Check::new(
            format!("refuses {}", self.version),
            "an alert or a closed connection, no ServerHello",
            verdict,
            refused,
        )
    }

    /// The evidence of the attempt.
    pub fn record(&self) -> Json {
        json!({
            "version": self.version.to_string(),
            "offered": {
                "client_version": self.version.to_string(),
                "cipher_suites": self.suites,
                "sni": self.sni,
                "bytes": self.hello_bytes,
            },
            "answer": self.answer.describe(),
            "refused": self.answer.refuses(self.version),
            "ms": fetch::millis(self.after),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_parse_and_tls13_is_pointed_to_protocol() {
        assert_eq!(Legacy::parse("SSLv3"), Ok(Legacy::Ssl3));
        assert_eq!(Legacy::parse("TLSv1"), Ok(Legacy::Tls10));
        assert_eq!(Legacy::parse("tlsv1.1"), Ok(Legacy::Tls11));
        assert_eq!(Legacy::parse("1.2"), Ok(Legacy::Tls12));
        let err = Legacy::parse("TLSv1.3").expect_err("not refusable here");
        assert!(err.contains("protocol: TLSv1.3"), "{err}");
        assert!(Legacy::parse("SSLv2").is_err());
    }

    #[test]
    fn the_client_hello_is_well_formed() {
        let hello = client_hello(Legacy::Tls10, Some("localhost"), [7; 32]);
        // Record: handshake, TLS 1.0 on the record layer, its length.
        assert_eq!(&hello[..3], &[22, 3, 1]);
        assert_eq!(
            usize::from(u16::from_be_bytes([hello[3], hello[4]])),
            hello.len() - 5
        );
        // Handshake: client_hello, its length, then the version offered.
        assert_eq!(hello[5], 1);
        let len = usize::from(hello[6]) << 16 | usize::from(hello[7]) << 8 | usize::from(hello[8]);
        assert_eq!(len, hello.len() - 9);
        assert_eq!(&hello[9..11], &[3, 1]);
        assert_eq!(&hello[11..43], &[7; 32]);
        assert_eq!(hello[43], 0, "no session id");
        let suites = usize::from(u16::from_be_bytes([hello[44], hello[45]]));
        assert_eq!(suites, (LEGACY_SUITES.len() + 1) * 2);
        let codes: Vec<u16> = hello[46..46 + suites]
            .chunks(2)
            .map(|c| u16::from_be_bytes([c[0], c[1]]))
            .collect();
        assert!(codes.contains(&0x002f) && codes.contains(&0xc013));
        assert!(!codes.contains(&0x5600), "never the fallback SCSV");
        let rest = &hello[46 + suites..];
        assert_eq!(&rest[..2], &[1, 0], "null compression");
        let text = String::from_utf8_lossy(rest);
        assert!(text.contains("localhost"), "SNI sent");
        // An IP address is never sent as SNI; SSLv3 has no extensions.
        let by_ip = client_hello(Legacy::Tls11, Some("127.0.0.1"), [0; 32]);
        assert!(!String::from_utf8_lossy(&by_ip).contains("127.0.0.1"));
        assert_eq!(&by_ip[9..11], &[3, 2]);
        let ssl3 = client_hello(Legacy::Ssl3, Some("localhost"), [0; 32]);
        assert_eq!(&ssl3[1..3], &[3, 0]);
        assert_eq!(&ssl3[ssl3.len() - 2..], &[1, 0], "ends with compression");
        let tls12 = client_hello(Legacy::Tls12, None, [0; 32]);
        assert_eq!(&tls12[9..11], &[3, 3]);
        assert!(
            tls12.len() > hello.len(),
            "more suites and signature_algorithms"
        );
    }

    async fn answer_to(bytes: &[u8]) -> Answer {
        let mut reader = bytes;
        read_answer(&mut reader).await
    }

    fn server_hello_record(version: [u8; 2], suite: u16) -> Vec<u8> {
        let mut body = version.to_vec();
        body.extend_from_slice(&[9; 32]);
        body.push(32);
        body.extend_from_slice(&[1; 32]);
        body.extend_from_slice(&suite.to_be_bytes());
        body.push(0);
        let mut hs = vec![2u8];
        hs.extend(with_length(3, &body));
        let mut rec = vec![22u8, 3, version[1]];
        rec.extend(with_length(2, &hs));
        rec
    }

    #[tokio::test]
    async fn answers_are_read_by_their_record_type() {
        let hello = answer_to(&server_hello_record([3, 1], 0xc013)).await;
        assert_eq!(
            hello,
            Answer::ServerHello {
                version: [3, 1],
                suite: 0xc013
            }
        );
        assert!(!hello.refuses(Legacy::Tls10));
        assert_eq!(
            hello.describe(),
            "ServerHello TLSv1.0, ECDHE-RSA-AES128-SHA"
        );
        // A ServerHello for another version is no acceptance of this one.
        assert!(
            answer_to(&server_hello_record([3, 3], 0xc02f))
                .await
                .refuses(Legacy::Tls10)
        );
        let alert = answer_to(&[21, 3, 1, 0, 2, 2, 70]).await;
        assert_eq!(alert.describe(), "alert fatal protocol_version (70)");
        assert!(alert.refuses(Legacy::Tls11));
        let closed = answer_to(&[]).await;
        assert_eq!(closed.describe(), "connection closed without an answer");
        assert!(closed.refuses(Legacy::Tls10));
        assert_eq!(
            answer_to(&[22, 3, 1, 0, 80, 2, 0]).await.describe(),
            "connection closed mid-record after 7 bytes"
        );
    }

    /// A loopback server that reads the ClientHello's record, checks it
    /// offers `version`, then answers `reply` (and closes, unless `hold`).
    async fn server(reply: Vec<u8>, hold: bool) -> u16 {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let port = listener.local_addr().expect("addr").port();
        tokio::spawn(async move {
            let (mut stream, _) = listener.accept().await.expect("accept");
            let mut header = [0u8; 5];
            stream.read_exact(&mut header).await.expect("record header");
            let mut body = vec![0u8; usize::from(u16::from_be_bytes([header[3], header[4]]))];
            stream.read_exact(&mut body).await.expect("record body");
            assert_eq!(body[0], 1, "a ClientHello");
            stream.write_all(&reply).await.expect("reply");
            if hold {
                tokio::time::sleep(Duration::from_secs(30)).await;
            }
        });
        port
    }

    #[tokio::test]
    async fn each_answer_over_a_real_connection() {
        let limit = Duration::from_secs(5);
        let port = server(vec![21, 3, 1, 0, 2, 2, 40], false).await;
        let a = attempt("127.0.0.1", port, None, Legacy::Tls11, limit).await;
        assert_eq!(
            a.check().actual,
            "refused: alert fatal handshake_failure (40)"
        );
        assert!(a.check().passed);
        let port = server(Vec::new(), false).await;
        let a = attempt("127.0.0.1", port, None, Legacy::Tls10, limit).await;
        assert_eq!(
            a.check().actual,
            "refused: connection closed without an answer"
        );
        let port = server(server_hello_record([3, 1], 0x002f), true).await;
        let a = attempt("127.0.0.1", port, Some("localhost"), Legacy::Tls10, limit).await;
        assert_eq!(
            a.check().actual,
            "accepted: ServerHello TLSv1.0, AES128-SHA"
        );
        assert!(!a.check().passed);
        assert_eq!(a.record()["offered"]["sni"], true);
        // Hostile: garbage, then a server that never answers.
        let port = server(b"\x00\x01\x02\x1b[31mSSH-2.0\r\n".to_vec(), true).await;
        let a = attempt("127.0.0.1", port, None, Legacy::Tls10, limit).await;
        assert_eq!(
            a.check().actual,
            "unknown: not a TLS answer: first bytes 00 01 02 1b 5b (\"....[\")"
        );
        assert!(!a.check().passed);
        let port = server(Vec::new(), true).await;
        let a = attempt(
            "127.0.0.1",
            port,
            None,
            Legacy::Tls10,
            Duration::from_millis(300),
        )
        .await;
        assert!(
            a.check().actual.starts_with("unknown: no answer within 3"),
            "{}",
            a.check().actual
        );
        assert!(!a.check().passed);
    }

    #[tokio::test]
    async fn garbage_is_said_as_it_is_and_refuses_nothing() {
        let http = answer_to(b"HTTP/1.1 400 Bad Request\r\n\r\n").await;
        assert_eq!(
            http.describe(),
            "not a TLS answer: first bytes 48 54 54 50 2f (\"HTTP/\")"
        );
        assert!(!http.refuses(Legacy::Tls10));
        let huge = answer_to(&[22, 3, 1, 0xff, 0xff]).await;
        assert!(
            huge.describe().contains("a record of 65535 bytes"),
            "{huge:?}"
        );
        let wrong = answer_to(&[22, 3, 1, 0, 4, 11, 0, 0, 0]).await;
        assert_eq!(
            wrong.describe(),
            "not a TLS answer: a handshake message of type 11 where a ServerHello (2) was due"
        );
        let short = answer_to(&[22, 3, 1, 0, 6, 2, 0, 0, 2, 3, 1]).await;
        assert_eq!(
            short.describe(),
            "not a TLS answer: a ServerHello cut short"
        );
        assert!(!Answer::Silent.refuses(Legacy::Tls10));
    }
}
