//! `mcp`: a Model Context Protocol server over Streamable HTTP. Initializes a
//! session (version negotiation, session id), then checks what the server
//! declares: `tools/list` (all pages), tool calls, `resources/list` and
//! `resources/read`, `prompts/list`, `ping`; ends the session with `DELETE`.

mod transport;

use std::collections::BTreeMap;
use std::fmt;

use schemars::JsonSchema;
use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Value as Json, json};

use super::http::{BodyExpect, JsonExpect, LatencyExpect};
use super::jsonrpc::{check_envelope, show_outcome};
use super::{Budget, Check, Context, Findings, Probe, ProbeError, fetch};
use crate::expect::{self, Matcher};
pub use transport::SseParser;
use transport::{Reply, Session};

/// The protocol revision vouch asks for in `initialize`.
pub const PREFERRED_VERSION: &str = "2025-11-25";

/// The revisions vouch knows; a server may answer with any of them.
pub const KNOWN_VERSIONS: &[&str] = &["2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25"];

/// The most pages read from a paginated list.
const MAX_PAGES: usize = 50;

super::with_tls! {
    /// Settings of an `mcp` probe.
    #[derive(Debug, Clone, Deserialize, JsonSchema)]
    #[serde(deny_unknown_fields)]
    pub struct Mcp {
        /// The MCP endpoint: a path (resolved against the target) or an absolute URL; default `/mcp`.
        #[serde(default = "default_url")]
        pub url: String,
        /// Request headers sent on every request (e.g. `authorization: Bearer ${env:TOKEN}`).
        #[serde(default)]
        pub headers: BTreeMap<String, String>,
        /// The protocol revision to ask for (default: the newest vouch knows).
        #[serde(default)]
        pub protocol_version: Option<String>,
        /// What the server must offer.
        #[serde(default)]
        pub expect: McpExpect,
    }
}

fn default_url() -> String {
    "/mcp".to_owned()
}

/// Expectations on an MCP server.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct McpExpect {
    /// The negotiated revision (default: one vouch knows).
    #[serde(default)]
    pub protocol_version: Option<Matcher>,
    /// The server's `serverInfo.name`.
    #[serde(default)]
    pub server_name: Option<Matcher>,
    /// Tool names that must be listed: a list, or `{names: […], exactly: true}`.
    #[serde(default)]
    pub tools: Option<ToolsExpect>,
    /// Tool calls to make, each with its own expectations.
    #[serde(default)]
    pub call: Vec<ToolCall>,
    /// Resource URIs that must be listed.
    #[serde(default)]
    pub resources: Vec<String>,
    /// Bounds on every single request's time to its response.
    #[serde(default)]
    pub latency: Option<LatencyExpect>,
}

/// Tool names that must be listed.
#[derive(Debug, Clone, Default)]
pub struct ToolsExpect {
    /// The names.
    pub names: Vec<String>,
    /// No other tools may be listed.
    pub exactly: bool,
}

impl JsonSchema for ToolsExpect {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "ToolsExpect".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "Tool names that must be listed: a list, or `{names: [...], exactly: true}`.",
            "anyOf": [
                {"type": "array", "items": {"type": "string"}},
                {
                    "type": "object",
                    "properties": {
                        "names": {"type": "array", "items": {"type": "string"}},
                        "exactly": {"type": "boolean"}
                    },
                    "required": ["names"],
                    "additionalProperties": false
                }
            ]
        })
    }
}

