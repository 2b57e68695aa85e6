#!/usr/bin/env bash
# agentls in editors without its plugin, end to end: Emacs with Debian's eglot (batch
# mode, eglot.el), then Neovim 0.11 with nothing but vim.lsp (plain_nvim.lua), each
# starting a task with the agent.startTask command, finding its hunk as a diagnostic,
# accepting it through a code action (the buffer changes at once, the disk only when
# saved) and undoing it. Same throwaway workspace and scripted model as the Neovim plugin's
# test (../../nvim/test/env.sh), with this folder's script.json. Exits non-zero on failure.
set -euo pipefail
generic=$(cd "$(dirname "$0")" && pwd)
export AGENTLS_TEST_SCRIPT="$generic/script.json"
source "$generic/../../nvim/test/env.sh"
emacs=${AGENTLS_EMACS:-emacs}
if ! command -v "$emacs" >/dev/null; then
  echo "generic editors test: $emacs not found; run scripts/install-test-deps.sh (as root: it installs Debian's emacs-nox and elpa-eglot)" >&2
  exit 1
fi
printf "def greet():\n    print('hi')\n\n\ngreet()\n" > "$WORK/hello.py"
printf "def wave():\n    print('bye')\n" > "$WORK/wave.py"
cd "$WORK"
echo "generic editors test: Emacs $("$emacs" --batch --eval '(princ emacs-version)') with eglot" >&2
"$emacs" --batch -l "$generic/eglot.el"
echo "generic editors test: Neovim without the agentls plugin" >&2
"$nvim" --headless --clean -l "$generic/plain_nvim.lua"
