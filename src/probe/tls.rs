//! `tls`: a TLS endpoint's handshake and certificates — trust, hostname, the
//! leaf's and the chain's expiry, protocol, key and names. An expired,
//! untrusted or wrong-host certificate is still read and reported.

use std::borrow::Cow;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, RootCertStore, SignatureScheme};
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde_json::{Value as Json, json};
use tokio::time::Instant;

use super::progress::Progress;
use super::tcp::{self, Reach};
use super::{Check, Context, Findings, Probe, ProbeError, TlsSettings, fetch};
use crate::expect::Matcher;

mod cert;
mod expiry;
mod legacy;
mod path;

pub use legacy::Legacy;

use cert::CertInfo;

use expiry::{days_left, left_text, seconds_left, span_text};

/// The port when neither `endpoint` nor the target names one.
pub const DEFAULT_PORT: u16 = 443;

/// Settings of a `tls` probe.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(try_from = "TlsProbeSettings")]
#[schemars(with = "TlsProbeSettings")]
pub struct Tls {
    /// The endpoint as written, for descriptions.
    written: Option<String>,
    host: Option<String>,
    port: Option<u16>,
    sni: Option<String>,
    tls: TlsSettings,
    expect: TlsExpect,
}

/// The `tls:` settings as written.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TlsProbeSettings {
    /// `host:port`, `[v6]:port`, `:port` (the target's host) or `host`
    /// (port 443); default: the target's host, and its port if it names one,
    /// else 443.
    #[serde(default)]
    endpoint: Option<String>,
    /// The server name sent (SNI) and checked by `hostname`; default: the host.
    #[serde(default)]
    sni: Option<String>,
    /// A PEM bundle of extra trusted roots (private CAs), added to the system roots.
    #[serde(default)]
    ca: Option<PathBuf>,
    /// A PEM client certificate (chain) for mTLS.
    #[serde(default)]
    client_cert: Option<PathBuf>,
    /// The PEM private key of `client_cert`.
    #[serde(default)]
    client_key: Option<PathBuf>,
    /// What must hold. Empty: `trusted: true`, `hostname: true` and
    /// `expires_in: {min: 0s}` (not expired).
    #[serde(default)]
    expect: TlsExpect,
}

/// Expectations of a `tls` probe.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TlsExpect {
    /// Whether the presented chain verifies to the trusted roots (system
    /// roots plus `ca`), validity dates included.
    #[serde(default)]
    pub trusted: Option<bool>,
    /// Whether the leaf is valid for the SNI name (checked apart from trust).
    #[serde(default)]
    pub hostname: Option<bool>,
    /// Time left until the leaf expires, e.g. `{min: 30d}`; negative once expired.
    #[serde(default)]
    pub expires_in: Option<Matcher>,
    /// Time left until the earliest expiry among the presented certificates.
    #[serde(default)]
    pub chain_expires_in: Option<Matcher>,
    /// The negotiated protocol: `TLSv1.3` (exact) or `{min: TLSv1.2}`.
    #[serde(default)]
    pub protocol: Option<ProtocolExpect>,
    /// The leaf's public key: `{type: ecdsa, min_bits: 256}`.
    #[serde(default)]
    pub key: Option<KeyExpect>,
    /// The leaf's issuer, as an RFC 4514 string (`CN=R3, O=Let's Encrypt, C=US`).
    #[serde(default)]
    pub issuer: Option<Matcher>,
    /// The leaf's subject, as an RFC 4514 string.
    #[serde(default)]
    pub subject: Option<Matcher>,
    /// The leaf's subject alternative names, a list (`{contains: api.example.com}`).
    #[serde(default)]
    pub san: Option<Matcher>,
    /// Whether the server staples an OCSP response.
    #[serde(default)]
    pub ocsp_stapled: Option<bool>,
    /// Versions the server must refuse (`[TLSv1.0, TLSv1.1]`, `SSLv3`,
    /// `TLSv1.2`): each offered alone in a hand-made ClientHello, refused
    /// when an alert or a close comes back instead of a ServerHello.
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub refuses: Vec<Legacy>,
}

impl TlsExpect {
    fn is_empty(&self) -> bool {
        self.trusted.is_none()
            && self.hostname.is_none()
            && self.expires_in.is_none()
            && self.chain_expires_in.is_none()
            && self.protocol.is_none()
            && self.key.is_none()
            && self.issuer.is_none()
            && self.subject.is_none()
            && self.san.is_none()
            && self.ocsp_stapled.is_none()
            && self.refuses.is_empty()
    }

    /// Whether `refuses` is all that is asked: then no rustls handshake runs
    /// (a legacy-only server could not complete one).
    fn only_refuses(&self) -> bool {
        !self.refuses.is_empty()
            && TlsExpect {
                refuses: Vec::new(),
                ..self.clone()
            }
            .is_empty()
    }

