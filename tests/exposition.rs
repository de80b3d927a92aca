//! The exposition parser against the OpenMetrics parser test suite (strict
//! mode must agree with every case; lenient mode must accept every good one)
//! and against a hand-written Prometheus text 0.0.4 exposition. The suite is
//! read from `../shared/openmetrics-testdata` (its README asks projects not
//! to commit copies); without it the suite's tests say *skipped* on the
//! terminal instead of passing silently.

use std::path::{Path, PathBuf};

use vouch::exposition::{MetricType, Mode, parse};

const TESTDATA: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../shared/openmetrics-testdata/parsers"
);

struct Case {
    name: String,
    text: String,
    should_parse: bool,
}

/// Every case of the suite, or `None` (with a note) when it is absent.
fn cases() -> Option<Vec<Case>> {
    let dir = Path::new(TESTDATA);
    let Ok(entries) = std::fs::read_dir(dir) else {
        // Straight to stderr: `eprintln!` is captured and hidden for a test
        // that passes.
        use std::io::Write;
        let _ = writeln!(
            std::io::stderr(),
            "\ntest ... skipped: the OpenMetrics suite ({TESTDATA}) is absent"
        );
        return None;
    };
    let mut dirs: Vec<PathBuf> = entries
        .map(|e| e.expect("readable directory entry").path())
        .filter(|p| p.join("test.json").is_file())
        .collect();
    dirs.sort();
    let cases = dirs
        .iter()
        .map(|dir| {
            let json = std::fs::read_to_string(dir.join("test.json")).expect("readable test.json");
            let json: serde_json::Value = serde_json::from_str(&json).expect("valid test.json");
            let file = json["file"].as_str().unwrap_or("metrics");
            let bytes = std::fs::read(dir.join(file)).expect("readable metrics file");
            Case {
                name: dir
                    .file_name()
                    .expect("case directory has a name")
                    .to_string_lossy()
                    .into_owned(),
                text: String::from_utf8(bytes).expect("metrics are UTF-8"),
                should_parse: json["shouldParse"]
                    .as_bool()
                    .expect("shouldParse is a bool"),
            }
        })
        .collect();
    Some(cases)
}

#[test]
fn strict_mode_agrees_with_every_openmetrics_case() {
    let Some(cases) = cases() else { return };
    let disagreeing: Vec<String> = cases
        .iter()
        .filter_map(|case| {
            let result = parse(&case.text, Mode::Strict);
            (result.is_ok() != case.should_parse).then(|| match result {
                Ok(_) => format!("{}: accepted, should be rejected", case.name),
                Err(e) => format!("{}: rejected ({e}), should parse", case.name),
            })
        })
        .collect();
    let agree = cases.len() - disagreeing.len();
    eprintln!("strict agreement: {agree}/{}", cases.len());
    for line in &disagreeing {
        eprintln!("  disagrees: {line}");
    }
    assert_eq!(cases.len(), 211, "the suite has 211 cases");
    assert!(
        disagreeing.is_empty(),
        "disagreeing cases: {disagreeing:#?}"
    );
}

#[test]
fn lenient_mode_parses_every_good_openmetrics_case() {
    let Some(cases) = cases() else { return };
    let failing: Vec<String> = cases
        .iter()
        .filter(|case| case.should_parse)
        .filter_map(|case| {
            parse(&case.text, Mode::Lenient)
                .err()
                .map(|e| format!("{}: {e}", case.name))
        })
        .collect();
    assert_eq!(cases.iter().filter(|c| c.should_parse).count(), 44);
    assert!(failing.is_empty(), "lenient mode rejects: {failing:#?}");
}

#[test]
fn strict_errors_name_line_and_column() {
    let err = parse("# TYPE a counter\na_total{x=\"1\" 1\n# EOF\n", Mode::Strict)
        .expect_err("missing `}` is rejected");
    assert_eq!((err.line, err.column), (2, 14));
}