impl<'de> Deserialize<'de> for ToolsExpect {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = ToolsExpect;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a list of tool names, or `{names: [...], exactly: true}`")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<ToolsExpect, A::Error> {
                let mut names = Vec::new();
                while let Some(name) = seq.next_element::<String>()? {
                    names.push(name);
                }
                Ok(ToolsExpect {
                    names,
                    exactly: false,
                })
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<ToolsExpect, A::Error> {
                let mut names = None;
                let mut exactly = false;
                while let Some(key) = map.next_key::<String>()? {
                    match key.as_str() {
                        "names" => names = Some(map.next_value::<Vec<String>>()?),
                        "exactly" => exactly = map.next_value()?,
                        other => {
                            return Err(de::Error::unknown_field(other, &["names", "exactly"]));
                        }
                    }
                }
                let names = names.ok_or_else(|| de::Error::missing_field("names"))?;
                Ok(ToolsExpect { names, exactly })
            }
        }
        deserializer.deserialize_any(V)
    }
}

/// A tool call and what its result must hold.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ToolCall {
    /// The tool's name.
    pub tool: String,
    /// Its arguments (an object).
    #[serde(default)]
    pub arguments: Option<serde_json::Map<String, Json>>,
    /// What the result must hold.
    #[serde(default)]
    pub expect: ToolCallExpect,
}

/// Expectations on a tool call's result.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ToolCallExpect {
    /// The result's `isError` (default `false`: the call must succeed).
    #[serde(default)]
    pub is_error: bool,
    /// The text content (all `text` items joined): `contains`, `matches`.
    #[serde(default)]
    pub text: Option<BodyExpect>,
    /// JSONPath (`$` is `structuredContent`) → matcher.
    #[serde(default)]
    pub structured_content: JsonExpect,
    /// Bounds on the call's time to its response.
    #[serde(default)]
    pub latency: Option<LatencyExpect>,
}

impl Mcp {
    /// `MCP /mcp`.
    pub fn describe(&self) -> String {
        format!("MCP {}", self.url)
    }
}

/// What a run has learnt so far: checks, evidence and the summary's parts.
struct Run {
    checks: Vec<Check>,
    record: serde_json::Map<String, Json>,
    notes: Vec<String>,
    /// Set when the transport failed: the rest is skipped.
    stopped: Option<String>,
    latency: Option<LatencyExpect>,
}

impl Run {
    fn check(
        &mut self,
        name: impl Into<String>,
        expected: impl Into<String>,
        actual: impl Into<String>,
        passed: bool,
    ) {
        self.checks.push(Check::new(name, expected, actual, passed));
    }

    /// Records a capability the server does not declare; a failed check when
    /// the expectations need it.
    fn undeclared(&mut self, capability: &str, wanted: bool) {
        self.record
            .insert(capability.to_owned(), json!("not declared"));
        if wanted {
            self.check(
                format!("capability {capability}"),
                format!("declared ({capability} are expected)"),
                "not declared",
                false,
            );
        }
    }

    /// A reply's message, after the envelope rules and the latency bound;
    /// `None` (with a failed check) when there is no result to read.
    fn result(&mut self, method: &str, reply: Result<Reply, String>) -> Option<Json> {
        let reply = match reply {
            Ok(r) => r,
            Err(reason) => {
                self.check(method, "a JSON-RPC response", reason.clone(), false);
                self.stopped = Some(format!("{method}: {reason}"));
                return None;
            }
        };
        let message = reply.message?;
        let id = reply.id.clone().unwrap_or(Json::Null);
        let failed: Vec<Check> = check_envelope(&format!("{method} "), &message, &id)
            .into_iter()
            .filter(|c| !c.passed)
            .collect();
        let envelope_ok = failed.is_empty();
        self.checks.extend(failed);
        if let Some(latency) = &self.latency {
            let max = latency.max;
            self.check(
                format!("{method} latency"),
                format!("<= {max}"),
                fetch::format_latency(reply.elapsed),
                reply.elapsed <= max.0,
            );
        }
        match message.get("result") {
            Some(result) if envelope_ok && message.get("error").is_none() => Some(result.clone()),
            _ => {
                if envelope_ok {
                    self.check(method, "a result", show_outcome(&message), false);
                }
                None
            }
        }
    }
}

impl Probe for Mcp {
    fn sends_http(&self) -> bool {
        true
    }