    /// The expectations of an empty `expect`: trusted, valid for the name, not expired.
    fn defaults() -> TlsExpect {
        TlsExpect {
            trusted: Some(true),
            hostname: Some(true),
            expires_in: Some(
                serde_json::from_value(json!({"min": "0s"})).expect("a constant, valid matcher"),
            ),
            ..TlsExpect::default()
        }
    }
}

/// A TLS protocol version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Version {
    /// TLS 1.0 (never negotiated by vouch; for bounds only).
    Tls10,
    /// TLS 1.1 (never negotiated by vouch; for bounds only).
    Tls11,
    /// TLS 1.2.
    Tls12,
    /// TLS 1.3.
    Tls13,
}

impl Version {
    /// Parses `TLSv1.2`, `TLSv1_2`, `TLS1.2` or `1.2` (any case).
    pub fn parse(text: &str) -> Result<Version, String> {
        let t = text.trim().to_ascii_lowercase().replace('_', ".");
        let t = t
            .strip_prefix("tlsv")
            .or_else(|| t.strip_prefix("tls"))
            .unwrap_or(&t)
            .trim();
        match t {
            "1.0" | "1" => Ok(Version::Tls10),
            "1.1" => Ok(Version::Tls11),
            "1.2" => Ok(Version::Tls12),
            "1.3" => Ok(Version::Tls13),
            _ => Err(format!(
                "invalid TLS version `{text}`: expected `TLSv1.0`, `TLSv1.1`, `TLSv1.2` or `TLSv1.3`"
            )),
        }
    }

    fn from_rustls(version: rustls::ProtocolVersion) -> Option<Version> {
        match version {
            rustls::ProtocolVersion::TLSv1_0 => Some(Version::Tls10),
            rustls::ProtocolVersion::TLSv1_1 => Some(Version::Tls11),
            rustls::ProtocolVersion::TLSv1_2 => Some(Version::Tls12),
            rustls::ProtocolVersion::TLSv1_3 => Some(Version::Tls13),
            _ => None,
        }
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Version::Tls10 => "TLSv1.0",
            Version::Tls11 => "TLSv1.1",
            Version::Tls12 => "TLSv1.2",
            Version::Tls13 => "TLSv1.3",
        })
    }
}

/// `protocol:` — one version exactly, or bounds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProtocolExpect {
    /// The lowest acceptable version.
    pub min: Option<Version>,
    /// The highest acceptable version.
    pub max: Option<Version>,
}

impl ProtocolExpect {
    fn accepts(&self, version: Version) -> bool {
        self.min.is_none_or(|m| version >= m) && self.max.is_none_or(|m| version <= m)
    }
}

impl fmt::Display for ProtocolExpect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.min, self.max) {
            (Some(a), Some(b)) if a == b => write!(f, "{a}"),
            (Some(a), Some(b)) => write!(f, ">= {a} and <= {b}"),
            (Some(a), None) => write!(f, ">= {a}"),
            (None, Some(b)) => write!(f, "<= {b}"),
            (None, None) => f.write_str("any"),
        }
    }
}

impl<'de> Deserialize<'de> for ProtocolExpect {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ProtocolVisitor)
    }
}

struct ProtocolVisitor;

impl<'de> Visitor<'de> for ProtocolVisitor {
    type Value = ProtocolExpect;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a TLS version (`TLSv1.3`) or `{min: TLSv1.2}`")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<ProtocolExpect, E> {
        let version = Version::parse(v).map_err(E::custom)?;
        Ok(ProtocolExpect {
            min: Some(version),
            max: Some(version),
        })
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<ProtocolExpect, E> {
        self.visit_str(&v.to_string())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<ProtocolExpect, A::Error> {
        let mut bounds = ProtocolExpect {
            min: None,
            max: None,
        };
        while let Some(key) = map.next_key::<String>()? {
            let value: Json = map.next_value()?;
            let text = match &value {
                Json::String(s) => s.clone(),
                other => other.to_string(),
            };
            let version = Version::parse(&text).map_err(de::Error::custom)?;
            match key.as_str() {
                "min" => bounds.min = Some(version),
                "max" => bounds.max = Some(version),
                other => {
                    return Err(de::Error::custom(format!(
                        "unknown field `{other}`, expected `min` or `max`"
                    )));
                }
            }
        }
        if bounds.min.is_none() && bounds.max.is_none() {
            return Err(de::Error::custom("empty `protocol`: give `min` or `max`"));
        }
        Ok(bounds)
    }
}

impl JsonSchema for ProtocolExpect {
    fn schema_name() -> Cow<'static, str> {
        "TlsProtocol".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "A TLS version (`TLSv1.3`, exact) or bounds (`{min: TLSv1.2}`).",
            "anyOf": [
                {"type": "string"},
                {
                    "type": "object",
                    "additionalProperties": false,
                    "minProperties": 1,
                    "properties": {"min": {"type": "string"}, "max": {"type": "string"}}
                }
            ]
        })
    }
}

