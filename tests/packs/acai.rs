//! Acai's stand-in stack: nginx in front of an in-process Go-like service
//! that checks its real Redis (its own, holding cached answers that were hit) and its absent MongoDB, limits `/health` to 10
//! requests/s and guards `/metrics` with an API key; a repository and a log.

use super::*;

/// What Acai's middleware adds to every answer: a trace id.
const ACAI_TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";

/// The API key the stand-in is started with (a test fixture, not a secret).
const ACAI_API_KEY: &str = "acai-test-api-key";

/// Acai's metrics. Broken on purpose: no latency histogram
/// (`http_request_duration_seconds`).
const ACAI_METRICS: &str = "\
# HELP http_requests_total HTTP requests, by method, path and status.
# TYPE http_requests_total counter
http_requests_total{method=\"GET\",path=\"/health\",status=\"200\"} 412
http_requests_total{method=\"POST\",path=\"/api/v1/chat\",status=\"200\"} 97
http_requests_total{method=\"POST\",path=\"/api/v1/chat\",status=\"500\"} 1
# HELP go_goroutines Number of goroutines that currently exist.
# TYPE go_goroutines gauge
go_goroutines 17
";

/// The Acai service: `/health` and `/ready` from a real connection to each
/// dependency (MongoDB's address is a closed port here: no MongoDB package on
/// this machine's registries), a per-IP limit of 10 requests/s (a bucket of
/// 10) on `/health`, `/metrics` behind `X-API-Key`, the chat endpoint, JSON
/// errors, a trace id on every answer. Broken on purpose: the key check only
/// looks for the header, so a wrong key is let in.
fn acai_api(redis: String, mongodb: String) -> impl Fn(Request) -> Response + Send + Sync {
    let bucket = std::sync::Mutex::new((10.0_f64, Instant::now()));
    move |request| {
        let json = |status, body: &str| respond(status, "application/json", body.to_owned());
        let answer = match (request.method.as_str(), request.path()) {
            ("GET", "/health") if !take_token(&bucket) => json(429, r#"{"error":"rate limited"}"#),
            ("GET", "/health" | "/ready") => {
                let up = |address: &str| {
                    address.parse().is_ok_and(|address| {
                        std::net::TcpStream::connect_timeout(&address, Duration::from_millis(300))
                            .is_ok()
                    })
                };
                let state = |ok| if ok { "ok" } else { "down" };
                let (mongo_ok, redis_ok) = (up(&mongodb), up(&redis));
                let status = if mongo_ok && redis_ok { 200 } else { 503 };
                let overall = if status == 200 {
                    "healthy"
                } else {
                    "unhealthy"
                };
                json(
                    status,
                    &format!(
                        r#"{{"status":"{overall}","checks":{{"mongodb":"{}","redis":"{}"}}}}"#,
                        state(mongo_ok),
                        state(redis_ok)
                    ),
                )
            }
            ("GET", "/metrics") if request.header("x-api-key").is_none() => {
                json(401, r#"{"error":"unauthorized"}"#)
            }
            ("GET", "/metrics") => respond(200, "text/plain; version=0.0.4", ACAI_METRICS),
            ("POST", "/api/v1/chat") => {
                let body: Value = serde_json::from_slice(&request.body).unwrap_or_default();
                if body["message"].is_string() {
                    json(200, r#"{"reply":"Hello! Sunny, 21 °C in Lisbon."}"#)
                } else {
                    json(400, r#"{"error":"invalid request: message is required"}"#)
                }
            }
            _ => json(404, r#"{"error":"not found"}"#),
        };
        server::with_header(answer, "x-trace-id", ACAI_TRACE_ID)
    }
}

/// A token bucket of 10, refilled at 10 per second.
fn take_token(bucket: &std::sync::Mutex<(f64, Instant)>) -> bool {
    let mut guard = bucket
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let (tokens, last) = &mut *guard;
    *tokens = (*tokens + last.elapsed().as_secs_f64() * 10.0).min(10.0);
    *last = Instant::now();
    if *tokens >= 1.0 {
        *tokens -= 1.0;
        true
    } else {
        false
    }
}

/// nginx in front of Acai (an ingress): passes everything through.
const ACAI_NGINX: &str = "
    upstream acai { server 127.0.0.1:@SERVICE@; keepalive 32; }
    server {
        listen 127.0.0.1:@PORT@;
        server_tokens off;
        @READY@
        proxy_http_version 1.1;
        proxy_set_header Connection \"\";
        location / {
            proxy_pass http://acai;
        }
    }
";

/// Acai's repository. Broken on purpose: the CI workflow has no Codecov step.
fn acai_repository(root: &Path) {
    let readme = format!(
        "# Acai\n\nA weather-aware assistant.\n\n## Backups\n\n`make backup`, then \
         `make restore BACKUP_PATH=backups/backup-YYYYMMDD-HHMMSS/acai`.\n\n{}",
        "Acai answers questions with the weather of the place they are about. ".repeat(20)
    );
    stack::write_tree(
        root,
        &[
            (
                "docker-compose.yml",
                "services:\n  app:\n    build: .\n  mongodb:\n    image: mongo:7\n  redis:\n    image: redis:7\n",
            ),
            (
                ".env.example",
                "MONGODB_URI=mongodb://localhost:27017/acai\nREDIS_ADDR=localhost:6379\nAPI_KEY=\n",
            ),
            ("README.md", &readme),
            (
                "Makefile",
                "backup:\n\tmongodump --uri \"$(MONGODB_URI)\" --out backups/backup-$$(date +%Y%m%d-%H%M%S)\n\
                 restore:\n\tmongorestore --drop \"$(BACKUP_PATH)\"\n\
                 migrate-up:\n\tgo run ./cmd/migrate up\nmigrate-down:\n\tgo run ./cmd/migrate down\n",
            ),
            (
                "migrations/001_indexes.json",
                "{\"conversations\": [{\"user_id\": 1}], \"messages\": [{\"conversation_id\": 1}]}\n",
            ),
            (".golangci.yml", "linters:\n  enable: [govet, errcheck]\n"),
            (
                ".github/workflows/ci.yml",
                "on: [push]\njobs:\n  test:\n    runs-on: ubuntu-latest\n    services:\n      \
                 mongodb: { image: \"mongo:7\" }\n      redis: { image: \"redis:7\" }\n    steps:\n      \
                 - uses: actions/setup-go@v5\n        with: { cache: true }\n      - run: go test ./...\n      \
                 - run: go build -o acai ./cmd/acai\n      - uses: actions/upload-artifact@v4\n",
            ),
            (
                "backups/backup-20261207-000000/acai/conversations.bson",
                "bson\n",
            ),
        ],
    );
}

/// Each Acai item a probe verifies, and its verdict against the stand-in.
/// Items not listed stay `manual`.
const ACAI_EXPECTED: &[(&str, &str)] = &[
    // Not here: no MongoDB package on this machine's registries.
    (
        "infrastructure/mongodb-configured-with-authentication",
        "refuted|connection refused",
    ),
    (
        "infrastructure/redis-cache-layer-for-performance",
        "verified",
    ),
    (
        "reliability/redis-caching-reduced-external-api-calls",
        "verified",
    ),
    (
        "infrastructure/docker-compose-container-orchestration",
        "verified",
    ),
    (
        "infrastructure/health-checks-mongodb-and-redis-monitoring",
        "verified",
    ),
    (
        "infrastructure/database-indexes-optimized-queries",
        "skipped",
    ),
    (
        "infrastructure/database-migrations-version-controlled-schema",
        "verified",
    ),
    // Broken on purpose: a wrong key is let in.
    (
        "security/api-key-authentication-protected-sensitive-endpoints",
        "refuted|wrong credentials",
    ),
    (
        "security/rate-limiting-per-ip-dos-protection-10-rps-default",
        "verified",
    ),
    (
        "security/environment-variables-secrets-management",
        "verified",
    ),
    ("security/input-validation-request-validation", "verified"),
    (
        "security/error-handling-consistent-error-responses",
        "verified",
    ),
    (
        "reliability/structured-logging-trace-ids-and-context",
        "verified",
    ),
    // Not here: MongoDB, so the service reports itself unhealthy.
    (
        "reliability/health-endpoints-health-and-ready",
        "refuted|mongodb unhealthy",
    ),
    // Broken on purpose: no latency histogram.
    (
        "observability/prometheus-metrics-request-count-latency-errors",
        "refuted|http_request_duration_seconds",
    ),
    (
        "observability/structured-logs-json-logging-with-slog",
        "verified",
    ),
    (
        "observability/http-middleware-request-response-logging",
        "verified",
    ),
    ("observability/trace-ids-request-correlation", "verified"),
    // `exec` probes run only with --allow-exec.
    ("testing/unit-tests-component-level-testing", "skipped"),
    ("testing/integration-tests-database-integration", "skipped"),
    ("testing/e2e-tests-end-to-end-scenarios", "skipped"),
    ("testing/performance-tests-benchmarking", "skipped"),
    ("testing/smoke-tests-production-validation", "skipped"),
    ("code-quality/linting-golangci-lint-configured", "skipped"),
    ("code-quality/formatting-gofmt-compliance", "skipped"),
    ("code-quality/static-analysis-go-vet-checks", "skipped"),
    ("code-quality/code-coverage-75-coverage", "skipped"),
    (
        "code-quality/documentation-readme-godoc-comments",
        "verified",
    ),
    ("ci-cd/github-actions-automated-testing", "verified"),
    ("ci-cd/dependency-caching-fast-builds", "verified"),
    // Broken on purpose: no Codecov step in the workflow.
    ("ci-cd/test-coverage-codecov-integration", "refuted|codecov"),
    ("ci-cd/build-artifacts-binary-compilation", "verified"),
    ("ci-cd/service-containers-mongodb-redis-in-ci", "verified"),
    (
        "operations/backup-strategy-mongodump-automation",
        "verified",
    ),
    (
        "operations/restore-procedures-documented-process",
        "verified",
    ),
    ("operations/migration-tools-database-versioning", "verified"),
    (
        "operations/configuration-management-environment-based-config",
        "verified",
    ),
    (
        "production-deployment-checklist/pre-deployment/all-tests-passing",
        "skipped",
    ),
    (
        "production-deployment-checklist/pre-deployment/security-scan-clean",
        "skipped",
    ),
    (
        "production-deployment-checklist/pre-deployment/performance-benchmarks-acceptable",
        "skipped",
    ),
    (
        "production-deployment-checklist/pre-deployment/database-backup-created",
        "verified",
    ),
    (
        "production-deployment-checklist/deployment/run-smoke-tests-on-staging",
        "skipped",
    ),
    // Not here: MongoDB.
    (
        "production-deployment-checklist/deployment/verify-health-endpoints",
        "failed|mongodb unhealthy",
    ),
    (
        "production-deployment-checklist/deployment/test-critical-user-flows",
        "verified",
    ),
    // Broken on purpose: no latency histogram to take the P99 of.
    (
        "production-deployment-checklist/post-deployment/check-latency-metrics",
        "failed|http_request_duration_seconds",
    ),
    // Not here: MongoDB.
    (
        "production-deployment-checklist/post-deployment/verify-database-connections",
        "failed|mongodb",
    ),
];

#[test]
fn acai_pack_against_its_stand_in_stack() {
    if shared_dir().is_none() {
        skipped("acai_pack_against_its_stand_in_stack");
        return;
    }
    let _stack = one_stack_at_a_time();
    // Acai's cache: a weather answer cached for 10 minutes, read three
    // times (hits) and one lookup of an uncached city (a miss).
    let Some(redis_server) = stack::Redis::start(
        "save \"\"\nappendonly no\n",
        &[
            &["SET", "cache:weather:paris", r#"{"temp":21}"#, "EX", "600"],
            &["GET", "cache:weather:paris"],
            &["GET", "cache:weather:paris"],
            &["GET", "cache:weather:paris"],
            &["GET", "cache:weather:lima"],
        ],
    ) else {
        return;
    };
    let redis = redis_server.address();
    // Not here: MongoDB.
    let mongodb = closed_port_url().trim_start_matches("http://").to_owned();
    let api = Server::http(acai_api(redis.clone(), mongodb.clone()));
    let Some(nginx) = Nginx::start(&ACAI_NGINX.replace("@SERVICE@", &api.port().to_string()))
    else {
        return;
    };
    let host = tempfile::tempdir().expect("temp dir");
    let repo = host.path().join("acai");
    acai_repository(&repo);
    let log = host.path().join("acai.log");
    std::fs::write(
        &log,
        format!(
            "{{\"time\":\"2026-12-07T05:00:00Z\",\"level\":\"INFO\",\"msg\":\"request\",\"trace_id\":\"{ACAI_TRACE_ID}\",\"method\":\"GET\",\"path\":\"/health\",\"status\":200}}\n"
        ),
    )
    .expect("write log");
    let env = [
        ("ACAI_URL", nginx.url()),
        ("ACAI_API_KEY", ACAI_API_KEY.to_owned()),
        ("ACAI_MONGODB", mongodb),
        ("ACAI_REDIS", redis),
        ("ACAI_LOG_FILE", log.display().to_string()),
        ("ACAI_REPO", repo.display().to_string()),
    ];
    let seen = run_pack("acai", &env);
    assert_verdicts("acai", &seen, ACAI_EXPECTED);
}
