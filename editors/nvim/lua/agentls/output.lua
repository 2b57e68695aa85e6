-- A task's streamed output in a scratch buffer (`agentls://task/<id>`): the assistant's
-- text as it arrives, one line per tool call and result, errors and the final status.
-- Shown in a split or a floating window, as configured; windows showing it follow the end.

local config = require('agentls.config')

local M = {}

---@type table<string, integer> task id -> buffer
local buffers = {}
-- Whether the buffer's last line has text that a streamed delta should continue.
---@type table<integer, boolean>
local mid_line = {}

local function buffer_for(task_id)
  local bufnr = buffers[task_id]
  if bufnr and vim.api.nvim_buf_is_valid(bufnr) then
    return bufnr
  end
  bufnr = vim.api.nvim_create_buf(false, true)
  vim.api.nvim_buf_set_name(bufnr, 'agentls://task/' .. task_id)
  vim.bo[bufnr].bufhidden = 'hide'
  vim.bo[bufnr].filetype = 'markdown'
  vim.keymap.set('n', 'q', '<cmd>close<cr>', { buffer = bufnr, desc = 'Close the agentls output' })
  buffers[task_id] = bufnr
  mid_line[bufnr] = false
  return bufnr
end

local function follow(bufnr)
  local last = vim.api.nvim_buf_line_count(bufnr)
  for _, win in ipairs(vim.fn.win_findbuf(bufnr)) do
    if win ~= vim.api.nvim_get_current_win() then
      vim.api.nvim_win_set_cursor(win, { last, 0 })
    end
  end
end

