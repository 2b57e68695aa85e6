# Sourced by run.sh and screenshot.sh (and editors/generic/test/run.sh): builds agentls
# and the scripted model server, makes a throwaway git workspace holding notes.txt, starts
# the model server on loopback with $AGENTLS_TEST_SCRIPT (default: this folder's
# script.json) and writes an $AGENTLS_HOME/config.toml that points a custom provider at
# it (and configures the scripted ACP agent as [agents.scripted]). Exports what the Lua
# side reads: AGENTLS_BIN, AGENTLS_TEST_PACK, AGENTLS_HOME, SCRIPTED_MODEL_LOG,
# ACP_AGENT_LOG, and WORK (the workspace).
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)
here="$repo/editors/nvim/test"
nvim=${AGENTLS_NVIM:-$repo/target/test-deps/nvim/bin/nvim}
if [ ! -x "$nvim" ]; then
  echo "nvim test: $nvim not found; run scripts/install-test-deps.sh (or set AGENTLS_NVIM)" >&2
  exit 1
fi
(cd "$repo" && cargo build --locked --quiet --bin agentls --example scripted_model)

tmp=$(mktemp -d)
model_pid=
cleanup() {
  if [ -n "$model_pid" ]; then kill "$model_pid" 2>/dev/null || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT

export WORK="$tmp/workspace" AGENTLS_HOME="$tmp/home" AGENTLS_BIN="$repo/target/debug/agentls"
export AGENTLS_TEST_PACK="$tmp/pack"
mkdir -p "$WORK" "$AGENTLS_HOME" "$AGENTLS_TEST_PACK/pack/agentls/opt"
# Installed the way a packpath user installs it: a folder under pack/*/opt, then :packadd.
ln -s "$repo/editors/nvim" "$AGENTLS_TEST_PACK/pack/agentls/opt/agentls"
printf 'one\ntwo\nthree\nfour\nfive\nsix\nseven\neight\nnine\nten\n' > "$WORK/notes.txt"
git -C "$WORK" init -q
# Neovim's state, shada and LSP log stay in the throwaway folder.
export XDG_STATE_HOME="$tmp/state" XDG_DATA_HOME="$tmp/data" XDG_CONFIG_HOME="$tmp/config" XDG_CACHE_HOME="$tmp/cache"

# Every request the model gets, one JSON line each (test.lua checks the context sent).
export SCRIPTED_MODEL_LOG="$tmp/model-requests.jsonl"
"$repo/target/debug/examples/scripted_model" "${AGENTLS_TEST_SCRIPT:-$here/script.json}" > "$tmp/model.out" &
model_pid=$!
for _ in $(seq 100); do
  grep -q '^listening on ' "$tmp/model.out" && break
  sleep 0.1
done
base_url=$(sed -n 's/^listening on //p' "$tmp/model.out")
if [ -z "$base_url" ]; then
  echo "nvim test: the scripted model server did not start" >&2
  exit 1
fi
# An ACP agent for `:Agent --agent=scripted`: the scripted one of the Rust tests, which
# writes greeting.txt in its view; what agentls sends it goes to $ACP_AGENT_LOG.
printf 'hello\n' > "$WORK/greeting.txt"
export ACP_AGENT_LOG="$tmp/acp-agent.jsonl"
cat > "$tmp/acp-scenario.json" <<JSON
{"log": "$ACP_AGENT_LOG", "turns": [[{"diskWrite": "greeting.txt", "text": "HELLO\n"}, {"message": "Shouted."}]]}
JSON
cat > "$AGENTLS_HOME/config.toml" <<TOML
model = "scripted-model"
model_provider = "scripted"

[model_providers.scripted]
name = "Scripted test server"
base_url = "$base_url"
wire_api = "chat"

[agents.scripted]
command = "node"
args = ["$repo/tests/acp/scripted-agent.mjs", "$tmp/acp-scenario.json"]
readable_roots = ["$repo/tests/acp", "$tmp"]
writable_roots = ["$tmp"]
TOML
