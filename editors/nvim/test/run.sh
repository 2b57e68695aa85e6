#!/usr/bin/env bash
# The Neovim plugin's end-to-end test: real Neovim (headless) loads the plugin, runs
# :Agent against the real agentls binary and a scripted model, reviews the two hunks it
# proposes with :AgentAccept / :AgentReject and writes the file. Exits non-zero on failure.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$WORK"
"$nvim" --headless -l "$here/test.lua"
