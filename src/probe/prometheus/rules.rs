//! `rules:` of a `prometheus` probe: which alerting and recording rules must
//! be loaded and healthy, and what a rule must say — its query, `for`,
//! labels and annotations — read from `/api/v1/rules`.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use schemars::JsonSchema;
use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Value as Json, json};

use super::SHOWN;
use crate::expect::{self, Matcher};
use crate::probe::Check;

/// Which rules must be loaded and healthy.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RulesExpect {
    /// Every loaded rule, alerting and recording, has `health: ok`.
    #[serde(default)]
    pub all_healthy: bool,
    /// Rules by name (an alert's name or a recording rule's `record`), each
    /// loaded with `health: ok`; a name alone, or with what the rule must say.
    #[serde(default, deserialize_with = "rule_list")]
    #[schemars(with = "Vec<RuleSchema>")]
    pub names: Vec<RuleExpect>,
}

/// One rule and what it must say. Written as its name alone, or as a map.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RuleExpect {
    /// The alert's name, or the recording rule's `record`.
    pub name: String,
    /// A matcher on the rule's PromQL expression (`contains: "> 0.05"`).
    #[serde(default)]
    pub expr: Option<Matcher>,
    /// A matcher on the alerting rule's `for` (durations: `{max: 5m}`, `10m`).
    #[serde(default, rename = "for")]
    pub for_: Option<Matcher>,
    /// Matchers on the rule's labels (`severity: critical`).
    #[serde(default)]
    pub labels: BTreeMap<String, Matcher>,
    /// Matchers on the alerting rule's annotations (`runbook_url: {exists: true}`).
    #[serde(default)]
    pub annotations: BTreeMap<String, Matcher>,
    /// The rule's health (default `ok`; `unknown` before its first evaluation).
    #[serde(default)]
    pub health: Option<Matcher>,
    /// The alerting rule's state: `inactive`, `pending` or `firing`.
    #[serde(default)]
    pub state: Option<Matcher>,
}

impl RuleExpect {
    fn named(name: String) -> RuleExpect {
        RuleExpect {
            name,
            ..RuleExpect::default()
        }
    }

    /// Whether it says more than a name.
    fn has_details(&self) -> bool {
        self.expr.is_some()
            || self.for_.is_some()
            || !self.labels.is_empty()
            || !self.annotations.is_empty()
            || self.state.is_some()
    }
}

/// The schema of one entry of `rules:`.
#[derive(JsonSchema)]
#[serde(untagged)]
#[allow(dead_code)]
pub(super) enum RuleSchema {
    /// The rule's name.
    Name(String),
    /// The name and what the rule must say.
    Rule(RuleExpect),
}

/// The schema of `rules:`.
#[derive(JsonSchema)]
#[serde(untagged)]
#[allow(dead_code)]
pub(super) enum RulesSchema {
    /// Rules: names, or names with what each must say.
    Names(Vec<RuleSchema>),
    /// `{all_healthy, names}`.
    Rules(RulesExpect),
}

/// One entry of a rule list: a name or a map.
struct RuleEntry(RuleExpect);

impl<'de> Deserialize<'de> for RuleEntry {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RuleEntry;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a rule name or `{name: ..., expr: ..., for: ..., labels: ...}`")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<RuleEntry, E> {
                Ok(RuleEntry(RuleExpect::named(v.to_owned())))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<RuleEntry, A::Error> {
                RuleExpect::deserialize(de::value::MapAccessDeserializer::new(map)).map(RuleEntry)
            }
        }
        deserializer.deserialize_any(V)
    }
}

fn rule_list<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<RuleExpect>, D::Error> {
    let entries = Vec::<RuleEntry>::deserialize(deserializer)?;
    Ok(entries.into_iter().map(|e| e.0).collect())
}

