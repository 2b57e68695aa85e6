use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use serde_json::json;
use tempfile::TempDir;

use super::*;

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().expect("test paths have parents")).unwrap();
    std::fs::write(path, text).unwrap();
}

fn env_of(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
    let vars: BTreeMap<String, String> = vars
        .iter()
        .map(|(name, value)| (name.to_string(), value.to_string()))
        .collect();
    move |name| vars.get(name).cloned()
}

fn no_env(_: &str) -> Option<String> {
    None
}

/// A user home and a workspace, each with an optional config file.
struct Fixture {
    home: TempDir,
    workspace: TempDir,
}

impl Fixture {
    fn new() -> Self {
        Self {
            home: TempDir::new().unwrap(),
            workspace: TempDir::new().unwrap(),
        }
    }

    fn user_file(&self) -> PathBuf {
        self.home.path().join("config.toml")
    }

    fn project_file(&self) -> PathBuf {
        self.workspace.path().join(".agentls/config.toml")
    }

    fn with_user(self, text: &str) -> Self {
        write(&self.user_file(), text);
        self
    }

    fn with_project(self, text: &str) -> Self {
        write(&self.project_file(), text);
        self
    }

    fn sources(&self) -> ConfigSources<'_> {
        ConfigSources {
            home: self.home.path(),
            workspace_root: Some(self.workspace.path()),
            cli_overrides: &[],
            init_options: None,
            profile: None,
            model: None,
        }
    }

    fn load(&self) -> Result<(Config, Vec<String>), ConfigError> {
        load(&self.sources())
    }
}

fn load_ok(sources: &ConfigSources) -> Config {
    let (config, warnings) = load(sources).expect("config loads");
    assert!(warnings.is_empty(), "unexpected warnings: {warnings:?}");
    config
}

fn error_text(result: Result<(Config, Vec<String>), ConfigError>) -> String {
    result.expect_err("config must be rejected").to_string()
}

#[test]
fn nothing_configured_gives_the_defaults_and_openai() {
    let fixture = Fixture::new();
    let config = load_ok(&fixture.sources());
    assert_eq!(config, Config::default());
    assert_eq!(config.approval_policy, ApprovalPolicy::OnRequest);
    assert_eq!(config.sandbox_mode, SandboxMode::WorkspaceWrite);
    assert_eq!(config.project_doc_max_bytes, 32768);
    assert_eq!(config.max_turns, 50);
    assert_eq!(config.model_name().unwrap(), "gpt-5");

    let provider = config.provider(&no_env).unwrap();
    assert_eq!(provider.id, "openai");
    assert_eq!(provider.base_url, "https://api.openai.com/v1");
    assert_eq!(provider.wire_api, WireApi::Responses);
    assert_eq!(provider.api_key, None);
    assert_eq!(provider.request_max_retries, 4);
    assert_eq!(provider.stream_max_retries, 5);
    assert_eq!(provider.stream_idle_timeout, Duration::from_millis(300_000));
}

#[test]
fn each_layer_beats_the_ones_below_it() {
    let fixture = Fixture::new()
        .with_user(
            r#"
            sandbox_mode = "read-only"
            max_turns = 10
            project_doc_max_bytes = 1
            model_provider = "from-user"
            model = "from-user"
            "#,
        )
        .with_project(
            r#"
            max_turns = 20
            project_doc_max_bytes = 2
            model_provider = "from-project"
            model = "from-project"
            "#,
        );
    let overrides = [
        "project_doc_max_bytes=3".to_owned(),
        "model_provider=from-cli".to_owned(),
        "model=from-cli".to_owned(),
    ];
    let init_options = json!({"model_provider": "from-init", "model": "from-init"});
    let sources = ConfigSources {
        cli_overrides: &overrides,
        init_options: Some(&init_options),
        model: Some("from-task"),
        ..fixture.sources()
    };
    let config = load_ok(&sources);
    assert_eq!(config.sandbox_mode, SandboxMode::ReadOnly);
    assert_eq!(config.max_turns, 20);
    assert_eq!(config.project_doc_max_bytes, 3);
    assert_eq!(config.model_provider, "from-init");
    assert_eq!(config.model.as_deref(), Some("from-task"));
}

