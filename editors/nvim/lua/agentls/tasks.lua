-- Tasks from the editor's side: starting and following them up, following their
-- `agent/taskUpdate` notifications, refetching the proposal (page by page) when its hunks
-- may have moved or changed status, and sending the user's decisions: accept, reject with
-- a reason, undo an accept, re-place stale hunks, choose one of a best-of-N task's
-- attempts. Also the task history: listing a server's tasks (it brings back the
-- workspace's earlier ones), forking and deleting.

local lsp = require('agentls.lsp')
local state = require('agentls.state')
local hunks = require('agentls.hunks')
local output = require('agentls.output')

local M = {}

--- Hunks per `agent/getProposal` page; nil leaves it to the server (5000). The e2e test
--- sets it small so that every fetch pages.
---@type integer?
M.page_limit = nil

--- Called after a task's status or hunks changed here (the task list redraws).
---@type fun()?
M.on_change = nil

--- Called after a best-of-N task's attempts changed (one finished, one was chosen).
---@type fun(task: agentls.Task)?
M.on_attempts = nil

local function changed()
  if M.on_change then
    M.on_change()
  end
end

-- Update kinds after which the proposal on the server differs from our copy.
local REFETCH = { proposal = true, hunks = true, finished = true, attemptChosen = true }

-- Tasks with a getProposal already scheduled, so a burst of updates costs one request.
---@type table<string, boolean>
local scheduled = {}

local function uris_of(task)
  local uris = {}
  for _, file in ipairs(task.files) do
    table.insert(uris, file.uri)
  end
  return uris
end

--- Fetches a whole proposal, following `nextCursor` to the last page: the task's, or with
--- `attempt` that attempt's hunks as choosing it would place them (a preview). A file that
--- goes on over a page boundary comes back once, its hunks in order. When the task's hunks
--- change between two pages (a follow-up finished), the server refuses the old cursor and
--- the listing starts over.
---@param client vim.lsp.Client
---@param task_id string
---@param attempt integer?
---@param on_done fun(files: agentls.File[])
function M.fetch(client, task_id, attempt, on_done)
  local files, by_uri = {}, {}
  local restarts = 0
  local page
  local function changed_meanwhile(err)
    local message = err.message or ''
    if restarts >= 3 or not message:find('start again without a cursor', 1, true) then
      return false
    end
    restarts = restarts + 1
    files, by_uri = {}, {}
    page(nil)
    return true
  end
  function page(cursor)
    local params = { taskId = task_id, cursor = cursor, limit = M.page_limit, attempt = attempt }
    lsp.request(client, 'agent/getProposal', params, function(result)
      for _, file in ipairs(result.files or {}) do
        local seen = by_uri[file.uri]
        if seen then
          vim.list_extend(seen.hunks, file.hunks or {})
        else
          file.hunks = file.hunks or {}
          by_uri[file.uri] = file
          table.insert(files, file)
        end
      end
      local next_cursor = result.nextCursor
      if next_cursor and next_cursor == cursor then
        vim.notify('agentls: the server sent the same proposal page twice; showing what arrived', vim.log.levels.WARN)
        next_cursor = nil
      end
      if next_cursor then
        page(next_cursor)
      else
        on_done(files)
      end
    end, nil, cursor and changed_meanwhile or nil)
  end
  page(nil)
end

--- Fetches a task's proposal and redraws the buffers it touches (before and after).
---@param task_id string
---@param on_done fun()?
function M.refresh(task_id, on_done)
  local task = state.tasks[task_id]
  local client = task and lsp.client(task.client_id)
  if not client then
    return
  end
  M.fetch(client, task_id, nil, function(files)
    local before = uris_of(task)
    task.files = files
    hunks.render_uris(before)
    hunks.render_uris(uris_of(task))
    changed()
    if on_done then
      on_done()
    end
  end)
end

--- Coalesces refreshes requested within one tick of the event loop.
---@param task_id string
function M.schedule_refresh(task_id)
  if scheduled[task_id] then
    return
  end
  scheduled[task_id] = true
  vim.defer_fn(function()
    scheduled[task_id] = nil
    M.refresh(task_id)
  end, 20)
end

local function on_finished(task, update)
  task.status = update.status
  task.summary = update.summary
  changed()
  local level = update.status == 'completed' and vim.log.levels.INFO or vim.log.levels.WARN
  M.refresh(task.id, function()
    local count = state.open_count(task)
    local review = count > 0 and (' — %d hunk%s to review (]h)'):format(count, count == 1 and '' or 's') or ''
    vim.notify(('agentls: task %s%s'):format(update.status, review), level)
  end)
