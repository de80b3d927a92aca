//! The JSON-RPC 2.0 envelope check on arbitrary JSON: it never panics, always
//! says something, and passes exactly the envelopes the spec allows.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::{Value, json};
use vouch::probe::jsonrpc::check_envelope;

fuzz_target!(|data: &[u8]| {
    let Ok(response) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    for id in [json!(1), json!("a"), Value::Null] {
        let checks = check_envelope("", &response, &id);
        assert!(!checks.is_empty(), "no check for {response}");
        let valid = response.as_object().is_some_and(|o| {
            o.get("jsonrpc") == Some(&json!("2.0"))
                && o.get("id") == Some(&id)
                && (o.contains_key("result") != o.contains_key("error"))
                && o.get("error").is_none_or(|e| {
                    e.get("code").is_some_and(Value::is_i64)
                        && e.get("message").is_some_and(Value::is_string)
                })
        });
        assert_eq!(checks.iter().all(|c| c.passed), valid, "envelope {response} with id {id}");
    }
});