/// `key:` — the leaf's public key.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct KeyExpect {
    /// The key type.
    #[serde(default, rename = "type")]
    pub kind: Option<KeyType>,
    /// The fewest bits (RSA modulus, EC field size; ECDSA P-256 is 256).
    #[serde(default)]
    pub min_bits: Option<u32>,
}

/// A public key type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum KeyType {
    /// RSA.
    Rsa,
    /// ECDSA (any curve).
    #[serde(alias = "ec")]
    Ecdsa,
    /// Ed25519.
    Ed25519,
}

impl KeyType {
    fn as_str(self) -> &'static str {
        match self {
            KeyType::Rsa => "rsa",
            KeyType::Ecdsa => "ecdsa",
            KeyType::Ed25519 => "ed25519",
        }
    }
}

impl TryFrom<TlsProbeSettings> for Tls {
    type Error = String;

    fn try_from(s: TlsProbeSettings) -> Result<Tls, String> {
        let (host, port) = match &s.endpoint {
            Some(text) => tcp::parse_address(text)
                .map_err(|e| e.replace("`host:port`", "`host:port` or `host`"))?,
            None => (None, None),
        };
        if let Some(sni) = &s.sni
            && ServerName::try_from(sni.as_str()).is_err()
        {
            return Err(format!(
                "invalid `sni` `{sni}`: expected a DNS name or an IP address"
            ));
        }
        if s.client_cert.is_some() != s.client_key.is_some() {
            return Err("`client_cert` and `client_key` must be given together".to_owned());
        }
        // `[TLSv1, TLSv1.0]` is one version: one connection, one check.
        let mut expect = s.expect;
        let mut seen = Vec::new();
        expect.refuses.retain(|v| {
            let first = !seen.contains(v);
            seen.push(*v);
            first
        });
        Ok(Tls {
            written: s.endpoint,
            host,
            port,
            sni: s.sni,
            tls: TlsSettings {
                ca: s.ca,
                client_cert: s.client_cert,
                client_key: s.client_key,
                insecure: false,
            },
            expect,
        })
    }
}

impl Tls {
    /// `tls target`, `tls api.example.com:443 sni api.example.com`.
    pub fn describe(&self) -> String {
        let mut line = match &self.written {
            Some(e) => format!("tls {e}"),
            None => "tls target".to_owned(),
        };
        if let Some(sni) = &self.sni {
            line.push_str(&format!(" sni {sni}"));
        }
        line
    }

    /// The host and port to connect to, filled in from the target.
    fn endpoint(&self, cx: &Context) -> Result<(String, u16), ProbeError> {
        let target = cx.target.as_ref();
        let host = match &self.host {
            Some(h) => h.clone(),
            None => match target.and_then(url::Url::host) {
                Some(url::Host::Ipv6(ip)) => ip.to_string(),
                Some(h) => h.to_string(),
                None => {
                    return Err(ProbeError::Setup(
                        "`tls` has no host: give `endpoint: host:port`, or `target:` / `--target`"
                            .to_owned(),
                    ));
                }
            },
        };
        let port = match (self.port, &self.host) {
            (Some(p), _) => p,
            // `endpoint: host` means that host's HTTPS port, not the target's.
            (None, Some(_)) => DEFAULT_PORT,
            (None, None) => target.and_then(url::Url::port).unwrap_or(DEFAULT_PORT),
        };
        Ok((host, port))
    }
}

/// What the server presented, recorded during the handshake.
#[derive(Debug, Clone, Default)]
struct Presented {
    chain: Vec<CertificateDer<'static>>,
    ocsp: Vec<u8>,
}

/// A verifier that records the presented chain and lets the handshake
/// complete, so that a bad certificate is still read; the real verification
/// runs afterwards on the record ([`verify_chain`], [`verify_name`]).
/// Handshake signatures are still checked.
#[derive(Debug)]
struct Recorder {
    provider: Arc<rustls::crypto::CryptoProvider>,
    seen: Mutex<Option<Presented>>,
    /// The probe's progress: the certificate's arrival is a phase passed.
    progress: Progress,
}

impl Recorder {
    fn take(&self) -> Option<Presented> {
        self.seen.lock().ok().and_then(|mut seen| seen.take())
    }
}

