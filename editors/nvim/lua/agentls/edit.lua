-- :AgentEdit — accepting a hunk with the user's own text. The hunk's proposed text opens
-- in a scratch buffer (agentls://edit/<hunkId>, buftype=acwrite, the source file's
-- filetype); writing it sends `agent/resolveHunks` with `edits`, so the server applies the
-- user's version and keeps the task's as `proposedText` for the next follow-up.
--
-- The write waits for the server's answer (it answers at once) rather than returning
-- early: `:wq` quits only when the write cleared 'modified', and a refused write must
-- leave the buffer modified so that nothing the user typed is lost.

local lsp = require('agentls.lsp')
local state = require('agentls.state')
local hunks = require('agentls.hunks')
local tasks = require('agentls.tasks')

local M = {}

local PREFIX = 'agentls://edit/'

-- How long a write waits for the server before saying it could not tell.
local WRITE_TIMEOUT_MS = 10000

--- The text to send for the buffer's lines. Whole-line hunks (their text ends with a
--- newline, or they delete whole lines) get the final newline a buffer does not show; an
--- empty buffer means "nothing", i.e. the hunk deletes what it covers.
---@param lines string[]
---@param hunk agentls.Hunk
---@return string
local function text_of(lines, hunk)
  if #lines == 1 and lines[1] == '' then
    return ''
  end
  local text = table.concat(lines, '\n')
  local proposed = hunk.newText ~= '' and hunk.newText or hunk.oldText
  if proposed:sub(-1) == '\n' then
    text = text .. '\n'
  end
  return text
end

--- Why the server did not accept `hunk_id`, or nil when it did.
---@param result table
---@param hunk_id string
---@return string?
local function refusal_of(result, hunk_id)
  for _, refused in ipairs(result.refused or {}) do
    if refused.hunkId == hunk_id then
      return refused.reason
    end
  end
  for _, hunk in ipairs(result.hunks or {}) do
    if hunk.hunkId == hunk_id then
      if hunk.status == 'accepted' then
        return nil
      end
      return ('it is %s%s'):format(hunk.status, hunk.reason and (': ' .. hunk.reason) or '')
    end
  end
  return 'the server no longer knows this hunk (:AgentTasks reloads the task)'
end

--- Sends the edit buffer's text as the hunk's replacement. On success the buffer is
--- unmodified and closed; otherwise it stays, modified, with the reason shown.
---@param bufnr integer
---@param entry agentls.OpenHunk
---@param source integer the buffer of the hunk's file (its edits are flushed first)
local function write(bufnr, entry, source)
  local task = state.tasks[entry.task_id]
  local client = task and lsp.client(task.client_id)
  if not client then
    vim.notify('agentls: the server of this task is not running; nothing was accepted', vim.log.levels.ERROR)
    return
  end
  local hunk_id = entry.hunk.hunkId
  local text = text_of(vim.api.nvim_buf_get_lines(bufnr, 0, -1, false), entry.hunk)
  local params = { taskId = entry.task_id, edits = { { hunkId = hunk_id, newText = text } } }
  local flush = vim.api.nvim_buf_is_loaded(source) and source or nil
  local result, why = lsp.request_sync(client, 'agent/resolveHunks', params, WRITE_TIMEOUT_MS, flush)
  if result then
    why = refusal_of(result, hunk_id)
  end
  if why then
    vim.notify(('agentls: your version was not accepted: %s'):format(why), vim.log.levels.ERROR)
    return
  end
  vim.bo[bufnr].modified = false
  tasks.refresh(entry.task_id)
  -- Not from inside the write: `:wq` is still using the buffer.
  vim.schedule(function()
    if vim.api.nvim_buf_is_valid(bufnr) then
      vim.api.nvim_buf_delete(bufnr, { force = true })
    end
  end)
end

--- Opens the edit buffer of a pending hunk in a split (or goes to it if it is open).
---@param entry agentls.OpenHunk
---@param source integer the buffer the hunk is drawn in
function M.open(entry, source)
  local name = PREFIX .. entry.hunk.hunkId
  local existing = vim.fn.bufnr(name)
  if existing ~= -1 then
    local win = vim.fn.win_findbuf(existing)[1]
    if win then
      vim.api.nvim_set_current_win(win)
    else
      vim.cmd.split()
      vim.api.nvim_win_set_buf(0, existing)
    end
    return
  end
  local bufnr = vim.api.nvim_create_buf(false, false)
  vim.api.nvim_buf_set_name(bufnr, name)
  vim.bo[bufnr].buftype = 'acwrite'
  vim.bo[bufnr].bufhidden = 'wipe'
  vim.bo[bufnr].swapfile = false
  vim.api.nvim_buf_set_lines(bufnr, 0, -1, false, hunks.text_lines(entry.hunk.newText))
  vim.bo[bufnr].modified = false
  vim.api.nvim_create_autocmd('BufWriteCmd', {
    buffer = bufnr,
    callback = function()
      write(bufnr, entry, source)
    end,
  })
  vim.cmd.split()
  vim.api.nvim_win_set_buf(0, bufnr)
  -- After the buffer is shown: a filetype plugin may set window options.
  vim.bo[bufnr].filetype = vim.bo[source].filetype
  vim.notify('agentls: edit the proposed text; :w accepts your version, :q! abandons')
end

return M
