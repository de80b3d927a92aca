//! Quantiles estimated from histogram buckets the way PromQL's
//! `histogram_quantile` does: linear interpolation inside the bucket where
//! the rank falls, the highest finite bound when it falls in `+Inf`.

use std::collections::BTreeMap;

use super::select::{Labels, labels_match};
use crate::exposition::Exposition;

/// The series of one histogram, grouped by every label but `le` (or by the
/// given ones), with their buckets summed across the group.
#[derive(Debug, Clone, PartialEq)]
pub struct Group {
    /// The group's labels.
    pub labels: Vec<(String, String)>,
    /// `(upper bound, cumulative count)`, ascending by bound.
    pub buckets: Vec<(f64, f64)>,
}

/// Label pairs, sorted.
type LabelSet = Vec<(String, String)>;

/// Groups the `_bucket` samples of `histogram` that match `labels`.
/// Bucket lines whose `le` is not a number are left out.
pub fn groups(
    exposition: &Exposition,
    histogram: &str,
    labels: &Labels,
    by: Option<&[String]>,
) -> Vec<Group> {
    let bucket_name = format!("{histogram}_bucket");
    let mut grouped: BTreeMap<LabelSet, Vec<(f64, f64)>> = BTreeMap::new();
    for family in &exposition.families {
        for sample in &family.samples {
            if sample.name != bucket_name || !labels_match(labels, sample) {
                continue;
            }
            let Some(le) = sample.label("le").and_then(parse_le) else {
                continue;
            };
            let mut key: LabelSet = match by {
                Some(by) => by
                    .iter()
                    .filter_map(|name| sample.label(name).map(|v| (name.clone(), v.to_owned())))
                    .collect(),
                None => sample
                    .labels
                    .iter()
                    .filter(|(name, _)| name != "le")
                    .cloned()
                    .collect(),
            };
            key.sort();
            grouped.entry(key).or_default().push((le, sample.value));
        }
    }
    grouped
        .into_iter()
        .map(|(labels, mut buckets)| {
            buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
            // Buckets of the same bound from several series add up.
            let mut merged: Vec<(f64, f64)> = Vec::with_capacity(buckets.len());
            for (le, count) in buckets {
                match merged.last_mut() {
                    Some(last) if last.0 == le => last.1 += count,
                    _ => merged.push((le, count)),
                }
            }
            Group {
                labels,
                buckets: merged,
            }
        })
        .collect()
}

/// Reads an `le` label: a number, `+Inf`.
pub fn parse_le(text: &str) -> Option<f64> {
    match text {
        "+Inf" | "Inf" => Some(f64::INFINITY),
        "-Inf" => Some(f64::NEG_INFINITY),
        _ => text.parse().ok().filter(|v: &f64| !v.is_nan()),
    }
}

/// Why no quantile can be estimated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoEstimate {
    /// The highest bucket is not `+Inf`.
    NoInfBucket,
    /// Fewer than two buckets.
    TooFewBuckets,
    /// The `+Inf` bucket counts nothing.
    NoObservations,
}

impl std::fmt::Display for NoEstimate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            NoEstimate::NoInfBucket => "no `+Inf` bucket",
            NoEstimate::TooFewBuckets => "fewer than two buckets",
            NoEstimate::NoObservations => "no observations yet",
        })
    }
}

