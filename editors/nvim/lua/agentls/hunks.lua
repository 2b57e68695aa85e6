-- Pending hunks drawn in their buffers with extmarks, found under the cursor, and stepped
-- through with ]h / [h.
--
-- A hunk's removed lines are highlighted in place and its added lines are shown as virtual
-- lines below them, so the buffer text stays exactly what is on disk until the user
-- accepts. Each hunk gets an anchor extmark on its first line: extmarks move with the
-- user's typing, so "the hunk under the cursor" stays right between two refreshes from
-- the server.

local state = require('agentls.state')

local M = {}

M.ns = vim.api.nvim_create_namespace('agentls.hunks')

-- Per buffer: the anchors drawn by the last render.
---@class agentls.Anchor
---@field mark integer extmark id of the hunk's first line
---@field span integer lines after the first that the hunk covers
---@field task_id string
---@field hunk agentls.Hunk
---@type table<integer, agentls.Anchor[]>
local anchors = {}

local highlights = {
  AgentlsAdded = { link = 'DiffAdd' },
  AgentlsRemoved = { link = 'DiffDelete' },
  AgentlsStaleAdded = { link = 'DiffChange' },
  AgentlsHeader = { link = 'DiagnosticInfo' },
  AgentlsStale = { link = 'DiagnosticWarn' },
  AgentlsConflict = { link = 'DiagnosticError' },
  AgentlsAddedSign = { link = 'DiagnosticOk' },
  AgentlsRemovedSign = { link = 'DiagnosticError' },
}

function M.define_highlights()
  for name, spec in pairs(highlights) do
    spec.default = true
    vim.api.nvim_set_hl(0, name, spec)
  end
end

--- Lines of a hunk's new text, without the empty piece after a final newline.
---@param text string
---@return string[]
local function text_lines(text)
  if text == '' then
    return {}
  end
  local lines = vim.split(text, '\n', { plain = true })
  if lines[#lines] == '' then
    table.remove(lines)
  end
  return lines
end

--- The buffer rows a hunk's old text occupies: first row and how many more after it.
--- A pure insertion covers no rows; it is drawn above `first`.
---@param range table
---@return integer first, integer span, boolean insertion
local function rows(range)
  local s, e = range.start, range['end']
  if s.line == e.line and s.character == e.character then
    return s.line, 0, true
  end
  local last = e.line
  if e.character == 0 and e.line > s.line then
    last = e.line - 1
  end
  return s.line, last - s.line, false
end

local function header(status, index, total, reason)
  if status == 'stale' then
    return ('  agentls: stale hunk — %s'):format(reason or 'the text under it changed'), 'AgentlsStale'
  elseif status == 'conflict' then
    return '  agentls: conflicts with another task’s hunk', 'AgentlsConflict'
  end
  return ('  agentls: hunk %d/%d  :AgentAccept  :AgentReject'):format(index, total), 'AgentlsHeader'
end

local function sign_for(status)
  if status == 'stale' then
    return '~', 'AgentlsStale'
  elseif status == 'conflict' then
    return '!', 'AgentlsConflict'
  end
end

---@param bufnr integer
---@param entry agentls.OpenHunk
---@param index integer
---@param total integer
---@return agentls.Anchor
local function draw(bufnr, entry, index, total)
  local hunk = entry.hunk
  local line_count = vim.api.nvim_buf_line_count(bufnr)
  local first, span, insertion = rows(hunk.range)
  local below_end = first >= line_count
  first = math.min(first, line_count - 1)
  span = math.min(span, line_count - 1 - first)

  local text, text_hl = header(hunk.status, index, total, hunk.reason)
  local sign, sign_hl = sign_for(hunk.status)
  local mark = vim.api.nvim_buf_set_extmark(bufnr, M.ns, first, 0, {
    virt_text = { { text, text_hl } },
    virt_text_pos = 'eol',
    -- Removed rows carry their own signs; an insertion has only this one.
    sign_text = insertion and (sign or '+') or nil,
    sign_hl_group = insertion and (sign_hl or 'AgentlsAddedSign') or nil,
  })
  if not insertion then
    for row = first, first + span do
      vim.api.nvim_buf_set_extmark(bufnr, M.ns, row, 0, {
        line_hl_group = 'AgentlsRemoved',
        sign_text = row == first and (sign or '-') or '-',
        sign_hl_group = sign_hl or 'AgentlsRemovedSign',
      })
    end
  end

  local added_hl = hunk.status == 'pending' and 'AgentlsAdded' or 'AgentlsStaleAdded'
  local width = math.max(vim.o.columns, 80)
  local virt_lines = {}
  for _, line in ipairs(text_lines(hunk.newText)) do
    local shown = line:gsub('\t', string.rep(' ', vim.bo[bufnr].tabstop))
    local pad = math.max(width - vim.fn.strdisplaywidth(shown), 0)
    table.insert(virt_lines, { { shown .. string.rep(' ', pad), added_hl } })
  end
  if #virt_lines > 0 then
    local above = insertion and not below_end
    vim.api.nvim_buf_set_extmark(bufnr, M.ns, above and first or first + span, 0, {
      virt_lines = virt_lines,
      virt_lines_above = above,
    })
  end
  return { mark = mark, span = span, task_id = entry.task_id, hunk = hunk }
end

--- Redraws one buffer from the cached proposals.
---@param bufnr integer
function M.render(bufnr)
  if not vim.api.nvim_buf_is_loaded(bufnr) then
    return
  end
  vim.api.nvim_buf_clear_namespace(bufnr, M.ns, 0, -1)
  local entries = state.open_hunks(vim.uri_from_bufnr(bufnr))
  local drawn = {}
  for index, entry in ipairs(entries) do
    table.insert(drawn, draw(bufnr, entry, index, #entries))
  end
  anchors[bufnr] = drawn
end

--- Redraws every loaded buffer that a task's proposal touches (or touched).
---@param uris string[]
function M.render_uris(uris)
  for _, uri in ipairs(uris) do
    -- Not vim.uri_to_bufnr(): that would create a buffer for every file of a proposal.
    local bufnr = vim.fn.bufnr(vim.uri_to_fname(uri))
    if bufnr ~= -1 and vim.api.nvim_buf_is_loaded(bufnr) then
      M.render(bufnr)
    end
  end
end

--- The anchors of a buffer with their current first row (moved by the user's edits).
---@param bufnr integer
---@return {row: integer, anchor: agentls.Anchor}[]
function M.placed(bufnr)
  local placed = {}
  for _, anchor in ipairs(anchors[bufnr] or {}) do
    local pos = vim.api.nvim_buf_get_extmark_by_id(bufnr, M.ns, anchor.mark, {})
    if pos[1] then
      table.insert(placed, { row = pos[1], anchor = anchor })
    end
  end
  table.sort(placed, function(a, b)
    return a.row < b.row
  end)
  return placed
end

--- Open hunks whose rows overlap [first_row, last_row] (0-based, inclusive).
---@param bufnr integer
---@param first_row integer
---@param last_row integer
---@return agentls.OpenHunk[]
function M.between(bufnr, first_row, last_row)
  local found = {}
  for _, p in ipairs(M.placed(bufnr)) do
    if p.row <= last_row and p.row + p.anchor.span >= first_row then
      table.insert(found, { task_id = p.anchor.task_id, hunk = p.anchor.hunk })
    end
  end
  return found
end

--- Moves the cursor to the next (`step` 1) or previous (-1) open hunk, crossing into other
--- files with open hunks when this buffer has no more in that direction.
---@param step 1|-1
function M.jump(step)
  local bufnr = vim.api.nvim_get_current_buf()
  local here = vim.uri_from_bufnr(bufnr)
  local cursor = vim.api.nvim_win_get_cursor(0)[1] - 1
  local targets = {}
  local uris = state.files_with_open_hunks()
  if not vim.tbl_contains(uris, here) then
    table.insert(uris, here)
    table.sort(uris)
  end
  for _, uri in ipairs(uris) do
    if uri == here then
      for _, p in ipairs(M.placed(bufnr)) do
        table.insert(targets, { uri = uri, row = p.row })
      end
    else
      for _, entry in ipairs(state.open_hunks(uri)) do
        table.insert(targets, { uri = uri, row = (rows(entry.hunk.range)) })
      end
    end
  end
  if #targets == 0 then
    vim.notify('agentls: no pending hunks', vim.log.levels.INFO)
    return
  end
  local function after(t)
    return t.uri > here or (t.uri == here and t.row > cursor)
  end
  local target
  if step > 0 then
    for _, t in ipairs(targets) do
      if after(t) then
        target = t
        break
      end
    end
    target = target or targets[1]
  else
    for i = #targets, 1, -1 do
      local t = targets[i]
      if t.uri < here or (t.uri == here and t.row < cursor) then
        target = t
        break
      end
    end
    target = target or targets[#targets]
  end
  if target.uri ~= here then
    vim.cmd.edit(vim.fn.fnameescape(vim.uri_to_fname(target.uri)))
  end
  local line_count = vim.api.nvim_buf_line_count(0)
  vim.api.nvim_win_set_cursor(0, { math.min(target.row + 1, line_count), 0 })
end

--- Forgets a wiped buffer's anchors.
---@param bufnr integer
function M.forget(bufnr)
  anchors[bufnr] = nil
end

return M
