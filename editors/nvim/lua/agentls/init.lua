-- agentls for Neovim: `require("agentls").setup({...})` starts the agentls language server
-- for each workspace and adds the :Agent* commands and ]h / [h. All review logic lives in the
-- server; this plugin forwards requests and draws what the server says. See :h agentls.

local config = require('agentls.config')
local lsp = require('agentls.lsp')
local state = require('agentls.state')
local hunks = require('agentls.hunks')
local tasks = require('agentls.tasks')
local task_list = require('agentls.task_list')
local approval = require('agentls.approval')
local edit = require('agentls.edit')
local attempts = require('agentls.attempts')

local M = {}

--- The open hunks drawn in a buffer, in document order, with their current first line
--- (1-based). For statuslines and scripts.
---@param bufnr integer?
---@return {task_id: string, hunk_id: string, status: string, lnum: integer}[]
function M.hunks(bufnr)
  bufnr = bufnr or vim.api.nvim_get_current_buf()
  local list = {}
  for _, placed in ipairs(hunks.placed(bufnr)) do
    local anchor = placed.anchor
    table.insert(list, {
      task_id = anchor.task_id,
      hunk_id = anchor.hunk.hunkId,
      status = anchor.hunk.status,
      lnum = placed.row + 1,
    })
  end
  return list
end

--- The selected lines as an `agent/startTask` context entry, or nil without a range.
local function context(opts)
  local bufnr = vim.api.nvim_get_current_buf()
  if opts.range == 0 or not lsp.is_file_buffer(bufnr) then
    return nil
  end
  -- Whole lines: the end is the start of the line after the selection (the server clamps
  -- a position past the last line), so no column needs converting between encodings.
  return {
    {
      uri = vim.uri_from_bufnr(bufnr),
      range = { start = { line = opts.line1 - 1, character = 0 }, ['end'] = { line = opts.line2, character = 0 } },
    },
  }
end

--- The hunks (with a status in `statuses`) a command means: the one under the cursor, those
--- in its range, or with `!` every one in the buffer.
---@param opts {range: integer, line1: integer, line2: integer, bang: boolean}
---@param statuses table<string, boolean>?
---@return agentls.OpenHunk[]
local function targets(opts, statuses)
  local bufnr = vim.api.nvim_get_current_buf()
  local first, last
  if opts.bang then
    first, last = 0, math.huge
  elseif opts.range > 0 then
    first, last = opts.line1 - 1, opts.line2 - 1
  else
    local row = vim.api.nvim_win_get_cursor(0)[1] - 1
    first, last = row, row
  end
  return hunks.between(bufnr, first, last, statuses)
end

--- Accepts or rejects the hunks the command means; a rejection may carry a reason (the
--- command's arguments).
---@param action "accept"|"reject"
---@param opts {range: integer, line1: integer, line2: integer, bang: boolean, args: string}
function M.resolve(action, opts)
  local found = targets(opts)
  if #found == 0 then
    vim.notify('agentls: no pending hunk here (]h goes to the next one)', vim.log.levels.INFO)
    return
  end
  local reason = vim.trim(opts.args or '')
  tasks.resolve(action, found, vim.api.nvim_get_current_buf(), reason ~= '' and reason or nil)
end

--- Opens the pending hunk under the cursor for editing; writing the edit buffer accepts
--- the user's version.
---@param opts {range: integer, line1: integer, line2: integer, bang: boolean}
function M.edit(opts)
  local found = targets(opts)[1]
  if not found then
    vim.notify('agentls: no pending hunk here (]h goes to the next one)', vim.log.levels.INFO)
    return
  end
  if found.hunk.status ~= 'pending' then
    local next_step = found.hunk.status == 'stale' and ':AgentRefresh it first' or 'decide the hunk it conflicts with first'
    vim.notify(('agentls: this hunk is %s; %s'):format(found.hunk.status, next_step), vim.log.levels.WARN)
    return
  end
  edit.open(found, vim.api.nvim_get_current_buf())
end

--- Undoes accepted hunks: every one of task `opts.args`, else those the command means.
---@param opts {range: integer, line1: integer, line2: integer, bang: boolean, args: string}
function M.undo(opts)
  local found
  if opts.args ~= '' then
    local task = state.tasks[opts.args]
    if not task then
      vim.notify(('agentls: no task %s in this editor (:AgentTasks lists them)'):format(opts.args), vim.log.levels.ERROR)
      return
    end
    found = state.task_hunks(task, state.undoable_status)
  else
    found = targets(opts, state.undoable_status)
  end
  if #found == 0 then
    vim.notify('agentls: no accepted hunk here to undo', vim.log.levels.INFO)
    return
  end
  tasks.undo(found, vim.api.nvim_get_current_buf())
end

--- Re-places stale hunks: those of task `id`, else of every task with one in this buffer.
---@param id string
function M.refresh_stale(id)
  local ids = {}
  if id ~= '' then
    ids = { id }
  else
    for _, entry in ipairs(state.open_hunks(vim.uri_from_bufnr(0), { stale = true })) do
      if not vim.tbl_contains(ids, entry.task_id) then
        table.insert(ids, entry.task_id)
      end
    end
  end
  if #ids == 0 then
    vim.notify('agentls: no stale hunks in this buffer', vim.log.levels.INFO)
    return
  end
  for _, task_id in ipairs(ids) do
    local task = state.tasks[task_id]
    if task then
      tasks.refresh_stale(task)
    else
      vim.notify(('agentls: no task %s in this editor (:AgentTasks lists them)'):format(task_id), vim.log.levels.ERROR)
    end
  end
end

--- The task a command means: the one on the cursor's line of the :AgentTasks list, else
--- the one of the hunk under the cursor, else the one last started, imported, forked or
--- opened from the list.
---@return agentls.Task?
local function current_task()
  local listed = task_list.task_at_cursor()
  if listed then
    return listed
  end
  local row = vim.api.nvim_win_get_cursor(0)[1] - 1
  local here = hunks.between(vim.api.nvim_get_current_buf(), row, row, state.drawn_status)[1]
  local id = here and here.task_id or state.focused
  return id and state.tasks[id]
end

--- Task `id` of this editor, or with no id the task the command means.
---@param id string
---@return agentls.Task?
local function task_for(id)
  if id ~= '' then
    return state.tasks[id]
  end
  return current_task()
end

--- Follows up on (resumes) the task the command means.
---@param prompt string
function M.follow_up(prompt)
  local task = current_task()
  if not task then
    vim.notify('agentls: no task to follow up; start one with :Agent {prompt}', vim.log.levels.INFO)
    return
  end
  tasks.follow_up(task, prompt)
end

--- Forks the task the command means at model turn `turn` ('' : at its end).
---@param turn string
function M.fork(turn)
  local at_turn = turn ~= '' and tonumber(turn) or nil
  if turn ~= '' and not (at_turn and at_turn >= 1 and at_turn % 1 == 0) then
    vim.notify(('agentls: :AgentFork takes a turn number (1, 2, …), not %q'):format(turn), vim.log.levels.ERROR)
    return
  end
  local task = current_task()
  if not task then
    vim.notify('agentls: no task to fork; :AgentTasks lists them', vim.log.levels.INFO)
    return
  end
  tasks.fork(task, at_turn, task_list.reload)
end

--- Deletes task `id`, else the task the command means, once the user confirms.
---@param id string
function M.delete(id)
  local task = task_for(id)
  if not task then
    local what = id ~= '' and ('no task %s in this editor'):format(id) or 'no task to delete'
    vim.notify(('agentls: %s (:AgentTasks lists them)'):format(what), vim.log.levels.INFO)
    return
  end
  task_list.delete(task)
end

--- Shows the attempts of task `id`, else of the task the command means.
---@param id string
function M.attempts(id)
  local task = task_for(id)
  if not task then
    local what = id ~= '' and ('no task %s in this editor'):format(id) or 'no task'
    vim.notify(('agentls: %s; :AgentBestOf {n} {prompt} starts one with attempts'):format(what), vim.log.levels.INFO)
    return
  end
  attempts.show(task)
end

--- Starts a task that runs `n` attempts side by side (the first word of `args`).
---@param args string `{n} {prompt}`
function M.best_of(args)
  local n, prompt = args:match('^%s*(%d+)%s+(.+)$')
  n = tonumber(n)
  if not n or n < 2 or n > 8 then
    vim.notify('agentls: :AgentBestOf takes a number of attempts (2 to 8), then the prompt', vim.log.levels.ERROR)
    return
  end
  tasks.start({ prompt = prompt, mode = 'code', bestOf = n })
end

local function task_ids()
  local ids = {}
  for i = #state.order, 1, -1 do
    table.insert(ids, state.order[i])
  end
  return ids
end

--- Splits `--agent=NAME` (or `--agent NAME`) off the front of a command's arguments.
---@param args string
---@return string? agent, string prompt
function M.parse_agent(args)
  local agent, rest = args:match('^%s*%-%-agent[=%s]+(%S+)%s*(.*)$')
  if agent then
    return agent, rest
  end
  return nil, args
end

--- Completes `--agent=NAME` from the server's `agent/listAgents`.
local function complete_agent(arglead)
  if not ('--agent='):find(arglead, 1, true) and not arglead:find('^%-%-agent=') then
    return {}
  end
  local client = vim.lsp.get_clients({ bufnr = 0, name = 'agentls' })[1]
  local reply = client and client:request_sync('agent/listAgents', {}, 2000, 0)
  local names = {}
  for _, agent in ipairs(reply and reply.result and reply.result.agents or {}) do
    local word = '--agent=' .. agent.name
    if word:find(arglead, 1, true) == 1 then
      table.insert(names, word)
    end
  end
  return names
end

--- `:Agent` and `:AgentAsk`: the task, with the agent `--agent=NAME` names.
local function start_command(mode)
  return function(opts)
    local agent, prompt = M.parse_agent(opts.args)
    if prompt == '' then
      vim.notify('agentls: say what the agent should do after --agent=' .. agent, vim.log.levels.WARN)
      return
    end
    tasks.start({ prompt = prompt, mode = mode, context = context(opts), agent = agent })
  end
end

local function create_commands()
  local command = vim.api.nvim_create_user_command
  command('Agent', start_command('code'), {
    nargs = '+',
    range = true,
    complete = complete_agent,
    desc = 'agentls: start a task that changes code (--agent=NAME: with an ACP agent)',
  })
  command('AgentAsk', start_command('ask'), {
    nargs = '+',
    range = true,
    complete = complete_agent,
    desc = 'agentls: ask a question (read-only tools; --agent=NAME: an ACP agent)',
  })
  command('AgentCancel', function(opts)
    tasks.cancel(opts.args ~= '' and opts.args or nil)
  end, { nargs = '?', complete = task_ids, desc = 'agentls: cancel a task (default: the newest running)' })
  command('AgentTasks', task_list.show, {
    nargs = 0,
    desc = 'agentls: list the workspace’s tasks, earlier ones included, to open, follow up, fork or delete',
  })
  command('AgentAccept', function(opts)
    M.resolve('accept', opts)
  end, { range = true, bang = true, desc = 'agentls: accept the hunk under the cursor (range, or ! for the file)' })
  command('AgentReject', function(opts)
    M.resolve('reject', opts)
  end, {
    nargs = '*',
    range = true,
    bang = true,
    desc = 'agentls: reject the hunk under the cursor (range, or ! for the file), optionally saying why',
  })
  command('AgentEdit', M.edit, {
    nargs = 0,
    desc = 'agentls: edit the hunk under the cursor; :w in the edit buffer accepts your version',
  })
  command('AgentUndo', M.undo, {
    nargs = '?',
    range = true,
    bang = true,
    complete = task_ids,
    desc = 'agentls: undo the accepted hunk under the cursor (range, ! for the file, or a task id)',
  })
  command('AgentRefresh', function(opts)
    M.refresh_stale(opts.args)
  end, { nargs = '?', complete = task_ids, desc = 'agentls: re-place stale hunks on the current text' })
  command('AgentFollowUp', function(opts)
    M.follow_up(opts.args)
  end, { nargs = '+', desc = 'agentls: run another turn of (resume) the task under the cursor, or the last one' })
  command('AgentFork', function(opts)
    M.fork(opts.args)
  end, { nargs = '?', desc = 'agentls: fork the task under the cursor (or the last one) at a model turn (default: its end)' })
  command('AgentDelete', function(opts)
    M.delete(opts.args)
  end, { nargs = '?', complete = task_ids, desc = 'agentls: delete a finished task and its history' })
  command('AgentRestart', function()
    lsp.restart(vim.api.nvim_get_current_buf())
  end, { nargs = 0, desc = 'agentls: restart the workspace’s server; its tasks come back' })
  command('AgentBestOf', function(opts)
    M.best_of(opts.args)
  end, { nargs = '+', desc = 'agentls: run {n} attempts of a prompt side by side, then choose one (:AgentAttempts)' })
  command('AgentAttempts', function(opts)
    M.attempts(opts.args)
  end, {
    nargs = '?',
    complete = task_ids,
    desc = 'agentls: compare a best-of-N task’s attempts (a preview of each) and choose one',
  })
  command('AgentReview', function(opts)
    tasks.review(opts.args)
  end, {
    nargs = '?',
    desc = 'agentls: review the uncommitted changes, or those since a branch; findings become diagnostics',
  })
  command('AgentImport', function(opts)
    tasks.import(opts.args)
  end, { nargs = 1, complete = 'file', desc = 'agentls: review a diff from a file, a URL or git:REF' })
end

local function set_keymaps(bufnr)
  local keys = config.options.keymaps
  if not keys then
    return
  end
  if keys.next_hunk then
    vim.keymap.set('n', keys.next_hunk, function()
      hunks.jump(1)
    end, { buffer = bufnr, desc = 'agentls: next pending hunk' })
  end
  if keys.prev_hunk then
    vim.keymap.set('n', keys.prev_hunk, function()
      hunks.jump(-1)
    end, { buffer = bufnr, desc = 'agentls: previous pending hunk' })
  end
end

local function create_autocmds()
  local group = vim.api.nvim_create_augroup('agentls', { clear = true })
  vim.api.nvim_create_autocmd('LspAttach', {
    group = group,
    callback = function(args)
      local client = vim.lsp.get_client_by_id(args.data.client_id)
      if client and client.name == lsp.name then
        set_keymaps(args.buf)
      end
    end,
  })
  -- A file with hunks opened later: draw them, and ask the server where they are now
  -- (opening rebases them onto the buffer's text).
  vim.api.nvim_create_autocmd('BufReadPost', {
    group = group,
    callback = function(args)
      local uri = vim.uri_from_bufnr(args.buf)
      local seen = {}
      for _, entry in ipairs(state.open_hunks(uri)) do
        if not seen[entry.task_id] then
          seen[entry.task_id] = true
          tasks.schedule_refresh(entry.task_id)
        end
      end
      hunks.render(args.buf)
    end,
  })
  vim.api.nvim_create_autocmd('BufWipeout', {
    group = group,
    callback = function(args)
      hunks.forget(args.buf)
    end,
  })
  vim.api.nvim_create_autocmd('ColorScheme', { group = group, callback = hunks.define_highlights })
end

--- Configures the plugin; see :h agentls-setup for the options.
---@param opts agentls.Options?
function M.setup(opts)
  config.set(opts)
  lsp.handlers['agent/taskUpdate'] = tasks.on_update
  lsp.handlers['agent/requestApproval'] = approval.handle
  -- A server brings back the workspace's earlier tasks: list them and draw their hunks;
  -- those of a server that exited go until the next one lists them.
  lsp.on_ready = function(client)
    tasks.load_all(client)
    task_list.reload()
  end
  lsp.on_gone = function(client_id)
    tasks.forget_client(client_id)
    task_list.redraw()
  end
  tasks.on_change = task_list.redraw
  tasks.on_attempts = attempts.redraw
  hunks.define_highlights()
  create_commands()
  create_autocmds()
  if config.options.autostart then
    lsp.autostart()
  end
end

return M
