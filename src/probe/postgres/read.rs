//! What the `postgres` kind reads inside its read-only transaction: the
//! query's rows (as JSON, capped), settings from `pg_settings`, and the
//! replication state.

use std::collections::BTreeMap;

use futures_util::StreamExt;
use serde_json::{Map, Value as Json, json};
use tokio_postgres::{Client, SimpleQueryMessage};

use super::MAX_ROWS;
use super::value;

/// What a query read.
pub struct QueryResult {
    pub columns: Vec<(String, String)>,
    pub rows: Vec<Json>,
    /// Reading stopped at [`MAX_ROWS`] or the body limit.
    pub truncated: bool,
    /// The command tag's count (rows returned or affected).
    pub command_count: Option<u64>,
}

/// Runs the query (one statement, prepared first to learn its column types
/// and to refuse several statements) and reads its rows as JSON.
pub async fn run_query(
    client: &Client,
    sql: &str,
    byte_limit: u64,
) -> Result<QueryResult, tokio_postgres::Error> {
    let statement = client.prepare(sql).await?;
    let types: Vec<_> = statement
        .columns()
        .iter()
        .map(|c| (c.name().to_owned(), c.type_().clone()))
        .collect();
    let stream = client.simple_query_raw(sql).await?;
    futures_util::pin_mut!(stream);
    let mut rows = Vec::new();
    let mut bytes = 0u64;
    let mut truncated = false;
    let mut command_count = None;
    while let Some(message) = stream.next().await {
        match message? {
            SimpleQueryMessage::Row(row) => {
                if rows.len() >= MAX_ROWS || bytes > byte_limit {
                    truncated = true;
                    break;
                }
                let mut object = Map::new();
                for i in 0..row.len() {
                    let text = row.get(i);
                    let (name, value) = match types.get(i) {
                        Some((name, ty)) => (name.clone(), value::to_json(text, ty)),
                        None => (
                            row.columns()
                                .get(i)
                                .map_or_else(|| format!("column{i}"), |c| c.name().to_owned()),
                            text.map_or(Json::Null, |t| Json::String(t.to_owned())),
                        ),
                    };
                    let mut key = name.clone();
                    let mut n = 2;
                    while object.contains_key(&key) {
                        key = format!("{name} ({n})");
                        n += 1;
                    }
                    object.insert(key, value);
                }
                let row = Json::Object(object);
                bytes += row.to_string().len() as u64;
                rows.push(row);
            }
            SimpleQueryMessage::CommandComplete(n) => command_count = Some(n),
            _ => {}
        }
    }
    Ok(QueryResult {
        columns: types
            .iter()
            .map(|(name, ty)| (name.clone(), ty.name().to_owned()))
            .collect(),
        rows,
        truncated,
        command_count,
    })
}

/// A setting as pg_settings has it.
pub struct Setting {
    pub shown: String,
    pub value: Json,
    pub raw: String,
    pub unit: Option<String>,
}

/// A setting's value for matchers: numbers in base units (memory in bytes,
/// time in seconds), `on`/`off` for booleans, else the text.
fn setting_value(raw: &str, unit: Option<&str>, vartype: &str) -> Json {
    if !matches!(vartype, "integer" | "real") {
        return Json::String(raw.to_owned());
    }
    let Ok(number) = raw.parse::<f64>() else {
        return Json::String(raw.to_owned());
    };
    let factor = unit.and_then(unit_factor).filter(|_| number >= 0.0);
    let value = number * factor.unwrap_or(1.0);
    if value.fract() == 0.0 && value.abs() < 9e15 {
        Json::from(value as i64)
    } else {
        serde_json::Number::from_f64(value).map_or(Json::String(raw.to_owned()), Json::Number)
    }
}

/// `8kB` → 8192 (bytes), `ms` → 0.001 (seconds).
fn unit_factor(unit: &str) -> Option<f64> {
    let split = unit
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(unit.len());
    let (count, name) = unit.split_at(split);
    let count: f64 = if count.is_empty() {
        1.0
    } else {
        count.parse().ok()?
    };
    let base = match name {
        "B" => 1.0,
        "kB" => 1024.0,
        "MB" => 1024.0 * 1024.0,
        "GB" => 1024.0 * 1024.0 * 1024.0,
        "TB" => 1024.0 * 1024.0 * 1024.0 * 1024.0,
        "us" => 1e-6,
        "ms" => 1e-3,
        "s" => 1.0,
        "min" => 60.0,
        "h" => 3600.0,
        "d" => 86400.0,
        _ => return None,
    };
    Some(count * base)
}