end

--- Keeps a best-of-N task's attempt rows and its choice as the server reports them.
---@param task agentls.Task
---@param update table an `attempt` (an AttemptInfo) or `attemptChosen` update
local function on_attempt(task, update)
  task.attempts = task.attempts or {}
  if update.kind == 'attempt' then
    local info = vim.deepcopy(update)
    info.kind = nil
    task.attempts[update.attempt] = info
  else
    task.chosen_attempt = update.attempt
  end
  changed()
  if M.on_attempts then
    M.on_attempts(task)
  end
end

--- The `agent/taskUpdate` notification handler.
function M.on_update(_, params, ctx)
  if type(params) ~= 'table' or type(params.update) ~= 'table' then
    return
  end
  local task = state.task(params.taskId, ctx.client_id)
  local update = params.update
  output.append(task.id, update)
  if update.kind == 'attempt' or update.kind == 'attemptChosen' then
    on_attempt(task, update)
  end
  if update.kind == 'status' then
    task.status = update.status
    changed()
  elseif update.kind == 'error' and not update.willRetry then
    vim.notify('agentls: ' .. update.message, vim.log.levels.ERROR)
  end
  if update.kind == 'finished' then
    on_finished(task, update)
  elseif REFETCH[update.kind] then
    M.schedule_refresh(task.id)
  end
end

--- Starts a task from the current buffer's workspace.
---@param params {prompt: string, mode: string?, context: table[]?, agent: string?, target: table?, label: string?}
function M.start(params)
  local bufnr = vim.api.nvim_get_current_buf()
  local label = params.label
  params = vim.tbl_extend('force', {}, params)
  params.label = nil -- ours, not the server's
  lsp.with_client(bufnr, function(client)
    lsp.request(client, 'agent/startTask', params, function(result)
      local task = state.task(result.taskId, client.id)
      task.prompt = label or params.prompt
      task.mode = params.mode or 'code'
      state.focused = task.id
      output.begin(task)
      output.show(task.id)
    end, bufnr)
  end)
end

--- Asks the server for a task's attempts (and which one is chosen).
---@param client vim.lsp.Client
---@param task agentls.Task
---@param on_done fun()
function M.load_attempts(client, task, on_done)
  lsp.request(client, 'agent/getTask', { taskId = task.id }, function(result)
    task.prompt = result.prompt or task.prompt
    task.attempts = result.attempts or {}
    task.chosen_attempt = result.chosenAttempt
    on_done()
  end)
end

--- Makes an attempt's hunks the task's proposal, draws them and goes to its first one
--- in the current window.
---@param task agentls.Task
---@param attempt integer
function M.choose_attempt(task, attempt)
  local client = lsp.client(task.client_id)
  if not client then
    return
  end
  lsp.request(client, 'agent/chooseAttempt', { taskId = task.id, attempt = attempt }, function()
    task.chosen_attempt = attempt
    state.focused = task.id
    M.refresh(task.id, function()
      local open = state.task_hunks(task, state.open_status)
      local count = #open
      vim.notify(('agentls: attempt %d chosen — %d hunk%s to review (]h)'):format(attempt, count, count == 1 and '' or 's'))
      local first = open[1]
      if first then
        vim.cmd.edit(vim.fn.fnameescape(vim.uri_to_fname(first.file.uri)))
        vim.api.nvim_win_set_cursor(0, { math.min(first.hunk.range.start.line + 1, vim.api.nvim_buf_line_count(0)), 0 })
      end
    end)
  end)
end

--- Starts a review of the uncommitted changes (unsaved buffers included), or with `base`
--- of the changes since that branch. Its findings arrive as `vim.diagnostic` entries
--- (source `agentls review`); `vim.lsp.buf.code_action()` on one offers "Apply fix" and
--- "Dismiss finding".
---@param base string? a branch; empty or nil: the uncommitted changes
function M.review(base)
  local target, label
  if base and base ~= '' then
    target, label = { baseBranch = base }, 'review changes since ' .. base
  else
    target, label = { uncommitted = true }, 'review uncommitted changes'
  end
  M.start({ prompt = '', mode = 'review', target = target, label = label })
end

