//! Test support shared by the integration tests: in-process HTTP(S) servers on
//! `127.0.0.1:0` (hyper 1, http1; TLS and mTLS with `rcgen` certificates), and
//! a runner for the real `vouch` binary that captures its output.
//!
//! Included with `#[path = "support/server.rs"] mod server;`: each test crate
//! uses part of it, hence the `dead_code` allowance.
#![allow(dead_code)]

use std::convert::Infallible;
use std::future::Future;
use std::io::Read;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::net::{TcpListener, TcpStream};
use tokio::runtime::Runtime;
use tokio_rustls::TlsAcceptor;

/// The response type handlers return.
pub type Response = hyper::Response<Full<Bytes>>;

/// A request as the server saw it, body read in full.
#[derive(Debug, Clone)]
pub struct Request {
    /// 1-based arrival number on this server.
    pub number: usize,
    /// `GET`, `POST`, ….
    pub method: String,
    /// The request target as sent (`/path?query`).
    pub uri: String,
    /// Header names (lowercase) and values, in order.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Bytes,
}

impl Request {
    /// The path without the query.
    pub fn path(&self) -> &str {
        self.uri.split('?').next().unwrap_or("")
    }

    /// The first value of a header.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The request line, headers and body as text, the way an echo server shows them.
    pub fn dump(&self) -> String {
        let mut text = format!("{} {}\n", self.method, self.uri);
        for (name, value) in &self.headers {
            text.push_str(&format!("{name}: {value}\n"));
        }
        text.push('\n');
        text.push_str(&String::from_utf8_lossy(&self.body));
        text
    }
}

/// A response with a status, a content type and a body.
pub fn respond(status: u16, content_type: &str, body: impl Into<Bytes>) -> Response {
    let mut response = hyper::Response::new(Full::new(body.into()));
    *response.status_mut() = hyper::StatusCode::from_u16(status).expect("valid status code");
    if !content_type.is_empty() {
        response.headers_mut().insert(
            "content-type",
            content_type.parse().expect("valid content type"),
        );
    }
    response
}

/// `200 application/json`.
pub fn json(body: &str) -> Response {
    respond(200, "application/json", body.to_owned())
}

/// A plain-text response.
pub fn text(status: u16, body: &str) -> Response {
    respond(status, "text/plain", body.to_owned())
}

/// Adds a header to a response.
pub fn with_header(mut response: Response, name: &'static str, value: &str) -> Response {
    response
        .headers_mut()
        .append(name, value.parse().expect("valid header value"));
    response
}

type BoxFuture = Pin<Box<dyn Future<Output = Response> + Send>>;
type Handler = Arc<dyn Fn(Request) -> BoxFuture + Send + Sync>;

/// What a server saw: request counts, concurrency, and every request.
#[derive(Default)]
pub struct Stats {
    requests: AtomicUsize,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
    log: Mutex<Vec<Request>>,
}

