//! The OpenMetrics 1.0 rules that strict mode adds to the syntax: one small
//! check per rule, per sample as it arrives and per family when it closes.

use std::collections::HashSet;

use super::line::parse_float;
use super::{Family, MetricType, Open, ParseError, Sample};

type Group = Vec<(String, String)>;

/// Checks one sample against the open family, then records its group.
pub(super) fn check_sample(open: &mut Open, sample: &Sample) -> Result<(), ParseError> {
    let family = &open.family;
    let kind = family.kind;
    let suffix = sample.name.get(family.name.len()..).unwrap_or("");
    let fail = |message: String| Err(ParseError::at(sample.line, message));

    if kind == MetricType::StateSet && sample.label(&family.name).is_none() {
        return fail(format!("stateset sample lacks the label `{}`", family.name));
    }
    if suffix == "_bucket" {
        check_le(sample)?;
        if sample.value.fract() != 0.0 {
            return fail("bucket value must be an integer".into());
        }
    }
    if matches!(suffix, "_count" | "_gcount") && sample.value.fract() != 0.0 {
        return fail("count value must be an integer".into());
    }
    if kind == MetricType::Summary && suffix.is_empty() {
        check_quantile(sample)?;
    }
    check_grouping(open, sample)?;
    check_value(kind, suffix, sample)?;
    check_exemplar(kind, suffix, sample)
}

/// A histogram bucket's `le` must be a number, `+Inf`/`-Inf` spelled so.
fn check_le(sample: &Sample) -> Result<(), ParseError> {
    let le = sample.label("le").unwrap_or("NaN");
    match parse_float(le) {
        Some(bound) if !bound.is_nan() && is_canonical(le, bound) => Ok(()),
        _ => Err(ParseError::at(
            sample.line,
            format!("invalid `le` label `{le}`"),
        )),
    }
}

/// A summary quantile's `quantile` label must be a number in 0..=1.
fn check_quantile(sample: &Sample) -> Result<(), ParseError> {
    let quantile = sample.label("quantile").unwrap_or("-1");
    match parse_float(quantile) {
        Some(q) if (0.0..=1.0).contains(&q) && is_canonical(quantile, q) => {}
        _ => {
            return Err(ParseError::at(
                sample.line,
                format!("invalid `quantile` label `{quantile}`"),
            ));
        }
    }
    if sample.value < 0.0 {
        return Err(ParseError::at(sample.line, "quantile value is negative"));
    }
    Ok(())
}

/// Infinities must be written `+Inf` or `-Inf`.
fn is_canonical(text: &str, value: f64) -> bool {
    !value.is_infinite() || matches!(text, "+Inf" | "-Inf")
}

/// The labels that tell one series group from another within a family.
fn group_of(family: &Family, sample: &Sample) -> Group {
    let dropped = match family.kind {
        MetricType::Info => return Group::new(),
        MetricType::Summary if sample.name == family.name => Some("quantile"),
        MetricType::StateSet => Some(family.name.as_str()),
        MetricType::Histogram | MetricType::GaugeHistogram
            if sample.name.len() == family.name.len() + "_bucket".len()
                && sample.name.ends_with("_bucket") =>
        {
            Some("le")
        }
        _ => None,
    };
    let mut group: Group = sample
        .labels
        .iter()
        .filter(|(name, _)| Some(name.as_str()) != dropped)
        .cloned()
        .collect();
    group.sort();
    group
}

/// Groups must not interleave; within one, timestamps are all present or
/// all absent and never go backwards.
fn check_grouping(open: &mut Open, sample: &Sample) -> Result<(), ParseError> {
    let group = group_of(&open.family, sample);
    let fail = |message: &str| Err(ParseError::at(sample.line, message));
    if let Some(current) = &open.group {
        if *current != group && open.seen_groups.contains(&group) {
            return fail("samples of one series group are interleaved with another");
        }
        if *current == group {
            match (open.group_timestamp, sample.timestamp) {
                (Some(_), None) | (None, Some(_)) => {
                    return fail("some samples of a group have timestamps and some do not");
                }
                (Some(before), Some(now))
                    if before > now && open.family.kind != MetricType::Info =>
                {
                    return fail("timestamps go backwards within a group");
                }
                _ => {}
            }
        }
    }
    open.group_timestamp = sample.timestamp;
    open.seen_groups.insert(group.clone());
    open.group = Some(group);
    Ok(())
}

/// Value constraints of states, infos and counter-like samples.
fn check_value(kind: MetricType, suffix: &str, sample: &Sample) -> Result<(), ParseError> {
    let fail = |message: &str| Err(ParseError::at(sample.line, message));
    let value = sample.value;
    if kind == MetricType::StateSet && value != 0.0 && value != 1.0 {
        return fail("stateset values must be 0 or 1");
    }
    if kind == MetricType::Info && value != 1.0 {
        return fail("info values must be 1");
    }
    let counter_like = matches!(
        suffix,
        "_total" | "_sum" | "_count" | "_bucket" | "_gcount" | "_gsum"
    );
    if counter_like && value.is_nan() {
        return fail("counter-like values cannot be NaN");
    }
    if counter_like && suffix != "_gsum" && value < 0.0 {
        return fail("counter-like values cannot be negative");
    }
    Ok(())
}

/// Only histogram buckets and counter totals carry exemplars.
fn check_exemplar(kind: MetricType, suffix: &str, sample: &Sample) -> Result<(), ParseError> {
    let allowed = match kind {
        MetricType::Histogram | MetricType::GaugeHistogram => suffix == "_bucket",
        MetricType::Counter => suffix == "_total",
        _ => false,
    };
    if sample.exemplar.is_some() && !allowed {
        return Err(ParseError::at(
            sample.line,
            "only histogram buckets and counter totals can have exemplars",
        ));
    }
    Ok(())
}

