//! Query results as JSON: each value arrives as PostgreSQL's text (the
//! simple-query protocol, with `DateStyle = ISO` and `TimeZone = UTC` set for
//! the transaction) and becomes JSON by its column's type:
//!
//! - `smallint`, `integer`, `bigint`, `oid` → numbers;
//! - `real`, `double precision` → numbers (`NaN`, `Infinity` stay strings);
//! - `numeric` → an integer when it is one that fits 64 bits, else a number
//!   when it has at most 15 significant digits (exact in a double), else a
//!   string, so no digit is lost;
//! - `boolean` → `true` / `false`; `json`, `jsonb` → the JSON itself;
//! - `timestamptz` → RFC 3339 in UTC (`2024-01-02T03:04:05.678Z`),
//!   `timestamp` → the same without an offset;
//! - arrays → JSON arrays of their elements (converted by the same rules);
//! - SQL `NULL` → `null`; every other type → its text (`date`, `interval`,
//!   `uuid`, `text`…).

use serde_json::{Number, Value as Json};
use tokio_postgres::types::{Kind, Type};

/// A value's text (`None` for SQL `NULL`) as JSON, by its column's type.
pub fn to_json(text: Option<&str>, ty: &Type) -> Json {
    let Some(text) = text else {
        return Json::Null;
    };
    if let Kind::Array(element) = ty.kind() {
        return parse_array(text, element).unwrap_or_else(|| Json::String(text.to_owned()));
    }
    let converted = match *ty {
        Type::BOOL => match text {
            "t" => Some(Json::Bool(true)),
            "f" => Some(Json::Bool(false)),
            _ => None,
        },
        Type::INT2 | Type::INT4 | Type::INT8 | Type::OID => {
            text.parse::<i64>().ok().map(Json::from)
        }
        Type::FLOAT4 | Type::FLOAT8 => text
            .parse::<f64>()
            .ok()
            .and_then(Number::from_f64)
            .map(Json::Number),
        Type::NUMERIC => numeric(text),
        Type::JSON | Type::JSONB => serde_json::from_str(text).ok(),
        Type::TIMESTAMPTZ => rfc3339(text, true).map(Json::String),
        Type::TIMESTAMP => rfc3339(text, false).map(Json::String),
        _ => None,
    };
    converted.unwrap_or_else(|| Json::String(text.to_owned()))
}

/// A `numeric` as a number when no digit is lost.
fn numeric(text: &str) -> Option<Json> {
    if let Ok(n) = text.parse::<i64>() {
        return Some(Json::from(n));
    }
    let digits = text
        .trim_start_matches(['-', '+'])
        .chars()
        .filter(char::is_ascii_digit)
        .collect::<String>();
    let significant = digits.trim_start_matches('0').len();
    if significant > 15 || text.contains(['e', 'E']) {
        return None;
    }
    text.parse::<f64>()
        .ok()
        .and_then(Number::from_f64)
        .map(Json::Number)
}

/// `2024-01-02 03:04:05.678+00` (ISO `DateStyle`) as RFC 3339; `None` for
/// `infinity`, BC dates and anything else not in that shape.
fn rfc3339(text: &str, zoned: bool) -> Option<String> {
    let (date, time) = text.split_once(' ')?;
    let date_ok = date.len() == 10 && date.as_bytes()[4] == b'-' && date.as_bytes()[7] == b'-';
    if !date_ok || time.contains(' ') {
        return None;
    }
    if !zoned {
        return Some(format!("{date}T{time}"));
    }
    // The offset: `+00`, `+05:30`, `-03` after the clock time.
    let split = time.rfind(['+', '-'])?;
    let (clock, offset) = time.split_at(split);
    let offset = match offset.len() {
        3 => format!("{offset}:00"),
        6 => offset.to_owned(),
        _ => return None,
    };
    let offset = if offset == "+00:00" {
        "Z".to_owned()
    } else {
        offset
    };
    Some(format!("{date}T{clock}{offset}"))
}

/// An array literal (`{1,2,NULL}`, `{"a b",c}`, `{{1,2},{3,4}}`) as JSON.
fn parse_array(text: &str, element: &Type) -> Option<Json> {
    // `[0:1]={…}`: explicit bounds, rare; the elements are what matter.
    let body = match text.strip_prefix('[') {
        Some(_) => text.split_once('=')?.1,
        None => text,
    };
    let mut chars = body.chars().peekable();
    let value = parse_level(&mut chars, element)?;
    chars.next().is_none().then_some(value)
}