impl ServerCertVerifier for Recorder {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        self.progress.step("certificate received");
        self.progress
            .phase("waiting for the end of the TLS handshake");
        let mut chain = vec![end_entity.clone().into_owned()];
        chain.extend(intermediates.iter().map(|c| c.clone().into_owned()));
        if let Ok(mut seen) = self.seen.lock() {
            *seen = Some(Presented {
                chain,
                ocsp: ocsp.to_vec(),
            });
        }
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// The system's trusted roots, read once (`SSL_CERT_FILE`/`SSL_CERT_DIR` honoured).
fn system_roots() -> &'static Vec<CertificateDer<'static>> {
    static ROOTS: OnceLock<Vec<CertificateDer<'static>>> = OnceLock::new();
    ROOTS.get_or_init(|| rustls_native_certs::load_native_certs().certs)
}

fn resolve(base_dir: &Path, path: &Path) -> PathBuf {
    if path.is_absolute() {
        path.to_owned()
    } else {
        base_dir.join(path)
    }
}

/// The roots the chain is verified against: the system's plus `ca`, as for
/// `http`; and the certificates they came from, for the anchor's expiry.
fn trust_roots(
    tls: &TlsSettings,
    base_dir: &Path,
) -> Result<(RootCertStore, Vec<CertificateDer<'static>>), String> {
    let mut roots = RootCertStore::empty();
    let mut root_certs = system_roots().clone();
    roots.add_parsable_certificates(system_roots().iter().cloned());
    if let Some(ca) = &tls.ca {
        let path = resolve(base_dir, ca);
        let certs: Result<Vec<_>, _> = CertificateDer::pem_file_iter(&path)
            .map_err(|e| format!("cannot read certificates from `{}`: {e}", path.display()))?
            .collect();
        let certs = certs.map_err(|e| format!("invalid PEM in `{}`: {e}", path.display()))?;
        root_certs.extend(certs.iter().cloned());
        let (added, _) = roots.add_parsable_certificates(certs);
        if added == 0 {
            return Err(format!(
                "`{}` holds no usable CA certificate",
                path.display()
            ));
        }
    }
    Ok((roots, root_certs))
}

/// Whether the chain verifies to `roots` at `now` (validity dates included,
/// the name not).
fn verify_chain(
    chain: &[CertificateDer<'static>],
    roots: &RootCertStore,
    now: UnixTime,
) -> Result<(), rustls::Error> {
    let Some((leaf, intermediates)) = chain.split_first() else {
        return Err(rustls::Error::NoCertificatesPresented);
    };
    let parsed = rustls::server::ParsedCertificate::try_from(leaf)?;
    rustls::client::verify_server_cert_signed_by_trust_anchor(
        &parsed,
        roots,
        intermediates,
        now,
        fetch::crypto_provider()
            .signature_verification_algorithms
            .all,
    )
}

/// Whether the leaf is valid for `name`.
fn verify_name(leaf: &CertificateDer<'static>, name: &ServerName<'_>) -> Result<(), rustls::Error> {
    let parsed = rustls::server::ParsedCertificate::try_from(leaf)?;
    rustls::client::verify_server_name(&parsed, name)
}

/// A verification error as a short word for evidence, and as people read it.
fn classify(error: &rustls::Error) -> (&'static str, String) {
    match error {
        rustls::Error::InvalidCertificate(c) => {
            let kind = match c {
                CertificateError::Expired | CertificateError::ExpiredContext { .. } => "expired",
                CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
                    "not_yet_valid"
                }
                CertificateError::UnknownIssuer => "unknown_issuer",
                CertificateError::NotValidForName
                | CertificateError::NotValidForNameContext { .. } => "name_mismatch",
                CertificateError::BadSignature => "bad_signature",
                CertificateError::Revoked => "revoked",
                CertificateError::InvalidPurpose
                | CertificateError::InvalidPurposeContext { .. } => "wrong_purpose",
                CertificateError::BadEncoding => "bad_encoding",
                _ => "invalid",
            };
            (kind, kind.replace('_', " "))
        }
        other => ("error", other.to_string()),
    }
}

/// A UNIX time as RFC 3339 (`2026-01-31T00:00:00Z`).
fn rfc3339(unix: i64) -> String {
    // humantime formats 1970..=9999 only.
    const MAX: i64 = 253_402_300_799;
    match u64::try_from(unix) {
        Ok(secs) if unix <= MAX => {
            humantime::format_rfc3339_seconds(UNIX_EPOCH + Duration::from_secs(secs)).to_string()
        }
        _ => format!("@{unix}"),
    }
}

fn now_unix() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// What the handshake gave, whether or not it completed.
struct Handshake {
    version: Option<Version>,
    cipher: Option<String>,
    alpn: Option<String>,
    error: Option<String>,
    presented: Option<Presented>,
    after: Duration,
}

async fn handshake(
    stream: tokio::net::TcpStream,
    name: ServerName<'static>,
    mut config: rustls::ClientConfig,
    progress: &Progress,
) -> Handshake {
    let recorder = Arc::new(Recorder {
        provider: fetch::crypto_provider(),
        seen: Mutex::new(None),
        progress: progress.clone(),
    });
    config
        .dangerous()
        .set_certificate_verifier(Arc::clone(&recorder) as Arc<dyn ServerCertVerifier>);
    let started = Instant::now();
    let result = tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(name, stream)
        .await;
    let after = started.elapsed();
    match result {
        Ok(tls) => {
            let (_, connection) = tls.get_ref();
            Handshake {
                version: connection.protocol_version().and_then(Version::from_rustls),
                cipher: connection.negotiated_cipher_suite().map(|c| {
                    c.suite()
                        .as_str()
                        .map_or_else(|| format!("{:?}", c.suite()), str::to_owned)
                }),
                alpn: connection
                    .alpn_protocol()
                    .map(|p| String::from_utf8_lossy(p).into_owned()),
                error: None,
                presented: recorder.take(),
                after,
            }
        }
        Err(e) => Handshake {
            version: None,
            cipher: None,
            alpn: None,
            error: Some(fetch::error_chain(&e)),
            presented: recorder.take(),
            after,
        },
    }
}

fn yes_no(b: bool) -> &'static str {
    if b { "yes" } else { "no" }
}