/// Checks a family as a whole when it closes.
pub(super) fn check_family(
    open: &Open,
    seen_names: &mut HashSet<String>,
) -> Result<(), ParseError> {
    let family = &open.family;
    let fail = |message: String| Err(ParseError::at(open.line, message));
    let mut suffixes: Vec<&str> = family.kind.suffixes().to_vec();
    if !suffixes.contains(&"") {
        suffixes.push("");
    }
    for suffix in suffixes {
        let name = format!("{}{suffix}", family.name);
        if !seen_names.insert(name.clone()) {
            return fail(format!(
                "metric name `{name}` clashes with an earlier family"
            ));
        }
    }
    if let Some(unit) = family.unit.as_deref().filter(|u| !u.is_empty()) {
        if !family.name.ends_with(&format!("_{unit}")) {
            return fail(format!(
                "metric name `{}` does not end with its unit `{unit}`",
                family.name
            ));
        }
        if matches!(family.kind, MetricType::Info | MetricType::StateSet) {
            return fail("`info` and `stateset` families cannot have a unit".into());
        }
    }
    if matches!(
        family.kind,
        MetricType::Histogram | MetricType::GaugeHistogram
    ) {
        check_histogram(family)?;
    }
    Ok(())
}

/// What one histogram group (one label set and timestamp) has shown so far.
#[derive(Default)]
struct HistogramGroup {
    bound: Option<f64>,
    value: f64,
    count: Option<f64>,
    has_negative_bucket: bool,
    has_sum: bool,
    has_gsum: bool,
    has_negative_gsum: bool,
}

impl HistogramGroup {
    fn check(&self, name: &str, line: usize) -> Result<(), ParseError> {
        let fail = |message: &str| {
            Err(ParseError::at(
                line,
                format!("histogram `{name}`: {message}"),
            ))
        };
        if self.bound != Some(f64::INFINITY) {
            return fail("the `+Inf` bucket is missing");
        }
        if self.count.is_some_and(|c| c != self.value) {
            return fail("the count does not match the `+Inf` bucket");
        }
        if self.count.is_none() && self.has_sum {
            return fail("`_sum` without `_count`");
        }
        if self.count.is_none() && self.has_gsum {
            return fail("`_gsum` without `_gcount`");
        }
        if self.count.is_some() && !(self.has_sum || self.has_gsum) {
            return fail("a count without a sum");
        }
        if self.has_negative_bucket && self.has_sum {
            return fail("`_sum` with negative buckets");
        }
        if !self.has_negative_bucket && self.has_negative_gsum {
            return fail("negative `_gsum` without negative buckets");
        }
        Ok(())
    }
}

/// Buckets in increasing order with non-decreasing counts, ending at
/// `+Inf`, with a consistent count and sum.
fn check_histogram(family: &Family) -> Result<(), ParseError> {
    let mut current: Option<(Group, Option<f64>, HistogramGroup, usize)> = None;
    for sample in &family.samples {
        let suffix = sample.name.get(family.name.len()..).unwrap_or("");
        if suffix.is_empty() {
            continue;
        }
        let group = group_of(family, sample);
        let same = current
            .as_ref()
            .is_some_and(|(g, t, _, _)| *g == group && *t == sample.timestamp);
        if !same {
            if let Some((_, _, state, at)) = &current {
                state.check(&family.name, *at)?;
            }
            current = Some((
                group,
                sample.timestamp,
                HistogramGroup::default(),
                sample.line,
            ));
        }
        let (_, _, state, at) = current.as_mut().expect("a group was just set");
        *at = sample.line;
        match suffix {
            "_bucket" => {
                let bound = sample.label("le").and_then(parse_float).unwrap_or(f64::NAN);
                if bound < 0.0 {
                    state.has_negative_bucket = true;
                }
                if state.bound.is_some_and(|b| bound <= b) {
                    return Err(ParseError::at(sample.line, "buckets out of order"));
                }
                if sample.value < state.value {
                    return Err(ParseError::at(sample.line, "bucket counts decrease"));
                }
                state.bound = Some(bound);
                state.value = sample.value;
            }
            "_count" | "_gcount" => state.count = Some(sample.value),
            "_sum" => state.has_sum = true,
            "_gsum" => {
                state.has_gsum = true;
                state.has_negative_gsum |= sample.value < 0.0;
            }
            _ => {}
        }
    }
    match &current {
        Some((_, _, state, at)) => state.check(&family.name, *at),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use crate::exposition::{Mode, parse};

    fn strict(body: &str) -> Result<(), String> {
        parse(&format!("{body}# EOF\n"), Mode::Strict)
            .map(drop)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn accepts_a_complete_histogram() {
        let body = "# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 2\nh_count 2\nh_sum 3\n";
        assert_eq!(strict(body), Ok(()));
    }

    #[test]
    fn rejects_histogram_without_inf_bucket() {
        let body = "# TYPE h histogram\nh_bucket{le=\"1\"} 1\n";
        let err = strict(body).expect_err("no +Inf bucket");
        assert!(err.contains("`+Inf` bucket is missing"), "{err}");
    }

    #[test]
    fn rejects_interleaved_families() {
        let err = strict("a 1\nb 1\na 2\n").expect_err("`a` appears twice");
        assert!(err.contains("clashes"), "{err}");
    }

    #[test]
    fn info_timestamps_may_go_backwards() {
        assert_eq!(strict("# TYPE i info\ni_info 1 2\ni_info 1 1\n"), Ok(()));
    }
}