pub async fn read_settings(
    client: &Client,
    names: &[String],
) -> Result<BTreeMap<String, Setting>, tokio_postgres::Error> {
    let rows = client
        .query(
            "SELECT name, setting, unit, vartype, current_setting(name) FROM pg_settings WHERE name = ANY($1)",
            &[&names],
        )
        .await?;
    let mut found = BTreeMap::new();
    for row in rows {
        let name: String = row.try_get(0)?;
        let raw: Option<String> = row.try_get(1)?;
        let unit: Option<String> = row.try_get(2)?;
        let vartype: String = row.try_get(3)?;
        let shown: String = row.try_get(4)?;
        let raw = raw.unwrap_or_default();
        found.insert(
            name,
            Setting {
                value: setting_value(&raw, unit.as_deref(), &vartype),
                shown,
                raw,
                unit,
            },
        );
    }
    Ok(found)
}

/// What replication looks like from this server.
pub struct Replication {
    pub in_recovery: bool,
    pub senders: Vec<Json>,
    pub streaming: usize,
    pub hidden: bool,
    /// Seconds; `None` when unknown (no replicas, nothing replayed yet).
    pub lag: Option<f64>,
    pub receiver: Option<String>,
}

pub async fn read_replication(client: &Client) -> Result<Replication, tokio_postgres::Error> {
    let in_recovery: bool = client
        .query_one("SELECT pg_is_in_recovery()", &[])
        .await?
        .try_get(0)?;
    let rows = client
        .query(
            "SELECT application_name, client_addr::text, state, sync_state, \
             EXTRACT(EPOCH FROM replay_lag)::float8 FROM pg_stat_replication",
            &[],
        )
        .await?;
    let mut senders = Vec::new();
    let mut streaming = 0;
    let mut hidden = false;
    let mut largest: Option<f64> = None;
    for row in &rows {
        let state: Option<String> = row.try_get(2)?;
        let lag: Option<f64> = row.try_get(4)?;
        match state.as_deref() {
            Some("streaming") => {
                streaming += 1;
                // No replay_lag while idle and caught up: no lag.
                largest = Some(largest.unwrap_or(0.0).max(lag.unwrap_or(0.0)));
            }
            None => hidden = true,
            Some(_) => {}
        }
        senders.push(json!({
            "application_name": row.try_get::<_, Option<String>>(0)?,
            "client_addr": row.try_get::<_, Option<String>>(1)?,
            "state": state,
            "sync_state": row.try_get::<_, Option<String>>(3)?,
            "replay_lag_s": lag,
        }));
    }
    let (lag, receiver) = if in_recovery {
        let row = client
            .query_one(
                "SELECT CASE WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0::float8 \
                 ELSE EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp())::float8 END, \
                 (SELECT status FROM pg_stat_wal_receiver LIMIT 1)",
                &[],
            )
            .await?;
        (row.try_get(0)?, row.try_get(1)?)
    } else {
        (largest, None)
    };
    Ok(Replication {
        in_recovery,
        senders,
        streaming,
        hidden,
        lag,
        receiver,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::expect::Matcher;

    #[test]
    fn settings_compare_in_base_units() {
        assert_eq!(
            setting_value("16384", Some("8kB"), "integer"),
            json!(134_217_728)
        );
        assert_eq!(setting_value("30000", Some("ms"), "integer"), json!(30));
        assert_eq!(setting_value("-1", Some("ms"), "integer"), json!(-1));
        assert_eq!(setting_value("100", None, "integer"), json!(100));
        assert_eq!(setting_value("0.9", None, "real"), json!(0.9));
        assert_eq!(setting_value("on", None, "bool"), json!("on"));
        assert_eq!(setting_value("replica", None, "enum"), json!("replica"));
        let gib: Matcher = serde_json::from_value(json!({"min": "128MiB"})).expect("matcher");
        assert!(
            gib.check(Some(&setting_value("16384", Some("8kB"), "integer")))
                .is_ok()
        );
    }
}