impl Probe for Tls {
    /// One connection for the handshake, and one per version in `refuses`.
    fn budget(&self) -> super::Budget {
        let main = u64::from(!self.expect.only_refuses());
        super::Budget {
            max_requests: main + self.expect.refuses.len() as u64,
            ..super::Budget::SINGLE
        }
    }

    async fn run(&self, cx: &Context) -> Result<Findings, ProbeError> {
        let (host, port) = self.endpoint(cx)?;
        if self.expect.refuses.is_empty() {
            return self.inspect(cx, &host, port).await;
        }
        // The versions are tried beside the handshake, each bounded a little
        // under the timeout so it can say it heard nothing.
        let sni = self.sni.clone().unwrap_or_else(|| host.clone());
        let limit = cx.timeout.mul_f64(0.9);
        let tries = futures_util::future::join_all(
            self.expect
                .refuses
                .iter()
                .map(|v| legacy::attempt(&host, port, Some(&sni), *v, limit)),
        );
        let (attempts, findings) = if self.expect.only_refuses() {
            let address = tcp::join_host_port(&host, port);
            let findings = Findings {
                checks: Vec::new(),
                summary: format!("tls {address} → "),
                evidence: json!({"address": address, "sni": sni}),
            };
            (tries.await, Ok(findings))
        } else {
            tokio::join!(tries, self.inspect(cx, &host, port))
        };
        let mut findings = findings?;
        let checks: Vec<Check> = attempts.iter().map(legacy::Attempt::check).collect();
        let said: Vec<String> = attempts
            .iter()
            .zip(&checks)
            .map(|(a, c)| format!("{} {}", a.version, c.actual))
            .collect();
        if findings.checks.is_empty() {
            findings.summary.push_str(&said.join("; "));
        } else {
            findings.summary.push_str(&format!("; {}", said.join("; ")));
        }
        findings.evidence["refuses"] = attempts.iter().map(legacy::Attempt::record).collect();
        findings.checks.extend(checks);
        Ok(findings)
    }
}