    /// At most: `initialize`, `notifications/initialized`, `ping`, every page
    /// of the three lists, one `resources/read`, the calls and the `DELETE`.
    fn budget(&self) -> Budget {
        let lists = 3 * MAX_PAGES as u64;
        Budget {
            max_requests: 5 + lists + self.expect.call.len() as u64,
            ..Budget::SINGLE
        }
    }

    async fn run(&self, cx: &Context) -> Result<Findings, ProbeError> {
        let url = cx.resolve(&self.url)?;
        let tls = self.tls();
        let headers: Vec<(String, String)> = self
            .headers
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let mut session = Session::new(cx, url, headers, &tls)?;
        let mut run = Run {
            checks: Vec::new(),
            record: serde_json::Map::new(),
            notes: Vec::new(),
            stopped: None,
            latency: self.expect.latency.clone(),
        };
        run.record
            .insert("url".to_owned(), json!(session.url().as_str()));
        run.record
            .insert("request_headers".to_owned(), session.headers_shown());
        if tls.insecure || cx.tls.insecure {
            run.record.insert(
                "tls".to_owned(),
                json!({"insecure": true, "note": "certificate verification was skipped"}),
            );
        }
        self.converse(&mut session, &mut run).await?;
        // End the session even after a failure, once it exists.
        if let Some(outcome) = session.delete().await {
            let (actual, passed) = match outcome {
                Ok(status) => (
                    status.to_string(),
                    (200..300).contains(&status) || status == 405,
                ),
                Err(reason) => (reason, false),
            };
            run.check(
                "session end (DELETE)",
                "2xx, or 405 when the server keeps sessions",
                actual,
                passed,
            );
        }
        run.record.insert(
            "exchanges".to_owned(),
            Json::Array(std::mem::take(&mut session.exchanges)),
        );
        let mut summary = self.describe();
        match &run.stopped {
            Some(reason) if run.notes.is_empty() => summary.push_str(&format!(" → {reason}")),
            _ => summary.push_str(&format!(" → {}", run.notes.join("; "))),
        }
        let failed: Vec<&Check> = run.checks.iter().filter(|c| !c.passed).collect();
        if run.stopped.is_none() || !run.notes.is_empty() {
            super::append_failures(&mut summary, &failed, 2, true);
        }
        Ok(Findings {
            checks: run.checks,
            summary,
            evidence: Json::Object(run.record),
        })
    }
}

