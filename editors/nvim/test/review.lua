-- :AgentReview end to end, run by review.sh as `nvim --headless -l review.lua` in a
-- throwaway git workspace holding notes.txt ("one" to "ten"). The file is committed, then
-- line 2 is changed in the buffer only (unsaved). The scripted model reports one finding
-- on line 2 with a fix that spells it again; the test checks the diagnostic, that the
-- model saw the unsaved change, applies the fix from the code action, accepts the hunk
-- with :AgentAccept and sees the buffer fixed and the finding gone.

local env = vim.env
local harness = dofile(vim.fs.joinpath(vim.fs.dirname(debug.getinfo(1, 'S').source:sub(2)), 'harness.lua'))
local TIMEOUT = harness.timeout
local check, wait = harness.check, harness.wait

vim.fn.system({ 'git', '-c', 'user.name=t', '-c', 'user.email=t@t', 'add', 'notes.txt' })
vim.fn.system({ 'git', '-c', 'user.name=t', '-c', 'user.email=t@t', 'commit', '-q', '-m', 'notes' })
check(vim.v.shell_error == 0, 'git commit failed')

vim.opt.packpath:prepend(env.AGENTLS_TEST_PACK)
vim.cmd.packadd('agentls')
require('agentls').setup({ cmd = { env.AGENTLS_BIN } })

local buf, client = harness.open_with_agentls('notes.txt')
vim.api.nvim_buf_set_lines(buf, 1, 2, false, { '2' })

local function findings()
  return vim.tbl_filter(function(d)
    return d.source == 'agentls review'
  end, vim.diagnostic.get(buf))
end

vim.cmd('AgentReview')
wait('the finding as a diagnostic', function()
  return #findings() == 1
end)
local finding = findings()[1]
check(finding.lnum == 1, 'the finding is on line 2, got ' .. finding.lnum)
check(finding.severity == vim.diagnostic.severity.WARN, 'a warning')
check(finding.message:find('two is a digit now', 1, true) ~= nil, 'its title: ' .. finding.message)
local log = table.concat(vim.fn.readfile(env.SCRIPTED_MODEL_LOG), '\n')
check(log:find('+2', 1, true) ~= nil, 'the model saw the unsaved change')

-- "Apply fix" from the code actions at the finding.
vim.api.nvim_win_set_cursor(0, { 2, 0 })
local params = vim.lsp.util.make_range_params(0, client.offset_encoding)
params.context = { diagnostics = {} }
local answers = vim.lsp.buf_request_sync(buf, 'textDocument/codeAction', params, TIMEOUT)
local apply
for _, answer in pairs(answers or {}) do
  for _, action in ipairs(answer.result or {}) do
    if action.title:find('^Apply fix: two is a digit now') then
      apply = action
    end
  end
end
check(apply ~= nil, 'an Apply fix code action')
check(apply.kind == 'quickfix.agent.fix', 'its kind: ' .. tostring(apply.kind))
client:exec_cmd(apply.command, { bufnr = buf })

-- The fix is a pending hunk of the review: accept it where it is.
local state = require('agentls.state')
wait('the fix as a pending hunk', function()
  for _, task in pairs(state.tasks) do
    for _, file in pairs(task.files or {}) do
      for _, hunk in ipairs(file.hunks or {}) do
        if hunk.status == 'pending' then
          return true
        end
      end
    end
  end
  return false
end)
vim.cmd('AgentAccept')
wait('the buffer fixed', function()
  return vim.api.nvim_buf_get_lines(buf, 1, 2, false)[1] == 'two'
end)
wait('the finding gone with its line edited', function()
  return #findings() == 0
end)
io.stderr:write('review test passed\n')
vim.cmd('qa!')