/// Decrements the in-flight count however the handler ends (a client that
/// gives up drops the handler's future).
struct InFlight(Arc<Stats>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

/// An in-process server on `127.0.0.1:0`, running on its own runtime until dropped.
pub struct Server {
    addr: SocketAddr,
    scheme: &'static str,
    stats: Arc<Stats>,
    runtime: Option<Runtime>,
}

impl Server {
    /// A plain HTTP server with a synchronous handler.
    pub fn http(handler: impl Fn(Request) -> Response + Send + Sync + 'static) -> Server {
        Server::http_async(move |request| {
            let response = handler(request);
            async move { response }
        })
    }

    /// A plain HTTP server with an async handler (for sleeps).
    pub fn http_async<F, Fut>(handler: F) -> Server
    where
        F: Fn(Request) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Response> + Send + 'static,
    {
        Server::start(boxed(handler), None)
    }

    /// An HTTPS server with a leaf for `localhost` and `127.0.0.1` signed by `pki`'s CA.
    pub fn https(
        pki: &Pki,
        handler: impl Fn(Request) -> Response + Send + Sync + 'static,
    ) -> Server {
        let handler = boxed(move |request| {
            let response = handler(request);
            async move { response }
        });
        Server::start(handler, Some(pki.server_config(false)))
    }

    /// An HTTPS server that requires a client certificate signed by `pki`'s CA.
    pub fn mtls(
        pki: &Pki,
        handler: impl Fn(Request) -> Response + Send + Sync + 'static,
    ) -> Server {
        let handler = boxed(move |request| {
            let response = handler(request);
            async move { response }
        });
        Server::start(handler, Some(pki.server_config(true)))
    }

    fn start(handler: Handler, tls: Option<rustls::ServerConfig>) -> Server {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("test server runtime");
        let listener = runtime
            .block_on(TcpListener::bind("127.0.0.1:0"))
            .expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local address");
        let stats = Arc::new(Stats::default());
        let scheme = if tls.is_some() { "https" } else { "http" };
        let acceptor = tls.map(|config| TlsAcceptor::from(Arc::new(config)));
        let accept_stats = Arc::clone(&stats);
        runtime.spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let (handler, stats, acceptor) = (
                    Arc::clone(&handler),
                    Arc::clone(&accept_stats),
                    acceptor.clone(),
                );
                tokio::spawn(async move {
                    match acceptor {
                        Some(acceptor) => {
                            // A client that rejects our certificate (or has none
                            // for mTLS) ends here.
                            if let Ok(stream) = acceptor.accept(stream).await {
                                serve(TokioIo::new(stream), handler, stats).await;
                            }
                        }
                        None => serve(TokioIo::new(stream), handler, stats).await,
                    }
                });
            }
        });
        Server {
            addr,
            scheme,
            stats,
            runtime: Some(runtime),
        }
    }

    /// The base URL, `http://127.0.0.1:PORT` (no trailing slash).
    pub fn url(&self) -> String {
        format!("{}://{}", self.scheme, self.addr)
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Requests received so far.
    pub fn requests(&self) -> usize {
        self.stats.requests.load(Ordering::SeqCst)
    }

    /// The most requests that were being handled at once.
    pub fn max_in_flight(&self) -> usize {
        self.stats.max_in_flight.load(Ordering::SeqCst)
    }

    /// Every request received so far.
    pub fn log(&self) -> Vec<Request> {
        self.stats.log.lock().expect("request log").clone()
    }

    /// Waits until at least `n` requests have arrived, up to `within`.
    pub fn wait_for_requests(&self, n: usize, within: Duration) -> bool {
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            if self.requests() >= n {
                return true;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        self.requests() >= n
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // Handlers may still be sleeping (a client that timed out): don't wait for them.
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

fn boxed<F, Fut>(handler: F) -> Handler
where
    F: Fn(Request) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Response> + Send + 'static,
{
    Arc::new(move |request| Box::pin(handler(request)) as BoxFuture)
}

async fn serve<S>(io: TokioIo<S>, handler: Handler, stats: Arc<Stats>)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let service = service_fn(move |request: hyper::Request<Incoming>| {
        let (handler, stats) = (Arc::clone(&handler), Arc::clone(&stats));
        async move {
            let (parts, body) = request.into_parts();
            let body = body
                .collect()
                .await
                .map(|b| b.to_bytes())
                .unwrap_or_default();
            let number = stats.requests.fetch_add(1, Ordering::SeqCst) + 1;
            let now = stats.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
            stats.max_in_flight.fetch_max(now, Ordering::SeqCst);
            let _guard = InFlight(Arc::clone(&stats));
            let request = Request {
                number,
                method: parts.method.to_string(),
                uri: parts.uri.to_string(),
                headers: parts
                    .headers
                    .iter()
                    .map(|(n, v)| {
                        (
                            n.as_str().to_owned(),
                            String::from_utf8_lossy(v.as_bytes()).into_owned(),
                        )
                    })
                    .collect(),
                body,
            };
            stats.log.lock().expect("request log").push(request.clone());
            Ok::<_, Infallible>(handler(request).await)
        }
    });
    let _ = http1::Builder::new().serve_connection(io, service).await;
}

/// A TCP server that hands every accepted connection to `handle` (for
/// misbehaving peers: accept and close, never answer).
pub struct RawServer {
    addr: SocketAddr,
    accepted: Arc<AtomicUsize>,
    runtime: Option<Runtime>,
}

impl RawServer {
    /// Starts the server.
    pub fn start<F, Fut>(handle: F) -> RawServer
    where
        F: Fn(TcpStream) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("test server runtime");
        let listener = runtime
            .block_on(TcpListener::bind("127.0.0.1:0"))
            .expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local address");
        let accepted = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&accepted);
        runtime.spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                counter.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(handle(stream));
            }
        });
        RawServer {
            addr,
            accepted,
            runtime: Some(runtime),
        }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Connections accepted so far.
    pub fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }
}