impl Mcp {
    async fn converse(&self, session: &mut Session<'_>, run: &mut Run) -> Result<(), ProbeError> {
        let requested = self
            .protocol_version
            .clone()
            .unwrap_or_else(|| PREFERRED_VERSION.to_owned());
        run.record
            .insert("protocol_version_requested".to_owned(), json!(requested));
        let params = json!({
            "protocolVersion": requested,
            "capabilities": {},
            "clientInfo": {"name": "vouch", "version": env!("CARGO_PKG_VERSION")},
        });
        let reply = session.call("initialize", Some(params)).await?;
        let session_id = reply.as_ref().ok().and_then(|r| {
            r.headers
                .get("mcp-session-id")
                .map(|v| v.to_str().map(str::to_owned).map_err(|_| ()))
        });
        let Some(init) = run.result("initialize", reply) else {
            return Ok(());
        };
        // The InitializeResult's shape.
        let version = init
            .get("protocolVersion")
            .and_then(Json::as_str)
            .map(str::to_owned);
        let info = init.get("serverInfo");
        let name = info.and_then(|i| i.get("name")).and_then(Json::as_str);
        let server_version = info.and_then(|i| i.get("version")).and_then(Json::as_str);
        let capabilities = init.get("capabilities").cloned();
        let shape_problems: Vec<&str> = [
            (version.is_none(), "`protocolVersion` is not a string"),
            (
                !capabilities.as_ref().is_some_and(Json::is_object),
                "`capabilities` is not an object",
            ),
            (name.is_none(), "`serverInfo.name` is not a string"),
            (
                server_version.is_none(),
                "`serverInfo.version` is not a string",
            ),
        ]
        .into_iter()
        .filter_map(|(bad, why)| bad.then_some(why))
        .collect();
        run.check(
            "initialize result",
            "protocolVersion, capabilities, serverInfo {name, version}",
            if shape_problems.is_empty() {
                "all present".to_owned()
            } else {
                shape_problems.join("; ")
            },
            shape_problems.is_empty(),
        );
        let version = version.unwrap_or_default();
        let version_matcher = self.expect.protocol_version.clone();
        match &version_matcher {
            Some(m) => run.check(
                "protocol version",
                m.to_string(),
                expect::show(&json!(version)),
                m.check(Some(&json!(version))).is_ok(),
            ),
            None => run.check(
                "protocol version",
                format!("one of {}", KNOWN_VERSIONS.join(", ")),
                expect::show(&json!(version)),
                KNOWN_VERSIONS.contains(&version.as_str()),
            ),
        }
        if let Some(m) = &self.expect.server_name {
            let seen = name.map(Json::from);
            run.check(
                "server name",
                m.to_string(),
                seen.as_ref().map_or("absent".to_owned(), expect::show),
                m.check(seen.as_ref()).is_ok(),
            );
        }
        run.record
            .insert("protocol_version".to_owned(), json!(version));
        run.record.insert(
            "server".to_owned(),
            json!({"name": name, "version": server_version, "title": info.and_then(|i| i.get("title"))}),
        );
        run.record.insert(
            "capabilities".to_owned(),
            capabilities.clone().unwrap_or(Json::Null),
        );
        match session_id {
            Some(Ok(id)) => {
                let visible = !id.is_empty() && id.bytes().all(|b| (0x21..=0x7e).contains(&b));
                run.check(
                    "Mcp-Session-Id",
                    "visible ASCII characters",
                    transport::shorten_id(&id),
                    visible,
                );
                run.record
                    .insert("session_id".to_owned(), json!(transport::shorten_id(&id)));
                session.session_id = Some(id);
            }
            Some(Err(())) => run.check(
                "Mcp-Session-Id",
                "visible ASCII characters",
                "not text",
                false,
            ),
            None => {
                run.record
                    .insert("session_id".to_owned(), json!("none (stateless server)"));
            }
        }
        session.protocol = Some(version.clone());
        session.initialized();
        run.notes.push(
            format!(
                "{version}, {} {}",
                name.unwrap_or("(no name)"),
                server_version.unwrap_or("")
            )
            .trim_end()
            .to_owned(),
        );

        match session.notify("notifications/initialized").await? {
            Ok(_) => run.check(
                "notifications/initialized",
                "202 Accepted, no body",
                "202",
                true,
            ),
            Err(reason) => {
                let failed_hard = reason.starts_with("HTTP 4") || reason.starts_with("HTTP 5");
                run.check(
                    "notifications/initialized",
                    "202 Accepted, no body",
                    reason.clone(),
                    false,
                );
                if failed_hard {
                    run.stopped = Some(format!("notifications/initialized: {reason}"));
                    return Ok(());
                }
            }
        }

        let reply = session.call("ping", None).await?;
        if let Some(result) = run.result("ping", reply) {
            run.check(
                "ping",
                "an empty result object",
                expect::show(&result),
                result.is_object(),
            );
        }
        if run.stopped.is_some() {
            return Ok(());
        }

        let capabilities = capabilities.unwrap_or(Json::Null);
        let declared = |name: &str| capabilities.get(name).is_some_and(|c| !c.is_null());
        self.tools(session, run, declared("tools")).await?;
        if run.stopped.is_some() {
            return Ok(());
        }
        self.resources(session, run, declared("resources")).await?;
        if run.stopped.is_some() {
            return Ok(());
        }
        if declared("prompts") {
            if let Some(prompts) = list_all(session, run, "prompts/list", "prompts").await? {
                let names: Vec<String> = prompts
                    .iter()
                    .filter_map(|p| p.get("name").and_then(Json::as_str).map(str::to_owned))
                    .collect();
                let unnamed = prompts.len() - names.len();
                run.check(
                    "prompts/list",
                    "prompts with names",
                    format!(
                        "{} prompts{}",
                        prompts.len(),
                        if unnamed > 0 {
                            format!(", {unnamed} without a name")
                        } else {
                            String::new()
                        }
                    ),
                    unnamed == 0,
                );
                run.notes.push(format!("{} prompts", names.len()));
                run.record.insert("prompts".to_owned(), json!(names));
            }
        } else {
            run.undeclared("prompts", false);
        }
        Ok(())
    }

