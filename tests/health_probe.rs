//! `health` probes end to end: the real `vouch` binary against in-process
//! servers that answer in each common health format (Spring Actuator, IETF
//! `application/health+json`, `{"checks":{…}}`, plain status codes).

#[path = "support/server.rs"]
mod server;

use serde_json::Value;
use server::{
    Output, Request, Server, closed_port_url, item_of, probe_file, respond, text, vouch, write_file,
};

const SPRING_ONE_DOWN: &str = r#"{"status":"UP","components":{"db":{"status":"UP","details":{"database":"PostgreSQL"}},"diskSpace":{"status":"DOWN","details":{"free":1024,"threshold":10485760}},"ping":{"status":"UP"}}}"#;
const SPRING_ALL_UP: &str =
    r#"{"status":"UP","components":{"db":{"status":"UP"},"ping":{"status":"UP"}}}"#;
const IETF_PASS: &str = r#"{"status":"pass","version":"1","checks":{"postgres:responseTime":[{"componentId":"pg-1","status":"pass","observedValue":4}],"uptime":[{"status":"pass"}]}}"#;
const IETF_WARN: &str = r#"{"status":"warn","checks":{"postgres:responseTime":[{"status":"pass"}],"search:indexLag":[{"status":"warn","output":"7 minutes behind"}]}}"#;
const CHECKS_ONE_DOWN: &str = r#"{"checks":{"db":"ok","redis":"down"}}"#;
const STATUS_OK_CHECKS: &str = r#"{"status":"ok","checks":{"db":"ok","redis":"down"}}"#;

/// One server answering every format at its own path.
fn health_server() -> Server {
    Server::http(|r: Request| match r.path() {
        "/actuator/health" => respond(
            200,
            "application/vnd.spring-boot.actuator.v3+json",
            SPRING_ONE_DOWN,
        ),
        "/actuator/health-ok" => respond(
            200,
            "application/vnd.spring-boot.actuator.v3+json",
            SPRING_ALL_UP,
        ),
        "/ietf" => respond(200, "application/health+json", IETF_PASS),
        "/ietf-warn" => respond(200, "application/health+json", IETF_WARN),
        "/checks" => respond(200, "application/json", CHECKS_ONE_DOWN),
        "/status-ok" => respond(200, "application/json", STATUS_OK_CHECKS),
        "/health" | "/plain" => text(200, "OK"),
        "/unavailable" => text(503, "Service Unavailable"),
        _ => text(404, "not found"),
    })
}

fn run(items: &str, target: &str) -> (Output, Value) {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = write_file(dir.path(), "health.yaml", &probe_file(target, items));
    let out = vouch(&[
        "run".to_owned(),
        "--format".to_owned(),
        "json".to_owned(),
        file.display().to_string(),
    ]);
    let report = out.json();
    (out, report)
}

fn one_item(url: &str, expect: &str) -> String {
    format!("  - item: Healthy\n    probes:\n      - health:\n          url: {url}\n{expect}")
}

/// `(name, actual, passed)` of every check.
fn checks(probe: &Value) -> Vec<(String, String, bool)> {
    probe["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .map(|c| {
            (
                c["name"].as_str().expect("name").to_owned(),
                c["actual"].as_str().expect("actual").to_owned(),
                c["passed"].as_bool().expect("passed"),
            )
        })
        .collect()
}

fn owned(list: &[(&str, &str, bool)]) -> Vec<(String, String, bool)> {
    list.iter()
        .map(|(n, a, p)| ((*n).to_owned(), (*a).to_owned(), *p))
        .collect()
}

const ALL_HEALTHY: &str = "          expect:\n            dependencies: all_healthy\n";

#[test]
fn spring_actuator_with_a_down_component_fails_all_healthy_naming_it() {
    let server = health_server();
    let (out, report) = run(&one_item("/actuator/health", ALL_HEALTHY), &server.url());
    out.assert_code(1);
    let item = item_of(&report, "Healthy");
    assert_eq!(item["verdict"], "failed");
    let probe = &item["probes"][0];
    assert_eq!(
        checks(probe),
        owned(&[
            ("status", "healthy (UP, HTTP 200)", true),
            ("dependency db", "healthy (UP)", true),
            ("dependency diskSpace", "unhealthy (DOWN)", false),
            ("dependency ping", "healthy (UP)", true),
        ]),
        "{probe:#}"
    );
    assert_eq!(probe["evidence"]["health"]["format"], "spring");
    let summary = probe["summary"].as_str().expect("summary");
    assert!(
        summary.starts_with("GET /actuator/health → 200 in ")
            && summary.ends_with(
                "; healthy (UP); dependencies: db healthy, diskSpace unhealthy, ping healthy"
            ),
        "{summary}"
    );
    assert_eq!(
        item["reason"], probe["summary"],
        "the item's reason is the failing probe"
    );
}