impl Drop for RawServer {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

/// The URL of a loopback port nothing listens on (bound, then released).
pub fn closed_port_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    let port = listener.local_addr().expect("local address").port();
    drop(listener);
    format!("http://127.0.0.1:{port}")
}

/// A private CA and a server leaf for `localhost` / `127.0.0.1`, with its
/// files in a temporary directory.
pub struct Pki {
    dir: tempfile::TempDir,
    issuer: Issuer<'static, KeyPair>,
    ca_pem: String,
    ca_der: CertificateDer<'static>,
    leaf: CertificateDer<'static>,
    leaf_key: Vec<u8>,
}

impl Pki {
    /// A new CA (`vouch test CA`) and a server leaf signed by it.
    pub fn new() -> Pki {
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(DnType::CommonName, "vouch test CA");
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let ca_key = KeyPair::generate().expect("CA key");
        let ca = params.self_signed(&ca_key).expect("CA certificate");
        let issuer = Issuer::new(params, ca_key);

        let mut leaf_params =
            CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
                .expect("leaf params");
        leaf_params
            .distinguished_name
            .push(DnType::CommonName, "localhost");
        leaf_params.use_authority_key_identifier_extension = true;
        leaf_params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        leaf_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let leaf_key = KeyPair::generate().expect("leaf key");
        let leaf = leaf_params
            .signed_by(&leaf_key, &issuer)
            .expect("leaf certificate");

        let dir = tempfile::tempdir().expect("temp dir");
        let ca_pem = ca.pem();
        std::fs::write(dir.path().join("ca.pem"), &ca_pem).expect("write ca.pem");
        Pki {
            dir,
            issuer,
            ca_pem,
            ca_der: ca.der().clone(),
            leaf: leaf.der().clone(),
            leaf_key: leaf_key.serialize_der(),
        }
    }

    /// The CA certificate, PEM.
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    /// The path of the CA certificate's PEM file.
    pub fn ca_path(&self) -> PathBuf {
        self.dir.path().join("ca.pem")
    }

    /// Writes the CA PEM to `path` (e.g. next to a probe file).
    pub fn write_ca(&self, path: &Path) {
        std::fs::write(path, &self.ca_pem).expect("write CA PEM");
    }

    /// Issues a client certificate signed by the CA and writes it and its key;
    /// returns `(cert.pem, key.pem)`.
    pub fn client_identity(&self) -> (PathBuf, PathBuf) {
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("client params");
        params
            .distinguished_name
            .push(DnType::CommonName, "vouch test client");
        params.use_authority_key_identifier_extension = true;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        let key = KeyPair::generate().expect("client key");
        let cert = params
            .signed_by(&key, &self.issuer)
            .expect("client certificate");
        let cert_path = self.dir.path().join("client.pem");
        let key_path = self.dir.path().join("client-key.pem");
        std::fs::write(&cert_path, cert.pem()).expect("write client.pem");
        std::fs::write(&key_path, key.serialize_pem()).expect("write client-key.pem");
        (cert_path, key_path)
    }

    fn server_config(&self, require_client_cert: bool) -> rustls::ServerConfig {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ServerConfig::builder_with_provider(Arc::clone(&provider))
            .with_safe_default_protocol_versions()
            .expect("protocol versions");
        let builder = if require_client_cert {
            let mut roots = rustls::RootCertStore::empty();
            roots.add(self.ca_der.clone()).expect("CA into roots");
            let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
                Arc::new(roots),
                provider,
            )
            .build()
            .expect("client verifier");
            builder.with_client_cert_verifier(verifier)
        } else {
            builder.with_no_client_auth()
        };
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.leaf_key.clone()));
        let mut config = builder
            .with_single_cert(vec![self.leaf.clone()], key)
            .expect("server certificate");
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        config
    }
}

