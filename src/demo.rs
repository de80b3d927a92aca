//! The embedded demo deployment: a small HTTP service on `127.0.0.1:0` with
//! health, readiness with dependencies, a JSON API, a WebSocket echo at `/ws`,
//! JSON-RPC at `/rpc`, MCP at `/mcp`, Prometheus metrics at `/metrics`, a
//! rate-limited endpoint (`demo/limited.rs`), and one endpoint that is broken
//! on purpose. The demo is a target, not a client: `vouch demo` runs the
//! shipped probe file against it like against any deployment.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::Role;

use crate::report::Report;
use crate::spec::{self, Diagnostic, LoadOptions, ProbeFile};

mod limited;
mod mcp;
mod metrics;

/// The demo probe file, shipped in the binary.
pub const PROBE_FILE: &str = include_str!("../probes/demo.yaml");

/// The demo checklist (the demo team's own words), shipped in the binary.
pub const CHECKLIST: &str = include_str!("../probes/demo-checklist.md");

/// The prefix of the demo's folders in the temporary directory; the process
/// id follows.
const DIR_PREFIX: &str = "vouch-demo-";

/// Writes the demo probe file and checklist to a fresh directory, so the
/// demo runs them like any user's files (and the write-back has a home).
/// The folders of earlier demos that have ended are removed first: this
/// run's stays for its reader until the next demo, the others would pile up.
pub fn write_files() -> std::io::Result<std::path::PathBuf> {
    let temp = std::env::temp_dir();
    remove_old_dirs(&temp);
    let dir = temp.join(format!("{DIR_PREFIX}{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    std::fs::write(dir.join("demo.yaml"), PROBE_FILE)?;
    std::fs::write(dir.join("demo-checklist.md"), CHECKLIST)?;
    Ok(dir)
}

/// Removes the folders earlier demos left in `temp`, except those of demos
/// still running (`vouch demo --serve` keeps its CA file there, and tests
/// run demos side by side). Best effort: a folder that cannot be removed
/// stays.
fn remove_old_dirs(temp: &Path) {
    let Ok(entries) = std::fs::read_dir(temp) else {
        return;
    };
    let own = std::process::id();
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.strip_prefix(DIR_PREFIX))
            .and_then(|pid| pid.parse::<u32>().ok())
        else {
            continue;
        };
        let is_dir = entry.file_type().is_ok_and(|t| t.is_dir());
        if pid != own && is_dir && !is_running(pid) {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// Whether a process with this id exists (it may have been reused by another
/// program: then its folder stays, which is harmless).
#[cfg(target_os = "linux")]
fn is_running(pid: u32) -> bool {
    use nix::errno::Errno;
    let Ok(pid) = i32::try_from(pid) else {
        return false;
    };
    !matches!(
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None),
        Err(Errno::ESRCH)
    )
}

/// Without a way to ask, every other demo counts as running: nothing is
/// removed that a running demo may still need.
#[cfg(not(target_os = "linux"))]
fn is_running(_pid: u32) -> bool {
    true
}

/// Waits for Ctrl-C, SIGTERM or SIGHUP, for `vouch demo --serve`. Created
/// before the demo's run, so a signal during the run is not lost.
pub struct StopSignal {
    #[cfg(unix)]
    streams: Vec<tokio::signal::unix::Signal>,
}

impl StopSignal {
    /// Starts listening.
    ///
    /// # Errors
    ///
    /// When a signal handler cannot be installed.
    pub fn install() -> std::io::Result<StopSignal> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            let streams = [
                SignalKind::interrupt(),
                SignalKind::terminate(),
                SignalKind::hangup(),
            ]
            .into_iter()
            .map(signal)
            .collect::<std::io::Result<Vec<_>>>()?;
            Ok(StopSignal { streams })
        }
        #[cfg(not(unix))]
        Ok(StopSignal {})
    }

    /// Waits for the first signal.
    pub async fn wait(mut self) {
        #[cfg(unix)]
        {
            let waits = self.streams.iter_mut().map(|stream| {
                Box::pin(async move {
                    // A closed stream never fires.
                    if stream.recv().await.is_none() {
                        std::future::pending::<()>().await;
                    }
                })
            });
            futures_util::future::select_all(waits).await;
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

/// A running demo deployment.
pub struct Deployment {
    addr: SocketAddr,
    ca_pem: String,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

/// The demo's own CA and a 90-day certificate for `localhost`/`127.0.0.1`,
/// made fresh at every start (nothing secret is shipped).
fn tls_identity() -> Result<(String, Arc<rustls::ServerConfig>), String> {
    use rcgen::{
        BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose,
    };
    let fail = |e: rcgen::Error| format!("demo certificate: {e}");
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).map_err(fail)?;
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "vouch demo CA");
    ca_params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca_key = KeyPair::generate().map_err(fail)?;
    let ca = ca_params.self_signed(&ca_key).map_err(fail)?;
    let issuer = Issuer::new(ca_params, ca_key);
    let mut leaf_params =
        CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
            .map_err(fail)?;
    leaf_params
        .distinguished_name
        .push(DnType::CommonName, "localhost");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let epoch = rcgen::date_time_ymd(1970, 1, 1);
    leaf_params.not_before = epoch + now.saturating_sub(Duration::from_secs(3600));
    leaf_params.not_after = epoch + now + Duration::from_secs(90 * 86_400);
    let leaf_key = KeyPair::generate().map_err(fail)?;
    let leaf = leaf_params.signed_by(&leaf_key, &issuer).map_err(fail)?;
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(leaf_key.serialize_der().into());
    let config =
        rustls::ServerConfig::builder_with_provider(crate::probe::fetch::crypto_provider())
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("demo TLS: {e}"))?
            .with_no_client_auth()
            .with_single_cert(vec![leaf.der().clone()], key)
            .map_err(|e| format!("demo TLS: {e}"))?;
    Ok((ca.pem(), Arc::new(config)))
}

/// Serves one connection: TLS when it opens with a handshake record, plain
/// HTTP otherwise, so one port answers both.
async fn serve(
    stream: tokio::net::TcpStream,
    tls: tokio_rustls::TlsAcceptor,
    limiter: limited::Limiter,
) {
    let service = service_fn(|req: Request<Incoming>| {
        let limiter = limiter.clone();
        async move {
            let path = req.uri().path().to_owned();
            let started = tokio::time::Instant::now();
            let response = route(req, &limiter).await;
            metrics::observe(&path, response.status().as_u16(), started.elapsed());
            Ok::<_, Infallible>(response)
        }
    });
    let mut first = [0u8; 1];
    let is_tls = matches!(stream.peek(&mut first).await, Ok(1) if first[0] == 0x16);
    if is_tls {
        if let Ok(stream) = tls.accept(stream).await {
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .with_upgrades()
                .await;
        }
    } else {
        let _ = http1::Builder::new()
            .serve_connection(TokioIo::new(stream), service)
            .with_upgrades()
            .await;
    }
}

impl Deployment {
    /// Starts the deployment on a free loopback port.
    pub async fn start() -> std::io::Result<Deployment> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let (ca_pem, tls) = tls_identity().map_err(std::io::Error::other)?;
        let acceptor = tokio_rustls::TlsAcceptor::from(tls);
        let (stop, mut stopped) = oneshot::channel::<()>();
        let limiter = limited::Limiter::default();
        let task = tokio::spawn(async move {
            loop {
                tokio::select! {
                    accepted = listener.accept() => {
                        let Ok((stream, _)) = accepted else { continue };
                        tokio::spawn(serve(stream, acceptor.clone(), limiter.clone()));
                    }
                    _ = &mut stopped => break,
                }
            }
        });
        Ok(Deployment {
            addr,
            ca_pem,
            stop: Some(stop),
            task,
        })
    }

    /// The PEM of the CA that signed the deployment's TLS certificate (the
    /// same port speaks TLS to clients that start a handshake).
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    /// The base URL: `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops accepting connections.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = (&mut self.task).await;
    }
}