/// The `q`-quantile of cumulative `buckets` (ascending by bound), as
/// `histogram_quantile(q, …)` computes it.
pub fn histogram_quantile(q: f64, buckets: &[(f64, f64)]) -> Result<f64, NoEstimate> {
    let Some(&(highest, total)) = buckets.last() else {
        return Err(NoEstimate::TooFewBuckets);
    };
    if highest != f64::INFINITY {
        return Err(NoEstimate::NoInfBucket);
    }
    if buckets.len() < 2 {
        return Err(NoEstimate::TooFewBuckets);
    }
    if total <= 0.0 || total.is_nan() {
        return Err(NoEstimate::NoObservations);
    }
    if q < 0.0 {
        return Ok(f64::NEG_INFINITY);
    }
    if q > 1.0 {
        return Ok(f64::INFINITY);
    }
    // Counts that go down (a scrape racing observations) are raised, as
    // Prometheus does, so the search below sees a monotonic sequence.
    let mut counts: Vec<f64> = Vec::with_capacity(buckets.len());
    for &(_, count) in buckets {
        let floor = counts.last().copied().unwrap_or(0.0);
        counts.push(count.max(floor));
    }
    let rank = q * total;
    let b = counts
        .iter()
        .position(|&c| c >= rank)
        .unwrap_or(buckets.len() - 1);
    if b == buckets.len() - 1 {
        return Ok(buckets[buckets.len() - 2].0);
    }
    if b == 0 && buckets[0].0 <= 0.0 {
        return Ok(buckets[0].0);
    }
    let (start, below) = if b == 0 {
        (0.0, 0.0)
    } else {
        (buckets[b - 1].0, counts[b - 1])
    };
    let end = buckets[b].0;
    let in_bucket = counts[b] - below;
    if in_bucket <= 0.0 {
        return Ok(end);
    }
    Ok(start + (end - start) * ((rank - below) / in_bucket))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exposition::{Mode, parse};

    const INF: f64 = f64::INFINITY;

    #[test]
    fn interpolates_inside_the_bucket() {
        // 100 observations: 50 ≤ 0.1, 90 ≤ 0.5, 100 ≤ 1.
        let buckets = [(0.1, 50.0), (0.5, 90.0), (1.0, 100.0), (INF, 100.0)];
        let p50 = histogram_quantile(0.5, &buckets).expect("estimate");
        assert!((p50 - 0.1).abs() < 1e-12, "{p50}");
        let p95 = histogram_quantile(0.95, &buckets).expect("estimate");
        assert!((p95 - 0.75).abs() < 1e-12, "{p95}");
        let p25 = histogram_quantile(0.25, &buckets).expect("estimate");
        assert!((p25 - 0.05).abs() < 1e-12, "{p25}");
    }

    #[test]
    fn a_rank_in_the_inf_bucket_gives_the_highest_finite_bound() {
        let buckets = [(0.1, 10.0), (0.5, 20.0), (INF, 100.0)];
        assert_eq!(histogram_quantile(0.99, &buckets), Ok(0.5));
    }

    #[test]
    fn no_inf_bucket_or_no_observations_is_no_estimate() {
        assert_eq!(
            histogram_quantile(0.5, &[(0.1, 1.0), (0.5, 2.0)]),
            Err(NoEstimate::NoInfBucket)
        );
        assert_eq!(
            histogram_quantile(0.5, &[(0.1, 0.0), (INF, 0.0)]),
            Err(NoEstimate::NoObservations)
        );
        assert_eq!(
            histogram_quantile(0.5, &[(INF, 3.0)]),
            Err(NoEstimate::TooFewBuckets)
        );
    }

    #[test]
    fn groups_sum_series_by_the_labels_asked_for() {
        let text = "\
# TYPE h histogram
h_bucket{path=\"/a\",le=\"0.1\"} 1
h_bucket{path=\"/a\",le=\"+Inf\"} 2
h_bucket{path=\"/b\",le=\"0.1\"} 3
h_bucket{path=\"/b\",le=\"+Inf\"} 4
h_count{path=\"/a\"} 2
";
        let e = parse(text, Mode::Lenient).expect("parses");
        let per_path = groups(&e, "h", &Labels::new(), None);
        assert_eq!(per_path.len(), 2);
        assert_eq!(per_path[0].buckets, vec![(0.1, 1.0), (INF, 2.0)]);
        let all = groups(&e, "h", &Labels::new(), Some(&[]));
        assert_eq!(all.len(), 1);
        assert_eq!(all[0].buckets, vec![(0.1, 4.0), (INF, 6.0)]);
    }
}