impl Tls {
    /// The handshake with rustls and everything read from it.
    async fn inspect(&self, cx: &Context, host: &str, port: u16) -> Result<Findings, ProbeError> {
        let host = host.to_owned();
        let settings = self.tls.or(&cx.tls);
        // The verdict on the chain is this probe's to report: never skip it.
        let settings = TlsSettings {
            insecure: false,
            ..settings
        };
        let config =
            fetch::client_tls_config(&settings, &cx.base_dir).map_err(ProbeError::Setup)?;
        let (roots, root_certs) =
            trust_roots(&settings, &cx.base_dir).map_err(ProbeError::Setup)?;
        let sni = self.sni.clone().unwrap_or_else(|| host.clone());
        let name = ServerName::try_from(sni.clone())
            .map_err(|e| ProbeError::Setup(format!("invalid server name `{sni}`: {e}")))?;
        let address = tcp::join_host_port(&host, port);
        let mut record = json!({
            "address": address,
            "sni": sni,
            "roots": match &settings.ca {
                Some(ca) => format!("system + {}", ca.display()),
                None => "system".to_owned(),
            },
        });
        cx.progress().phase(format!("connecting to {address}"));
        let reach = tcp::connect(&host, port, None).await;
        record["connection"] = reach.record(&host, port);
        if let Reach::Open { after, .. } = &reach {
            cx.progress()
                .step(format!("connected in {}", fetch::format_latency(*after)));
        }
        let Reach::Open { stream, .. } = reach else {
            let why = reach.describe();
            return Ok(Findings {
                checks: vec![Check::new("connect", "open", why.clone(), false)],
                summary: format!("tls {address} → {why}"),
                evidence: record,
            });
        };
        cx.progress().phase("waiting for the TLS ServerHello");
        let hs = handshake(stream, name.clone(), config, cx.progress()).await;
        record["handshake_ms"] = json!(fetch::millis(hs.after));
        record["version"] = json!(hs.version.map(|v| v.to_string()));
        record["cipher"] = json!(hs.cipher);
        record["alpn"] = json!(hs.alpn);
        if let Some(error) = &hs.error {
            record["error"] = json!(error);
        }
        let mut checks = vec![Check::new(
            "handshake",
            "completed",
            match (&hs.error, hs.version) {
                (Some(e), _) => e.clone(),
                (None, Some(v)) => format!("{v}, {}", hs.cipher.as_deref().unwrap_or("unknown")),
                (None, None) => "completed".to_owned(),
            },
            hs.error.is_none(),
        )];
        let Some(presented) = hs.presented.filter(|p| !p.chain.is_empty()) else {
            let why = hs
                .error
                .unwrap_or_else(|| "no certificate presented".to_owned());
            return Ok(Findings {
                checks,
                summary: format!("tls {address} → handshake failed: {why}"),
                evidence: record,
            });
        };
        let now = now_unix();
        let certs: Vec<Result<CertInfo, String>> =
            presented.chain.iter().map(|c| CertInfo::parse(c)).collect();
        let at = UnixTime::since_unix_epoch(Duration::from_secs(u64::try_from(now).unwrap_or(0)));
        let trust = verify_chain(&presented.chain, &roots, at);
        let verified = trust.as_ref().ok().and_then(|()| {
            path::verified_path(&presented.chain, &roots, &root_certs, at, |c| {
                CertInfo::parse(c).ok().map(|i| i.not_after)
            })
        });
        let name_ok = verify_name(&presented.chain[0], &name);
        record["certificates"] = Json::Array(
            certs
                .iter()
                .enumerate()
                .map(|(i, c)| {
                    let mut cert = match c {
                        Ok(info) => info.record(now),
                        Err(e) => json!({"error": e}),
                    };
                    if let Some(v) = &verified {
                        cert["on_path"] = json!(v.on_path.get(i).copied().unwrap_or(false));
                    }
                    cert
                })
                .collect(),
        );
        record["verification"] = match &trust {
            Ok(()) => json!({"trusted": true}),
            Err(e) => {
                let (kind, _) = classify(e);
                json!({"trusted": false, "reason": kind, "error": e.to_string()})
            }
        };
        record["verification"]["hostname"] = json!(name_ok.is_ok());
        if let Err(e) = &name_ok {
            record["verification"]["hostname_error"] = json!(e.to_string());
        }
        record["ocsp_stapled"] = json!(!presented.ocsp.is_empty());
        let leaf = certs.first().and_then(|c| c.as_ref().ok());
        // Chain expiry counts the verified path (with its anchor); a chain
        // that does not verify has no path, so everything sent counts.
        let on_path = |i: usize| {
            verified
                .as_ref()
                .is_none_or(|v| v.on_path.get(i) == Some(&true))
        };
        let anchor = verified
            .as_ref()
            .and_then(|v| v.anchor.as_ref())
            .and_then(|c| CertInfo::parse(c).ok());
        let extra: Vec<&CertInfo> = certs
            .iter()
            .enumerate()
            .filter(|(i, _)| !on_path(*i))
            .filter_map(|(_, c)| c.as_ref().ok())
            .collect();
        let earliest = certs
            .iter()
            .enumerate()
            .filter(|(i, _)| on_path(*i))
            .filter_map(|(_, c)| c.as_ref().ok())
            .chain(anchor.as_ref())
            .min_by_key(|c| c.not_after);
        let over = if verified.is_some() {
            "the verified path"
        } else {
            "the certificates as sent (the chain did not verify)"
        };
        if let Some(a) = &anchor {
            record["anchor"] = json!({
                "subject": a.subject,
                "not_after": rfc3339(a.not_after),
                "days_left": days_left(a.not_after, now),
                "seconds_left": seconds_left(a.not_after, now),
            });
        }
        if let Some(e) = earliest {
            record["chain_expires"] = json!({
                "subject": e.subject,
                "not_after": rfc3339(e.not_after),
                "days_left": days_left(e.not_after, now),
                "seconds_left": seconds_left(e.not_after, now),
                "over": over,
            });
        }
        if !extra.is_empty() {
            record["not_on_path"] = extra
                .iter()
                .map(|c| {
                    json!({
                        "subject": c.subject,
                        "not_after": rfc3339(c.not_after),
                        "days_left": days_left(c.not_after, now),
                        "status": "sent, not on the path",
                    })
                })
                .collect();
        }

        let defaults;
        let expect = if self.expect.is_empty() {
            defaults = TlsExpect::defaults();
            &defaults
        } else {
            &self.expect
        };
        if let Some(want) = expect.trusted {
            let actual = match &trust {
                Ok(()) => "yes".to_owned(),
                Err(e) => format!("no ({})", classify(e).1),
            };
            checks.push(Check::new(
                "trusted",
                yes_no(want),
                actual,
                trust.is_ok() == want,
            ));
        }
        if let Some(want) = expect.hostname {
            let sans = leaf.map(|l| l.sans.join(", ")).unwrap_or_default();
            let actual = match &name_ok {
                Ok(()) => format!("yes ({sans})"),
                Err(_) => format!("no (names: {sans})"),
            };
            checks.push(Check::new(
                "hostname",
                format!("{}valid for {sni}", if want { "" } else { "not " }),
                actual,
                name_ok.is_ok() == want,
            ));
        }
        let expiry_check = |name: &str,
                            matcher: &Matcher,
                            cert: Option<&CertInfo>,
                            chain: Option<&[String]>| match cert {
            Some(c) => {
                let left = seconds_left(c.not_after, now);
                let mut notes = Vec::new();
                if chain.is_some() {
                    notes.push(c.subject.clone());
                }
                notes.push(format!("not after {}", rfc3339(c.not_after)));
                notes.extend(chain.unwrap_or_default().iter().cloned());
                let actual = format!("{} ({})", left_text(c.not_after, now), notes.join("; "));
                Check::new(
                    name,
                    matcher.to_string(),
                    actual,
                    matcher.check(Some(&json!(left))).is_ok(),
                )
            }
            None => Check::new(name, matcher.to_string(), "unreadable certificate", false),
        };
        if let Some(m) = &expect.expires_in {
            checks.push(expiry_check("expires_in", m, leaf, None));
        }
        if let Some(m) = &expect.chain_expires_in {
            let mut notes = Vec::new();
            if verified.is_none() {
                notes.push(format!("over {over}"));
            }
            match extra.len() {
                0 => {}
                1 => notes.push("1 sent certificate not on the path, not counted".to_owned()),
                n => notes.push(format!(
                    "{n} sent certificates not on the path, not counted"
                )),
            }
            checks.push(expiry_check("chain_expires_in", m, earliest, Some(&notes)));
        }
        if let Some(want) = &expect.protocol {
            let (actual, passed) = match hs.version {
                Some(v) => (v.to_string(), want.accepts(v)),
                None => ("unknown (no completed handshake)".to_owned(), false),
            };
            checks.push(Check::new("protocol", want.to_string(), actual, passed));
        }
        if let Some(key) = &expect.key {
            if let Some(kind) = key.kind {
                let actual = leaf.map_or("unknown".to_owned(), |l| l.key_name.clone());
                let passed = leaf.is_some_and(|l| l.key_type == Some(kind));
                checks.push(Check::new("key type", kind.as_str(), actual, passed));
            }
            if let Some(min) = key.min_bits {
                let bits = leaf.map_or(0, |l| l.key_bits);
                checks.push(Check::new(
                    "key bits",
                    format!(">= {min}"),
                    bits.to_string(),
                    bits >= min,
                ));
            }
        }
        let text_check = |name: &str, matcher: &Matcher, value: Option<Json>| {
            let actual = value.as_ref().map_or("unknown".to_owned(), |v| match v {
                Json::String(s) => s.clone(),
                other => other.to_string(),
            });
            let passed = matcher.check(value.as_ref()).is_ok();
            Check::new(name, matcher.to_string(), actual, passed)
        };
        if let Some(m) = &expect.issuer {
            checks.push(text_check("issuer", m, leaf.map(|l| json!(l.issuer))));
        }
        if let Some(m) = &expect.subject {
            checks.push(text_check("subject", m, leaf.map(|l| json!(l.subject))));
        }
        if let Some(m) = &expect.san {
            checks.push(text_check("san", m, leaf.map(|l| json!(l.sans))));
        }
        if let Some(want) = expect.ocsp_stapled {
            let stapled = !presented.ocsp.is_empty();
            checks.push(Check::new(
                "ocsp_stapled",
                yes_no(want),
                yes_no(stapled),
                stapled == want,
            ));
        }

        let mut line = format!("tls {address} → ");
        match (hs.version, &hs.cipher) {
            (Some(v), Some(c)) => line.push_str(&format!("{v}, {c}")),
            _ => line.push_str("handshake failed"),
        }
        if let Some(l) = leaf {
            let left = seconds_left(l.not_after, now);
            if left < 0 {
                line.push_str(&format!("; {} {}", l.subject, left_text(l.not_after, now)));
            } else {
                line.push_str(&format!("; {} expires in {}", l.subject, span_text(left)));
            }
        }
        let failed: Vec<&Check> = checks.iter().filter(|c| !c.passed).collect();
        super::append_failures(&mut line, &failed, 3, false);
        Ok(Findings {
            checks,
            summary: line,
            evidence: record,
        })
    }
}