    async fn tools(
        &self,
        session: &mut Session<'_>,
        run: &mut Run,
        declared: bool,
    ) -> Result<(), ProbeError> {
        let wanted = self.expect.tools.is_some() || !self.expect.call.is_empty();
        if !declared {
            run.undeclared("tools", wanted);
            return Ok(());
        }
        let Some(tools) = list_all(session, run, "tools/list", "tools").await? else {
            return Ok(());
        };
        let names: Vec<String> = tools
            .iter()
            .filter_map(|t| t.get("name").and_then(Json::as_str).map(str::to_owned))
            .collect();
        let mut bad: Vec<String> = Vec::new();
        for tool in &tools {
            let name = tool
                .get("name")
                .and_then(Json::as_str)
                .unwrap_or("(no name)");
            if let Err(why) = check_input_schema(tool.get("inputSchema")) {
                bad.push(format!("`{name}`: {why}"));
            }
        }
        run.check(
            "tools inputSchema",
            "every tool named, with a JSON Schema object (`type: object`) as inputSchema",
            if bad.is_empty() {
                format!("{} of {} valid", tools.len(), tools.len())
            } else {
                format!(
                    "{} invalid: {}",
                    bad.len(),
                    bad.iter().take(3).cloned().collect::<Vec<_>>().join("; ")
                )
            },
            bad.is_empty() && names.len() == tools.len(),
        );
        run.notes.push(format!("{} tools", names.len()));
        run.record.insert("tools".to_owned(), json!(names));
        if let Some(expected) = &self.expect.tools {
            for want in &expected.names {
                let present = names.contains(want);
                run.check(
                    format!("tool {want}"),
                    "listed",
                    if present {
                        "listed".to_owned()
                    } else {
                        format!(
                            "absent (listed: {})",
                            expect::excerpt(&names.join(", "), 120)
                        )
                    },
                    present,
                );
            }
            if expected.exactly {
                let extra: Vec<&String> = names
                    .iter()
                    .filter(|n| !expected.names.contains(n))
                    .collect();
                run.check(
                    "tools exactly",
                    format!("only {}", expected.names.join(", ")),
                    if extra.is_empty() {
                        "no others".to_owned()
                    } else {
                        format!(
                            "also {}",
                            extra
                                .iter()
                                .map(|s| s.as_str())
                                .collect::<Vec<_>>()
                                .join(", ")
                        )
                    },
                    extra.is_empty(),
                );
            }
        }
        let mut calls = Vec::new();
        let mut ok = 0;
        for call in &self.expect.call {
            let params = json!({
                "name": call.tool,
                "arguments": call.arguments.clone().unwrap_or_default(),
            });
            let reply = session.call("tools/call", Some(params)).await?;
            let elapsed = reply.as_ref().ok().map(|r| r.elapsed);
            let method = format!("tools/call {}", call.tool);
            let before = run.checks.len();
            let mut rec = json!({
                "tool": call.tool,
                "arguments": call.arguments,
                "latency_ms": elapsed.map(fetch::millis),
            });
            if let Some(result) = run.result(&method, reply) {
                check_call(run, &method, call, &result, elapsed, &mut rec);
            }
            if run.checks[before..].iter().all(|c| c.passed) {
                ok += 1;
            }
            calls.push(rec);
            if run.stopped.is_some() {
                break;
            }
        }
        if !self.expect.call.is_empty() {
            run.notes
                .push(format!("{ok}/{} calls as expected", self.expect.call.len()));
            run.record.insert("calls".to_owned(), Json::Array(calls));
        }
        Ok(())
    }

