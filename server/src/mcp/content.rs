//! An MCP tool result as the model reads it, the way Codex hands it over: text blocks as
//! text, images as images (the wire layer shows them or names them), embedded resources
//! and resource links as JSON text, and `structuredContent`, when present, as its JSON in
//! place of the text blocks (it is the machine-readable form of the same result).

use rmcp::model::{CallToolResult, ContentBlock, ResourceContents};
use serde_json::json;

use crate::model::ToolImage;

/// What one call returned, ready for the model.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolResult {
    pub text: String,
    pub images: Vec<ToolImage>,
    /// The server said the call failed (`isError`); the text says how.
    pub is_error: bool,
}

pub fn tool_result(result: CallToolResult) -> ToolResult {
    let mut parts = Vec::new();
    let mut images = Vec::new();
    for block in result.content {
        match block {
            ContentBlock::Text(text) => parts.push(text.text),
            ContentBlock::Image(image) => images.push(ToolImage {
                mime_type: image.mime_type,
                data: image.data,
            }),
            ContentBlock::Audio(audio) => parts.push(format!(
                "[the tool returned audio ({}, about {} bytes) that cannot be shown to the model]",
                audio.mime_type,
                audio.data.len() / 4 * 3
            )),
            ContentBlock::Resource(embedded) => match embedded.resource {
                // An image sent as a blob resource is still an image.
                ResourceContents::BlobResourceContents {
                    mime_type: Some(mime_type),
                    blob,
                    ..
                } if mime_type.starts_with("image/") => images.push(ToolImage {
                    mime_type,
                    data: blob,
                }),
                ResourceContents::BlobResourceContents {
                    uri,
                    mime_type,
                    blob,
                    ..
                } => parts.push(
                    json!({
                        "type": "resource",
                        "resource": {
                            "uri": uri,
                            "mimeType": mime_type,
                            "blob": format!("[{} bytes of base64 data not shown]", blob.len()),
                        }
                    })
                    .to_string(),
                ),
                other => parts.push(json!({ "type": "resource", "resource": other }).to_string()),
            },
            ContentBlock::ResourceLink(link) => {
                let mut link = serde_json::to_value(&link).unwrap_or_default();
                link["type"] = json!("resource_link");
                parts.push(link.to_string());
            }
            // A kind of content newer than this client: its JSON is still informative.
            other => parts.push(serde_json::to_string(&other).unwrap_or_default()),
        }
    }
    let text = match result.structured_content {
        Some(structured) => structured.to_string(),
        None => parts.join("\n"),
    };
    ToolResult {
        text,
        images,
        is_error: result.is_error == Some(true),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(json: serde_json::Value) -> ToolResult {
        tool_result(serde_json::from_value(json).unwrap())
    }

    #[test]
    fn text_images_and_resources_keep_their_kind() {
        let got = result(json!({
            "content": [
                {"type": "text", "text": "first"},
                {"type": "image", "data": "iVBORw0K", "mimeType": "image/png"},
                {"type": "resource", "resource": {"uri": "file:///a.txt", "mimeType": "text/plain", "text": "A"}},
                {"type": "text", "text": "last"}
            ]
        }));
        assert_eq!(got.images.len(), 1);
        assert_eq!(got.images[0].data_url(), "data:image/png;base64,iVBORw0K");
        let lines: Vec<&str> = got.text.lines().collect();
        assert_eq!(lines[0], "first");
        let resource: serde_json::Value = serde_json::from_str(lines[1]).unwrap();
        assert_eq!(resource["resource"]["text"], "A");
        assert_eq!(lines[2], "last");
        assert!(!got.is_error);
    }

    #[test]
    fn structured_content_replaces_the_text_and_is_error_is_kept() {
        let got = result(json!({
            "content": [{"type": "text", "text": "{\"n\": 3}"}],
            "structuredContent": {"n": 3},
            "isError": true
        }));
        assert_eq!(got.text, r#"{"n":3}"#);
        assert!(got.is_error);
    }
}
