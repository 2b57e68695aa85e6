//! `agentls exec --review`: the review's start parameters from the command line, and its
//! report — the findings as text, one JSON document, or SARIF 2.1.0 — written to stdout
//! or to `-o FILE`, and whether `--fail-on` fails the run.

use std::path::Path;

use serde_json::json;

use super::{ExecArgs, UsageError, absolute, read_prompt};
use crate::protocol::{
    FindingInfo, FindingSeverity, ReviewTarget, StartTaskParams, TaskMode, TaskStatus,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// `path:line: level: title`, the body indented below, then a count.
    Text,
    /// `{taskId, status, summary, findings: [FindingInfo]}`.
    Json,
    /// SARIF 2.1.0, for code-scanning UIs.
    Sarif,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FailOn {
    Error,
    Warning,
}

/// `startTask {mode: "review", target, instructions}` from the flags.
pub(super) fn params(args: &ExecArgs) -> Result<StartTaskParams, UsageError> {
    let target = ReviewTarget {
        uncommitted: args.uncommitted,
        base_branch: args.base.clone(),
        commit: args.commit.clone(),
        diff: None,
    };
    let named = [
        target.uncommitted,
        target.base_branch.is_some(),
        target.commit.is_some(),
    ];
    if named.iter().filter(|&&n| n).count() != 1 {
        return Err(UsageError(
            "--review needs exactly one of --uncommitted, --base BRANCH or --commit SHA".into(),
        ));
    }
    let instructions = args.prompt.clone().map(read_prompt).transpose()?;
    Ok(StartTaskParams {
        mode: TaskMode::Review,
        target: Some(target),
        instructions,
        model: args.model.clone(),
        profile: args.profile.clone(),
        ..StartTaskParams::default()
    })
}

/// What a review run produced.
pub(super) struct Report<'a> {
    pub root: &'a Path,
    pub task_id: &'a str,
    pub status: TaskStatus,
    pub summary: Option<String>,
    pub findings: &'a [FindingInfo],
}

/// Writes the report to `file`, or to stdout unless stdout carries `--json` lines.
pub(super) fn write(report: &Report, format: Format, file: Option<&Path>, json_lines: bool) {
    let text = render(report, format);
    match file {
        Some(path) => {
            if let Err(error) = crate::proposal::disk::write(&absolute(path), &text) {
                eprintln!("agentls exec: -o: {error}");
            }
        }
        None if json_lines => {
            eprintln!(
                "agentls exec: with --json, stdout carries the JSON lines; give -o FILE for the review's report"
            );
        }
        None => {
            use std::io::Write;
            let mut stdout = std::io::stdout().lock();
            let _ = stdout.write_all(text.as_bytes()); // stdout-ok: exec --review prints the report
        }
    }
}

fn render(report: &Report, format: Format) -> String {
    match format {
        Format::Sarif => pretty(&crate::review::sarif::log(report.root, report.findings)),
        Format::Json => pretty(&json!({
            "taskId": report.task_id,
            "status": report.status,
            "summary": report.summary,
            "findings": report.findings,
        })),
        Format::Text => text(report),
    }
}

fn pretty(value: &serde_json::Value) -> String {
    let mut text = serde_json::to_string_pretty(value).unwrap_or_default();
    text.push('\n');
    text
}

fn text(report: &Report) -> String {
    let mut out = String::new();
    for finding in report.findings {
        let path = crate::uri::to_relative(report.root, &finding.uri).unwrap_or_default();
        let level = match finding.report.severity {
            FindingSeverity::Error => "error",
            FindingSeverity::Warning => "warning",
            FindingSeverity::Info => "info",
        };
        out.push_str(&format!(
            "{path}:{}: {level}: {}\n",
            finding.range.start.line + 1,
            finding.report.title
        ));
        for line in finding.report.body.lines() {
            out.push_str(&format!("    {line}\n"));
        }
        if finding.report.outside_change {
            out.push_str("    (outside the reviewed change)\n");
        }
        if finding.report.fix.is_some() {
            out.push_str("    (a fix is available: agentls shows it in the editor)\n");
        }
    }
    out.push_str(&format!(
        "{}\n",
        crate::engine::plural(report.findings.len(), "finding")
    ));
    if let Some(summary) = &report.summary {
        out.push_str(&format!("{summary}\n"));
    }
    out
}

/// Whether `--fail-on` fails the run for these findings.
pub(super) fn fails(fail_on: Option<FailOn>, findings: &[FindingInfo]) -> bool {
    let Some(level) = fail_on else {
        return false;
    };
    findings.iter().any(|f| {
        matches!(
            (level, f.report.severity),
            (_, FindingSeverity::Error) | (FailOn::Warning, FindingSeverity::Warning)
        )
    })
}
