//! Parse speed of `vouch::exposition` on one exposition file: reads FILE,
//! parses it RUNS times in lenient mode, prints each run's time and the
//! median with MB/s. Run by `scripts/bench-exposition.sh`, which also times
//! `promtool check metrics` on the same file.
//!
//!   cargo bench --bench exposition -- FILE [RUNS]

use std::time::Instant;

use vouch::exposition::{Mode, parse};

fn main() {
    let mut args = std::env::args().skip(1).filter(|a| a != "--bench");
    let Some(path) = args.next() else {
        eprintln!("usage: exposition FILE [RUNS]");
        std::process::exit(2);
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