#[test]
fn cli_values_are_toml_when_they_parse_and_strings_otherwise() {
    let fixture = Fixture::new();
    let overrides = [
        "max_turns=7".to_owned(),
        "model=gpt-4.1".to_owned(),
        "model=o3".to_owned(),
        r#"sandbox_workspace_write.writable_roots=["/opt/cache"]"#.to_owned(),
        "sandbox_workspace_write.network_access=true".to_owned(),
    ];
    let config = load_ok(&ConfigSources {
        cli_overrides: &overrides,
        ..fixture.sources()
    });
    assert_eq!(config.max_turns, 7);
    assert_eq!(config.model.as_deref(), Some("o3"), "the later -c wins");
    assert_eq!(
        config.sandbox_workspace_write,
        SandboxWorkspaceWrite {
            writable_roots: vec![PathBuf::from("/opt/cache")],
            readable_roots: vec![],
            network_access: true,
        }
    );
}

#[test]
fn tables_merge_key_by_key_across_layers() {
    let fixture = Fixture::new()
        .with_user(
            r#"
            model_provider = "corp"
            [model_providers.corp]
            base_url = "https://llm.corp.example/v1"
            env_key = "CORP_KEY"
            "#,
        )
        .with_project("[model_providers.corp]\nwire_api = \"responses\"\n");
    let init_options = json!({"model_providers": {"corp": {"http_headers": {"X-Team": "tools"}}}});
    let config = load_ok(&ConfigSources {
        init_options: Some(&init_options),
        ..fixture.sources()
    });
    let provider = config.provider(&env_of(&[("CORP_KEY", "k-123")])).unwrap();
    assert_eq!(provider.base_url, "https://llm.corp.example/v1");
    assert_eq!(provider.api_key.as_deref(), Some("k-123"));
    assert_eq!(provider.wire_api, WireApi::Responses);
    assert_eq!(provider.http_headers["X-Team"], "tools");
}

const PROFILES: &str = r#"
model = "gpt-5"
approval_policy = "on-request"
profile = "careful"

[profiles.careful]
approval_policy = "untrusted"

[profiles.local]
model_provider = "ollama"
model = "qwen3-coder"
[profiles.local.sandbox_workspace_write]
network_access = true
"#;

#[test]
fn a_profile_named_in_the_file_overrides_the_top_level() {
    let fixture = Fixture::new().with_user(PROFILES);
    let config = load_ok(&fixture.sources());
    assert_eq!(config.profile.as_deref(), Some("careful"));
    assert_eq!(config.approval_policy, ApprovalPolicy::Untrusted);
    assert_eq!(config.model.as_deref(), Some("gpt-5"));
}

#[test]
fn the_task_profile_beats_the_file_profile_and_the_generic_overrides() {
    let fixture = Fixture::new().with_user(PROFILES);
    let overrides = ["model=from-cli".to_owned()];
    let init_options = json!({"model_provider": "openai"});
    let config = load_ok(&ConfigSources {
        cli_overrides: &overrides,
        init_options: Some(&init_options),
        profile: Some("local"),
        ..fixture.sources()
    });
    assert_eq!(config.profile.as_deref(), Some("local"));
    assert_eq!(config.model_provider, "ollama");
    assert_eq!(config.model.as_deref(), Some("qwen3-coder"));
    assert_eq!(config.approval_policy, ApprovalPolicy::OnRequest);
    assert!(config.sandbox_workspace_write.network_access);
}

#[test]
fn the_task_model_beats_the_profile() {
    let fixture = Fixture::new().with_user(PROFILES);
    let config = load_ok(&ConfigSources {
        profile: Some("local"),
        model: Some("llama3.3"),
        ..fixture.sources()
    });
    assert_eq!(config.model.as_deref(), Some("llama3.3"));
}