    async fn resources(
        &self,
        session: &mut Session<'_>,
        run: &mut Run,
        declared: bool,
    ) -> Result<(), ProbeError> {
        if !declared {
            run.undeclared("resources", !self.expect.resources.is_empty());
            return Ok(());
        }
        let Some(resources) = list_all(session, run, "resources/list", "resources").await? else {
            return Ok(());
        };
        let uris: Vec<String> = resources
            .iter()
            .filter_map(|r| r.get("uri").and_then(Json::as_str).map(str::to_owned))
            .collect();
        let unnamed = resources
            .iter()
            .filter(|r| r.get("name").and_then(Json::as_str).is_none())
            .count();
        let problems = (resources.len() - uris.len()) + unnamed;
        run.check(
            "resources/list",
            "resources with `uri` and `name`",
            format!(
                "{} resources{}",
                resources.len(),
                if problems > 0 {
                    format!(", {problems} missing uri or name")
                } else {
                    String::new()
                }
            ),
            problems == 0,
        );
        run.notes.push(format!("{} resources", uris.len()));
        for want in &self.expect.resources {
            let present = uris.contains(want);
            run.check(
                format!("resource {want}"),
                "listed",
                if present {
                    "listed".to_owned()
                } else {
                    format!(
                        "absent (listed: {})",
                        expect::excerpt(&uris.join(", "), 120)
                    )
                },
                present,
            );
        }
        // Read the first expected resource, else the first listed.
        let target = self
            .expect
            .resources
            .iter()
            .find(|u| uris.contains(u))
            .or(uris.first())
            .cloned();
        if let Some(uri) = target {
            let reply = session
                .call("resources/read", Some(json!({"uri": uri})))
                .await?;
            let method = format!("resources/read {uri}");
            if let Some(result) = run.result(&method, reply) {
                let contents = result.get("contents").and_then(Json::as_array);
                let ok = contents.is_some_and(|c| {
                    !c.is_empty()
                        && c.iter().all(|item| {
                            item.get("uri").is_some_and(Json::is_string)
                                && (item.get("text").is_some_and(Json::is_string)
                                    || item.get("blob").is_some_and(Json::is_string))
                        })
                });
                let shown = match contents {
                    None => "no `contents` array".to_owned(),
                    Some(c) => {
                        let first = c
                            .first()
                            .and_then(|i| i.get("text").or_else(|| i.get("blob")))
                            .and_then(Json::as_str)
                            .unwrap_or("");
                        format!(
                            "{} item(s): {}",
                            c.len(),
                            expect::excerpt(&expect::one_line(first), 60)
                        )
                    }
                };
                run.check(
                    method,
                    "contents with uri and text or blob",
                    shown.clone(),
                    ok,
                );
                run.record.insert(
                    "resource_read".to_owned(),
                    json!({"uri": uri, "excerpt": shown}),
                );
            }
        }
        run.record.insert(
            "resources".to_owned(),
            json!(uris.iter().take(50).collect::<Vec<_>>()),
        );
        Ok(())
    }
}