fn parse_level(
    chars: &mut std::iter::Peekable<std::str::Chars<'_>>,
    element: &Type,
) -> Option<Json> {
    if chars.next()? != '{' {
        return None;
    }
    let mut items = Vec::new();
    if chars.peek() == Some(&'}') {
        chars.next();
        return Some(Json::Array(items));
    }
    loop {
        let item = match chars.peek()? {
            '{' => parse_level(chars, element)?,
            '"' => {
                chars.next();
                let mut text = String::new();
                loop {
                    match chars.next()? {
                        '\\' => text.push(chars.next()?),
                        '"' => break,
                        c => text.push(c),
                    }
                }
                to_json(Some(&text), element)
            }
            _ => {
                let mut text = String::new();
                while let Some(c) = chars.peek() {
                    if *c == ',' || *c == '}' {
                        break;
                    }
                    text.push(*c);
                    chars.next();
                }
                let text = text.trim();
                if text.eq_ignore_ascii_case("NULL") {
                    Json::Null
                } else {
                    to_json(Some(text), element)
                }
            }
        };
        items.push(item);
        match chars.next()? {
            ',' => {}
            '}' => return Some(Json::Array(items)),
            _ => return None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn scalars_become_json_by_type() {
        assert_eq!(to_json(Some("42"), &Type::INT8), json!(42));
        assert_eq!(to_json(Some("t"), &Type::BOOL), json!(true));
        assert_eq!(to_json(Some("0.25"), &Type::FLOAT8), json!(0.25));
        assert_eq!(to_json(Some("NaN"), &Type::FLOAT8), json!("NaN"));
        assert_eq!(to_json(Some("12.50"), &Type::NUMERIC), json!(12.5));
        assert_eq!(
            to_json(Some("12345678901234567890.5"), &Type::NUMERIC),
            json!("12345678901234567890.5")
        );
        assert_eq!(
            to_json(Some("9007199254740993"), &Type::NUMERIC),
            json!(9_007_199_254_740_993_i64)
        );
        assert_eq!(
            to_json(Some(r#"{"a": [1]}"#), &Type::JSONB),
            json!({"a": [1]})
        );
        assert_eq!(to_json(None, &Type::TEXT), Json::Null);
        assert_eq!(to_json(Some("x"), &Type::TEXT), json!("x"));
        assert_eq!(
            to_json(Some("2024-01-02"), &Type::DATE),
            json!("2024-01-02")
        );
    }

    #[test]
    fn timestamps_become_rfc3339() {
        assert_eq!(
            to_json(Some("2024-01-02 03:04:05.678+00"), &Type::TIMESTAMPTZ),
            json!("2024-01-02T03:04:05.678Z")
        );
        assert_eq!(
            to_json(Some("2024-01-02 03:04:05+05:30"), &Type::TIMESTAMPTZ),
            json!("2024-01-02T03:04:05+05:30")
        );
        assert_eq!(
            to_json(Some("2024-01-02 03:04:05"), &Type::TIMESTAMP),
            json!("2024-01-02T03:04:05")
        );
        assert_eq!(
            to_json(Some("infinity"), &Type::TIMESTAMPTZ),
            json!("infinity")
        );
        assert_eq!(
            to_json(Some("0044-03-15 12:00:00+00 BC"), &Type::TIMESTAMPTZ),
            json!("0044-03-15 12:00:00+00 BC")
        );
    }

    #[test]
    fn arrays_nest_quote_and_hold_nulls() {
        assert_eq!(
            to_json(Some("{1,2,NULL}"), &Type::INT4_ARRAY),
            json!([1, 2, null])
        );
        assert_eq!(
            to_json(Some(r#"{a,"b c","say \"hi\"","NULL"}"#), &Type::TEXT_ARRAY),
            json!(["a", "b c", "say \"hi\"", "NULL"])
        );
        assert_eq!(
            to_json(Some("{{1,2},{3,4}}"), &Type::INT4_ARRAY),
            json!([[1, 2], [3, 4]])
        );
        assert_eq!(to_json(Some("{}"), &Type::TEXT_ARRAY), json!([]));
        assert_eq!(
            to_json(Some("[0:1]={5,6}"), &Type::INT4_ARRAY),
            json!([5, 6])
        );
        assert_eq!(to_json(Some("{1,2"), &Type::INT4_ARRAY), json!("{1,2"));
    }
}
