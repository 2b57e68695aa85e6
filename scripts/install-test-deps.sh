#!/usr/bin/env bash
# Installs what the test suite needs beyond the Rust toolchain, idempotently, under
# target/test-deps/: the real local model server (llama-cpp-python + SmolLM2-135M, offline,
# from ../shared). Re-running is cheap: finished steps are skipped.
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