--- Appends text at the end of the buffer, continuing its last line.
local function write(bufnr, text)
  if text == '' then
    return
  end
  local last = vim.api.nvim_buf_line_count(bufnr) - 1
  local tail = vim.api.nvim_buf_get_lines(bufnr, last, last + 1, false)[1] or ''
  vim.api.nvim_buf_set_text(bufnr, last, #tail, last, #tail, vim.split(text, '\n', { plain = true }))
  mid_line[bufnr] = not vim.endswith(text, '\n')
  follow(bufnr)
end

--- Appends whole lines, starting on a fresh line.
local function lines(bufnr, ...)
  local text = table.concat({ ... }, '\n') .. '\n'
  if mid_line[bufnr] then
    text = '\n' .. text
  end
  write(bufnr, text)
end

--- The first line of a tool's output, shortened for a one-line summary.
local function first_line(text)
  local line = (text or ''):match('^[^\n]*') or ''
  if #line > 100 then
    line = line:sub(1, 97) .. '...'
  end
  return line
end

local function describe_call(update)
  if update.title then
    -- An ACP agent's call: its kind and its own words for it.
    return ('▸ `%s` %s'):format(update.tool, update.title)
  end
  local args = update.args or {}
  local detail = args.path or args.command or args.pattern
  if type(detail) == 'table' then
    detail = table.concat(detail, ' ')
  end
  if update.tool == 'apply_patch' and type(args.input) == 'string' then
    local files = {}
    for file in args.input:gmatch('%*%*%* %a+ File: ([^\n]+)') do
      table.insert(files, file)
    end
    detail = table.concat(files, ', ')
  end
  return ('▸ `%s` %s'):format(update.tool, detail or '')
end

--- Puts the task's prompt at the top of its output. Updates that overtook the startTask
--- reply stay below it; `reset` clears the buffer first (to replay the event log).
---@param task agentls.Task
---@param reset boolean?
function M.begin(task, reset)
  local bufnr = buffer_for(task.id)
  local header = { ('# %s: %s'):format(task.mode == 'ask' and 'Ask' or 'Agent', task.prompt), '', '' }
  local empty = vim.api.nvim_buf_line_count(bufnr) == 1 and vim.api.nvim_buf_get_lines(bufnr, 0, 1, false)[1] == ''
  if reset or empty then
    vim.api.nvim_buf_set_lines(bufnr, 0, -1, false, header)
    mid_line[bufnr] = false
  else
    vim.api.nvim_buf_set_lines(bufnr, 0, 0, false, header)
  end
end

--- Marks where a follow-up turn starts: its prompt, then the turn's updates below.
---@param task_id string
---@param prompt string
function M.follow_up(task_id, prompt)
  local bufnr = buffer_for(task_id)
  lines(bufnr, '', '## Follow-up: ' .. prompt, '')
end

--- Renders one `agent/taskUpdate` into the task's buffer.
---@param task_id string
---@param update table
function M.append(task_id, update)
  local bufnr = buffer_for(task_id)
  local kind = update.kind
  if kind == 'message' then
    write(bufnr, update.delta or '')
  elseif kind == 'toolCall' and update.status == 'running' then
    lines(bufnr, describe_call(update))
  elseif kind == 'toolResult' then
    lines(bufnr, ('  %s %s'):format(update.ok and '✓' or '✗', first_line(update.output)))
  elseif kind == 'plan' then
    local plan = {}
    for _, item in ipairs(update.plan or {}) do
      local box = item.status == 'completed' and '[x]' or (item.status == 'in_progress' and '[~]' or '[ ]')
      table.insert(plan, ('- %s %s'):format(box, item.step))
    end
    lines(bufnr, unpack(plan))
  elseif kind == 'agentSession' then
    lines(bufnr, ('▸ agent `%s`%s, %s session'):format(update.agent, update.agentInfo and (' (' .. update.agentInfo .. ')') or '', update.resumed and 'resumed' or 'new'))
  elseif kind == 'error' then
    lines(bufnr, ('! %s%s'):format(update.message, update.willRetry and ' (retrying)' or ''))
  elseif kind == 'finished' then
    -- The summary is usually the reply just streamed; repeat it only when it is news.
    local summary = update.summary
    if summary and M.text(task_id):find(summary, 1, true) then
      summary = nil
    end
    lines(bufnr, '', ('— %s%s'):format(update.status, summary and (': ' .. summary) or ''))
  end
end

--- The text shown so far for a task (tests and :AgentTasks read it).
---@param task_id string
---@return string
function M.text(task_id)
  local bufnr = buffers[task_id]
  if not bufnr or not vim.api.nvim_buf_is_valid(bufnr) then
    return ''
  end
  return table.concat(vim.api.nvim_buf_get_lines(bufnr, 0, -1, false), '\n')
end

--- Wipes the output buffer of a task that is gone.
---@param task_id string
function M.forget(task_id)
  local bufnr = buffers[task_id]
  buffers[task_id] = nil
  if bufnr and vim.api.nvim_buf_is_valid(bufnr) then
    mid_line[bufnr] = nil
    vim.api.nvim_buf_delete(bufnr, { force = true })
  end
end

--- Whether the task already has an output buffer.
function M.has(task_id)
  local bufnr = buffers[task_id]
  return bufnr ~= nil and vim.api.nvim_buf_is_valid(bufnr)
end

--- Shows the task's output as configured, unless a window already shows it. The split
--- leaves the cursor where it was; a float takes focus (`q` closes it).
---@param task_id string
function M.show(task_id)
  local bufnr = buffer_for(task_id)
  local how = config.options.output
  if how == 'none' or #vim.fn.win_findbuf(bufnr) > 0 then
    return
  end
  if how == 'float' then
    local width = math.floor(vim.o.columns * 0.8)
    local height = math.floor(vim.o.lines * 0.6)
    vim.api.nvim_open_win(bufnr, true, {
      relative = 'editor',
      width = width,
      height = height,
      row = math.floor((vim.o.lines - height) / 2),
      col = math.floor((vim.o.columns - width) / 2),
      border = 'rounded',
      title = ' agentls ',
    })
  else
    local previous = vim.api.nvim_get_current_win()
    vim.cmd(('botright %dsplit'):format(config.options.output_height))
    vim.api.nvim_win_set_buf(0, bufnr)
    vim.wo.wrap = true
    vim.api.nvim_set_current_win(previous)
  end
  follow(bufnr)
end

return M