/// Reads `rules:`: a list of names and rule maps, or `{all_healthy, names}`.
pub(super) fn rules<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<RulesExpect>, D::Error> {
    struct V;
    impl<'de> Visitor<'de> for V {
        type Value = Option<RulesExpect>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a list of rules or `{all_healthy: true, names: [...]}`")
        }
        fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
            let names = rule_list(de::value::SeqAccessDeserializer::new(seq))?;
            Ok((!names.is_empty()).then_some(RulesExpect {
                all_healthy: false,
                names,
            }))
        }
        fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
            let rules = RulesExpect::deserialize(de::value::MapAccessDeserializer::new(map))?;
            if !rules.all_healthy && rules.names.is_empty() {
                return Err(de::Error::custom(
                    "`rules` asks for nothing: give `all_healthy: true` or `names: [...]`",
                ));
            }
            Ok(Some(rules))
        }
    }
    deserializer.deserialize_any(V)
}

/// A loaded rule: its name, kind, group and the API's record of it.
struct Loaded<'a> {
    name: &'a str,
    kind: &'static str,
    group: &'a str,
    rule: &'a Json,
}

/// A rule's health as people read it: `health ok, firing`, or the error.
fn rule_state(rule: &Json) -> String {
    let health = rule["health"].as_str().unwrap_or("unknown");
    let mut text = format!("health {health}");
    if let Some(state) = rule["state"].as_str() {
        text.push_str(&format!(", {state}"));
    }
    let error = rule["lastError"].as_str().unwrap_or("");
    if !error.is_empty() {
        text.push_str(&format!(" ({})", expect::excerpt(error, 200)));
    }
    text
}

fn is_healthy(rule: &Json) -> bool {
    rule["health"] == "ok"
}

/// The alerting rule's `for`; `None` for a recording rule.
fn for_of(rule: &Json) -> Option<Duration> {
    rule["duration"]
        .as_f64()
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map(Duration::from_secs_f64)
}

/// The checks of what one loaded rule must say, beyond its health.
fn detail_checks(want: &RuleExpect, rule: &Json) -> Vec<Check> {
    let name = &want.name;
    let mut checks = Vec::new();
    if let Some(m) = &want.expr {
        let query = rule["query"].as_str();
        checks.push(Check::new(
            format!("rule {name} expr"),
            m.to_string(),
            query.map_or_else(
                || "none".to_owned(),
                |q| expect::excerpt(q, 200).into_owned(),
            ),
            m.check_str(query).is_ok(),
        ));
    }
    if let Some(m) = &want.for_ {
        let duration = for_of(rule);
        checks.push(Check::new(
            format!("rule {name} for"),
            m.to_string(),
            duration.map_or_else(
                || "none (not an alerting rule)".to_owned(),
                expect::format_duration,
            ),
            m.check_duration(duration).is_ok(),
        ));
    }
    for (what, field, wanted) in [
        ("label", "labels", &want.labels),
        ("annotation", "annotations", &want.annotations),
    ] {
        for (key, m) in wanted {
            let value = rule[field][key].as_str();
            checks.push(Check::new(
                format!("rule {name} {what} {key}"),
                m.to_string(),
                value.map_or_else(
                    || "absent".to_owned(),
                    |v| expect::show(&Json::from(expect::excerpt(v, 200))),
                ),
                m.check_str(value).is_ok(),
            ));
        }
    }
    if let Some(m) = &want.state {
        let state = rule["state"].as_str();
        checks.push(Check::new(
            format!("rule {name} state"),
            m.to_string(),
            state.unwrap_or("none (not an alerting rule)"),
            m.check_str(state).is_ok(),
        ));
    }
    checks
}