impl Tls {
    /// `[""]` when the host comes from the target (`""` is the target
    /// itself): loading checks a target is set.
    pub fn target_paths(&self) -> Vec<&str> {
        if self.host.is_none() {
            vec![""]
        } else {
            Vec::new()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tls(yaml: &str) -> Result<Tls, String> {
        crate::spec::de::from_yaml(yaml)
    }

    #[test]
    fn parses_versions_in_every_spelling() {
        assert_eq!(Version::parse("TLSv1.2"), Ok(Version::Tls12));
        assert_eq!(Version::parse("tlsv1_3"), Ok(Version::Tls13));
        assert_eq!(Version::parse("1.3"), Ok(Version::Tls13));
        assert!(Version::parse("SSLv3").is_err());
        assert!(Version::Tls12 < Version::Tls13);
    }

    #[test]
    fn refuses_takes_old_versions_and_counts_a_connection_each() {
        let t = tls("{endpoint: 'h:443', expect: {refuses: [SSLv3, TLSv1.0, TLSv1.1, TLSv1]}}")
            .expect("valid");
        assert_eq!(
            t.expect.refuses,
            [Legacy::Ssl3, Legacy::Tls10, Legacy::Tls11]
        );
        assert!(t.expect.only_refuses());
        assert_eq!(t.budget().max_requests, 3);
        let t =
            tls("{endpoint: 'h:443', expect: {trusted: true, refuses: [TLSv1.0]}}").expect("valid");
        assert!(!t.expect.only_refuses());
        assert_eq!(t.budget().max_requests, 2);
        let err = tls("{expect: {refuses: [TLSv1.3]}}").expect_err("not refusable");
        assert!(err.contains("use `protocol: TLSv1.3`"), "{err}");
    }

    #[test]
    fn protocol_is_exact_or_bounded() {
        let exact = tls("expect: {protocol: TLSv1.3}\n").expect("valid");
        let p = exact.expect.protocol.expect("protocol");
        assert!(p.accepts(Version::Tls13));
        assert!(!p.accepts(Version::Tls12));
        assert_eq!(p.to_string(), "TLSv1.3");
        let min = tls("expect: {protocol: {min: TLSv1.2}}\n").expect("valid");
        let p = min.expect.protocol.expect("protocol");
        assert!(p.accepts(Version::Tls13));
        assert_eq!(p.to_string(), ">= TLSv1.2");
        assert!(
            tls("expect: {protocol: {least: TLSv1.2}}\n")
                .expect_err("unknown")
                .contains("`min` or `max`")
        );
    }

    #[test]
    fn rejects_bad_settings() {
        let err = |yaml: &str| tls(yaml).expect_err(yaml);
        assert!(err("client_cert: c.pem\n").contains("together"));
        assert!(err("endpoint: https://x\n").contains("not a URL"));
        assert!(err("expect: {key: {type: dsa}}\n").contains("unknown variant"));
        assert!(err("insecure: true\n").contains("unknown field"));
    }

    #[test]
    fn the_init_skeleton_is_valid() {
        let t = tls("expect:\n  trusted: true\n  expires_in: { min: 30d }\n").expect("valid");
        assert_eq!(t.expect.trusted, Some(true));
    }

    #[test]
    fn describes_what_it_checks() {
        assert_eq!(tls("{}").expect("valid").describe(), "tls target");
        assert_eq!(
            tls("endpoint: api.example.com\nsni: www.example.com\n")
                .expect("valid")
                .describe(),
            "tls api.example.com sni www.example.com"
        );
    }

    #[test]
    fn dates_are_rfc3339() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(-1), "@-1");
    }

    #[test]
    fn an_empty_expect_gets_the_defaults() {
        let d = TlsExpect::defaults();
        assert_eq!(d.trusted, Some(true));
        assert_eq!(d.hostname, Some(true));
        let m = d.expires_in.expect("expires_in");
        assert!(m.check(Some(&json!(5))).is_ok());
        assert!(m.check(Some(&json!(-5))).is_err());
    }
}