#[test]
fn spring_actuator_with_every_component_up_passes_all_healthy() {
    let server = health_server();
    let (out, report) = run(&one_item("/actuator/health-ok", ALL_HEALTHY), &server.url());
    out.assert_code(0);
    let probe = &item_of(&report, "Healthy")["probes"][0];
    assert_eq!(probe["verdict"], "pass", "{probe:#}");
    assert_eq!(
        checks(probe),
        owned(&[
            ("status", "healthy (UP, HTTP 200)", true),
            ("dependency db", "healthy (UP)", true),
            ("dependency ping", "healthy (UP)", true),
        ])
    );
}

#[test]
fn ietf_health_json_passing_every_check_passes() {
    let server = health_server();
    let (out, report) = run(&one_item("/ietf", ALL_HEALTHY), &server.url());
    out.assert_code(0);
    let probe = &item_of(&report, "Healthy")["probes"][0];
    assert_eq!(probe["evidence"]["health"]["format"], "ietf");
    assert_eq!(
        checks(probe),
        owned(&[
            ("status", "healthy (pass, HTTP 200)", true),
            ("dependency postgres:responseTime", "healthy (pass)", true),
            ("dependency uptime", "healthy (pass)", true),
        ]),
        "{probe:#}"
    );
    // The probe asks for the IETF format first.
    let accept = server.log()[0]
        .header("accept")
        .expect("accept header")
        .to_owned();
    assert!(accept.starts_with("application/health+json"), "{accept}");
}