/// Reads every page of a list (`tools/list`, …), following `nextCursor`.
async fn list_all(
    session: &mut Session<'_>,
    run: &mut Run,
    method: &str,
    field: &str,
) -> Result<Option<Vec<Json>>, ProbeError> {
    let mut items = Vec::new();
    let mut cursor: Option<String> = None;
    let mut seen_cursors = Vec::new();
    for page in 1..=MAX_PAGES {
        let params = cursor.as_ref().map(|c| json!({"cursor": c}));
        let reply = session.call(method, params).await?;
        let Some(result) = run.result(method, reply) else {
            return Ok(None);
        };
        let Some(list) = result.get(field).and_then(Json::as_array) else {
            run.check(
                method,
                format!("a `{field}` array"),
                expect::excerpt(&expect::show(&result), 120).into_owned(),
                false,
            );
            return Ok(None);
        };
        items.extend(list.iter().cloned());
        match result.get("nextCursor").and_then(Json::as_str) {
            None => {
                if page > 1 {
                    run.record.insert(format!("{field}_pages"), json!(page));
                }
                return Ok(Some(items));
            }
            Some(next) => {
                if seen_cursors.iter().any(|c| c == next) {
                    run.check(
                        format!("{method} pages"),
                        "each nextCursor new",
                        format!("cursor {next:?} repeated on page {page}"),
                        false,
                    );
                    return Ok(Some(items));
                }
                seen_cursors.push(next.to_owned());
                cursor = Some(next.to_owned());
            }
        }
    }
    run.check(
        format!("{method} pages"),
        format!("at most {MAX_PAGES} pages"),
        "more",
        false,
    );
    Ok(Some(items))
}

/// Whether a tool's `inputSchema` is a JSON Schema object for an object.
fn check_input_schema(schema: Option<&Json>) -> Result<(), String> {
    let Some(schema) = schema else {
        return Err("no inputSchema".to_owned());
    };
    let Some(object) = schema.as_object() else {
        return Err(format!(
            "inputSchema is {}",
            expect::excerpt(&expect::show(schema), 40)
        ));
    };
    if object.get("type") != Some(&json!("object")) {
        return Err(format!(
            "inputSchema type is {}, not \"object\"",
            object.get("type").map_or("absent".to_owned(), expect::show)
        ));
    }
    if let Some(properties) = object.get("properties") {
        let Some(properties) = properties.as_object() else {
            return Err("inputSchema properties is not an object".to_owned());
        };
        if let Some((name, _)) = properties
            .iter()
            .find(|(_, v)| !(v.is_object() || v.is_boolean()))
        {
            return Err(format!("inputSchema property `{name}` is not a schema"));
        }
    }
    if let Some(required) = object.get("required")
        && !required
            .as_array()
            .is_some_and(|r| r.iter().all(Json::is_string))
    {
        return Err("inputSchema required is not a list of names".to_owned());
    }
    Ok(())
}

