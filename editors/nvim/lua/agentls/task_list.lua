-- The :AgentTasks buffer (`agentls://tasks`): every task of the workspace's server, earlier
-- ones it loaded from the task history included, newest first, one line each with its
-- status, age and what is left to review. Keys on a line open, follow up (resume), fork
-- or delete that task; :AgentFollowUp, :AgentFork and :AgentDelete there mean it too.

local list_buffer = require('agentls.list_buffer')
local lsp = require('agentls.lsp')
local state = require('agentls.state')
local tasks = require('agentls.tasks')

local M = {}

M.name = 'agentls://tasks'

local HELP = '<CR> open · f follow up / resume · F fork ([count]F: at turn count) · d delete · R reload · q close'

local ns = vim.api.nvim_create_namespace('agentls.tasks')

-- Status → highlight of its word.
local STATUS_HL = {
  queued = 'DiagnosticInfo',
  running = 'DiagnosticInfo',
  completed = 'DiagnosticOk',
  failed = 'DiagnosticError',
  cancelled = 'Comment',
  interrupted = 'DiagnosticWarn',
}

---@type integer?
local bufnr
-- The client the list came from, and the task id of each line (1-based).
---@type integer?
local client_id
---@type table<integer, string>
local line_tasks = {}

--- How long ago `ms` (milliseconds since the epoch) was: "just now", "5 min ago", "3 days ago".
---@param ms integer?
---@param now_ms integer
---@return string
function M.age(ms, now_ms)
  if not ms then
    return ''
  end
  local minutes = math.floor((now_ms - ms) / 60000)
  if minutes < 1 then
    return 'just now'
  elseif minutes < 60 then
    return ('%d min ago'):format(minutes)
  elseif minutes < 24 * 60 then
    return ('%d h ago'):format(math.floor(minutes / 60))
  end
  local days = math.floor(minutes / (24 * 60))
  if days == 1 then
    return 'yesterday'
  elseif days < 30 then
    return ('%d days ago'):format(days)
  end
  return os.date('%Y-%m-%d', math.floor(ms / 1000)) --[[@as string]]
end

--- One line of the list.
---@param task agentls.Task
---@param now_ms integer
local function describe(task, now_ms)
  local prompt = (task.prompt or ''):match('^[^\n]*')
  if #prompt > 60 then
    prompt = prompt:sub(1, 57) .. '...'
  end
  local notes = {}
  if task.forked_from then
    local original = state.tasks[task.forked_from.taskId]
    table.insert(notes, ('fork of %s at turn %d'):format(
      original and ('“%s”'):format(original.prompt) or task.forked_from.taskId,
      task.forked_from.atTurn
    ))
  end
  local open = state.open_count(task)
  if open > 0 then
    table.insert(notes, ('%d to review'):format(open))
  end
  local line = ('%-12s %-11s %s'):format(task.status, M.age(task.finished_at or task.created_at, now_ms), prompt)
  if #notes > 0 then
    line = line .. '  (' .. table.concat(notes, ', ') .. ')'
  end
  return line
end

local function buffer()
  if bufnr and vim.api.nvim_buf_is_valid(bufnr) then
    return bufnr
  end
  bufnr = vim.api.nvim_create_buf(false, true)
  vim.api.nvim_buf_set_name(bufnr, M.name)
  vim.bo[bufnr].bufhidden = 'hide'
  vim.bo[bufnr].filetype = 'agentls-tasks'
  vim.bo[bufnr].modifiable = false
  local function map(lhs, run, desc)
    vim.keymap.set('n', lhs, run, { buffer = bufnr, nowait = true, desc = 'agentls: ' .. desc })
  end
  map('<CR>', M.open_line, 'open the task')
  map('f', M.follow_up_line, 'follow up on (resume) the task')
  map('F', function()
    M.fork_line(vim.v.count > 0 and vim.v.count or nil)
  end, 'fork the task (at turn [count])')
  map('d', M.delete_line, 'delete the task')
  map('R', M.reload, 'reload the task list')
  map('q', '<cmd>close<cr>', 'close the task list')
  return bufnr
end