#[test]
fn ietf_warn_is_degraded_failing_the_default_and_passing_when_degraded_is_allowed() {
    let server = health_server();
    let (out, report) = run(&one_item("/ietf-warn", ""), &server.url());
    out.assert_code(1);
    let probe = &item_of(&report, "Healthy")["probes"][0];
    let status = &probe["checks"][0];
    assert_eq!(status["expected"], r#""healthy""#);
    assert_eq!(status["actual"], "degraded (warn, HTTP 200)");
    assert_eq!(status["passed"], false);

    let allowed = "          expect:\n            status: [healthy, degraded]\n";
    let (out, report) = run(&one_item("/ietf-warn", allowed), &server.url());
    out.assert_code(0);
    let probe = &item_of(&report, "Healthy")["probes"][0];
    assert_eq!(probe["verdict"], "pass", "{probe:#}");
    let deps = &probe["evidence"]["health"]["dependencies"];
    assert_eq!(deps[1]["name"], "search:indexLag");
    assert_eq!(deps[1]["state"], "degraded");
}

#[test]
fn a_checks_map_with_one_dependency_down_fails_naming_it() {
    let server = health_server();
    let (out, report) = run(&one_item("/checks", ALL_HEALTHY), &server.url());
    out.assert_code(1);
    let probe = &item_of(&report, "Healthy")["probes"][0];
    assert_eq!(probe["evidence"]["health"]["format"], "checks");
    assert_eq!(
        checks(probe),
        owned(&[
            // No overall word: the worst dependency decides.
            ("status", "unhealthy (HTTP 200)", false),
            ("dependency db", "healthy (ok)", true),
            ("dependency redis", "unhealthy (down)", false),
        ]),
        "{probe:#}"
    );
}

#[test]
fn named_dependencies_are_checked_and_unreported_ones_fail() {
    let server = health_server();
    let db_only = "          expect:\n            dependencies: [db]\n";
    let (out, report) = run(&one_item("/status-ok", db_only), &server.url());
    out.assert_code(0);
    let probe = &item_of(&report, "Healthy")["probes"][0];
    assert_eq!(
        checks(probe),
        owned(&[
            ("status", "healthy (ok, HTTP 200)", true),
            ("dependency db", "healthy (ok)", true),
        ]),
        "redis is down but not asked for: {probe:#}"
    );

    let with_queue = "          expect:\n            dependencies: [db, queue]\n";
    let (out, report) = run(&one_item("/status-ok", with_queue), &server.url());
    out.assert_code(1);
    let probe = &item_of(&report, "Healthy")["probes"][0];
    assert_eq!(
        checks(probe)[2],
        (
            "dependency queue".to_owned(),
            "not reported".to_owned(),
            false
        ),
        "{probe:#}"
    );
}

#[test]
fn a_plain_200_is_healthy_and_a_503_is_not() {
    let server = health_server();
    let items = "  - item: Plain OK\n    probes:\n      - health: { url: /plain }\n  - item: Default path\n    probes:\n      - health: {}\n  - item: Unavailable\n    probes:\n      - health: { url: /unavailable }\n";
    let (out, report) = run(items, &server.url());
    out.assert_code(1);
    let ok = &item_of(&report, "Plain OK")["probes"][0];
    assert_eq!(ok["verdict"], "pass", "{ok:#}");
    assert_eq!(ok["evidence"]["health"]["format"], "plain");
    assert_eq!(checks(ok), owned(&[("status", "healthy (HTTP 200)", true)]));
    assert_eq!(item_of(&report, "Default path")["verdict"], "verified");
    assert!(server.log().iter().any(|r| r.path() == "/health"));
    let down = &item_of(&report, "Unavailable")["probes"][0];
    assert_eq!(down["verdict"], "fail");
    assert_eq!(
        checks(down),
        owned(&[("status", "unhealthy (HTTP 503)", false)])
    );
}

#[test]
fn all_healthy_on_an_endpoint_that_reports_no_dependencies_fails() {
    let server = health_server();
    let (out, report) = run(&one_item("/plain", ALL_HEALTHY), &server.url());
    out.assert_code(1);
    let probe = &item_of(&report, "Healthy")["probes"][0];
    assert_eq!(
        checks(probe)[1],
        (
            "dependencies".to_owned(),
            "the endpoint reports no dependencies".to_owned(),
            false
        ),
        "{probe:#}"
    );
}

#[test]
fn an_unreachable_health_endpoint_fails_with_connection_refused() {
    let target = closed_port_url();
    let (out, report) = run(&one_item("/health", ""), &target);
    out.assert_code(1);
    let probe = &item_of(&report, "Healthy")["probes"][0];
    assert_eq!(probe["verdict"], "fail");
    assert!(
        probe["evidence"]["error"]
            .as_str()
            .expect("error")
            .contains("refused"),
        "{probe:#}"
    );
}

#[test]
fn the_human_report_names_the_unhealthy_dependency() {
    let server = health_server();
    let dir = tempfile::tempdir().expect("temp dir");
    let file = write_file(
        dir.path(),
        "health.yaml",
        &probe_file(&server.url(), &one_item("/actuator/health", ALL_HEALTHY)),
    );
    let out = vouch(&["run".to_owned(), file.display().to_string()]);
    out.assert_code(1);
    assert!(
        out.stdout
            .contains("        dependency diskSpace: expected healthy, got unhealthy (DOWN)\n"),
        "{}",
        out.dump()
    );
    assert!(
        !out.stdout.contains("dependency db:"),
        "passing checks are not listed: {}",
        out.dump()
    );
}

/// A real etcd's `/health` (`{"health":"true"}`), started by `scripts/test.sh`
/// (`scripts/etcd.sh`, base URL in `VOUCH_TEST_ETCD`): "etcd cluster healthy".
#[test]
fn a_real_etcd_reports_healthy() {
    let etcd = match std::env::var("VOUCH_TEST_ETCD") {
        Ok(url) if !url.is_empty() => url,
        _ if std::env::var_os("VOUCH_REQUIRE_PEERS").is_some() => {
            panic!(
                "VOUCH_TEST_ETCD is not set, and VOUCH_REQUIRE_PEERS is: scripts/test.sh starts etcd"
            )
        }
        _ => {
            eprintln!("note: VOUCH_TEST_ETCD is not set; skipping (scripts/test.sh starts etcd)");
            return;
        }
    };
    let (out, report) = run(&one_item("/health", ""), &etcd);
    out.assert_code(0);
    let probe = &item_of(&report, "Healthy")["probes"][0];
    assert_eq!(probe["verdict"], "pass", "{probe:#}");
    assert_eq!(probe["evidence"]["health"]["state"], "healthy", "{probe:#}");
    assert_eq!(probe["evidence"]["health"]["reported"], "true", "{probe:#}");
}