/// A tool call's result against its expectations.
fn check_call(
    run: &mut Run,
    method: &str,
    call: &ToolCall,
    result: &Json,
    elapsed: Option<std::time::Duration>,
    rec: &mut Json,
) {
    let content = result.get("content").and_then(Json::as_array);
    let is_error = result
        .get("isError")
        .and_then(Json::as_bool)
        .unwrap_or(false);
    let text: String = content
        .map(|items| {
            items
                .iter()
                .filter(|i| i.get("type").and_then(Json::as_str) == Some("text"))
                .filter_map(|i| i.get("text").and_then(Json::as_str))
                .collect::<Vec<_>>()
                .join("\n")
        })
        .unwrap_or_default();
    let excerpt = expect::one_line(&expect::excerpt(&text, 120)).into_owned();
    rec["is_error"] = json!(is_error);
    rec["text_excerpt"] = json!(excerpt);
    if let Some(structured) = result.get("structuredContent") {
        rec["structured_excerpt"] = json!(expect::excerpt(&structured.to_string(), 200));
    }
    run.check(
        format!("{method} content"),
        "a `content` array",
        content.map_or("absent".to_owned(), |c| format!("{} item(s)", c.len())),
        content.is_some(),
    );
    run.check(
        format!("{method} isError"),
        call.expect.is_error.to_string(),
        if is_error {
            format!("true: {excerpt}")
        } else {
            "false".to_owned()
        },
        is_error == call.expect.is_error,
    );
    if let Some(body) = &call.expect.text {
        for needle in &body.contains {
            run.check(
                format!("{method} text"),
                format!("contains {needle:?}"),
                excerpt.clone(),
                text.contains(needle.as_str()),
            );
        }
        if let Some(expect::Pattern(re)) = &body.matches {
            run.check(
                format!("{method} text"),
                format!("matches /{}/", re.as_str()),
                excerpt.clone(),
                re.is_match(&text),
            );
        }
    }
    if !call.expect.structured_content.0.is_empty() {
        match result.get("structuredContent") {
            None => {
                for (key, m) in &call.expect.structured_content.0 {
                    run.check(
                        format!("{method} structuredContent {}", key.text),
                        m.to_string(),
                        "no structuredContent",
                        false,
                    );
                }
            }
            Some(doc) => {
                for (key, m) in &call.expect.structured_content.0 {
                    let nodes = key.path.query(doc).all();
                    let name = format!("{method} structuredContent {}", key.text);
                    if nodes.is_empty() {
                        run.check(name, m.to_string(), "no match", m.check(None).is_ok());
                        continue;
                    }
                    let failing = nodes.iter().find(|n| m.check(Some(n)).is_err());
                    let shown = failing.map_or_else(|| expect::show(nodes[0]), |n| expect::show(n));
                    run.check(
                        name,
                        m.to_string(),
                        expect::excerpt(&shown, 120).into_owned(),
                        failing.is_none(),
                    );
                }
            }
        }
    }
    if let (Some(latency), Some(elapsed)) = (&call.expect.latency, elapsed) {
        run.check(
            format!("{method} latency"),
            format!("<= {}", latency.max),
            fetch::format_latency(elapsed),
            elapsed <= latency.max.0,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mcp(yaml: &str) -> Result<Mcp, String> {
        crate::spec::de::from_yaml(yaml)
    }

    #[test]
    fn tools_are_a_list_or_names_with_exactly() {
        let m = mcp("expect:\n  tools: [echo, add]\n").expect("list");
        let tools = m.expect.tools.expect("tools");
        assert_eq!(tools.names, ["echo", "add"]);
        assert!(!tools.exactly);
        let m = mcp("expect:\n  tools: {names: [echo], exactly: true}\n").expect("map");
        assert!(m.expect.tools.expect("tools").exactly);
        let err = mcp("expect:\n  tools: {name: [echo]}\n").expect_err("typo");
        assert!(err.contains("name"), "{err}");
    }

    #[test]
    fn calls_take_arguments_and_expectations() {
        let yaml = "url: /rpc\nexpect:\n  call:\n    - tool: add\n      arguments: {a: 2, b: 3}\n      expect:\n        text: {contains: '5'}\n        structured_content:\n          $.result: 5\n";
        let m = mcp(yaml).expect("valid");
        assert_eq!(m.describe(), "MCP /rpc");
        assert_eq!(m.expect.call[0].tool, "add");
        assert_eq!(m.expect.call[0].expect.structured_content.0.len(), 1);
        assert!(mcp("expect:\n  call:\n    - tool: add\n      arguments: [1]\n").is_err());
        assert!(
            mcp("expect:\n  cals: []\n")
                .expect_err("typo")
                .contains("cals")
        );
    }

    #[test]
    fn input_schemas_must_describe_objects() {
        assert!(check_input_schema(Some(&json!({"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]}))).is_ok());
        assert!(check_input_schema(Some(&json!({"type": "object"}))).is_ok());
        assert!(
            check_input_schema(None)
                .expect_err("missing")
                .contains("no inputSchema")
        );
        assert!(
            check_input_schema(Some(&json!({"type": "string"})))
                .expect_err("type")
                .contains("not \"object\"")
        );
        assert!(
            check_input_schema(Some(&json!({"type": "object", "properties": {"a": 3}}))).is_err()
        );
        assert!(check_input_schema(Some(&json!({"type": "object", "required": "a"}))).is_err());
    }
}