#[test]
fn overrides_can_edit_a_profile_before_it_is_applied() {
    let fixture = Fixture::new().with_user(PROFILES);
    let overrides = ["profiles.local.model=deepseek-coder".to_owned()];
    let init_options = json!({"profiles": {"local": {"max_turns": 5}}});
    let config = load_ok(&ConfigSources {
        cli_overrides: &overrides,
        init_options: Some(&init_options),
        profile: Some("local"),
        ..fixture.sources()
    });
    assert_eq!(config.model.as_deref(), Some("deepseek-coder"));
    assert_eq!(
        config.model_provider, "ollama",
        "the rest of the profile is kept"
    );
    assert_eq!(config.max_turns, 5);
}

#[test]
fn an_undefined_profile_is_an_error_listing_the_defined_ones() {
    let fixture = Fixture::new().with_user(PROFILES);
    let message = error_text(load(&ConfigSources {
        profile: Some("fast"),
        ..fixture.sources()
    }));
    assert!(
        message.contains("profile `fast` is not defined"),
        "{message}"
    );
    assert!(message.contains("careful, local"), "{message}");
}

#[test]
fn a_table_for_a_built_in_provider_changes_only_the_fields_it_names() {
    let fixture = Fixture::new()
        .with_user("[model_providers.openai]\nbase_url = \"http://proxy.local/v1/\"\n");
    let config = load_ok(&fixture.sources());
    let env = env_of(&[
        ("OPENAI_API_KEY", "sk-test"),
        ("OPENAI_BASE_URL", "http://ignored.example/v1"),
    ]);
    let provider = config.provider(&env).unwrap();
    assert_eq!(provider.base_url, "http://proxy.local/v1");
    assert_eq!(provider.name, "OpenAI");
    assert_eq!(provider.api_key.as_deref(), Some("sk-test"));
    assert_eq!(provider.wire_api, WireApi::Responses);
}

#[test]
fn openai_honours_openai_base_url_and_ignores_an_empty_key() {
    let config = Config::default();
    let env = env_of(&[
        ("OPENAI_BASE_URL", "http://localhost:9000/v1/"),
        ("OPENAI_API_KEY", ""),
    ]);
    let provider = config.provider(&env).unwrap();
    assert_eq!(provider.base_url, "http://localhost:9000/v1");
    assert_eq!(provider.api_key, None);
}

#[test]
fn local_built_ins_need_no_key_but_need_a_model() {
    for (id, base_url) in [
        ("ollama", "http://localhost:11434/v1"),
        ("lmstudio", "http://localhost:1234/v1"),
    ] {
        let config = Config {
            model_provider: id.to_owned(),
            ..Config::default()
        };
        let provider = config
            .provider(&env_of(&[("OPENAI_API_KEY", "sk-x")]))
            .unwrap();
        assert_eq!(provider.base_url, base_url);
        assert_eq!(provider.wire_api, WireApi::Chat);
        assert_eq!(provider.api_key, None);
        let message = config.model_name().unwrap_err().to_string();
        assert!(
            message.contains(&format!("no model set for provider `{id}`")),
            "{message}"
        );
    }
}

#[test]
fn a_custom_provider_gets_defaults_and_env_headers() {
    let fixture = Fixture::new().with_user(
        r#"
        model_provider = "azure"
        model = "gpt-5"
        [model_providers.azure]
        base_url = "https://example.openai.azure.com/openai"
        env_key = "AZURE_OPENAI_API_KEY"
        query_params = { api-version = "2025-04-01-preview" }
        http_headers = { X-Static = "yes" }
        env_http_headers = { X-Features = "EXAMPLE_FEATURES", X-Unset = "UNSET_VAR" }
        stream_idle_timeout_ms = 1000
        "#,
    );
    let config = load_ok(&fixture.sources());
    let env = env_of(&[("AZURE_OPENAI_API_KEY", "az"), ("EXAMPLE_FEATURES", "a,b")]);
    let provider = config.provider(&env).unwrap();
    assert_eq!(provider.name, "azure");
    assert_eq!(provider.wire_api, WireApi::Chat);
    assert_eq!(provider.api_key.as_deref(), Some("az"));
    assert_eq!(provider.query_params["api-version"], "2025-04-01-preview");
    let headers: Vec<(&str, &str)> = provider
        .http_headers
        .iter()
        .map(|(name, value)| (name.as_str(), value.as_str()))
        .collect();
    assert_eq!(headers, [("X-Features", "a,b"), ("X-Static", "yes")]);
    assert_eq!(provider.request_max_retries, 4);
    assert_eq!(provider.stream_idle_timeout, Duration::from_secs(1));
}

