//! A throwaway workspace, an `$AGENTLS_HOME` whose config points at a scripted model
//! server, and helpers to look at disk.

use std::path::{Path, PathBuf};

use tempfile::TempDir;

use super::lsp_client::{ClientOptions, LspClient};
use super::model_server::{ModelServer, Reply};

pub struct Fixture {
    root_dir: TempDir,
    home_dir: TempDir,
    pub model: ModelServer,
}

impl Fixture {
    /// `wire` is `chat` or `responses`; `files` are (relative path, contents) on disk.
    pub async fn new(wire: &str, files: &[(&str, &str)], script: Vec<Reply>) -> Fixture {
        let model = ModelServer::start(script).await;
        let fixture = Fixture {
            root_dir: tempfile::tempdir().unwrap(),
            home_dir: tempfile::tempdir().unwrap(),
            model,
        };
        for (path, text) in files {
            fixture.write(path, text);
        }
        let config = format!(
            r#"model = "scripted-model"
model_provider = "scripted"

[model_providers.scripted]
name = "Scripted test server"
base_url = "{}"
wire_api = "{wire}"
request_max_retries = 2
stream_max_retries = 2
stream_idle_timeout_ms = 5000
"#,
            fixture.model.base_url()
        );
        std::fs::write(fixture.home().join("config.toml"), config).unwrap();
        fixture
    }

    /// The workspace root, canonical (so URIs match what the server sees).
    pub fn root(&self) -> PathBuf {
        self.root_dir.path().canonicalize().unwrap()
    }

    pub fn home(&self) -> &Path {
        self.home_dir.path()
    }

    pub fn write(&self, rel: &str, text: &str) {
        let path = self.root().join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    pub fn disk(&self, rel: &str) -> Option<String> {
        std::fs::read_to_string(self.root().join(rel)).ok()
    }

    pub async fn client(&self, options: ClientOptions) -> LspClient {
        LspClient::start(&self.root(), self.home(), options).await
    }
}
