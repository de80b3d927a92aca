//! Parse speed of `vouch::exposition` on one exposition file: reads FILE,
//! parses it RUNS times in lenient mode, prints each run's time and the
//! median with MB/s. Run by `scripts/bench-exposition.sh`, which also times
//! `promtool check metrics` on the same file.
//!
//!   cargo bench --bench exposition -- FILE [RUNS]
//!
//! Without FILE (as `cargo test --all-targets` runs it), a quick smoke run.

use std::time::Instant;

use vouch::exposition::{Mode, parse};

fn main() {
    let mut args = std::env::args().skip(1).filter(|a| a != "--bench");
    let Some(path) = args.next() else {
        // `cargo test --all-targets` runs benches without arguments: a smoke
        // run on a small generated exposition.
        let mut text = String::from("# HELP smoke_total Smoke.\n# TYPE smoke_total counter\n");
        for i in 0..1000 {
            text.push_str(&format!("smoke_total{{shard=\"{i}\"}} {i}\n"));
        }
        let exposition = parse(&text, Mode::Lenient).expect("the smoke exposition parses");
        assert_eq!(exposition.families[0].samples.len(), 1000);
        println!("usage: exposition FILE [RUNS] (smoke run passed)");
        return;
    };
    let runs: usize = args.next().and_then(|r| r.parse().ok()).unwrap_or(5);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) => {
            eprintln!("cannot read {path}: {e}");
            std::process::exit(2);
        }
    };
    let mut times = Vec::with_capacity(runs);
    let mut series = 0;
    for _ in 0..runs.max(1) {
        let started = Instant::now();
        let exposition = match parse(&text, Mode::Lenient) {
            Ok(e) => e,
            Err(e) => {
                eprintln!("{path}: {e}");
                std::process::exit(1);
            }
        };
        times.push(started.elapsed().as_secs_f64());
        series = exposition.families.iter().map(|f| f.samples.len()).sum();
    }
    times.sort_by(f64::total_cmp);
    let median = times[times.len() / 2];
    let mb = text.len() as f64 / 1e6;
    println!(
        "vouch parse: {series} series, {mb:.1} MB: median {:.1} ms over {} runs ({:.0} MB/s); runs: {}",
        median * 1e3,
        times.len(),
        mb / median,
        times
            .iter()
            .map(|t| format!("{:.1}", t * 1e3))
            .collect::<Vec<_>>()
            .join(" ")
    );
}