--- Imports a diff as a task: `git:REF`, an http(s) URL, or a file path.
---@param source string
function M.import(source)
  local params
  if source:match('^git:') then
    params = { gitRef = source:sub(5) }
  elseif source:match('^https?://') then
    params = { url = source }
  else
    params = { path = vim.fn.fnamemodify(vim.fn.expand(source), ':p') }
  end
  local bufnr = vim.api.nvim_get_current_buf()
  lsp.with_client(bufnr, function(client)
    lsp.request(client, 'agent/importDiff', params, function(result)
      local task = state.task(result.taskId, client.id)
      task.prompt = 'import ' .. source
      state.focused = task.id
      -- The import runs as a task: its `finished` update says how many hunks it made.
      vim.notify(('agentls: importing %s'):format(source))
    end, bufnr)
  end)
end

--- Sends `method` once per task with the hunk ids of that task's entries; `on_result`
--- sees each answer before the task's proposal is refetched.
---@param method string
---@param entries agentls.OpenHunk[]
---@param params_for fun(task_id: string, ids: string[]): table
---@param on_result fun(result: table, task_id: string)
---@param bufnr integer?
local function per_task(method, entries, params_for, on_result, bufnr)
  local by_task = {}
  for _, entry in ipairs(entries) do
    by_task[entry.task_id] = by_task[entry.task_id] or {}
    table.insert(by_task[entry.task_id], entry.hunk.hunkId)
  end
  for task_id, ids in pairs(by_task) do
    local task = state.tasks[task_id]
    local client = task and lsp.client(task.client_id)
    if client then
      lsp.request(client, method, params_for(task_id, ids), function(result)
        on_result(result or {}, task_id)
        M.refresh(task_id)
      end, bufnr)
    end
  end
end

local function unresolved(hunk)
  local why = hunk.reason
  if hunk.conflictsWith then
    why = 'resolve ' .. state.describe_hunk(hunk.conflictsWith) .. ' first'
  end
  return ('agentls: hunk not applied, it is %s%s'):format(hunk.status, why and (': ' .. why) or '')
end

--- Asks the server to accept or reject hunks, one request per task. `reason` (reject
--- only) tells a follow-up turn why.
---@param action "accept"|"reject"
---@param entries agentls.OpenHunk[]
---@param bufnr integer
---@param reason string?
function M.resolve(action, entries, bufnr, reason)
  per_task('agent/resolveHunks', entries, function(task_id, ids)
    return { taskId = task_id, [action] = ids, reason = action == 'reject' and reason or nil }
  end, function(result)
    for _, hunk in ipairs(result.hunks or {}) do
      if hunk.status == 'stale' or hunk.status == 'conflict' then
        vim.notify(unresolved(hunk), vim.log.levels.WARN)
      end
    end
  end, bufnr)
end

--- Takes back accepted hunks: the server reverts them with an edit (or on disk for a file
--- that is not open) and they are pending again. Refusals are shown with their reason.
---@param entries agentls.OpenHunk[]
---@param bufnr integer?
function M.undo(entries, bufnr)
  per_task('agent/undoHunks', entries, function(task_id, ids)
    return { taskId = task_id, hunkIds = ids }
  end, function(result, task_id)
    for _, refusal in ipairs(result.refused or {}) do
      local hunk = state.describe_hunk({ taskId = task_id, hunkId = refusal.hunkId })
      vim.notify(('agentls: %s not undone: %s'):format(hunk, refusal.reason), vim.log.levels.WARN)
    end
  end, bufnr)
end

