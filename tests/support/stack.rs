//! The pieces of the probe packs' stand-in stacks (`tests/packs.rs`): a real
//! nginx and a real Prometheus started by a test on free loopback ports with a
//! configuration the test writes, each stopped when dropped; a JSON-RPC 2.0
//! endpoint for the in-process services that play a project's own API; and
//! the peers `scripts/test.sh` starts, read from their `VOUCH_TEST_*`
//! variables.
//!
//! A missing program or peer makes a test print a note and pass — unless
//! `VOUCH_REQUIRE_PEERS` is set (the test script sets it), when it fails.
//!
//! Included with `#[path = "support/stack.rs"] mod stack;` beside
//! `support/server.rs`, whose `Response` it builds.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::server::{Response, respond, with_header};

/// Says that `what` is missing: a note and `None`, or a panic under
/// `VOUCH_REQUIRE_PEERS`.
pub fn missing<T>(what: &str, how: &str) -> Option<T> {
    assert!(
        std::env::var_os("VOUCH_REQUIRE_PEERS").is_none(),
        "VOUCH_REQUIRE_PEERS is set but {what} is missing: {how}"
    );
    use std::io::Write as _;
    let _ = writeln!(
        std::io::stderr(),
        "note: {what} is missing; skipping ({how})"
    );
    None
}

/// A peer's address from the variable scripts/test.sh exports.
pub fn peer(name: &str) -> Option<String> {
    match std::env::var(name) {
        Ok(value) if !value.is_empty() => Some(value),
        _ => missing(name, "scripts/test.sh starts the peers and sets it"),
    }
}

/// A program on `PATH` or in `/usr/sbin` (where Debian keeps nginx).
pub fn program(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/usr/bin")])
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
        .or_else(|| {
            missing(
                name,
                "scripts/test.sh installs it (scripts/ensure-packages.sh)",
            )
        })
}

/// A loopback port nothing listens on (bound, then released).
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    listener.local_addr().expect("local address").port()
}

/// `GET url` over HTTP/1.0 (plain `http://host:port/path` only): the status
/// and the body, or `None` when nothing answered.
pub fn http_get(url: &str) -> Option<(u16, String)> {
    let rest = url.strip_prefix("http://")?;
    let (authority, path) = match rest.find('/') {
        Some(at) => (&rest[..at], &rest[at..]),
        None => (rest, "/"),
    };
    let mut stream = TcpStream::connect(authority).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        stream,
        "GET {path} HTTP/1.0\r\nHost: {authority}\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).ok()?;
    let text = String::from_utf8_lossy(&raw);
    let status = text.split_whitespace().nth(1)?.parse().ok()?;
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("");
    Some((status, body.to_owned()))
}

/// `POST url` with a JSON body over HTTP/1.0: the status and the body, or
/// `None` when nothing answered.
pub fn http_post(url: &str, json: &str) -> Option<(u16, String)> {
    let rest = url.strip_prefix("http://")?;
    let (authority, path) = match rest.find('/') {
        Some(at) => (&rest[..at], &rest[at..]),
        None => (rest, "/"),
    };
    let mut stream = TcpStream::connect(authority).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        stream,
        "POST {path} HTTP/1.0\r\nHost: {authority}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{json}",
        json.len()
    )
    .ok()?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).ok()?;
    let text = String::from_utf8_lossy(&raw);
    let status = text.split_whitespace().nth(1)?.parse().ok()?;
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("");
    Some((status, body.to_owned()))
}