/// What a run of the binary produced.
#[derive(Debug)]
pub struct Output {
    /// The exit code (`None` when killed by a signal).
    pub code: Option<i32>,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
    /// Wall time.
    pub elapsed: Duration,
}

impl Output {
    /// The exit code; panics with the output when the process died by a signal.
    pub fn code(&self) -> i32 {
        self.code
            .unwrap_or_else(|| panic!("vouch died by a signal\n{}", self.dump()))
    }

    /// stdout parsed as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e})\n{}", self.dump()))
    }

    /// Everything, for assertion messages.
    pub fn dump(&self) -> String {
        format!(
            "exit: {:?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.code, self.stdout, self.stderr
        )
    }

    /// Asserts the exit code, showing the output when it differs.
    pub fn assert_code(&self, expected: i32) -> &Self {
        assert_eq!(self.code, Some(expected), "{}", self.dump());
        self
    }
}

/// How long a single run may take before the test kills it.
pub const RUN_LIMIT: Duration = Duration::from_secs(30);

/// The environment variables a run never inherits: they would change what
/// vouch trusts or targets.
const SCRUBBED_ENV: &[&str] = &[
    "VOUCH_TARGET",
    "VOUCH_LOG",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
    "http_proxy",
    "https_proxy",
    "all_proxy",
    "NO_PROXY",
    "no_proxy",
    "VOUCH_TEST_SECRET",
    // In a GitHub Actions job, every run would append a summary to the job page.
    "GITHUB_STEP_SUMMARY",
];

/// A `vouch` command line with `NO_COLOR=1` and a scrubbed environment.
pub struct Vouch {
    command: Command,
}

impl Vouch {
    /// `vouch ARGS…`.
    pub fn new<I, S>(args: I) -> Vouch
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        let mut command = Command::new(env!("CARGO_BIN_EXE_vouch"));
        command.args(args).env("NO_COLOR", "1");
        for name in SCRUBBED_ENV {
            command.env_remove(name);
        }
        command.stdin(Stdio::null());
        Vouch { command }
    }

    /// Sets an environment variable.
    pub fn env(mut self, name: &str, value: impl AsRef<std::ffi::OsStr>) -> Vouch {
        self.command.env(name, value);
        self
    }

    /// Runs in `dir` (so relative paths in the output are stable).
    pub fn current_dir(mut self, dir: &Path) -> Vouch {
        self.command.current_dir(dir);
        self
    }

    /// Starts the process with stdout and stderr piped.
    pub fn spawn(mut self) -> Child {
        self.command
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn vouch")
    }

    /// Runs to completion (killed after [`RUN_LIMIT`]) and captures everything.
    pub fn run(self) -> Output {
        let started = Instant::now();
        let child = self.spawn();
        wait_output(child, started, RUN_LIMIT)
    }
}

/// `vouch ARGS…` with the default environment.
pub fn vouch<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> Output {
    Vouch::new(args).run()
}

/// Waits for a spawned child, reading its output; kills it after `limit`.
pub fn wait_output(mut child: Child, started: Instant, limit: Duration) -> Output {
    let stdout = child.stdout.take().map(read_in_background);
    let stderr = child.stderr.take().map(read_in_background);
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for vouch") {
            break status;
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            break child.wait().expect("wait for killed vouch");
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let elapsed = started.elapsed();
    let collect = |h: Option<std::thread::JoinHandle<String>>| {
        h.map(|h| h.join().expect("reader thread"))
            .unwrap_or_default()
    };
    Output {
        code: status.code(),
        stdout: collect(stdout),
        stderr: collect(stderr),
        elapsed,
    }
}

fn read_in_background(mut pipe: impl Read + Send + 'static) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = pipe.read_to_end(&mut bytes);
        String::from_utf8_lossy(&bytes).into_owned()
    })
}

