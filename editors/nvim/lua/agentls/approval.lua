-- Answers the server's `agent/requestApproval` (docs/protocol.md) with vim.ui.select: run this
-- command, apply this patch, use the network? A patch request carries its diff, shown in a
-- float while the user decides. Dismissing the prompt denies: the task goes on without it.
--
-- Neovim runs server-request handlers inside a coroutine, so the handler can wait for an
-- asynchronous vim.ui.select (telescope, fzf-lua, ...) before it returns the answer.

local M = {}

M.choices = {
  { decision = 'allow', label = 'Allow once' },
  { decision = 'allowForTask', label = 'Allow for the rest of this task' },
  { decision = 'deny', label = 'Deny (the agent is told no and goes on)' },
  { decision = 'cancel', label = 'Cancel the task' },
}

local function question(params)
  local what
  if params.kind == 'command' then
    local command = params.command
    if type(command) == 'table' then
      command = table.concat(command, ' ')
    end
    what = ('run `%s`%s'):format(command or '?', params.cwd and (' in ' .. params.cwd) or '')
  elseif params.kind == 'patch' then
    what = 'apply the patch shown'
  elseif params.kind == 'network' then
    what = 'use the network'
  else
    what = params.kind or 'do something'
  end
  local reason = params.reason and (' (' .. params.reason .. ')') or ''
  return ('agentls wants to %s%s'):format(what, reason)
end

--- A float with the patch under review; returns a function that closes it.
local function show_diff(diff)
  local bufnr = vim.api.nvim_create_buf(false, true)
  vim.api.nvim_buf_set_lines(bufnr, 0, -1, false, vim.split(diff, '\n', { plain = true }))
  vim.bo[bufnr].filetype = 'diff'
  local width = math.floor(vim.o.columns * 0.8)
  local height = math.min(math.floor(vim.o.lines * 0.5), vim.api.nvim_buf_line_count(bufnr))
  local win = vim.api.nvim_open_win(bufnr, false, {
    relative = 'editor',
    width = width,
    height = math.max(height, 1),
    row = 1,
    col = math.floor((vim.o.columns - width) / 2),
    border = 'rounded',
    title = ' agentls: patch awaiting approval ',
  })
  return function()
    if vim.api.nvim_win_is_valid(win) then
      vim.api.nvim_win_close(win, true)
    end
    if vim.api.nvim_buf_is_valid(bufnr) then
      vim.api.nvim_buf_delete(bufnr, { force = true })
    end
  end
end

--- Waits for vim.ui.select, whether it answers at once (the built-in one) or later.
local function select(items, opts)
  local co = coroutine.running()
  local answered, answer = false, nil
  vim.ui.select(items, opts, function(choice)
    answered, answer = true, choice
    if co and coroutine.status(co) == 'suspended' then
      coroutine.resume(co)
    end
  end)
  if not answered then
    if not co then
      return nil
    end
    coroutine.yield()
  end
  return answer
end

--- The `agent/requestApproval` handler.
---@param params {taskId: string, callId: string, kind: string, command: (string|string[])?, cwd: string?, diff: string?, reason: string?}
---@return {decision: string}
function M.handle(_, params)
  params = params or {}
  local close = params.diff and show_diff(params.diff)
  local ok, choice = pcall(select, M.choices, {
    prompt = question(params),
    format_item = function(item)
      return item.label
    end,
    kind = 'agentls.approval',
  })
  if close then
    close()
  end
  if not ok then
    vim.notify('agentls: the approval prompt failed (' .. tostring(choice) .. '); denied', vim.log.levels.WARN)
    choice = nil
  end
  return { decision = choice and choice.decision or 'deny' }
end

return M
