//! `--format json`: the report as `vouch.report/v1`, one JSON document.

use super::Report;

/// Renders the report as pretty JSON with a final newline.
pub fn render(report: &Report) -> String {
    let mut text = serde_json::to_string_pretty(report)
        .unwrap_or_else(|e| format!("{{\"error\": \"cannot serialise the report: {e}\"}}"));
    text.push('\n');
    text
}