---@param list agentls.Task[]
local function render(list)
  local buf = buffer()
  local now_ms = os.time() * 1000
  local lines = { ('agentls tasks: %s'):format(HELP) }
  line_tasks = {}
  for _, task in ipairs(list) do
    table.insert(lines, describe(task, now_ms))
    line_tasks[#lines] = task.id
  end
  if #list == 0 then
    table.insert(lines, 'No tasks yet; start one with :Agent {prompt}')
  end
  list_buffer.redraw(buf, ns, lines)
  for row, id in pairs(line_tasks) do
    local status = state.tasks[id].status
    vim.api.nvim_buf_set_extmark(buf, ns, row - 1, 0, { end_col = #status, hl_group = STATUS_HL[status] or 'Normal' })
  end
end

--- The window showing the list, if any.
local function window()
  if bufnr and vim.api.nvim_buf_is_valid(bufnr) then
    return vim.fn.win_findbuf(bufnr)[1]
  end
end

--- Redraws the shown list from what the plugin knows (a status changed, hunks were
--- decided), without asking the server.
function M.redraw()
  if not window() then
    return
  end
  local list = {}
  for row = 2, vim.api.nvim_buf_line_count(bufnr) do
    local task = line_tasks[row] and state.tasks[line_tasks[row]]
    if task then
      table.insert(list, task)
    end
  end
  render(list)
end

--- Lists the tasks of the current buffer's workspace in the task list, shown in a split.
function M.show()
  lsp.with_client(vim.api.nvim_get_current_buf(), function(client)
    client_id = client.id
    tasks.list(client, function(list)
      render(list)
      local win = window()
      if win then
        vim.api.nvim_set_current_win(win)
      else
        vim.cmd(('botright %dsplit'):format(math.min(#list + 2, 15)))
        vim.api.nvim_win_set_buf(0, buffer())
      end
      vim.api.nvim_win_set_cursor(0, { math.min(2, vim.api.nvim_buf_line_count(buffer())), 0 })
    end)
  end)
end

--- Lists the tasks again if the list is shown (after a fork, a delete, a restart).
function M.reload()
  local client = client_id and lsp.client(client_id) or lsp.client()
  if not (window() and client) then
    return
  end
  client_id = client.id
  tasks.list(client, render)
end

--- The task on the cursor's line of the list, or nil elsewhere.
---@return agentls.Task?
function M.task_at_cursor()
  if vim.api.nvim_get_current_buf() ~= bufnr then
    return nil
  end
  local id = line_tasks[vim.api.nvim_win_get_cursor(0)[1]]
  return id and state.tasks[id]
end

local function line_task()
  local task = M.task_at_cursor()
  if not task then
    vim.notify('agentls: put the cursor on a task’s line', vim.log.levels.INFO)
  end
  return task
end

--- Opens the task of the line in the window the list was opened from.
function M.open_line()
  local task = line_task()
  if not task then
    return
  end
  vim.cmd.wincmd('p')
  if vim.api.nvim_get_current_buf() == bufnr then
    vim.cmd('aboveleft new')
  end
  tasks.open(task)
end

--- Asks for a follow-up of the line's task; for an interrupted one that resumes it.
function M.follow_up_line()
  local task = line_task()
  if not task then
    return
  end
  local verb = task.status == 'interrupted' and 'Resume' or 'Follow up on'
  vim.ui.input({ prompt = ('%s “%s”: '):format(verb, task.prompt) }, function(text)
    if text and vim.trim(text) ~= '' then
      tasks.follow_up(task, text)
    end
  end)
end

---@param at_turn integer?
function M.fork_line(at_turn)
  local task = line_task()
  if task then
    tasks.fork(task, at_turn, M.reload)
  end
end

function M.delete_line()
  local task = line_task()
  if task then
    M.delete(task)
  end
end

--- Deletes a task once the user confirms: its hunks and history go for good.
---@param task agentls.Task
function M.delete(task)
  local open = state.open_count(task)
  local question = ('Delete the task “%s”%s? Its history goes for good; what you accepted stays.'):format(
    task.prompt,
    open > 0 and (' and its %d hunk%s to review'):format(open, open == 1 and '' or 's') or ''
  )
  if vim.fn.confirm(question, '&Delete\n&Keep', 2) == 1 then
    tasks.delete(task, M.reload)
  end
end

return M
