-- agentls in Neovim 0.11 without the agentls plugin, end to end. Run by run.sh as
-- `nvim --headless --clean -l plain_nvim.lua` in a throwaway git workspace holding wave.py
-- (`print('bye')` inside `wave`). Only what Neovim has built in: vim.lsp.config and
-- vim.lsp.enable to register agentls, the README's :AgentTask (client:exec_cmd of
-- agent.startTask), the hunk as a vim.diagnostic, and vim.lsp.buf.code_action to accept
-- and undo it. The scripted model (after eglot.el's task) turns 'bye' into 'goodbye'.
-- Any failure exits with status 1.

local here = vim.fs.dirname(debug.getinfo(1, 'S').source:sub(2))
local harness = dofile(vim.fs.joinpath(here, '../../nvim/test/harness.lua'))
harness.timeout = 20000
local TIMEOUT = harness.timeout
local check, wait = harness.check, harness.wait

--- Whether `text` is in the message history, where Neovim puts window/showMessage.
local function notified(text)
  return vim.api.nvim_exec2('messages', { output = true }).output:find(text, 1, true) ~= nil
end

local function disk(path)
  return table.concat(vim.fn.readfile(path), '\n')
end

local function buffer_text(bufnr)
  return table.concat(vim.api.nvim_buf_get_lines(bufnr, 0, -1, false), '\n')
end

--- The titles of the code actions on line `lnum` (1-based), as the menu would list them.
local function titles_at(client, bufnr, lnum)
  vim.api.nvim_win_set_cursor(0, { lnum, 0 })
  local params = vim.lsp.util.make_range_params(0, client.offset_encoding)
  params.context = { diagnostics = {} }
  local response = client:request_sync('textDocument/codeAction', params, TIMEOUT, bufnr)
  check(response and response.err == nil, 'codeAction failed: ' .. vim.inspect(response))
  return vim.tbl_map(function(action)
    return action.title
  end, response.result or {})
end

--- What a user does: vim.lsp.buf.code_action on line `lnum`, choosing the entry titled
--- `title` from the menu.
local function pick_action(lnum, title)
  vim.api.nvim_win_set_cursor(0, { lnum, 0 })
  vim.lsp.buf.code_action({
    apply = true,
    filter = function(action)
      return action.title == title
    end,
  })
end

-- What a user writes in init.lua (editors/README.md).
vim.lsp.config('agentls', {
  cmd = { vim.env.AGENTLS_BIN },
  filetypes = { 'python' },
  root_markers = { '.git' },
})
vim.lsp.enable('agentls')
-- :AgentTask {prompt}, with the selected lines (a range) as context.
vim.api.nvim_create_user_command('AgentTask', function(cmd)
  local client = vim.lsp.get_clients({ bufnr = 0, name = 'agentls' })[1]
  local arg = { prompt = cmd.args, uri = vim.uri_from_bufnr(0) }
  if cmd.range > 0 then
    arg.range = { start = { line = cmd.line1 - 1, character = 0 }, ['end'] = { line = cmd.line2, character = 0 } }
  end
  client:exec_cmd({ title = 'agent.startTask', command = 'agent.startTask', arguments = { arg } })
end, { nargs = '+', range = true })

local original = disk('wave.py')
local bufnr, client = harness.open_with_agentls('wave.py')

vim.cmd('AgentTask say goodbye properly')
wait('the message that the task completed', function()
  return notified('completed: Said goodbye properly')
end)
check(notified('1 hunk in 1 file to review'), 'the completion message does not say what to review')

local diagnostic
wait('the hunk as a diagnostic', function()
  diagnostic = vim.diagnostic.get(bufnr)[1]
  return diagnostic ~= nil
end)
check(diagnostic.source == 'agentls', 'diagnostic source: ' .. vim.inspect(diagnostic))
check(diagnostic.lnum == 1, 'the diagnostic is on line ' .. (diagnostic.lnum + 1))
check(
  diagnostic.message == "say goodbye properly proposes: print('bye') → print('goodbye')",
  'diagnostic message: ' .. diagnostic.message
)
local task = diagnostic.user_data.lsp.data.taskId
check(type(task) == 'string' and notified(task), 'diagnostic data: ' .. vim.inspect(diagnostic.user_data))

local accept = "Accept: print('bye') → print('goodbye') (say goodbye properly)"
local offered = titles_at(client, bufnr, 2)
check(vim.tbl_contains(offered, accept), 'offered: ' .. vim.inspect(offered))
pick_action(2, accept)
wait('the accept to reach the buffer', function()
  return buffer_text(bufnr):find("print('goodbye')", 1, true) ~= nil
end)
check(disk('wave.py') == original, 'the disk changed before saving')
wait('the diagnostic to go', function()
  return #vim.diagnostic.get(bufnr) == 0
end)
vim.cmd.write()
check(disk('wave.py'):find("print('goodbye')", 1, true) ~= nil, 'saving did not write the accepted text')

-- Undo is what is offered on the accepted hunk (once the editor's didChange confirmed
-- it), and it works the same way.
local undo = "Undo accept: print('bye') → print('goodbye') (say goodbye properly)"
wait('undo to be offered', function()
  offered = titles_at(client, bufnr, 2)
  return #offered > 0
end)
check(vim.deep_equal(offered, { undo }), 'offered: ' .. vim.inspect(offered))
pick_action(2, undo)
wait('the undo to reach the buffer', function()
  return buffer_text(bufnr):find("print('bye')", 1, true) ~= nil
end)
check(disk('wave.py'):find("print('goodbye')", 1, true) ~= nil, 'the undo wrote the disk before saving')
vim.cmd('silent! edit!')

io.stderr:write('plain Neovim: all checks passed\n')
client:stop()
vim.wait(2000, function()
  return client:is_stopped()
end)
os.exit(0)
