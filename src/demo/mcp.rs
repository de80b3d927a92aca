//! The demo's JSON-RPC and MCP endpoints: `/rpc` speaks plain JSON-RPC 2.0
//! (`sum`, `echo`; batches, notifications and every spec error), `/mcp` is a
//! small MCP server over Streamable HTTP with JSON answers and sessions. One
//! tool is broken on purpose, like `/api/orders`.

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{LazyLock, Mutex};

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use serde_json::{Value as Json, json};

/// The revisions the demo MCP server speaks; it answers with the client's
/// when it knows it, else its newest.
const VERSIONS: &[&str] = &["2025-03-26", "2025-06-18", "2025-11-25"];

/// The largest request body read.
const MAX_BODY: usize = 64 * 1024;

/// Live MCP sessions.
static SESSIONS: LazyLock<Mutex<HashSet<String>>> = LazyLock::new(|| Mutex::new(HashSet::new()));

fn reply(status: StatusCode, body: Option<Json>) -> Response<Full<Bytes>> {
    let bytes = body.map(|b| Bytes::from(b.to_string())).unwrap_or_default();
    let has_body = !bytes.is_empty();
    let mut response = Response::new(Full::new(bytes));
    *response.status_mut() = status;
    if has_body {
        response.headers_mut().insert(
            "content-type",
            hyper::header::HeaderValue::from_static("application/json"),
        );
    }
    response
}

fn error(id: Json, code: i64, message: &str) -> Json {
    json!({"jsonrpc": "2.0", "id": id, "error": {"code": code, "message": message}})
}

fn result(id: Json, result: Json) -> Json {
    json!({"jsonrpc": "2.0", "id": id, "result": result})
}

async fn read_body(req: Request<Incoming>) -> Result<Bytes, Response<Full<Bytes>>> {
    match Limited::new(req.into_body(), MAX_BODY).collect().await {
        Ok(body) => Ok(body.to_bytes()),
        Err(_) => Err(reply(
            StatusCode::PAYLOAD_TOO_LARGE,
            Some(error(Json::Null, -32600, "request too large")),
        )),
    }
}

/// A request object's method, params and id, or the error response it earns.
fn parse_request(message: &Json) -> Result<(&str, Option<&Json>, Option<&Json>), Json> {
    let invalid = || error(Json::Null, -32600, "Invalid Request");
    let object = message.as_object().ok_or_else(invalid)?;
    if object.get("jsonrpc") != Some(&json!("2.0")) {
        return Err(invalid());
    }
    let method = object
        .get("method")
        .and_then(Json::as_str)
        .ok_or_else(invalid)?;
    let params = object.get("params");
    if params.is_some_and(|p| !p.is_object() && !p.is_array()) {
        return Err(invalid());
    }
    let id = object.get("id");
    if id.is_some_and(|i| !(i.is_string() || i.is_i64() || i.is_u64() || i.is_null())) {
        return Err(invalid());
    }
    Ok((method, params, id))
}

/// `/rpc`: plain JSON-RPC 2.0.
pub async fn rpc(req: Request<Incoming>) -> Response<Full<Bytes>> {
    if req.method() != Method::POST {
        return reply(
            StatusCode::METHOD_NOT_ALLOWED,
            Some(error(Json::Null, -32600, "use POST")),
        );
    }
    let body = match read_body(req).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    let Ok(doc) = serde_json::from_slice::<Json>(&body) else {
        return reply(
            StatusCode::OK,
            Some(error(Json::Null, -32700, "Parse error")),
        );
    };
    match doc {
        Json::Array(calls) if calls.is_empty() => reply(
            StatusCode::OK,
            Some(error(Json::Null, -32600, "Invalid Request: empty batch")),
        ),
        Json::Array(calls) => {
            let answers: Vec<Json> = calls.iter().filter_map(rpc_one).collect();
            if answers.is_empty() {
                reply(StatusCode::NO_CONTENT, None)
            } else {
                reply(StatusCode::OK, Some(Json::Array(answers)))
            }
        }
        single => match rpc_one(&single) {
            Some(answer) => reply(StatusCode::OK, Some(answer)),
            None => reply(StatusCode::NO_CONTENT, None),
        },
    }
}

