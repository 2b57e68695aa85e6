//! Our protocol values ↔ ls_types values, and the `WorkspaceEdit` of an accept.

use std::path::Path;
use std::str::FromStr;

use tower_lsp_server::ls_types::{
    self as lsp, CreateFile, CreateFileOptions, DeleteFile, DocumentChangeOperation,
    DocumentChanges, OneOf, OptionalVersionedTextDocumentIdentifier, ResourceOp, TextDocumentEdit,
    TextEdit, Uri, WorkspaceEdit,
};

use crate::proposal::store::FileEdit;
use crate::protocol::{FileKind, Position, Range};
use crate::uri;

pub fn range_from_lsp(range: lsp::Range) -> Range {
    Range {
        start: position_from_lsp(range.start),
        end: position_from_lsp(range.end),
    }
}

pub fn range_to_lsp(range: Range) -> lsp::Range {
    lsp::Range {
        start: lsp::Position::new(range.start.line, range.start.character),
        end: lsp::Position::new(range.end.line, range.end.character),
    }
}

fn position_from_lsp(position: lsp::Position) -> Position {
    Position {
        line: position.line,
        character: position.character,
    }
}

pub fn lsp_uri(root: &Path, rel: &str) -> Option<Uri> {
    Uri::from_str(&uri::from_relative(root, rel)).ok()
}

/// One versioned `TextDocumentEdit` per file, preceded by a create (or followed by a
/// delete) when the hunk creates or deletes the whole file and the client can do that.
pub fn workspace_edit(root: &Path, files: &[FileEdit], resource_operations: bool) -> WorkspaceEdit {
    let mut operations = Vec::new();
    for file in files {
        let Some(uri) = lsp_uri(root, &file.path) else {
            tracing::warn!("cannot build a URI for {}; hunks skipped", file.path);
            continue;
        };
        if file.kind == FileKind::Create && resource_operations {
            operations.push(DocumentChangeOperation::Op(ResourceOp::Create(
                CreateFile {
                    uri: uri.clone(),
                    options: Some(CreateFileOptions {
                        overwrite: Some(false),
                        ignore_if_exists: Some(true),
                    }),
                    annotation_id: None,
                },
            )));
        }
        let deletes_file = file.kind == FileKind::Delete && resource_operations;
        if !deletes_file {
            operations.push(DocumentChangeOperation::Edit(TextDocumentEdit {
                text_document: OptionalVersionedTextDocumentIdentifier {
                    uri: uri.clone(),
                    version: file.version,
                },
                edits: file
                    .edits
                    .iter()
                    .map(|(range, text)| {
                        OneOf::Left(TextEdit::new(range_to_lsp(*range), text.clone()))
                    })
                    .collect(),
            }));
        } else {
            operations.push(DocumentChangeOperation::Op(ResourceOp::Delete(
                DeleteFile {
                    uri,
                    options: None,
                    annotation_id: None,
                },
            )));
        }
    }
    WorkspaceEdit {
        changes: None,
        document_changes: Some(DocumentChanges::Operations(operations)),
        change_annotations: None,
    }
}