/// Writes `text` to `dir/name` and returns the path.
pub fn write_file(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write test file");
    path
}

/// A probe file with `target:` and the given `items:` body (YAML, indented
/// by two spaces under `items:`).
pub fn probe_file(target: &str, items: &str) -> String {
    format!("version: 1\nname: test\ntarget: {target}\nitems:\n{items}")
}

/// The first probe outcome of the item named `item` in a JSON report.
pub fn probe_of<'r>(report: &'r serde_json::Value, item: &str) -> &'r serde_json::Value {
    &item_of(report, item)["probes"][0]
}

/// The item named `item` in a JSON report.
pub fn item_of<'r>(report: &'r serde_json::Value, item: &str) -> &'r serde_json::Value {
    report["items"]
        .as_array()
        .expect("items array")
        .iter()
        .find(|i| i["item"] == item)
        .unwrap_or_else(|| panic!("no item `{item}` in the report:\n{report:#}"))
}

/// The check named `name` of a probe outcome in a JSON report.
pub fn check_of<'p>(probe: &'p serde_json::Value, name: &str) -> &'p serde_json::Value {
    probe["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no check `{name}` in {probe:#}"))
}

/// The names of every check of a probe outcome in a JSON report, in order.
pub fn check_names(probe: &serde_json::Value) -> Vec<String> {
    probe["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .map(|c| c["name"].as_str().expect("check name").to_owned())
        .collect()
}

/// Writes `yaml` to `dir/probes.yaml`, runs `vouch run --format json` on it
/// (plus `extra`) in `dir`, and returns the output and the parsed report.
pub fn run_report(dir: &Path, yaml: &str, extra: &[&str]) -> (Output, serde_json::Value) {
    write_file(dir, "probes.yaml", yaml);
    let mut args = vec!["run", "--format", "json", "probes.yaml"];
    args.extend_from_slice(extra);
    let out = Vouch::new(args).current_dir(dir).run();
    let report = out.json();
    (out, report)
}

impl Pki {
    /// A TLS acceptor with the server leaf (ALPN `http/1.1`), for raw TCP
    /// servers such as WebSocket over TLS.
    pub fn acceptor(&self) -> TlsAcceptor {
        TlsAcceptor::from(Arc::new(self.server_config(false)))
    }
}

/// A certificate chain (leaf first) and the leaf's PKCS#8 key, for
/// [`tls_server`].
#[derive(Clone)]
pub struct Identity {
    /// The chain the server presents, leaf first.
    pub chain: Vec<CertificateDer<'static>>,
    /// The leaf's private key (PKCS#8 DER).
    pub key: Vec<u8>,
}

/// Sets a certificate's validity to `from_days` .. `to_days` from now
/// (negative: in the past).
fn valid_between(params: &mut CertificateParams, from_days: i64, to_days: i64) {
    valid_between_seconds(params, from_days * 86_400, to_days * 86_400);
}

/// Sets a certificate's validity to `from` .. `to` seconds from now
/// (negative: in the past).
fn valid_between_seconds(params: &mut CertificateParams, from: i64, to: i64) {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_secs() as i64;
    let at = |offset: i64| {
        let secs = u64::try_from(now + offset).expect("after 1970");
        rcgen::date_time_ymd(1970, 1, 1) + Duration::from_secs(secs)
    };
    params.not_before = at(from);
    params.not_after = at(to);
}

fn leaf_params(names: &[&str]) -> CertificateParams {
    let mut params =
        CertificateParams::new(names.iter().map(|n| (*n).to_owned()).collect::<Vec<_>>())
            .expect("leaf params");
    params
        .distinguished_name
        .push(DnType::CommonName, names.first().copied().unwrap_or("leaf"));
    params.use_authority_key_identifier_extension = true;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params
}

impl Pki {
    /// A leaf for `names` signed by the CA, valid from `from_days` to
    /// `to_days` from now (negative: in the past).
    pub fn leaf_for(&self, names: &[&str], from_days: i64, to_days: i64) -> Identity {
        self.leaf_between(names, from_days * 86_400, to_days * 86_400)
    }

    /// A leaf for `names` signed by the CA, valid from `from` to `to`
    /// seconds from now (negative: in the past).
    pub fn leaf_between(&self, names: &[&str], from: i64, to: i64) -> Identity {
        let mut params = leaf_params(names);
        valid_between_seconds(&mut params, from, to);
        let key = KeyPair::generate().expect("leaf key");
        let cert = params
            .signed_by(&key, &self.issuer)
            .expect("leaf certificate");
        Identity {
            chain: vec![cert.der().clone()],
            key: key.serialize_der(),
        }
    }

    /// A leaf for `localhost` and `127.0.0.1` signed by an intermediate CA
    /// (itself signed by the CA) that expires in `intermediate_days`; the
    /// leaf expires in `leaf_days`. The chain holds both.
    pub fn leaf_via_intermediate(&self, intermediate_days: i64, leaf_days: i64) -> Identity {
        self.leaf_via_intermediate_seconds(intermediate_days * 86_400, leaf_days * 86_400)
    }

    /// [`Pki::leaf_via_intermediate`] with the expiries in seconds from now.
    pub fn leaf_via_intermediate_seconds(&self, intermediate: i64, leaf: i64) -> Identity {
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("intermediate params");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(DnType::CommonName, "vouch test intermediate");
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        params.use_authority_key_identifier_extension = true;
        valid_between_seconds(&mut params, -86_400, intermediate);
        let key = KeyPair::generate().expect("intermediate key");
        let intermediate = params
            .signed_by(&key, &self.issuer)
            .expect("intermediate certificate");
        let issuer = Issuer::new(params, key);
        let leaf_until = leaf;
        let mut leaf = leaf_params(&["localhost", "127.0.0.1"]);
        valid_between_seconds(&mut leaf, -86_400, leaf_until);
        let leaf_key = KeyPair::generate().expect("leaf key");
        let cert = leaf
            .signed_by(&leaf_key, &issuer)
            .expect("leaf certificate");
        Identity {
            chain: vec![cert.der().clone(), intermediate.der().clone()],
            key: leaf_key.serialize_der(),
        }
    }
}

/// A self-signed CA certificate named `name` that expired 30 days ago — the
/// stale root or cross-sign a server may still send after a CA migration.
pub fn expired_ca(name: &str) -> CertificateDer<'static> {
    let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    valid_between(&mut params, -400, -30);
    let key = KeyPair::generate().expect("CA key");
    params
        .self_signed(&key)
        .expect("expired CA certificate")
        .der()
        .clone()
}

