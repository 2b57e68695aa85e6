#!/usr/bin/env bash
# The Neovim plugin's review test: real Neovim (headless) runs :AgentReview on an unsaved
# change against the real agentls binary and a scripted model that reports one finding
# with a fix; review.lua checks the finding as a vim.diagnostic entry, applies its fix
# through the code action, accepts the hunk and sees the finding go. Exits non-zero on
# failure.
set -euo pipefail
export AGENTLS_TEST_SCRIPT="$(cd "$(dirname "$0")" && pwd)/review_script.json"
source "$(dirname "$0")/env.sh"
cd "$WORK"
"$nvim" --headless -l "$here/review.lua"
