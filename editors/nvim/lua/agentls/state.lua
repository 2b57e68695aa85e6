-- What the plugin knows about tasks: their status and the last proposal fetched from the
-- server. The server owns the truth (hunk ranges are rebased there as the user types);
-- this is a cache refreshed by agent/getProposal, read by the renderer and the commands.

local M = {}

---@class agentls.Hunk
---@field hunkId string
---@field range {start: {line: integer, character: integer}, ['end']: {line: integer, character: integer}}
---@field oldText string
---@field newText string
---@field status "pending"|"accepted"|"rejected"|"stale"|"conflict"
---@field reason string?
---@field currentText string? a stale or conflict hunk: what its range holds now
---@field conflictsWith {taskId: string, hunkId: string}? the other task's hunk it overlaps
---@field proposedText string? accepted with the user's own text (`newText`): what the task proposed

---@class agentls.File
---@field uri string
---@field kind "modify"|"create"|"delete"|"rename"
---@field newUri string? where a rename moves the file
---@field hunks agentls.Hunk[]

---@class agentls.Task
---@field id string
---@field client_id integer
---@field prompt string
---@field mode string
---@field status string
---@field summary string?
---@field files agentls.File[]
---@field created_at integer? milliseconds since the epoch (from agent/listTasks)
---@field finished_at integer?
---@field turns integer? model turns so far: what a fork's turn counts
---@field forked_from {taskId: string, atTurn: integer}? set on a task made by agent/forkTask
---@field attempts table[]? a best-of-N task's attempts (AttemptInfo), by number
---@field chosen_attempt integer? the attempt whose hunks are the proposal

---@type table<string, agentls.Task>
M.tasks = {}

-- Task ids in the order this editor learned about them (newest last).
---@type string[]
M.order = {}

-- The task the user last started, imported, forked or opened: what :AgentFollowUp continues when
-- the cursor is on no hunk.
---@type string?
M.focused = nil

--- Hunks still waiting for the user; accepted and rejected ones are history.
M.open_status = { pending = true, stale = true, conflict = true }

--- Hunks the user may take back with :AgentUndo.
M.undoable_status = { accepted = true }

--- Hunks drawn in buffers: the open ones and the undoable ones.
M.drawn_status = vim.tbl_extend('force', M.open_status, M.undoable_status)

---@param id string
---@param client_id integer
---@return agentls.Task
function M.task(id, client_id)
  local task = M.tasks[id]
  if not task then
    task = { id = id, client_id = client_id, prompt = '', mode = 'code', status = 'queued', files = {} }
    M.tasks[id] = task
    table.insert(M.order, id)
  end
  return task
end

--- Takes in what agent/listTasks says about a task (its client may be a new one, after a
--- restart).
---@param summary table a TaskSummary
---@param client_id integer
---@return agentls.Task
function M.adopt(summary, client_id)
  local task = M.task(summary.taskId, client_id)
  task.client_id = client_id
  task.prompt = summary.prompt or task.prompt
  task.mode = summary.mode or task.mode
  task.status = summary.status or task.status
  task.summary = summary.summary
  task.created_at = summary.createdAt
  task.finished_at = summary.finishedAt
  task.turns = summary.turns
  task.forked_from = summary.forkedFrom
  return task
end

--- Forgets a task (deleted, or its server gone); returns the files it had hunks in.
---@param id string
---@return string[] uris
function M.forget(id)
  local task = M.tasks[id]
  if not task then
    return {}
  end
  M.tasks[id] = nil
  for i, known in ipairs(M.order) do
    if known == id then
      table.remove(M.order, i)
      break
    end
  end
  return vim.tbl_map(function(file)
    return file.uri
  end, task.files)
end

---@class agentls.OpenHunk
---@field task_id string
---@field hunk agentls.Hunk
---@field file agentls.File

--- The hunks of one file whose status is in `statuses` (default: the open ones), across
--- tasks, in document order.
---@param uri string
---@param statuses table<string, boolean>?
---@return agentls.OpenHunk[]
function M.open_hunks(uri, statuses)
  statuses = statuses or M.open_status
  local found = {}
  for _, id in ipairs(M.order) do
    for _, file in ipairs(M.tasks[id].files) do
      if file.uri == uri then
        for _, hunk in ipairs(file.hunks) do
          if statuses[hunk.status] then
            table.insert(found, { task_id = id, hunk = hunk, file = file })
          end
        end
      end
    end
  end
  table.sort(found, function(a, b)
    local x, y = a.hunk.range.start, b.hunk.range.start
    return x.line < y.line or (x.line == y.line and x.character < y.character)
  end)
  return found
end

--- Every file URI with open hunks, sorted.
---@return string[]
function M.files_with_open_hunks()
  local seen, uris = {}, {}
  for _, task in pairs(M.tasks) do
    for _, file in ipairs(task.files) do
      if not seen[file.uri] then
        for _, hunk in ipairs(file.hunks) do
          if M.open_status[hunk.status] then
            seen[file.uri] = true
            table.insert(uris, file.uri)
            break
          end
        end
      end
    end
  end
  table.sort(uris)
  return uris
end

--- A task's hunks whose status is in `statuses`.
---@param task agentls.Task
---@param statuses table<string, boolean>
---@return agentls.OpenHunk[]
function M.task_hunks(task, statuses)
  local found = {}
  for _, file in ipairs(task.files) do
    for _, hunk in ipairs(file.hunks) do
      if statuses[hunk.status] then
        table.insert(found, { task_id = task.id, hunk = hunk, file = file })
      end
    end
  end
  return found
end

--- How many open hunks a task has.
---@param task agentls.Task
function M.open_count(task)
  return #M.task_hunks(task, M.open_status)
end

--- A short name for a task's hunk: "hunk 3 of “capitalise five”" when this editor knows
--- the task, else the hunk id.
---@param ref {taskId: string, hunkId: string}
---@return string
function M.describe_hunk(ref)
  local task = M.tasks[ref.taskId]
  local number = ref.hunkId:match('%-(%d+)$')
  if task and task.prompt ~= '' and number then
    return ('hunk %s of “%s”'):format(number, task.prompt)
  end
  return ref.hunkId
end

--- The newest task that is still running, if any.
---@return agentls.Task?
function M.latest_running()
  for i = #M.order, 1, -1 do
    local task = M.tasks[M.order[i]]
    if task.status == 'queued' or task.status == 'running' then
      return task
    end
  end
end

return M
