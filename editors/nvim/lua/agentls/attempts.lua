-- The :AgentAttempts list (`agentls://attempts/<task>`): the attempts of a best-of-N task
-- (`:AgentBestOf`, or pushed from CI or a cluster and imported), one line each with its
-- status, size, last command and summary; beside it a preview of the attempt under the
-- cursor (its hunks as choosing it would place them, as a diff). <CR> chooses that attempt:
-- its hunks become the task's proposal, drawn and reviewed like any other.

local hunks = require('agentls.hunks')
local list_buffer = require('agentls.list_buffer')
local lsp = require('agentls.lsp')
local state = require('agentls.state')
local tasks = require('agentls.tasks')

local M = {}

local HELP = '<CR> choose · q close · the preview shows the attempt under the cursor'

local ns = vim.api.nvim_create_namespace('agentls.attempts')

-- The list shown (one at a time): its buffer, task, and the attempt number of each line.
---@type integer?
local list_buf
---@type integer?
local preview_buf
---@type string?
local list_task
-- The window :AgentAttempts was run from: a choice goes to its hunks there.
---@type integer?
local origin_win
---@type table<integer, integer>
local line_attempts = {}
-- Preview diffs by attempt number, fetched once per showing of the list.
---@type table<integer, string[]>
local previews = {}

--- `+12 −3 · 2 files · ✓ cargo test` or `✗ cargo test (exit 101)`.
---@param a table an AttemptInfo
---@return string
function M.describe(a)
  local parts = { ('Attempt %d'):format(a.attempt), a.status }
  if a.files > 0 then
    table.insert(parts, ('+%d −%d · %d file%s'):format(a.added, a.removed, a.files, a.files == 1 and '' or 's'))
  else
    table.insert(parts, 'no changes')
  end
  local command = a.lastCommand
  if command then
    local passed = command.exitCode == 0
    table.insert(parts, ('%s %s%s'):format(passed and '✓' or '✗', command.command, passed and '' or (' (exit %d)'):format(command.exitCode)))
  end
  if a.source then
    table.insert(parts, a.source.ref)
  end
  local line = table.concat(parts, ' · ')
  if a.summary then
    line = line .. ' — ' .. a.summary:match('^[^\n]*')
  end
  return line
end

--- An attempt's hunks as a diff: a header per file, `@@ line N @@`, the old lines with
--- `-`, the new ones with `+`.
---@param files agentls.File[]
---@return string[]
local function diff_lines(files)
  local out = {}
  for _, file in ipairs(files) do
    table.insert(out, ('--- %s'):format(vim.fn.fnamemodify(vim.uri_to_fname(file.uri), ':.')))
    for _, hunk in ipairs(file.hunks) do
      table.insert(out, ('@@ line %d (%s) @@'):format(hunk.range.start.line + 1, hunk.status))
      for _, old in ipairs(hunks.text_lines(hunk.oldText)) do
        table.insert(out, '-' .. old)
      end
      for _, new in ipairs(hunks.text_lines(hunk.newText)) do
        table.insert(out, '+' .. new)
      end
    end
  end
  if #out == 0 then
    out = { 'This attempt changed nothing.' }
  end
  return out
end

local function valid(buf)
  return buf and vim.api.nvim_buf_is_valid(buf)
end

local function scratch(name, filetype)
  local buf = vim.api.nvim_create_buf(false, true)
  vim.api.nvim_buf_set_name(buf, name)
  vim.bo[buf].bufhidden = 'wipe'
  vim.bo[buf].filetype = filetype
  vim.bo[buf].modifiable = false
  return buf
end

--- The attempt on the cursor's line of the list, or nil elsewhere.
---@return integer?
function M.attempt_at_cursor()
  if vim.api.nvim_get_current_buf() ~= list_buf then
    return nil
  end
  return line_attempts[vim.api.nvim_win_get_cursor(0)[1]]
end