impl Drop for Deployment {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Loads the shipped demo probe file against a target.
pub fn probe_file(target: &str) -> Result<Vec<ProbeFile>, Vec<Diagnostic>> {
    let no_env = |_: &str| None;
    spec::load_str(
        Path::new("probes/demo.yaml"),
        PROBE_FILE,
        &LoadOptions {
            target: Some(target),
            sets: &[],
            env: &no_env,
        },
    )
    .map(|f| vec![f])
}

/// What the demo says after its report: that its failures are on purpose,
/// how the checklist's item count and the summary's relate, where the
/// written files are, and what to do next.
pub fn closing(report: &Report, written: &Path, page: &Path) -> String {
    let plural = |n: usize| if n == 1 { "" } else { "s" };
    let mut text = String::from(
        "That was vouch verifying the demo team's readiness checklist against a live (demo) deployment.\n",
    );
    let s = &report.summary;
    if !s.passed {
        text.push_str(&format!(
            "The gate FAILED, and these failures are on purpose: the demo deployment is broken in places \
             ({} failed item{}), to show what vouch reports then. The demo itself worked: `vouch demo` exits 0.\n",
            s.failed + s.error,
            plural(s.failed + s.error)
        ));
    }
    if let Some(c) = &report.checklist {
        let bound = c.counts.items.saturating_sub(c.counts.manual);
        text.push_str(&format!(
            "The checklist has {} item{}: {bound} bound to probes or an attestation (the \"{} items\" of the summary: \
             {} verified, {} failed, {} attested) and {} manual (nothing bound: a person checks them). \
             {} ticked but refuted by the deployment; readiness {:.0}/100.\n",
            c.counts.items,
            plural(c.counts.items),
            s.items,
            c.counts.verified,
            c.counts.failed,
            c.counts.attested,
            c.counts.manual,
            c.counts.refuted,
            c.score,
        ));
    }
    text.push_str(&format!(
        "The checklist with evidence written back: {}\n\
         The report as a page for a review: {}\n\
         Point it at yours: `vouch init CHECKLIST.md -o probes.yaml`, then `vouch run probes.yaml --target https://your.service`.",
        written.display(),
        page.display()
    ));
    text
}

/// What `vouch demo --serve` says while it serves: the deployment's URL and
/// CA file, and a command line to point a probe file at it.
pub fn serving(url: &str, ca: &Path) -> String {
    let https = url.replacen("http://", "https://", 1);
    format!(
        "\nvouch demo --serve: the demo deployment stays up until Ctrl-C or SIGTERM.\n\
         url: {url}\n\
         url (TLS, same port): {https}\n\
         ca file: {ca}\n\
         Point a probe file at it: `vouch run probes.yaml --target {url} --ca-file {ca}`",
        ca = ca.display()
    )
}

fn json(status: StatusCode, content_type: &str, body: &str) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body.to_owned())));
    *response.status_mut() = status;
    if let Ok(value) = content_type.parse() {
        response.headers_mut().insert("content-type", value);
    }
    response
}