#[test]
fn a_custom_provider_without_base_url_is_an_error_saying_what_to_add() {
    let config = Config {
        model_provider: "vllm".to_owned(),
        model_providers: BTreeMap::from([("vllm".to_owned(), ProviderConfig::default())]),
        ..Config::default()
    };
    let message = config.provider(&no_env).unwrap_err().to_string();
    assert!(message.contains("`vllm` has no base_url"), "{message}");
    assert!(message.contains("[model_providers.vllm]"), "{message}");
}

#[test]
fn an_unknown_provider_is_an_error_listing_the_known_ids() {
    let fixture = Fixture::new().with_user(
        "model_provider = \"anthropic\"\n[model_providers.corp]\nbase_url = \"http://x/v1\"\n",
    );
    let config = load_ok(&fixture.sources());
    let message = config.provider(&no_env).unwrap_err().to_string();
    assert!(message.contains("`anthropic` is not defined"), "{message}");
    assert!(
        message.contains("corp, lmstudio, ollama, openai"),
        "{message}"
    );
}

#[test]
fn unknown_keys_are_warnings_naming_the_key_path_and_the_file() {
    let fixture = Fixture::new().with_user(
        r#"
        colour = "blue"
        model = "gpt-5"
        [sandbox]
        foo = 1
        [sandbox_workspace_write]
        network = true
        [model_providers.corp]
        base_uri = "http://x/v1"
        [profiles.fast]
        modle = "o3"
        "#,
    );
    let init_options = json!({"max_turn": 3});
    let (config, warnings) = load(&ConfigSources {
        init_options: Some(&init_options),
        ..fixture.sources()
    })
    .expect("unknown keys never fail loading");
    assert_eq!(config.model.as_deref(), Some("gpt-5"));
    let file = fixture.user_file().display().to_string();
    let expected: Vec<String> = [
        "colour",
        "model_providers.corp.base_uri",
        "profiles.fast.modle",
        "sandbox",
        "sandbox_workspace_write.network",
    ]
    .iter()
    .map(|key| format!("unknown key `{key}` in {file} — ignored"))
    .chain(["unknown key `max_turn` in initializationOptions — ignored".to_owned()])
    .collect();
    assert_eq!(warnings, expected);
}

#[test]
fn every_documented_key_is_known_and_read() {
    let fixture = Fixture::new().with_user(
        r#"
        model = "m"
        model_provider = "corp"
        approval_policy = "never"
        sandbox_mode = "danger-full-access"
        project_doc_max_bytes = 10
        project_doc_fallback_filenames = ["TEAM.md"]
        model_reasoning_effort = "high"
        max_turns = 3
        profile = "p"
        [model_providers.corp]
        name = "Corp"
        base_url = "http://corp/v1"
        env_key = "K"
        wire_api = "responses"
        query_params = { a = "1" }
        http_headers = { H = "v" }
        env_http_headers = { E = "V" }
        request_max_retries = 1
        stream_max_retries = 2
        stream_idle_timeout_ms = 3
        [sandbox_workspace_write]
        writable_roots = ["/w"]
        network_access = true
        [mcp_servers.files]
        command = "npx"
        [profiles.p]
        model = "from-profile"
        "#,
    );
    let config = load_ok(&fixture.sources());
    let corp = &config.model_providers["corp"];
    assert_eq!(corp.stream_idle_timeout_ms, Some(3));
    assert_eq!(corp.env_http_headers.as_ref().unwrap()["E"], "V");
    assert_eq!(config.approval_policy, ApprovalPolicy::Never);
    assert_eq!(config.sandbox_mode, SandboxMode::DangerFullAccess);
    assert_eq!(config.project_doc_fallback_filenames, ["TEAM.md"]);
    assert_eq!(config.model_reasoning_effort, Some(ReasoningEffort::High));
    assert_eq!(config.mcp_servers["files"].command.as_deref(), Some("npx"));
    assert_eq!(config.model.as_deref(), Some("from-profile"));
}

