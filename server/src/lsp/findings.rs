//! How review findings show in the editor: a diagnostic layer (`source: "agentls
//! review"`, merged with the hunks' by the publisher) and the code actions on a finding —
//! "Apply fix", whose edit becomes a normal pending hunk of the review task, and
//! "Dismiss". They are plain LSP, so an editor without the agentls plugin has them too.

use std::str::FromStr;

use tower_lsp_server::ls_types::{
    CodeAction, CodeActionKind, CodeActionOrCommand, CodeActionParams, Command, Diagnostic,
    DiagnosticRelatedInformation, DiagnosticSeverity, Location, NumberOrString, Uri,
};

use super::convert;
use super::diagnostics::DiagnosticLayer;
use super::markers::TaskNames;
use crate::engine::Engine;
use crate::protocol::{
    APPLY_FIX_COMMAND, DISMISS_CODE_ACTION_KIND, DISMISS_FINDING_COMMAND, FIX_CODE_ACTION_KIND,
    FindingCommandArgs, FindingDiagnosticData, FindingInfo, FindingSeverity, Position, Range,
};
use crate::task::one_line;
use crate::uri;

/// `source` of every finding's diagnostic.
pub const SOURCE: &str = "agentls review";

/// How much of a finding's title a code action's title shows.
const TITLE_CHARS: usize = 60;

/// Every task's findings, one diagnostic each.
pub struct FindingLayer;

impl DiagnosticLayer for FindingLayer {
    fn diagnostics(&self, engine: &Engine, path: &str) -> Vec<Diagnostic> {
        let found = engine
            .store()
            .findings_at(path, super::markers::WHOLE_DOCUMENT);
        let mut names = TaskNames::new(engine);
        found
            .iter()
            .map(|(task_id, finding)| diagnostic(engine, names.get(task_id), task_id, finding))
            .collect()
    }

    fn task_paths(&self, engine: &Engine, task_id: &str) -> Vec<String> {
        engine.store().finding_paths(task_id)
    }
}

/// A finding's diagnostic: its lines, its severity, its title and body; the finding id as
/// `code`, the places it points to as related information.
pub fn diagnostic(
    engine: &Engine,
    task_name: &str,
    task_id: &str,
    finding: &FindingInfo,
) -> Diagnostic {
    let severity = match finding.report.severity {
        FindingSeverity::Error => DiagnosticSeverity::ERROR,
        FindingSeverity::Warning => DiagnosticSeverity::WARNING,
        FindingSeverity::Info => DiagnosticSeverity::INFORMATION,
    };
    let mut message = finding.report.title.clone();
    if !finding.report.body.is_empty() {
        message.push_str("\n\n");
        message.push_str(&finding.report.body);
    }
    if finding.report.outside_change {
        message.push_str("\n\n(outside the reviewed change)");
    }
    message.push_str(&format!("\n\n— {task_name}"));
    let related: Vec<DiagnosticRelatedInformation> = finding
        .report
        .related
        .iter()
        .filter_map(|place| {
            let uri = Uri::from_str(&uri::from_relative(engine.root(), &place.path)).ok()?;
            let line = Position {
                line: place.line.saturating_sub(1),
                character: 0,
            };
            Some(DiagnosticRelatedInformation {
                location: Location {
                    uri,
                    range: convert::range_to_lsp(Range {
                        start: line,
                        end: line,
                    }),
                },
                message: place.message.clone(),
            })
        })
        .collect();
    let data = FindingDiagnosticData {
        task_id: task_id.to_string(),
        finding_id: finding.finding_id.clone(),
        has_fix: finding.report.fix.is_some(),
    };
    Diagnostic {
        range: convert::range_to_lsp(finding.range),
        severity: Some(severity),
        code: Some(NumberOrString::String(finding.finding_id.clone())),
        source: Some(SOURCE.into()),
        message,
        related_information: (!related.is_empty()).then_some(related),
        data: serde_json::to_value(data).ok(),
        ..Diagnostic::default()
    }
}

/// "Apply fix" (preferred) for each finding under the cursor that has one, and "Dismiss"
/// for each, with the finding's diagnostic attached so the editor shows them on it.
pub fn code_actions(engine: &Engine, params: &CodeActionParams) -> Vec<CodeActionOrCommand> {
    let Some(path) = uri::to_relative(engine.root(), params.text_document.uri.as_str()) else {
        return Vec::new();
    };
    let found = engine
        .store()
        .findings_at(&path, convert::range_from_lsp(params.range));
    let wanted = params.context.only.clone().unwrap_or_default();
    let mut names = TaskNames::new(engine);
    let mut actions = Vec::new();
    for (task_id, finding) in &found {
        let name = names.get(task_id).to_string();
        let attached = Some(vec![diagnostic(engine, &name, task_id, finding)]);
        let title = one_line(&finding.report.title, TITLE_CHARS);
        let args = FindingCommandArgs {
            task_id: task_id.clone(),
            finding_id: finding.finding_id.clone(),
            reason: None,
        };
        let mut entries = Vec::new();
        if finding.report.fix.is_some() {
            entries.push((
                FIX_CODE_ACTION_KIND,
                APPLY_FIX_COMMAND,
                format!("Apply fix: {title}"),
                true,
            ));
        }
        entries.push((
            DISMISS_CODE_ACTION_KIND,
            DISMISS_FINDING_COMMAND,
            format!("Dismiss finding: {title}"),
            false,
        ));
        for (kind, command, title, preferred) in entries {
            let title = format!("{title} [{}]", finding.finding_id);
            let wanted_here =
                wanted.is_empty() || wanted.iter().any(|k| kind.starts_with(k.as_str()));
            if !wanted_here {
                continue;
            }
            actions.push(CodeActionOrCommand::CodeAction(CodeAction {
                kind: Some(CodeActionKind::from(kind.to_string())),
                diagnostics: attached.clone(),
                is_preferred: preferred.then_some(true),
                command: Some(Command {
                    title: title.clone(),
                    command: command.to_string(),
                    arguments: serde_json::to_value(&args).ok().map(|a| vec![a]),
                }),
                title,
                ..CodeAction::default()
            }));
        }
    }
    actions
}