/// A self-signed leaf (not a CA) for `names`, valid for a year.
pub fn self_signed_leaf(names: &[&str]) -> Identity {
    let mut params = leaf_params(names);
    params.use_authority_key_identifier_extension = false;
    valid_between(&mut params, -1, 365);
    let key = KeyPair::generate().expect("leaf key");
    let cert = params.self_signed(&key).expect("self-signed certificate");
    Identity {
        chain: vec![cert.der().clone()],
        key: key.serialize_der(),
    }
}

/// A TLS server presenting `identity` (ALPN `http/1.1`; TLS 1.2 only when
/// `tls12_only`, else 1.2 and 1.3) that completes handshakes and then reads
/// until the client closes.
pub fn tls_server(identity: &Identity, tls12_only: bool) -> RawServer {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ServerConfig::builder_with_provider(provider);
    let builder = if tls12_only {
        builder.with_protocol_versions(&[&rustls::version::TLS12])
    } else {
        builder.with_safe_default_protocol_versions()
    }
    .expect("protocol versions");
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(identity.key.clone()));
    let mut config = builder
        .with_no_client_auth()
        .with_single_cert(identity.chain.clone(), key)
        .expect("server certificate");
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let acceptor = TlsAcceptor::from(Arc::new(config));
    RawServer::start(move |stream| {
        let acceptor = acceptor.clone();
        async move {
            if let Ok(mut tls) = acceptor.accept(stream).await {
                let mut buf = [0u8; 1024];
                while let Ok(n) = tokio::io::AsyncReadExt::read(&mut tls, &mut buf).await {
                    if n == 0 {
                        break;
                    }
                }
            }
        }
    })
}