local function preview(attempt)
  local task = list_task and state.tasks[list_task]
  local client = task and lsp.client(task.client_id)
  if not (client and valid(preview_buf)) then
    return
  end
  if previews[attempt] then
    list_buffer.set_lines(preview_buf, previews[attempt])
    return
  end
  tasks.fetch(client, task.id, attempt, function(files)
    previews[attempt] = diff_lines(files)
    if valid(preview_buf) and M.attempt_at_cursor() == attempt then
      list_buffer.set_lines(preview_buf, previews[attempt])
    end
  end)
end

local function render(task)
  local lines = { ('attempts of “%s”: %s'):format(task.prompt, HELP) }
  line_attempts = {}
  for _, a in ipairs(task.attempts or {}) do
    table.insert(lines, M.describe(a) .. (a.attempt == task.chosen_attempt and '  (chosen)' or ''))
    line_attempts[#lines] = a.attempt
  end
  list_buffer.redraw(list_buf, ns, lines)
  for row, n in pairs(line_attempts) do
    local a = task.attempts[n]
    local green = a.status == 'completed' and (not a.lastCommand or a.lastCommand.exitCode == 0)
    vim.api.nvim_buf_set_extmark(list_buf, ns, row - 1, 0, {
      end_row = row,
      hl_group = green and 'DiagnosticOk' or (a.status == 'running' or a.status == 'queued') and 'DiagnosticInfo' or 'DiagnosticError',
      hl_eol = false,
    })
  end
end

local function close()
  for _, buf in ipairs({ list_buf, preview_buf }) do
    if valid(buf) then
      for _, win in ipairs(vim.fn.win_findbuf(buf)) do
        if #vim.api.nvim_list_wins() > 1 then
          vim.api.nvim_win_close(win, true)
        end
      end
    end
  end
  list_task, previews = nil, {}
end

--- Chooses the attempt on the cursor's line, closes the list and goes to its first hunk.
function M.choose_line()
  local attempt = M.attempt_at_cursor()
  local task = list_task and state.tasks[list_task]
  if not (attempt and task) then
    vim.notify('agentls: put the cursor on an attempt’s line', vim.log.levels.INFO)
    return
  end
  local back = origin_win
  close()
  if back and vim.api.nvim_win_is_valid(back) then
    vim.api.nvim_set_current_win(back)
  end
  tasks.choose_attempt(task, attempt)
end

--- Shows the attempts of `task` (with a preview of the first), asking the server for them.
---@param task agentls.Task
function M.show(task)
  local client = lsp.client(task.client_id)
  if not client then
    return
  end
  tasks.load_attempts(client, task, function()
    if not task.attempts or #task.attempts == 0 then
      vim.notify(('agentls: “%s” has no attempts (:AgentBestOf starts a task with some)'):format(task.prompt), vim.log.levels.INFO)
      return
    end
    close()
    list_task, previews, origin_win = task.id, {}, vim.api.nvim_get_current_win()
    list_buf = scratch('agentls://attempts/' .. task.id, 'agentls-attempts')
    preview_buf = scratch('agentls://attempts/' .. task.id .. '/preview', 'diff')
    vim.keymap.set('n', '<CR>', M.choose_line, { buffer = list_buf, nowait = true, desc = 'agentls: choose this attempt' })
    vim.keymap.set('n', 'q', close, { buffer = list_buf, nowait = true, desc = 'agentls: close the attempts' })
    vim.api.nvim_create_autocmd('CursorMoved', {
      buffer = list_buf,
      callback = function()
        local attempt = M.attempt_at_cursor()
        if attempt then
          preview(attempt)
        end
      end,
    })
    render(task)
    vim.cmd(('botright %dsplit'):format(math.min(#task.attempts + 1, 10)))
    vim.api.nvim_win_set_buf(0, list_buf)
    vim.cmd('aboveleft split')
    vim.api.nvim_win_set_buf(0, preview_buf)
    vim.cmd.wincmd('j')
    local first = task.chosen_attempt and task.chosen_attempt + 1 or 2
    vim.api.nvim_win_set_cursor(0, { first, 0 })
    preview(line_attempts[first])
  end)
end

--- Redraws the shown list when `task`'s attempts changed (one finished, one was chosen).
---@param task agentls.Task
function M.redraw(task)
  if list_task == task.id and valid(list_buf) then
    render(task)
  end
end

return M
