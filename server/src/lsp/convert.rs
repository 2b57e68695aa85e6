//! Our protocol values ↔ ls_types values, and the `WorkspaceEdit` of an accept.

use std::path::Path;
use std::str::FromStr;

use tower_lsp_server::ls_types::{
    self as lsp, CreateFile, CreateFileOptions, DeleteFile, DocumentChangeOperation,
    DocumentChanges, OneOf, OptionalVersionedTextDocumentIdentifier, RenameFile, RenameFileOptions,
    ResourceOp, TextDocumentEdit, TextEdit, Uri, WorkspaceEdit,
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

/// One versioned `TextDocumentEdit` per file, with the file operation a hunk makes: a
/// create before the text, a rename before the text (which then goes to the new name), a
/// delete instead of the text. The store plans file operations for the editor only when
/// the client supports them; otherwise it does them on disk itself.
pub fn workspace_edit(root: &Path, files: &[FileEdit]) -> WorkspaceEdit {
    let mut operations = Vec::new();
    for file in files {
        let Some(uri) = lsp_uri(root, &file.path) else {
            tracing::warn!("cannot build a URI for {}; hunks skipped", file.path);
            continue;
        };
        let mut text_uri = uri.clone();
        let mut version = file.version;
        match file.kind {
            FileKind::Create => {
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
            FileKind::Delete => {
                operations.push(DocumentChangeOperation::Op(ResourceOp::Delete(
                    DeleteFile {
                        uri,
                        options: None,
                        annotation_id: None,
                    },
                )));
                continue;
            }
            FileKind::Rename => {
                let Some(new_uri) = file.new_path.as_deref().and_then(|p| lsp_uri(root, p)) else {
                    tracing::warn!(
                        "cannot build a URI for the new name of {}; skipped",
                        file.path
                    );
                    continue;
                };
                operations.push(DocumentChangeOperation::Op(ResourceOp::Rename(
                    RenameFile {
                        old_uri: uri,
                        new_uri: new_uri.clone(),
                        options: Some(RenameFileOptions {
                            overwrite: Some(false),
                            ignore_if_exists: Some(false),
                        }),
                        annotation_id: None,
                    },
                )));
                // The renamed document is a new one to the editor: no version to name.
                text_uri = new_uri;
                version = None;
            }
            _ => {}
        }
        operations.push(DocumentChangeOperation::Edit(TextDocumentEdit {
            text_document: OptionalVersionedTextDocumentIdentifier {
                uri: text_uri,
                version,
            },
            edits: file
                .edits
                .iter()
                .map(|(range, text)| OneOf::Left(TextEdit::new(range_to_lsp(*range), text.clone())))
                .collect(),
        }));
    }
    WorkspaceEdit {
        changes: None,
        document_changes: Some(DocumentChanges::Operations(operations)),
        change_annotations: None,
    }
}
