//! A review as SARIF 2.1.0 (`agentls exec --review --format sarif`), the format GitHub
//! code scanning and other CI dashboards take: one run, tool `agentls`, one result per
//! finding with its location (1-based lines of the file as it is), its level and its
//! message, other places as related locations, and a fix — the finding's patch applied
//! to the file, as replacements of line-and-column regions — when it still applies.
//! `tests/it/review_ci.rs` validates the output against the official schema.

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use serde_json::{Value, json};

use crate::proposal::diff_hunks;
use crate::protocol::{FindingInfo, FindingSeverity};
use crate::workspace::TaskView;

/// The one rule every finding is reported under: the model's review.
const RULE_ID: &str = "agentls/review";

/// The SARIF log of `findings` (their ranges are lines of the files under `root`).
pub fn log(root: &Path, findings: &[FindingInfo]) -> Value {
    let results: Vec<Value> = findings.iter().map(|f| result(root, f)).collect();
    json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "agentls",
                "version": env!("CARGO_PKG_VERSION"),
                "rules": [{
                    "id": RULE_ID,
                    "name": "AgentReview",
                    "shortDescription": {"text": "A problem found by an agentls review"}
                }]
            }},
            "originalUriBaseIds": {"SRCROOT": {"uri": format!("{}/", crate::uri::from_path(root))}},
            "results": results
        }]
    })
}

fn result(root: &Path, finding: &FindingInfo) -> Value {
    let report = &finding.report;
    let path = crate::uri::to_relative(root, &finding.uri).unwrap_or_default();
    let level = match report.severity {
        FindingSeverity::Error => "error",
        FindingSeverity::Warning => "warning",
        FindingSeverity::Info => "note",
    };
    let text = if report.body.is_empty() {
        report.title.clone()
    } else {
        format!("{}\n\n{}", report.title, report.body)
    };
    let (first, last) = lines(finding);
    let mut result = json!({
        "ruleId": RULE_ID,
        "level": level,
        "message": {"text": text},
        "locations": [location(&path, first, last)],
        "partialFingerprints": {"agentlsFinding/v1": finding.finding_id},
        "properties": {"findingId": finding.finding_id, "outsideChange": report.outside_change}
    });
    if !report.related.is_empty() {
        let related: Vec<Value> = report
            .related
            .iter()
            .enumerate()
            .map(|(i, place)| {
                let mut at = location(&place.path, place.line.max(1), place.line.max(1));
                at["id"] = json!(i);
                at["message"] = json!({"text": place.message});
                at
            })
            .collect();
        result["relatedLocations"] = json!(related);
    }
    if let Some(fix) = report
        .fix
        .as_deref()
        .and_then(|fix| sarif_fix(root, &report.title, fix))
    {
        result["fixes"] = json!([fix]);
    }
    result
}

/// 1-based first and last line of a finding (its range ends at the start of the line
/// after it).
fn lines(finding: &FindingInfo) -> (u32, u32) {
    let (start, end) = (finding.range.start, finding.range.end);
    let last = if end.character == 0 && end.line > start.line {
        end.line - 1
    } else {
        end.line
    };
    (start.line + 1, last + 1)
}

fn location(path: &str, first: u32, last: u32) -> Value {
    json!({"physicalLocation": {
        "artifactLocation": {"uri": path, "uriBaseId": "SRCROOT"},
        "region": {"startLine": first, "endLine": last}
    }})
}

/// The fix as SARIF replacements, from the patch applied to the files as they are now;
/// None when it no longer applies.
fn sarif_fix(root: &Path, title: &str, patch: &str) -> Option<Value> {
    let mut view = TaskView::new(root, HashMap::new()).ok()?;
    super::apply_fix(&mut view, patch).ok()?;
    let changes: Vec<Value> = view
        .changes()
        .into_iter()
        .map(|change| {
            let old = change.base.unwrap_or_default();
            let new = change.new.unwrap_or_default();
            let replacements: Vec<Value> = diff_hunks(&old, &new, Duration::from_millis(500))
                .into_iter()
                .map(|hunk| {
                    let (start_line, start_column) = line_column(&old, hunk.start);
                    let (end_line, end_column) = line_column(&old, hunk.end);
                    json!({
                        "deletedRegion": {
                            "startLine": start_line, "startColumn": start_column,
                            "endLine": end_line, "endColumn": end_column
                        },
                        "insertedContent": {"text": hunk.new_text}
                    })
                })
                .collect();
            json!({
                "artifactLocation": {"uri": change.path, "uriBaseId": "SRCROOT"},
                "replacements": replacements
            })
        })
        .collect();
    Some(json!({"description": {"text": format!("Fix: {title}")}, "artifactChanges": changes}))
}

/// SARIF's 1-based line and column (in UTF-16 code units, its default) of char offset
/// `offset` of `text`.
fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let mut line = 1;
    let mut column = 1;
    for c in text.chars().take(offset) {
        if c == '\n' {
            line += 1;
            column = 1;
        } else {
            column += c.len_utf16();
        }
    }
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_count_utf16_units_from_one() {
        let text = "ab\n😀x\n";
        assert_eq!(line_column(text, 0), (1, 1));
        assert_eq!(line_column(text, 3), (2, 1));
        assert_eq!(line_column(text, 4), (2, 3));
        assert_eq!(line_column(text, 6), (3, 1));
    }
}