/// A node_exporter-style exposition in the Prometheus text format 0.0.4.
const NODE_EXPORTER: &str = r#"# HELP go_gc_duration_seconds A summary of the pause duration of garbage collection cycles.
# TYPE go_gc_duration_seconds summary
go_gc_duration_seconds{quantile="0"} 2.5587e-05
go_gc_duration_seconds{quantile="0.25"} 3.8117e-05
go_gc_duration_seconds{quantile="0.5"} 4.4752e-05
go_gc_duration_seconds{quantile="0.75"} 6.0431e-05
go_gc_duration_seconds{quantile="1"} 0.001017536
go_gc_duration_seconds_sum 0.284319367
go_gc_duration_seconds_count 5032
# HELP go_goroutines Number of goroutines that currently exist.
# TYPE go_goroutines gauge
go_goroutines 8
# HELP node_cpu_seconds_total Seconds the CPUs spent in each mode.
# TYPE node_cpu_seconds_total counter
node_cpu_seconds_total{cpu="0",mode="idle"} 2.23595161e+06
node_cpu_seconds_total{cpu="0",mode="user"} 41432.52
node_cpu_seconds_total{cpu="1",mode="idle"} 2.23611025e+06
# HELP node_filesystem_avail_bytes Filesystem space available to non-root users in bytes.
# TYPE node_filesystem_avail_bytes gauge
node_filesystem_avail_bytes{device="/dev/sda1",fstype="ext4",mountpoint="/"} 4.3571429376e+10
node_filesystem_avail_bytes{device="tmpfs",fstype="tmpfs",mountpoint="/run/user/1000"} 8.2903808e+08

# HELP http_request_duration_seconds A histogram of request latencies, "quoted" and \\ escaped.
# TYPE http_request_duration_seconds histogram
http_request_duration_seconds_bucket{handler="/metrics",le="0.005"} 1013
http_request_duration_seconds_bucket{handler="/metrics",le="0.01"} 1020
http_request_duration_seconds_bucket{handler="/metrics",le="0.1"} 1024
http_request_duration_seconds_bucket{handler="/metrics",le="+Inf"} 1024
http_request_duration_seconds_sum{handler="/metrics"} 3.1415
http_request_duration_seconds_count{handler="/metrics"} 1024
# HELP node_load1 1m load average.
# TYPE node_load1 gauge
node_load1 0.21 1700000000000
# HELP node_scrape_collector_success node_exporter: Whether a collector succeeded.
# TYPE node_scrape_collector_success untyped
node_scrape_collector_success{collector="cpu",} 1
node_scrape_collector_success{collector="diskstats"} 0
"#;

#[test]
fn lenient_mode_reads_a_node_exporter_exposition() {
    let exposition = parse(NODE_EXPORTER, Mode::Lenient).expect("parses");
    let names: Vec<&str> = exposition
        .families
        .iter()
        .map(|f| f.name.as_str())
        .collect();
    assert_eq!(
        names,
        [
            "go_gc_duration_seconds",
            "go_goroutines",
            "node_cpu_seconds_total",
            "node_filesystem_avail_bytes",
            "http_request_duration_seconds",
            "node_load1",
            "node_scrape_collector_success",
        ]
    );
    let summary = &exposition.families[0];
    assert_eq!(summary.kind, MetricType::Summary);
    assert_eq!(summary.samples.len(), 7);
    assert_eq!(summary.samples[6].value, 5032.0);

    let cpu = &exposition.families[2];
    assert_eq!(cpu.kind, MetricType::Counter);
    assert_eq!(cpu.samples[1].label("mode"), Some("user"));

    let histogram = &exposition.families[4];
    assert_eq!(histogram.kind, MetricType::Histogram);
    assert_eq!(
        histogram.help.as_deref(),
        Some("A histogram of request latencies, \"quoted\" and \\ escaped.")
    );
    assert_eq!(histogram.samples.len(), 6);
    assert_eq!(histogram.samples[3].label("le"), Some("+Inf"));

    let load = &exposition.families[5];
    assert_eq!(load.samples[0].timestamp, Some(1_700_000_000_000.0));

    let untyped = &exposition.families[6];
    assert_eq!(untyped.kind, MetricType::Unknown);
    assert_eq!(untyped.samples.len(), 2);
}

#[test]
fn strict_mode_rejects_prometheus_text_format() {
    assert!(parse(NODE_EXPORTER, Mode::Strict).is_err());
}
