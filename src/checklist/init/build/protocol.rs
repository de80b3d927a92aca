//! Builders for protocols over HTTP: MCP, JSON-RPC and WebSocket.

use super::super::claims::Facts;
use super::super::render::Node;
use super::super::rules::Draft;

/// An MCP server: initialize, `tools/list`, and what the text counts.
pub fn mcp(f: &Facts) -> Option<Draft> {
    let url = f
        .path()
        .filter(|p| !p.starts_with("/tools"))
        .unwrap_or("/mcp");
    let mut d = Draft::new("mcp", Node::map().with("url", Node::s(url))).why(format!(
        "an MCP server at `{url}`: initialize, ping, tools/list and every tool's input schema"
    ));
    if let Some(n) = f.q.count_of("tools") {
        d = d.why(format!(
            "name the {n} tools under `expect.tools` to check each is listed"
        ));
    }
    if f.has(&["tools call", "tool execution", "call"]) {
        d = d
            .why("a tool call needs a tool name: add `expect.call: [{tool: NAME, arguments: {}}]`");
    }
    if f.has(&["resources", "resources api"]) {
        d = d.why("name a resource under `expect.resources` to have it read");
    }
    Some(d)
}

/// A JSON-RPC endpoint, with the spec's error cases.
pub fn jsonrpc(f: &Facts) -> Option<Draft> {
    let url = match f.path() {
        Some(p) => p.to_owned(),
        None if f.has_around(&["mcp"]) => "/mcp".to_owned(),
        None => "/rpc".to_owned(),
    };
    let settings = Node::map()
        .with("url", Node::s(url.clone()))
        .with("method", Node::s("ping"))
        .with("compliance", Node::s("true"));
    Some(
        Draft::new("jsonrpc", settings)
            .why(format!(
                "JSON-RPC 2.0 at `{url}`: the envelope rules and the spec's error cases"
            ))
            .guessed("the method `ping`"),
    )
}

/// A WebSocket upgrade (or its refusal).
pub fn websocket(f: &Facts) -> Option<Draft> {
    let url = f.path().unwrap_or("/ws");
    let refused = f.negated || f.has(&["rejects", "refuses", "refused", "unauthenticated"]);
    let status = if refused {
        Node::list(["401", "403"])
    } else {
        Node::s("101")
    };
    let mut d = Draft::new(
        "websocket",
        Node::map()
            .with("url", Node::s(url))
            .with("expect/status", status),
    );
    d = if refused {
        d.why("the upgrade must be refused: status 401 or 403")
    } else {
        d.why(format!("the upgrade at `{url}` answers 101"))
    };
    if f.path().is_none() {
        d = d.guessed("the path /ws");
    }
    Some(d)
}