/// One call of `/rpc`; `None` for a notification.
fn rpc_one(message: &Json) -> Option<Json> {
    let (method, params, id) = match parse_request(message) {
        Ok(parts) => parts,
        Err(e) => return Some(e),
    };
    let outcome = match method {
        "sum" => sum(params),
        "echo" => match params {
            Some(p) => Ok(p.clone()),
            None => Err((-32602, "Invalid params: echo takes params")),
        },
        // Broken on purpose: the order service behind it is down.
        "orders.count" => Err((
            -32000,
            "order service unavailable: connection pool exhausted",
        )),
        _ => Err((-32601, "Method not found")),
    };
    let id = id?.clone();
    Some(match outcome {
        Ok(value) => result(id, value),
        Err((code, message)) => error(id, code, message),
    })
}

fn sum(params: Option<&Json>) -> Result<Json, (i64, &'static str)> {
    let bad = (
        -32602,
        "Invalid params: sum takes numbers, as [a, b, …] or {a, b}",
    );
    let numbers: Vec<&Json> = match params {
        Some(Json::Array(items)) => items.iter().collect(),
        Some(Json::Object(map)) if map.keys().all(|k| k == "a" || k == "b") && !map.is_empty() => {
            map.values().collect()
        }
        _ => return Err(bad),
    };
    let mut total = 0.0;
    for n in numbers {
        total += n.as_f64().ok_or(bad)?;
    }
    Ok(if total.fract() == 0.0 && total.abs() < 9e15 {
        json!(total as i64)
    } else {
        json!(total)
    })
}

fn new_session_id() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!(
        "{:016x}{:016x}",
        nanos as u64,
        NEXT.fetch_add(1, Ordering::Relaxed)
            .wrapping_mul(0x9e37_79b9_7f4a_7c15)
    )
}