#[test]
fn bad_toml_is_an_error_with_file_line_and_column() {
    let fixture = Fixture::new().with_user("model = \"gpt-5\"\napproval_policy = never\n");
    let message = error_text(fixture.load());
    let location = format!("{}:2:19", fixture.user_file().display());
    assert!(message.starts_with(&location), "{message}");
    assert!(message.contains("invalid TOML"), "{message}");
    assert!(
        message.contains("in `approval_policy = never`"),
        "{message}"
    );
    assert!(
        message.contains(r#"strings need quotes: `approval_policy = "never"`"#),
        "{message}"
    );

    let fixture = Fixture::new().with_project("[model_providers.x\nname = \"x\"\n");
    let message = error_text(fixture.load());
    assert!(
        message.starts_with(&format!("{}:1:", fixture.project_file().display())),
        "{message}"
    );
    assert!(!message.contains("strings need quotes"), "{message}");
}

#[test]
fn a_bad_enum_value_names_the_key_the_allowed_values_and_the_file() {
    let fixture =
        Fixture::new().with_project("\nmodel = \"o3\"\napproval_policy = \"sometimes\"\n");
    let message = error_text(fixture.load());
    let location = format!("{}:3:19", fixture.project_file().display());
    assert!(message.starts_with(&location), "{message}");
    assert!(message.contains("invalid `approval_policy`"), "{message}");
    for allowed in ["untrusted", "on-request", "on-failure", "never"] {
        assert!(message.contains(&format!("`{allowed}`")), "{message}");
    }
}

#[test]
fn a_wrong_type_deep_in_a_table_names_the_full_key_path() {
    let fixture =
        Fixture::new().with_user("[model_providers.corp]\nrequest_max_retries = \"many\"\n");
    let message = error_text(fixture.load());
    assert!(
        message.contains("invalid `model_providers.corp.request_max_retries`"),
        "{message}"
    );
    assert!(message.contains(":2:23"), "{message}");

    let fixture = Fixture::new().with_user("[profiles.fast]\nsandbox_mode = \"yolo\"\n");
    let message = error_text(fixture.load());
    assert!(
        message.contains("invalid `profiles.fast.sandbox_mode`"),
        "{message}"
    );
    assert!(message.contains("`workspace-write`"), "{message}");
}

#[test]
fn bad_override_values_name_their_source() {
    let fixture = Fixture::new();
    let init_options = json!({"sandbox_mode": "yolo"});
    let message = error_text(load(&ConfigSources {
        init_options: Some(&init_options),
        ..fixture.sources()
    }));
    assert!(
        message.starts_with("initializationOptions: invalid `sandbox_mode`"),
        "{message}"
    );
    assert!(message.contains("`danger-full-access`"), "{message}");

    let overrides = ["max_turns=lots".to_owned()];
    let message = error_text(load(&ConfigSources {
        cli_overrides: &overrides,
        ..fixture.sources()
    }));
    assert!(
        message.starts_with("`-c max_turns=lots`: invalid `max_turns`"),
        "{message}"
    );
}

#[test]
fn malformed_overrides_are_errors_saying_how_to_write_them() {
    let fixture = Fixture::new();
    for argument in ["model", "=o3", "model_providers..x=1"] {
        let overrides = [argument.to_owned()];
        let message = error_text(load(&ConfigSources {
            cli_overrides: &overrides,
            ..fixture.sources()
        }));
        assert!(message.contains("write -c key=value"), "{message}");
    }
    let init_options = json!(["model", "o3"]);
    let message = error_text(load(&ConfigSources {
        init_options: Some(&init_options),
        ..fixture.sources()
    }));
    assert!(message.contains("must be a JSON object"), "{message}");
}

#[test]
fn null_in_init_options_leaves_the_key_unset() {
    let fixture = Fixture::new().with_user("model = \"gpt-5\"\n");
    let init_options = json!({"model": null});
    let config = load_ok(&ConfigSources {
        init_options: Some(&init_options),
        ..fixture.sources()
    });
    assert_eq!(config.model.as_deref(), Some("gpt-5"));
}

#[test]
fn max_parallel_attempts_defaults_to_four_and_must_be_at_least_one() {
    let (config, warnings) = Fixture::new().load().unwrap();
    assert_eq!(config.max_parallel_attempts, 4);
    assert!(warnings.is_empty(), "{warnings:?}");
    let (config, _) = Fixture::new()
        .with_user("max_parallel_attempts = 2\n")
        .load()
        .unwrap();
    assert_eq!(config.max_parallel_attempts, 2);
    let fixture = Fixture::new().with_user("max_parallel_attempts = 0\n");
    assert_eq!(
        error_text(fixture.load()),
        format!(
            "{}: invalid `max_parallel_attempts`: must be at least 1",
            fixture.user_file().display()
        )
    );
}

#[test]
fn zero_max_turns_is_rejected_naming_the_file_and_key() {
    let fixture = Fixture::new().with_user("max_turns = 0\n");
    let message = error_text(fixture.load());
    let expected = format!(
        "{}: invalid `max_turns`: must be at least 1",
        fixture.user_file().display()
    );
    assert_eq!(message, expected);

    let fixture = Fixture::new().with_user("[profiles.quick]\nmax_turns = 0\n");
    let message = error_text(fixture.load());
    assert!(
        message.contains("invalid `profiles.quick.max_turns`"),
        "{message}"
    );
}

#[test]
fn home_comes_from_agentls_home_then_home() {
    let home = agentls_home(&env_of(&[
        ("AGENTLS_HOME", "/srv/agentls"),
        ("HOME", "/home/u"),
    ]));
    assert_eq!(home.unwrap(), PathBuf::from("/srv/agentls"));
    let home = agentls_home(&env_of(&[("AGENTLS_HOME", ""), ("HOME", "/home/u")]));
    assert_eq!(home.unwrap(), PathBuf::from("/home/u/.agentls"));
    assert!(matches!(agentls_home(&no_env), Err(ConfigError::NoHome)));
}

mod agents_md {
    use super::*;

    struct Tree {
        home: TempDir,
        outer: TempDir,
    }

    impl Tree {
        /// `outer/` holds `repo/` (a git root) with `repo/crates/core/` inside.
        fn new() -> Self {
            let tree = Self {
                home: TempDir::new().unwrap(),
                outer: TempDir::new().unwrap(),
            };
            std::fs::create_dir_all(tree.repo().join(".git")).unwrap();
            std::fs::create_dir_all(tree.core()).unwrap();
            tree
        }

        fn repo(&self) -> PathBuf {
            self.outer.path().join("repo")
        }

        fn core(&self) -> PathBuf {
            self.repo().join("crates/core")
        }

        fn docs(&self, config: &Config, cwd: &Path) -> Option<String> {
            project_docs(config, self.home.path(), cwd).unwrap()
        }
    }

    fn position(text: &str, needle: &str) -> usize {
        text.find(needle)
            .unwrap_or_else(|| panic!("{needle:?} missing from {text:?}"))
    }

    #[test]
    fn global_first_then_root_down_to_cwd_one_file_per_directory() {
        let tree = Tree::new();
        write(&tree.home.path().join("AGENTS.md"), "global rules");
        write(&tree.outer.path().join("AGENTS.md"), "outside the repo");
        write(&tree.repo().join("AGENTS.md"), "root rules");
        write(
            &tree.repo().join("crates/AGENTS.override.md"),
            "crates override",
        );
        write(&tree.repo().join("crates/AGENTS.md"), "crates shadowed");
        write(&tree.core().join("TEAM.md"), "core team guide");
        let config = Config {
            project_doc_fallback_filenames: vec!["TEAM.md".to_owned()],
            ..Config::default()
        };

        let docs = tree.docs(&config, &tree.core()).unwrap();
        let order = [
            "global rules",
            "root rules",
            "crates override",
            "core team guide",
        ]
        .map(|needle| position(&docs, needle));
        assert!(order.is_sorted(), "wrong order in {docs:?}");
        assert!(!docs.contains("outside the repo"), "{docs}");
        assert!(!docs.contains("crates shadowed"), "{docs}");
        let header = format!("--- {} ---\n", tree.core().join("TEAM.md").display());
        assert!(docs.contains(&header), "{docs}");
    }

    #[test]
    fn fallback_names_apply_only_when_configured() {
        let tree = Tree::new();
        write(&tree.repo().join("TEAM.md"), "team guide");
        assert_eq!(tree.docs(&Config::default(), &tree.repo()), None);
    }

    #[test]
    fn outside_a_repository_only_cwd_is_searched() {
        let tree = Tree::new();
        let plain = tree.outer.path().join("plain/sub");
        write(&tree.outer.path().join("plain/AGENTS.md"), "parent");
        write(&plain.join("AGENTS.md"), "here");
        let docs = tree.docs(&Config::default(), &plain).unwrap();
        assert!(docs.contains("here"));
        assert!(!docs.contains("parent"), "{docs}");
    }

    #[test]
    fn empty_files_are_skipped_and_an_empty_override_silences_its_directory() {
        let tree = Tree::new();
        write(&tree.repo().join("AGENTS.md"), "  \n\n");
        write(&tree.repo().join("crates/AGENTS.override.md"), "");
        write(&tree.repo().join("crates/AGENTS.md"), "silenced");
        write(&tree.core().join("AGENTS.md"), "core rules");
        let docs = tree.docs(&Config::default(), &tree.core()).unwrap();
        let header = format!(
            "--- {} ---\ncore rules",
            tree.core().join("AGENTS.md").display()
        );
        assert_eq!(docs, header);
    }

    #[test]
    fn the_total_is_capped_at_a_char_boundary_and_says_so() {
        let tree = Tree::new();
        write(&tree.repo().join("AGENTS.md"), "0123456789");
        write(&tree.core().join("AGENTS.md"), "abcdé and more");
        let config = Config {
            project_doc_max_bytes: 15,
            ..Config::default()
        };
        let docs = tree.docs(&config, &tree.core()).unwrap();
        // 10 bytes from the root file leave 5: "abcd" fits, "é" (2 bytes) would not.
        assert!(docs.contains("0123456789"), "{docs}");
        assert!(docs.contains("---\nabcd\n"), "{docs}");
        assert!(!docs.contains('é'), "{docs}");
        assert!(
            docs.ends_with("[truncated: AGENTS.md files exceed project_doc_max_bytes (15 bytes)]"),
            "{docs}"
        );
    }

    #[test]
    fn files_after_the_budget_runs_out_are_reported_as_truncated() {
        let tree = Tree::new();
        write(&tree.repo().join("AGENTS.md"), "exactly10!");
        write(&tree.core().join("AGENTS.md"), "deeper");
        let config = Config {
            project_doc_max_bytes: 10,
            ..Config::default()
        };
        let docs = tree.docs(&config, &tree.core()).unwrap();
        assert!(docs.contains("exactly10!"), "{docs}");
        assert!(!docs.contains("deeper"), "{docs}");
        assert!(docs.contains("[truncated:"), "{docs}");
    }

    #[test]
    fn a_zero_budget_turns_project_docs_off() {
        let tree = Tree::new();
        write(&tree.repo().join("AGENTS.md"), "root rules");
        let config = Config {
            project_doc_max_bytes: 0,
            ..Config::default()
        };
        assert_eq!(tree.docs(&config, &tree.repo()), None);
    }

    #[test]
    fn the_project_root_is_the_nearest_ancestor_with_git() {
        let tree = Tree::new();
        assert_eq!(project_root(&tree.core()), tree.repo());
        // A worktree or submodule has a `.git` file, not a directory.
        let submodule = tree.repo().join("vendor/lib");
        write(&submodule.join(".git"), "gitdir: ../../.git/modules/lib");
        assert_eq!(project_root(&submodule.join("src")), submodule);
        let outside = tree.outer.path();
        assert_eq!(project_root(outside), outside);
    }
}

#[test]
fn an_untrusted_project_gets_no_servers_or_plugins_and_is_told_how_to_trust_it() {
    let project = "[mcp_servers.db]\ncommand = \"db-server\"\n[plugins.ops]\nenabled = true\n[projects.\"/\"]\ntrust_level = \"trusted\"\n";
    let fixture = Fixture::new()
        .with_user("[plugins.docs]\nenabled = false\n")
        .with_project(project);
    let (config, warnings) = fixture.load().unwrap();
    assert!(!config.project_trusted);
    assert!(config.mcp_servers.is_empty() && !config.plugins.contains_key("ops"));
    assert!(
        !config.plugins["docs"].enabled,
        "the user's own tables stay"
    );
    assert_eq!(config.withheld.len(), 2, "{:#?}", config.withheld);
    let root = fixture.workspace.path().display().to_string();
    for (what, message) in ["MCP server `db`", "plugin `ops`"]
        .iter()
        .zip(&config.withheld)
    {
        assert!(message.starts_with(what), "{message}");
        assert!(
            message.contains(&format!("[projects.{root:?}]\ntrust_level = \"trusted\"")),
            "{message}"
        );
    }
    assert!(
        warnings
            .iter()
            .any(|w| w.contains("`projects` in") && w.contains("is ignored")),
        "a project cannot trust itself: {warnings:#?}"
    );

    let trust = format!("[projects.{root:?}]\ntrust_level = \"trusted\"\n");
    let fixture = Fixture {
        home: fixture.home,
        workspace: fixture.workspace,
    }
    .with_user(&trust);
    let (config, _) = fixture.load().unwrap();
    assert!(config.project_trusted && config.withheld.is_empty());
    assert!(config.mcp_servers.contains_key("db") && config.plugins["ops"].enabled);
}

#[test]
fn unknown_keys_of_a_plugin_table_are_warned_about() {
    let fixture = Fixture::new().with_user("[plugins.ops]\nenabled = true\nversion = \"2\"\n");
    let (_, warnings) = fixture.load().unwrap();
    assert!(
        warnings
            .iter()
            .any(|w| w.contains("unknown key `plugins.ops.version`")),
        "{warnings:#?}"
    );
}

#[test]
fn agents_are_read_with_their_keys_and_a_project_starts_none_unless_trusted() {
    let agents = r#"
        [agents.codex]
        command = "codex-acp"
        args = ["-c", "sandbox_mode=\"danger-full-access\""]
        env = { CODEX_HOME = "~/.codex" }
        description = "Codex"
        readable_roots = ["~/.nvm"]
        writable_roots = ["~/.codex"]
        login_command = "codex login"
        colour = "blue"
    "#;
    let fixture = Fixture::new().with_user(agents);
    let (config, warnings) = fixture.load().unwrap();
    let codex = &config.agents["codex"];
    assert_eq!(codex.command.as_deref(), Some("codex-acp"));
    assert_eq!(codex.env["CODEX_HOME"], "~/.codex");
    assert_eq!(codex.writable_roots, [PathBuf::from("~/.codex")]);
    assert_eq!(codex.login_command.as_deref(), Some("codex login"));
    assert_eq!(
        warnings,
        [format!(
            "unknown key `agents.codex.colour` in {} — ignored",
            fixture.user_file().display()
        )]
    );

    let project = Fixture::new().with_project("[agents.evil]\ncommand = \"curl\"\n");
    let (config, warnings) = project.load().unwrap();
    assert!(config.agents.is_empty(), "{:?}", config.agents);
    assert!(
        warnings[0].starts_with("agent `evil` from ") && warnings[0].contains("not trusted"),
        "{warnings:?}"
    );
    let root = project.workspace.path().display().to_string();
    let trusted = project.with_user(&format!("[projects.{root:?}]\ntrust_level = \"trusted\"\n"));
    let (config, _) = trusted.load().unwrap();
    assert_eq!(config.agents["evil"].command.as_deref(), Some("curl"));
}