/// Polls `ready` every 100 ms until it holds or `within` has passed.
pub fn wait_until(within: Duration, mut ready: impl FnMut() -> bool) -> bool {
    let started = Instant::now();
    while started.elapsed() < within {
        if ready() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    ready()
}

/// A child process killed (and reaped) when dropped, with its files in a
/// temporary directory removed after it.
pub struct Process {
    child: Child,
    name: &'static str,
    pub dir: tempfile::TempDir,
}

impl Process {
    fn spawn(name: &'static str, mut command: Command, dir: tempfile::TempDir) -> Process {
        let log = std::fs::File::create(dir.path().join(format!("{name}.log"))).expect("log file");
        let child = command
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log file"))
            .stderr(log)
            .spawn()
            .unwrap_or_else(|err| panic!("start {name}: {err}"));
        Process { child, name, dir }
    }

    /// Whether it still runs.
    fn running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Its output so far (for a failure message).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join(format!("{}.log", self.name)))
            .unwrap_or_default()
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A real nginx (one process, no workers, so dropping it stops everything)
/// on a free loopback port with the `server {…}` blocks and `http`
/// directives of a test.
pub struct Nginx {
    pub port: u16,
    process: Process,
}

impl Nginx {
    /// Starts nginx with `http` (the inside of its `http {}` block: `@PORT@`
    /// is the port it gets, `@DIR@` its directory, and `@READY@` — in the
    /// server on `@PORT@` — the location this waits for). `None` (with a
    /// note) when nginx is not installed.
    pub fn start(http: &str) -> Option<Nginx> {
        assert!(http.contains("@READY@"), "the nginx config needs @READY@");
        let nginx = program("nginx")?;
        for _ in 0..5 {
            let dir = tempfile::tempdir().expect("temp dir");
            let port = free_port();
            let root = dir.path().display().to_string();
            let http = http
                .replace("@PORT@", &port.to_string())
                .replace("@DIR@", &root)
                .replace(
                    "@READY@",
                    &format!("location = /_stack/ready {{ return 200 \"{root}\"; }}"),
                );
            let conf = format!(
                "daemon off;\nmaster_process off;\nworker_rlimit_nofile 8192;\npid \"{root}/nginx.pid\";\n\
                 error_log \"{root}/error.log\" warn;\nevents {{ worker_connections 4096; }}\n\
                 http {{\n    access_log off;\n    types {{ }}\n    default_type application/octet-stream;\n\
                 client_body_temp_path \"{root}/client_body\";\n    proxy_temp_path \"{root}/proxy\";\n\
                 fastcgi_temp_path \"{root}/fastcgi\";\n    uwsgi_temp_path \"{root}/uwsgi\";\n\
                 scgi_temp_path \"{root}/scgi\";\n{http}\n}}\n"
            );
            let conf_path = dir.path().join("nginx.conf");
            std::fs::write(&conf_path, conf).expect("write nginx.conf");
            let mut command = Command::new(&nginx);
            command
                .arg("-p")
                .arg(format!("{root}/"))
                .arg("-c")
                .arg(&conf_path)
                .args(["-e", "stderr"]);
            let mut process = Process::spawn("nginx", command, dir);
            let ready = wait_until(Duration::from_secs(10), || {
                http_get(&format!("http://127.0.0.1:{port}/_stack/ready"))
                    .is_some_and(|(status, body)| status == 200 && body == root)
            });
            if ready {
                return Some(Nginx { port, process });
            }
            let log = process.log();
            let stopped = !process.running();
            drop(process);
            if stopped && log.contains("Address already in use") {
                continue;
            }
            panic!("nginx did not start on port {port}:\n{log}");
        }
        panic!("nginx: no free port after 5 attempts");
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

/// A real Prometheus on a free loopback port scraping the given jobs every
/// second, with the given alerting rules evaluated every second.
pub struct Prometheus {
    pub port: u16,
    process: Process,
}

impl Prometheus {
    /// Starts Prometheus with one static job per `(job, [host:port, …])` and
    /// the rule groups in `rules` (a rules file's YAML). `None` (with a note)
    /// when Prometheus is not installed.
    pub fn start(jobs: &[(&str, Vec<String>)], rules: &str) -> Option<Prometheus> {
        let prometheus = program("prometheus")?;
        for _ in 0..5 {
            let dir = tempfile::tempdir().expect("temp dir");
            let port = free_port();
            let root = dir.path().display().to_string();
            std::fs::write(dir.path().join("rules.yml"), rules).expect("write rules");
            let mut conf = format!(
                "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\n\
                 rule_files:\n  - {root}/rules.yml\nscrape_configs:\n"
            );
            for (job, addresses) in jobs {
                let targets: Vec<String> = addresses.iter().map(|a| format!("\"{a}\"")).collect();
                conf.push_str(&format!(
                    "  - job_name: {job}\n    static_configs:\n      - targets: [{}]\n",
                    targets.join(", ")
                ));
            }
            std::fs::write(dir.path().join("prometheus.yml"), conf).expect("write config");
            let mut command = Command::new(&prometheus);
            command
                .arg(format!("--config.file={root}/prometheus.yml"))
                .arg(format!("--storage.tsdb.path={root}/data"))
                .arg(format!("--web.listen-address=127.0.0.1:{port}"));
            let mut process = Process::spawn("prometheus", command, dir);
            let ready = wait_until(Duration::from_secs(30), || {
                http_get(&format!("http://127.0.0.1:{port}/-/ready"))
                    .is_some_and(|(status, _)| status == 200)
            });
            if ready {
                return Some(Prometheus { port, process });
            }
            let log = process.log();
            let stopped = !process.running();
            drop(process);
            if stopped && log.contains("address already in use") {
                continue;
            }
            panic!("prometheus did not start on port {port}:\n{log}");
        }
        panic!("prometheus: no free port after 5 attempts");
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Waits until every target has been scraped `scrapes` times (so that
    /// `deriv`/`rate` over a window have points) and every rule has been
    /// evaluated (no health `unknown`).
    pub fn wait_settled(&self, scrapes: u32) {
        let url = self.url();
        let settled = wait_until(Duration::from_secs(60), || {
            let query = format!("{url}/api/v1/query?query=min(count_over_time(up%5B1m%5D))");
            let scraped = http_get(&query)
                .and_then(|(_, body)| serde_json::from_str::<Value>(&body).ok())
                .and_then(|v| {
                    v["data"]["result"][0]["value"][1]
                        .as_str()
                        .and_then(|n| n.parse::<u32>().ok())
                })
                .is_some_and(|n| n >= scrapes);
            let evaluated = http_get(&format!("{url}/api/v1/rules")).is_some_and(|(_, body)| {
                body.contains("\"health\"") && !body.contains("\"health\":\"unknown\"")
            });
            scraped && evaluated
        });
        assert!(
            settled,
            "prometheus did not scrape and evaluate in time:\n{}",
            self.process.log()
        );
    }
}

/// A real Alertmanager on a free loopback port with a test's configuration
/// (receivers and the route tree), gossip off, stopped when dropped.
pub struct Alertmanager {
    pub port: u16,
    process: Process,
}

impl Alertmanager {
    /// Starts Alertmanager with `config` (an alertmanager.yml). `None` (with
    /// a note) when it is not installed (Debian names it
    /// `prometheus-alertmanager`).
    pub fn start(config: &str) -> Option<Alertmanager> {
        let path = std::env::var_os("PATH").unwrap_or_default();
        let found = ["alertmanager", "prometheus-alertmanager"]
            .into_iter()
            .flat_map(|name| {
                std::env::split_paths(&path)
                    .chain([PathBuf::from("/usr/bin")])
                    .map(move |dir| dir.join(name))
            })
            .find(|candidate| candidate.is_file());
        let alertmanager = found.or_else(|| program("alertmanager"))?;
        for _ in 0..5 {
            let dir = tempfile::tempdir().expect("temp dir");
            let port = free_port();
            let root = dir.path().display().to_string();
            std::fs::write(dir.path().join("alertmanager.yml"), config)
                .expect("write alertmanager.yml");
            let mut command = Command::new(&alertmanager);
            command
                .arg(format!("--config.file={root}/alertmanager.yml"))
                .arg(format!("--storage.path={root}/data"))
                .arg(format!("--web.listen-address=127.0.0.1:{port}"))
                .arg("--cluster.listen-address=");
            let mut process = Process::spawn("alertmanager", command, dir);
            let ready = wait_until(Duration::from_secs(30), || {
                http_get(&format!("http://127.0.0.1:{port}/-/ready"))
                    .is_some_and(|(status, _)| status == 200)
            });
            if ready {
                return Some(Alertmanager { port, process });
            }
            let log = process.log();
            let stopped = !process.running();
            drop(process);
            if stopped && log.contains("address already in use") {
                continue;
            }
            panic!("alertmanager did not start on port {port}:\n{log}");
        }
        panic!("alertmanager: no free port after 5 attempts");
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

/// What a JSON-RPC method answers: a result, or an error code and message.
pub type Answer = Result<Value, (i64, &'static str)>;

/// A service's JSON-RPC methods: the method name and its params.
pub type Method = dyn Fn(&str, &Value) -> Answer;

/// A JSON-RPC 2.0 endpoint over HTTP: parses the body (one call or a batch),
/// hands each call to `call` (method, params) and answers by the spec —
/// `-32700` for malformed JSON, `-32600` for an invalid request or an empty
/// batch, nothing for notifications (`202` when only notifications came).
pub fn json_rpc(body: &[u8], call: &Method) -> Response {
    let error = |id: Value, code: i64, message: &str| json!({"jsonrpc": "2.0", "id": id, "error": {"code": code, "message": message}});
    let one = |request: &Value| -> Option<Value> {
        let id = request.get("id").cloned();
        let method = request.get("method").and_then(Value::as_str);
        let valid = request.get("jsonrpc") == Some(&json!("2.0"))
            && method.is_some()
            && id
                .as_ref()
                .is_none_or(|id| id.is_string() || id.is_number() || id.is_null())
            && request
                .get("params")
                .is_none_or(|p| p.is_object() || p.is_array());
        let Some(method) = method.filter(|_| valid) else {
            return Some(error(id.unwrap_or(Value::Null), -32600, "Invalid Request"));
        };
        let params = request.get("params").cloned().unwrap_or(Value::Null);
        let answer = call(method, &params);
        let id = id?;
        Some(match answer {
            Ok(result) => json!({"jsonrpc": "2.0", "id": id, "result": result}),
            Err((code, message)) => error(id, code, message),
        })
    };
    let answer = match serde_json::from_slice::<Value>(body) {
        Err(_) => Some(error(Value::Null, -32700, "Parse error")),
        Ok(Value::Array(calls)) if calls.is_empty() => {
            Some(error(Value::Null, -32600, "Invalid Request"))
        }
        Ok(Value::Array(calls)) => {
            let answers: Vec<Value> = calls.iter().filter_map(&one).collect();
            (!answers.is_empty()).then(|| Value::Array(answers))
        }
        Ok(request) if request.is_object() => one(&request),
        Ok(_) => Some(error(Value::Null, -32600, "Invalid Request")),
    };
    match answer {
        Some(answer) => respond(200, "application/json", answer.to_string()),
        None => respond(202, "", ""),
    }
}

/// An MCP server's answer over Streamable HTTP (JSON answers, sessions):
/// `initialize` gets a session id, `DELETE` ends it; every other call goes
/// through [`json_rpc`] to `call`.
pub fn mcp(method: &str, body: &[u8], call: &Method) -> Response {
    if method == "DELETE" {
        return respond(200, "", "");
    }
    let initialize = serde_json::from_slice::<Value>(body)
        .is_ok_and(|request| request["method"] == "initialize");
    let response = json_rpc(body, call);
    if initialize {
        with_header(
            response,
            "mcp-session-id",
            "4f6c1a0e2b9d4c7e8a1f3b5d7c9e0a2b",
        )
    } else {
        response
    }
}

/// The `initialize` result of an MCP server named `name` with tools and
/// resources: the revision asked for when it is one of the three known.
pub fn mcp_initialize(params: &Value, name: &str) -> Value {
    let asked = params["protocolVersion"].as_str().unwrap_or_default();
    let version = if ["2025-03-26", "2025-06-18", "2025-11-25"].contains(&asked) {
        asked
    } else {
        "2025-06-18"
    };
    json!({
        "protocolVersion": version,
        "capabilities": {"tools": {}, "resources": {}},
        "serverInfo": {"name": name, "version": "0.1.0"}
    })
}

/// Writes `files` (`(relative path, text)`) under `root`, making directories.
pub fn write_tree(root: &Path, files: &[(&str, &str)]) {
    for (path, text) in files {
        let path = root.join(path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("create directory");
        }
        std::fs::write(&path, text).expect("write file");
    }
}

/// Sets a file's modification time to `age` ago.
pub fn age_file(path: &Path, age: Duration) {
    let file = std::fs::File::options()
        .write(true)
        .open(path)
        .expect("open file");
    let then = std::time::SystemTime::now() - age;
    file.set_modified(then).expect("set modification time");
}

/// A real Redis (`redis-server`) on a free loopback port with the directives
/// of a test (`maxmemory`, `appendonly`, `requirepass`…), its files in a
/// temporary directory, stopped when dropped.
pub struct Redis {
    pub port: u16,
    process: Process,
}

impl Redis {
    /// Starts Redis with `conf` (redis.conf lines), then sends `commands` on
    /// one connection (`AUTH` first when `conf` sets a password): keys with
    /// TTLs, lookups that count as hits. `None` (with a note) when Redis is
    /// not installed.
    pub fn start(conf: &str, commands: &[&[&str]]) -> Option<Redis> {
        let redis = program("redis-server")?;
        for _ in 0..5 {
            let dir = tempfile::tempdir().expect("temp dir");
            let port = free_port();
            let root = dir.path().display().to_string();
            let conf_path = dir.path().join("redis.conf");
            std::fs::write(
                &conf_path,
                format!("port {port}\nbind 127.0.0.1\ndir \"{root}\"\nlogfile \"\"\n{conf}\n"),
            )
            .expect("write redis.conf");
            let mut command = Command::new(&redis);
            command.arg(&conf_path);
            let mut process = Process::spawn("redis", command, dir);
            let ready = wait_until(Duration::from_secs(10), || {
                redis_session(port, &[&["PING"]]).is_some()
            });
            if ready {
                let replies = redis_session(port, commands);
                assert!(
                    replies
                        .as_ref()
                        .is_some_and(|r| r.iter().all(|line| !line.starts_with('-'))),
                    "redis on port {port}: {commands:?} → {replies:?}\n{}",
                    process.log()
                );
                return Some(Redis { port, process });
            }
            let log = process.log();
            let stopped = !process.running();
            drop(process);
            if stopped && log.contains("Address already in use") {
                continue;
            }
            panic!("redis did not start on port {port}:\n{log}");
        }
        panic!("redis: no free port after 5 attempts");
    }

    /// Its directory (`dir`): where `SAVE` writes `dump.rdb`.
    pub fn dir(&self) -> &Path {
        self.process.dir.path()
    }

    /// `127.0.0.1:PORT`.
    pub fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

/// Sends `commands` to the Redis on `port` on one connection (RESP arrays)
/// and returns each reply's first line (a bulk string's line is its text).
pub fn redis_session(port: u16, commands: &[&[&str]]) -> Option<Vec<String>> {
    use std::io::BufRead;
    let stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    let mut writer = stream.try_clone().ok()?;
    let mut reader = std::io::BufReader::new(stream);
    let mut replies = Vec::new();
    for command in commands {
        let mut raw = format!("*{}\r\n", command.len());
        for part in *command {
            raw.push_str(&format!("${}\r\n{part}\r\n", part.len()));
        }
        writer.write_all(raw.as_bytes()).ok()?;
        let mut line = String::new();
        reader.read_line(&mut line).ok()?;
        if line.is_empty() {
            return None;
        }
        if line.starts_with('$') && !line.starts_with("$-1") {
            line.clear();
            reader.read_line(&mut line).ok()?;
        }
        replies.push(line.trim_end().to_owned());
    }
    Some(replies)
}