/// `/mcp`: a small MCP server (Streamable HTTP, JSON answers).
pub async fn mcp(req: Request<Incoming>) -> Response<Full<Bytes>> {
    let session = req
        .headers()
        .get("mcp-session-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let known = |id: &str| SESSIONS.lock().map(|s| s.contains(id)).unwrap_or(false);
    match *req.method() {
        Method::DELETE => {
            return match session {
                Some(id) if SESSIONS.lock().map(|mut s| s.remove(&id)).unwrap_or(false) => {
                    reply(StatusCode::OK, None)
                }
                _ => reply(
                    StatusCode::NOT_FOUND,
                    Some(error(Json::Null, -32001, "Session not found")),
                ),
            };
        }
        Method::POST => {}
        // No server-initiated stream.
        _ => return reply(StatusCode::METHOD_NOT_ALLOWED, None),
    }
    let accepts = req
        .headers()
        .get("accept")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !(accepts.contains("application/json") && accepts.contains("text/event-stream")) {
        return reply(
            StatusCode::NOT_ACCEPTABLE,
            Some(error(
                Json::Null,
                -32600,
                "Accept must list application/json and text/event-stream",
            )),
        );
    }
    let body = match read_body(req).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    let Ok(message) = serde_json::from_slice::<Json>(&body) else {
        return reply(
            StatusCode::BAD_REQUEST,
            Some(error(Json::Null, -32700, "Parse error")),
        );
    };
    let (method, params, id) = match parse_request(&message) {
        Ok(parts) => parts,
        Err(e) => return reply(StatusCode::BAD_REQUEST, Some(e)),
    };
    if method == "initialize" {
        let Some(id) = id else {
            return reply(
                StatusCode::BAD_REQUEST,
                Some(error(Json::Null, -32600, "initialize needs an id")),
            );
        };
        let asked = params
            .and_then(|p| p.get("protocolVersion"))
            .and_then(Json::as_str)
            .unwrap_or("");
        let version = VERSIONS
            .iter()
            .find(|v| **v == asked)
            .or(VERSIONS.last())
            .copied()
            .unwrap_or("2025-06-18");
        let session_id = new_session_id();
        if let Ok(mut sessions) = SESSIONS.lock() {
            // A demo, not a service: keep the table small.
            if sessions.len() > 1000 {
                sessions.clear();
            }
            sessions.insert(session_id.clone());
        }
        let body = result(
            id.clone(),
            json!({
                "protocolVersion": version,
                "capabilities": {"tools": {"listChanged": false}, "resources": {}},
                "serverInfo": {"name": "vouch-demo", "version": env!("CARGO_PKG_VERSION")},
            }),
        );
        let mut response = reply(StatusCode::OK, Some(body));
        if let Ok(value) = session_id.parse() {
            response.headers_mut().insert("mcp-session-id", value);
        }
        return response;
    }
    match session {
        None => {
            return reply(
                StatusCode::BAD_REQUEST,
                Some(error(
                    Json::Null,
                    -32600,
                    "Bad Request: missing Mcp-Session-Id",
                )),
            );
        }
        Some(id) if !known(&id) => {
            return reply(
                StatusCode::NOT_FOUND,
                Some(error(Json::Null, -32001, "Session not found")),
            );
        }
        Some(_) => {}
    }
    let Some(id) = id.cloned() else {
        // Notifications (`notifications/initialized`, …) are accepted.
        return reply(StatusCode::ACCEPTED, None);
    };
    let answer = match method {
        "ping" => result(id, json!({})),
        "tools/list" => result(id, json!({"tools": tools()})),
        "tools/call" => result(id, call_tool(params)),
        "resources/list" => result(
            id,
            json!({"resources": [{"uri": "demo://catalog", "name": "catalog", "mimeType": "application/json"}]}),
        ),
        "resources/read" => match params.and_then(|p| p.get("uri")).and_then(Json::as_str) {
            Some("demo://catalog") => result(
                id,
                json!({"contents": [{"uri": "demo://catalog", "mimeType": "application/json", "text": "{\"products\":3}"}]}),
            ),
            _ => error(id, -32002, "Resource not found"),
        },
        _ => error(id, -32601, "Method not found"),
    };
    reply(StatusCode::OK, Some(answer))
}

fn tools() -> Json {
    json!([
        {
            "name": "add",
            "description": "Adds two numbers.",
            "inputSchema": {
                "type": "object",
                "properties": {"a": {"type": "number"}, "b": {"type": "number"}},
                "required": ["a", "b"]
            }
        },
        {
            "name": "lookup_order",
            "description": "Looks an order up by id.",
            "inputSchema": {
                "type": "object",
                "properties": {"id": {"type": "integer"}},
                "required": ["id"]
            }
        }
    ])
}

fn call_tool(params: Option<&Json>) -> Json {
    let name = params.and_then(|p| p.get("name")).and_then(Json::as_str);
    let args = params.and_then(|p| p.get("arguments"));
    let text = |t: String, is_error: bool| json!({"content": [{"type": "text", "text": t}], "isError": is_error});
    match name {
        Some("add") => {
            let get = |k: &str| args.and_then(|a| a.get(k)).and_then(Json::as_f64);
            match (get("a"), get("b")) {
                (Some(a), Some(b)) => {
                    let mut out = text(format!("{}", a + b), false);
                    out["structuredContent"] = json!({"sum": a + b});
                    out
                }
                _ => text("add needs numbers `a` and `b`".to_owned(), true),
            }
        }
        // Broken on purpose, like `/api/orders`.
        Some("lookup_order") => text(
            "order service unavailable: connection pool exhausted (max 10)".to_owned(),
            true,
        ),
        Some(other) => text(format!("unknown tool `{other}`"), true),
        None => text("missing tool name".to_owned(), true),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rpc_answers_calls_errors_and_skips_notifications() {
        let call = json!({"jsonrpc": "2.0", "method": "sum", "params": [1, 2], "id": 7});
        assert_eq!(
            rpc_one(&call),
            Some(json!({"jsonrpc": "2.0", "id": 7, "result": 3}))
        );
        let bad = json!({"jsonrpc": "2.0", "method": "sum", "params": {"x": 1}, "id": 8});
        assert_eq!(rpc_one(&bad).expect("answer")["error"]["code"], -32602);
        let unknown = json!({"jsonrpc": "2.0", "method": "nope", "id": 9});
        assert_eq!(rpc_one(&unknown).expect("answer")["error"]["code"], -32601);
        let invalid = json!({"jsonrpc": "2.0", "method": 1, "params": "bar"});
        assert_eq!(rpc_one(&invalid).expect("answer")["id"], Json::Null);
        let notification = json!({"jsonrpc": "2.0", "method": "sum", "params": [1]});
        assert_eq!(rpc_one(&notification), None);
    }

    #[test]
    fn the_order_tool_is_broken_on_purpose() {
        let out = call_tool(Some(
            &json!({"name": "lookup_order", "arguments": {"id": 1}}),
        ));
        assert_eq!(out["isError"], true);
        let sum = call_tool(Some(&json!({"name": "add", "arguments": {"a": 2, "b": 3}})));
        assert_eq!(sum["structuredContent"]["sum"], 5.0);
    }
}
