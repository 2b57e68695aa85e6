#!/usr/bin/env bash
# Makes docs/screenshots/nvim-review.png: real Neovim in tmux reviewing the two hunks of the
# end-to-end test's task, captured with `tmux capture-pane -e` and drawn by ansi_to_png.py
# (needs Pillow: pip install pillow into target/test-deps/nvim). Usage: screenshot.sh [OUT.png]
set -euo pipefail
source "$(dirname "$0")/env.sh"
out=${1:-$repo/docs/screenshots/nvim-review.png}
python=${AGENTLS_SCREENSHOT_PYTHON:-$repo/target/test-deps/nvim/bin/python}
cols=100 rows=30 session="agentls-shot-$$"
export AGENTLS_SCREENSHOT_READY="$tmp/ready"
cd "$WORK"
# A private tmux server, started here, inherits this environment (AGENTLS_*, XDG_*).
export COLORTERM=truecolor
tmux() { command tmux -L "$session" "$@"; }
trap 'tmux kill-server 2>/dev/null || true; cleanup' EXIT
tmux new-session -d -x "$cols" -y "$rows" "$nvim -u $here/screenshot.lua notes.txt"
for _ in $(seq 150); do
  [ -f "$AGENTLS_SCREENSHOT_READY" ] && break
  sleep 0.1
done
if [ ! -f "$AGENTLS_SCREENSHOT_READY" ]; then
  tmux capture-pane -p >&2 || true
  echo "screenshot: Neovim did not show the hunks in time (screen above)" >&2
  exit 1
fi
tmux capture-pane -e -p -N > "$tmp/screen.ansi"
mkdir -p "$(dirname "$out")"
"$python" "$here/ansi_to_png.py" "$tmp/screen.ansi" "$out" "$cols" "$rows"
echo "screenshot: wrote $out" >&2