/// The checks of one rule entry, and (for one with details) what the chosen
/// rule says, for evidence. Of several rules with one name (one per group is
/// common), the first that meets every expectation is taken, else the first.
fn check_rule(want: &RuleExpect, loaded: &[Loaded<'_>]) -> (Vec<Check>, Option<Json>) {
    let name = &want.name;
    let candidates: Vec<&Loaded<'_>> = loaded.iter().filter(|l| l.name == name).collect();
    let health = want.health.clone().unwrap_or_else(|| Matcher::eq("ok"));
    let expected = match &want.health {
        Some(m) => format!("loaded, health {m}"),
        None => "loaded, health ok".to_owned(),
    };
    if candidates.is_empty() {
        return (
            vec![Check::new(
                format!("rule {name}"),
                expected,
                "not loaded",
                false,
            )],
            None,
        );
    }
    let judged: Vec<(&Loaded<'_>, Check, Vec<Check>)> = candidates
        .iter()
        .map(|l| {
            let healthy = health.check(Some(&l.rule["health"])).is_ok();
            let head = Check::new(
                format!("rule {name}"),
                expected.clone(),
                format!("loaded, {}", rule_state(l.rule)),
                healthy,
            );
            (*l, head, detail_checks(want, l.rule))
        })
        .collect();
    let all_hold = |(_, head, details): &&(&Loaded<'_>, Check, Vec<Check>)| {
        head.passed && details.iter().all(|c| c.passed)
    };
    let chosen = judged.iter().find(all_hold).unwrap_or(&judged[0]);
    let (l, head, details) = chosen;
    let mut head = head.clone();
    if judged.len() > 1 {
        head.actual = format!(
            "{} (in group {}; {} rules have this name)",
            head.actual,
            l.group,
            judged.len()
        );
    }
    let fact = want.has_details().then(|| {
        let mut seen = json!({
            "name": l.name,
            "group": l.group,
            "type": l.kind,
            "expr": expect::excerpt(l.rule["query"].as_str().unwrap_or(""), 500),
            "labels": l.rule["labels"],
        });
        if l.kind == "alerting" {
            seen["for"] = json!(for_of(l.rule).map(expect::format_duration));
            seen["annotations"] = l.rule["annotations"].clone();
        }
        seen
    });
    let mut checks = vec![head];
    checks.extend(details.iter().cloned());
    (checks, fact)
}

/// The checks of `rules:` against the API's `data`, and its evidence.
pub(super) fn check_rules(want: &RulesExpect, data: &Json) -> (Vec<Check>, Json) {
    // Alerting and recording rules, in the server's order.
    let mut loaded: Vec<Loaded<'_>> = Vec::new();
    for group in data["groups"].as_array().map_or(&[][..], Vec::as_slice) {
        for rule in group["rules"].as_array().map_or(&[][..], Vec::as_slice) {
            let kind = match rule["type"].as_str() {
                Some("alerting") => "alerting",
                Some("recording") => "recording",
                _ => continue,
            };
            loaded.push(Loaded {
                name: rule["name"].as_str().unwrap_or(""),
                kind,
                group: group["name"].as_str().unwrap_or(""),
                rule,
            });
        }
    }
    let mut checks = Vec::new();
    if want.all_healthy {
        let unhealthy: Vec<String> = loaded
            .iter()
            .filter(|l| !is_healthy(l.rule))
            .map(|l| format!("{} ({}) {}", l.name, l.kind, rule_state(l.rule)))
            .collect();
        let actual = if loaded.is_empty() {
            "no rules loaded".to_owned()
        } else if unhealthy.is_empty() {
            format!("{}/{} ok", loaded.len(), loaded.len())
        } else {
            format!(
                "{}/{} ok; unhealthy: {}",
                loaded.len() - unhealthy.len(),
                loaded.len(),
                unhealthy.join("; ")
            )
        };
        checks.push(Check::new(
            "rules all healthy",
            "every alerting and recording rule health ok",
            actual,
            !loaded.is_empty() && unhealthy.is_empty(),
        ));
    }
    let mut checked = Vec::new();
    for rule in &want.names {
        let (more, fact) = check_rule(rule, &loaded);
        checks.extend(more);
        checked.extend(fact);
    }
    // Unhealthy rules first: they are what the evidence is read for.
    let mut shown: Vec<&Loaded<'_>> = loaded.iter().collect();
    shown.sort_by_key(|l| is_healthy(l.rule));
    let rows: Vec<Json> = shown
        .iter()
        .take(SHOWN * 5)
        .map(|l| {
            let mut row = json!({"name": l.name, "type": l.kind, "group": l.group, "health": l.rule["health"]});
            if l.rule["state"].is_string() {
                row["state"] = l.rule["state"].clone();
            }
            if l.rule["lastError"].as_str().is_some_and(|e| !e.is_empty()) {
                row["last_error"] = l.rule["lastError"].clone();
            }
            row
        })
        .collect();
    let count = |kind: &str| loaded.iter().filter(|l| l.kind == kind).count();
    let mut fact = json!({
        "alerting": count("alerting"),
        "recording": count("recording"),
        "unhealthy": loaded.iter().filter(|l| !is_healthy(l.rule)).count(),
        "rules": rows,
    });
    if !checked.is_empty() {
        fact["checked"] = Json::Array(checked);
    }
    (checks, fact)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(yaml: &str) -> Result<Option<RulesExpect>, String> {
        #[derive(Deserialize)]
        struct Holder {
            #[serde(deserialize_with = "super::rules")]
            rules: Option<RulesExpect>,
        }
        crate::spec::de::from_yaml::<Holder>(yaml).map(|h| h.rules)
    }

    fn names(r: &RulesExpect) -> Vec<&str> {
        r.names.iter().map(|n| n.name.as_str()).collect()
    }

    #[test]
    fn rules_by_name_or_all_healthy() {
        let r = rules("rules: [A, b:rate5m]")
            .expect("valid")
            .expect("rules");
        assert!(!r.all_healthy);
        assert_eq!(names(&r), ["A", "b:rate5m"]);
        let r = rules("rules: {all_healthy: true}").expect("valid");
        assert!(r.is_some_and(|r| r.all_healthy && r.names.is_empty()));
        let err = rules("rules: {}").expect_err("asks nothing");
        assert!(err.contains("asks for nothing"), "{err}");
        let err = rules("rules: {all_healty: true}").expect_err("typo");
        assert!(err.contains("unknown field `all_healty`"), "{err}");
    }

    #[test]
    fn names_and_rule_maps_mix_in_one_list() {
        let r = rules(
            "rules: [A, {name: HighErrorRate, expr: {contains: '> 0.05'}, for: {max: 5m}, labels: {severity: critical}, annotations: {runbook_url: {exists: true}}, health: ok}]",
        )
        .expect("valid")
        .expect("rules");
        assert_eq!(names(&r), ["A", "HighErrorRate"]);
        assert!(!r.names[0].has_details());
        let high = &r.names[1];
        assert!(high.has_details());
        assert_eq!(high.labels.len(), 1);
        let r = rules("rules: {all_healthy: true, names: [{name: B, state: inactive}]}")
            .expect("valid")
            .expect("rules");
        assert_eq!(names(&r), ["B"]);
        let err = rules("rules: [{name: A, fro: 5m}]").expect_err("typo");
        assert!(err.contains("unknown field `fro`"), "{err}");
        let err = rules("rules: [{expr: x}]").expect_err("no name");
        assert!(err.contains("missing field `name`"), "{err}");
    }

    fn api() -> Json {
        json!({"groups": [
            {"name": "api", "rules": [
                {"type": "alerting", "name": "HighErrorRate", "health": "ok", "state": "inactive", "lastError": "",
                 "query": "job:errors:ratio5m > 0.1", "duration": 600,
                 "labels": {"severity": "warning"}, "annotations": {"summary": "errors"}},
                {"type": "recording", "name": "job:up:sum", "health": "ok", "lastError": "", "query": "sum(up)", "labels": {}},
                {"type": "recording", "name": "job:bad", "health": "err", "lastError": "many-to-many matching not allowed"}
            ]},
            {"name": "web", "rules": [
                {"type": "alerting", "name": "HighErrorRate", "health": "ok", "state": "inactive", "lastError": "",
                 "query": "web:errors:ratio5m > 0.05", "duration": 300,
                 "labels": {"severity": "critical"}, "annotations": {"runbook_url": "https://runbooks/errors"}}
            ]}
        ]})
    }

    fn want(yaml: &str) -> RulesExpect {
        rules(&format!("rules: {yaml}"))
            .expect("valid")
            .expect("rules")
    }

    #[test]
    fn every_unhealthy_rule_is_named_with_its_error() {
        let (checks, fact) = check_rules(
            &want("{all_healthy: true, names: ['job:up:sum', Missing]}"),
            &api(),
        );
        assert!(!checks[0].passed);
        assert_eq!(
            checks[0].actual,
            "3/4 ok; unhealthy: job:bad (recording) health err (many-to-many matching not allowed)"
        );
        assert!(checks[1].passed, "{:?}", checks[1]);
        assert_eq!(checks[1].actual, "loaded, health ok");
        assert_eq!(checks[2].actual, "not loaded");
        assert_eq!(fact["recording"], 2);
        assert_eq!(fact["unhealthy"], 1);
        assert_eq!(fact["rules"][0]["name"], "job:bad", "unhealthy first");
        assert!(fact.get("checked").is_none(), "names alone: {fact:#}");
        let none = json!({"groups": []});
        let (checks, _) = check_rules(&want("{all_healthy: true}"), &none);
        assert_eq!(checks[0].actual, "no rules loaded");
        assert!(!checks[0].passed);
    }

    #[test]
    fn a_rule_that_meets_its_thresholds_passes_and_is_shown() {
        let (checks, fact) = check_rules(
            &want(
                "[{name: HighErrorRate, expr: {contains: '> 0.05'}, for: {max: 5m}, labels: {severity: critical}, annotations: {runbook_url: {exists: true}}}]",
            ),
            &api(),
        );
        let failed: Vec<&Check> = checks.iter().filter(|c| !c.passed).collect();
        assert!(failed.is_empty(), "{failed:#?}");
        assert_eq!(checks.len(), 5);
        assert_eq!(
            checks[0].actual,
            "loaded, health ok, inactive (in group web; 2 rules have this name)"
        );
        assert_eq!(checks[2].name, "rule HighErrorRate for");
        assert_eq!(checks[2].actual, "5m");
        assert_eq!(fact["checked"][0]["group"], "web");
        assert_eq!(fact["checked"][0]["for"], "5m");
        assert_eq!(
            fact["checked"][0]["annotations"]["runbook_url"],
            "https://runbooks/errors"
        );
    }

    #[test]
    fn each_difference_is_its_own_failed_check() {
        let (checks, _) = check_rules(
            &want(
                "[{name: HighErrorRate, expr: {contains: '> 0.01'}, for: {max: 2m}, labels: {severity: page}, annotations: {runbook_url: {exists: true}, summary: errors}}]",
            ),
            &api(),
        );
        // Neither rule of the name meets all: the first one is reported.
        let by_name = |name: &str| {
            checks
                .iter()
                .find(|c| c.name == name)
                .unwrap_or_else(|| panic!("no check {name}: {checks:#?}"))
        };
        assert!(by_name("rule HighErrorRate").passed);
        assert!(
            by_name("rule HighErrorRate")
                .actual
                .contains("in group api")
        );
        let expr = by_name("rule HighErrorRate expr");
        assert!(!expr.passed);
        assert_eq!(expr.expected, "contains \"> 0.01\"");
        assert_eq!(expr.actual, "job:errors:ratio5m > 0.1");
        let for_ = by_name("rule HighErrorRate for");
        assert!(!for_.passed);
        assert_eq!(
            (for_.expected.as_str(), for_.actual.as_str()),
            ("<= 2m", "10m")
        );
        let severity = by_name("rule HighErrorRate label severity");
        assert_eq!(severity.actual, "\"warning\"");
        assert!(!severity.passed);
        let runbook = by_name("rule HighErrorRate annotation runbook_url");
        assert_eq!((runbook.actual.as_str(), runbook.passed), ("absent", false));
        assert!(by_name("rule HighErrorRate annotation summary").passed);
    }

    #[test]
    fn a_recording_rule_has_no_for_and_health_may_be_asked() {
        let (checks, _) = check_rules(
            &want("[{name: 'job:up:sum', for: {max: 5m}}, {name: 'job:bad', health: err}]"),
            &api(),
        );
        assert_eq!(checks[1].actual, "none (not an alerting rule)");
        assert!(!checks[1].passed);
        assert!(checks[2].passed, "{:?}", checks[2]);
        assert_eq!(checks[2].expected, "loaded, health \"err\"");
    }
}