--- Re-places a task's stale hunks on the current text (a 3-way merge on the server) and
--- says how many came back as pending.
---@param task agentls.Task
function M.refresh_stale(task)
  local client = lsp.client(task.client_id)
  if not client then
    return
  end
  lsp.request(client, 'agent/refreshProposal', { taskId = task.id }, function(result)
    local placed, still = 0, {}
    for _, hunk in ipairs(result.hunks or {}) do
      if hunk.status == 'pending' then
        placed = placed + 1
      else
        table.insert(still, hunk.reason or hunk.status)
      end
    end
    local message = ('agentls: %d stale hunk%s re-placed'):format(placed, placed == 1 and '' or 's')
    if #still > 0 then
      message = ('%s; %d still stale: %s'):format(message, #still, table.concat(still, '; '))
    end
    vim.notify(message, #still > 0 and vim.log.levels.WARN or vim.log.levels.INFO)
    M.refresh(task.id)
  end)
end

--- Runs another turn of a finished task with `prompt`; its output streams into the same
--- buffer and its new hunks replace the task's undecided ones.
---@param task agentls.Task
---@param prompt string
function M.follow_up(task, prompt)
  local client = lsp.client(task.client_id)
  if not client then
    return
  end
  lsp.request(client, 'agent/followUp', { taskId = task.id, prompt = prompt }, function()
    task.status = 'running'
    state.focused = task.id
    output.follow_up(task.id, prompt)
    output.show(task.id)
  end)
end

--- Cancels a task (the newest running one when no id is given).
---@param task_id string?
function M.cancel(task_id)
  local task = task_id and state.tasks[task_id] or state.latest_running()
  if not task then
    vim.notify('agentls: no running task to cancel', vim.log.levels.INFO)
    return
  end
  local client = lsp.client(task.client_id)
  if client then
    lsp.request(client, 'agent/cancelTask', { taskId = task.id }, function()
      vim.notify('agentls: cancelled ' .. task.id)
    end)
  end
end

--- Rebuilds the output of a task this editor did not start (or whose buffer was wiped)
--- from the server's event log.
local function replay(client, task)
  lsp.request(client, 'agent/getTask', { taskId = task.id }, function(result)
    task.prompt = result.prompt or task.prompt
    task.mode = result.mode or task.mode
    output.begin(task, true)
    for _, event in ipairs(result.events or {}) do
      output.append(task.id, event.update)
    end
    output.show(task.id)
  end)
end

--- Opens a task: its output, and its first open hunk.
---@param task agentls.Task
function M.open(task)
  local client = lsp.client(task.client_id)
  if not client then
    return
  end
  state.focused = task.id
  if output.has(task.id) then
    output.show(task.id)
  else
    replay(client, task)
  end
  M.refresh(task.id, function()
    if state.open_count(task) > 0 then
      hunks.jump(1)
    end
  end)
end

--- Asks the client's server for its tasks (earlier ones it loaded from the task history
--- included) and takes them in; `on_list` gets them newest first.
---@param client vim.lsp.Client
---@param on_list fun(list: agentls.Task[])
function M.list(client, on_list)
  lsp.request(client, 'agent/listTasks', {}, function(result)
    local list = {}
    for _, summary in ipairs(result.tasks or {}) do
      table.insert(list, state.adopt(summary, client.id))
    end
    table.sort(list, function(a, b)
      return (a.created_at or 0) > (b.created_at or 0)
    end)
    on_list(list)
  end)
end

--- Loads a new server's tasks and draws their hunks: on start and after a restart, the
--- server brings back the workspace's earlier tasks with the decisions made on them.
---@param client vim.lsp.Client
function M.load_all(client)
  M.list(client, function(list)
    for _, task in ipairs(list) do
      M.refresh(task.id)
    end
  end)
end

--- Forgets the tasks of a server that exited and takes their hunks off the buffers; the
--- next server lists them again.
---@param client_id integer
function M.forget_client(client_id)
  local uris = {}
  for id, task in pairs(state.tasks) do
    if task.client_id == client_id then
      vim.list_extend(uris, state.forget(id))
    end
  end
  hunks.render_uris(uris)
end

--- Forks a finished task at model turn `at_turn` (nil: at its end): a new task with the
--- conversation up to there and the hunks still undecided then, ready for :AgentFollowUp.
---@param task agentls.Task
---@param at_turn integer?
---@param on_done fun(fork: agentls.Task)?
function M.fork(task, at_turn, on_done)
  local client = lsp.client(task.client_id)
  if not client then
    return
  end
  lsp.request(client, 'agent/forkTask', { taskId = task.id, atTurn = at_turn }, function(result)
    state.focused = result.taskId
    vim.notify(('agentls: forked “%s”%s as %s; :AgentFollowUp takes it on'):format(
      task.prompt,
      at_turn and (' at turn %d'):format(at_turn) or '',
      result.taskId
    ))
    -- The list brings the fork's summary (its prompt, turns, origin).
    M.list(client, function()
      local fork = state.task(result.taskId, client.id)
      M.refresh(fork.id, on_done and function()
        on_done(fork)
      end)
    end)
  end)
end

--- Deletes a finished task on the server (its hunks, its history) and here.
---@param task agentls.Task
---@param on_done fun()?
function M.delete(task, on_done)
  local client = lsp.client(task.client_id)
  if not client then
    return
  end
  lsp.request(client, 'agent/deleteTask', { taskId = task.id }, function()
    hunks.render_uris(state.forget(task.id))
    if state.focused == task.id then
      state.focused = nil
    end
    output.forget(task.id)
    vim.notify(('agentls: deleted “%s”'):format(task.prompt))
    if on_done then
      on_done()
    end
  end)
end

return M
