//! The exposition parser on arbitrary input: it never panics, errors point
//! inside the input, whatever strict mode accepts lenient mode accepts too,
//! and the `metrics` lint rules and quantile estimate run on anything parsed.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vouch::exposition::{Mode, parse};
use vouch::probe::metrics::{LintRule, histogram_quantile, lint_problems};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let lines = text.split_inclusive('\n').count().max(1);
    let lenient = parse(text, Mode::Lenient);
    let strict = parse(text, Mode::Strict);
    for result in [&lenient, &strict] {
        if let Err(e) = result {
            assert!(e.line >= 1 && e.line <= lines, "line {} of {lines}", e.line);
            assert!(e.column >= 1, "column {}", e.column);
        }
    }
    if strict.is_ok() {
        assert!(lenient.is_ok(), "strict accepts, lenient rejects: {lenient:?}");
    }
    if let Ok(exposition) = lenient {
        for rule in [
            LintRule::CounterTotal,
            LintRule::Help,
            LintRule::BaseUnits,
            LintRule::SnakeCase,
            LintRule::UniqueSeries,
            LintRule::Buckets,
        ] {
            let _ = lint_problems(rule, &exposition);
        }
        for family in &exposition.families {
            let buckets: Vec<(f64, f64)> = family
                .samples
                .iter()
                .filter_map(|s| Some((s.label("le")?.parse().ok()?, s.value)))
                .collect();
            let _ = histogram_quantile(0.95, &buckets);
        }
    }
});