/// A WebSocket echo: every text or binary message comes back as it was sent.
fn websocket_echo(mut req: Request<Incoming>) -> Response<Full<Bytes>> {
    let wants_websocket = req
        .headers()
        .get("upgrade")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"));
    let accept = req
        .headers()
        .get("sec-websocket-key")
        .map(|key| derive_accept_key(key.as_bytes()));
    let Some(accept) = accept.filter(|_| wants_websocket) else {
        return json(
            StatusCode::BAD_REQUEST,
            "application/json",
            r#"{"error":"expected a WebSocket upgrade"}"#,
        );
    };
    let upgrade = hyper::upgrade::on(&mut req);
    tokio::spawn(async move {
        let Ok(upgraded) = upgrade.await else { return };
        let mut ws =
            WebSocketStream::from_raw_socket(TokioIo::new(upgraded), Role::Server, None).await;
        // A close frame is answered by tungstenite; the stream then ends.
        while let Some(Ok(message)) = ws.next().await {
            if (message.is_text() || message.is_binary()) && ws.send(message).await.is_err() {
                break;
            }
        }
    });
    let mut response = Response::new(Full::new(Bytes::new()));
    *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let headers = response.headers_mut();
    headers.insert(
        "upgrade",
        hyper::header::HeaderValue::from_static("websocket"),
    );
    headers.insert(
        "connection",
        hyper::header::HeaderValue::from_static("Upgrade"),
    );
    if let Ok(value) = accept.parse() {
        headers.insert("sec-websocket-accept", value);
    }
    response
}

async fn route(req: Request<Incoming>, limiter: &limited::Limiter) -> Response<Full<Bytes>> {
    const JSON: &str = "application/json";
    if req.uri().path() == "/ws" {
        return websocket_echo(req);
    }
    if req.uri().path() == "/api/limited" {
        return limiter.respond();
    }
    match req.uri().path() {
        "/rpc" => return mcp::rpc(req).await,
        "/mcp" => return mcp::mcp(req).await,
        _ => {}
    }
    match req.uri().path() {
        "/health" => json(StatusCode::OK, JSON, r#"{"status":"UP"}"#),
        "/metrics" => metrics::response(req.headers().get("accept").and_then(|v| v.to_str().ok())),
        "/ready" => json(
            StatusCode::OK,
            "application/health+json",
            r#"{"status":"warn","checks":{"postgres:connections":[{"status":"pass","observedValue":12}],"redis":[{"status":"pass"}],"search:indexLag":[{"status":"warn","observedValue":420,"observedUnit":"s","output":"search index is 7 minutes behind"}]}}"#,
        ),
        "/version" => json(
            StatusCode::OK,
            JSON,
            r#"{"version":"1.4.2","commit":"9f2c1e7","built":"2026-11-20T09:12:00Z"}"#,
        ),
        "/api/products" => {
            // A touch of latency, like a real service.
            tokio::time::sleep(Duration::from_millis(3)).await;
            json(
                StatusCode::OK,
                JSON,
                r#"{"items":[{"id":1,"name":"kettle","price":39.9},{"id":2,"name":"teapot","price":24.5},{"id":3,"name":"mug","price":8}],"count":3}"#,
            )
        }
        // Broken on purpose: the demo must show a refuted item with evidence.
        "/api/orders" => json(
            StatusCode::INTERNAL_SERVER_ERROR,
            JSON,
            r#"{"error":"connection pool exhausted (max 10)"}"#,
        ),
        _ => json(StatusCode::NOT_FOUND, JSON, r#"{"error":"not found"}"#),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(target_os = "linux")]
    #[test]
    fn removes_the_folders_of_demos_that_ended_only() {
        let temp = tempfile::tempdir().expect("temp dir");
        let own = format!("{DIR_PREFIX}{}", std::process::id());
        // No process has this id (above the kernel's largest pid); pid 1 runs.
        let ended = format!("{DIR_PREFIX}2147483646");
        let running = format!("{DIR_PREFIX}1");
        for name in [&own, &ended, &running, &"vouch-demo-notes".to_owned()] {
            std::fs::create_dir(temp.path().join(name)).expect("mkdir");
        }
        std::fs::write(temp.path().join(&ended).join("demo.yaml"), "x").expect("write");
        remove_old_dirs(temp.path());
        let mut left: Vec<String> = std::fs::read_dir(temp.path())
            .expect("read")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        let mut expected = vec![own, running, "vouch-demo-notes".to_owned()];
        expected.sort();
        assert_eq!(left, expected);
    }

    #[test]
    fn the_shipped_probe_file_loads() {
        let files = probe_file("http://127.0.0.1:1").expect("demo probe file is valid");
        assert!(files[0].items.len() >= 5);
    }
}
