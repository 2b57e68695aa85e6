-- Hunks drawn in their buffers with extmarks, found under the cursor, and stepped through
-- with ]h / [h.
--
-- An open hunk's removed lines are highlighted in place and its added lines are shown as
-- virtual lines below them, so the buffer text stays exactly what is on disk until the
-- user accepts; a stale one shows the user's text ("yours") above the agent's. An
-- accepted hunk keeps a one-line note pointing at :AgentUndo (saying "your version" when
-- it was accepted with the user's own text, :AgentEdit). Each hunk gets an anchor
-- extmark on its first line: extmarks move with the user's typing, so "the hunk under the
-- cursor" stays right between two refreshes from the server.

local state = require('agentls.state')

local M = {}

M.ns = vim.api.nvim_create_namespace('agentls.hunks')

-- Per buffer: the anchors drawn by the last render.
---@class agentls.Anchor
---@field mark integer extmark id of the hunk's first line
---@field span integer lines after the first that the hunk covers
---@field task_id string
---@field hunk agentls.Hunk
---@field file agentls.File
---@type table<integer, agentls.Anchor[]>
local anchors = {}

local highlights = {
  AgentlsAdded = { link = 'DiffAdd' },
  AgentlsRemoved = { link = 'DiffDelete' },
  AgentlsStaleAdded = { link = 'DiffChange' },
  AgentlsCurrent = { link = 'DiffText' },
  AgentlsAccepted = { link = 'Comment' },
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

--- Lines of a hunk's text, without the empty piece after a final newline.
---@param text string
---@return string[]
function M.text_lines(text)
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

local function relative(uri)
  return vim.fn.fnamemodify(vim.uri_to_fname(uri), ':~:.')
end

--- What a hunk does to its file beyond its text: " · renames a → b".
---@param file agentls.File
local function file_note(file)
  if file.kind == 'rename' and file.newUri then
    return (' · renames %s → %s'):format(relative(file.uri), relative(file.newUri))
  elseif file.kind == 'create' then
    return ' · creates the file'
  elseif file.kind == 'delete' then
    return ' · deletes the file'
  end
  return ''
end

---@param entry agentls.OpenHunk
---@return string text, string highlight
local function header(entry, index, total)
  local hunk = entry.hunk
  local note = file_note(entry.file)
  if hunk.status == 'stale' then
    local why = hunk.reason or 'the text under it changed'
    return ('  agentls: stale hunk — %s%s  :AgentRefresh  :AgentReject'):format(why, note), 'AgentlsStale'
  elseif hunk.status == 'conflict' then
    local other = hunk.conflictsWith and state.describe_hunk(hunk.conflictsWith) or 'another task’s hunk'
    return ('  agentls: conflicts with %s%s'):format(other, note), 'AgentlsConflict'
  elseif hunk.status == 'accepted' then
    local whose = hunk.proposedText and ' (your version)' or ''
    return ('  agentls: accepted%s%s  :AgentUndo'):format(whose, note), 'AgentlsAccepted'
  end
  return ('  agentls: hunk %d/%d%s  :AgentAccept  :AgentReject'):format(index, total, note), 'AgentlsHeader'
end

local function sign_for(status)
  if status == 'stale' then
    return '~', 'AgentlsStale'
  elseif status == 'conflict' then
    return '!', 'AgentlsConflict'
  end
end

--- Virtual lines showing `text`, each prefixed with `label` and padded to the window's
--- width so the highlight reads as a full line.
---@param bufnr integer
---@param text string
---@param hl string
---@param label string?
local function virtual_lines(bufnr, text, hl, label)
  local width = math.max(vim.o.columns, 80)
  local shown_lines = M.text_lines(text)
  if label and #shown_lines == 0 then
    shown_lines = { '(nothing)' }
  end
  local out = {}
  for _, line in ipairs(shown_lines) do
    local shown = line:gsub('\t', string.rep(' ', vim.bo[bufnr].tabstop))
    local chunks = {}
    local used = 0
    if label then
      table.insert(chunks, { label, 'AgentlsStale' })
      used = vim.fn.strdisplaywidth(label)
    end
    local pad = math.max(width - used - vim.fn.strdisplaywidth(shown), 0)
    table.insert(chunks, { shown .. string.rep(' ', pad), hl })
    table.insert(out, chunks)
  end
  return out
end

--- What an open hunk shows below its text: the proposed lines, and for a stale or
--- conflicting hunk that knows it, the user's current text above them for comparison.
---@param bufnr integer
---@param hunk agentls.Hunk
local function proposed_lines(bufnr, hunk)
  if hunk.status == 'pending' or hunk.currentText == nil then
    local hl = hunk.status == 'pending' and 'AgentlsAdded' or 'AgentlsStaleAdded'
    return virtual_lines(bufnr, hunk.newText, hl)
  end
  local out = virtual_lines(bufnr, hunk.currentText, 'AgentlsCurrent', 'yours │ ')
  vim.list_extend(out, virtual_lines(bufnr, hunk.newText, 'AgentlsStaleAdded', 'agent │ '))
  return out
end

--- A hunk's rows clamped to the buffer; `below_end` when it starts past the last line.
local function rows_in(bufnr, range)
  local line_count = vim.api.nvim_buf_line_count(bufnr)
  local first, span, insertion = rows(range)
  local below_end = first >= line_count
  first = math.min(first, line_count - 1)
  span = math.min(span, line_count - 1 - first)
  return first, span, insertion, below_end
end

--- An accepted hunk: only a note at the end of its first line.
---@param bufnr integer
---@param entry agentls.OpenHunk
---@return agentls.Anchor
local function draw_accepted(bufnr, entry)
  local first, span = rows_in(bufnr, entry.hunk.range)
  local text, text_hl = header(entry)
  local mark = vim.api.nvim_buf_set_extmark(bufnr, M.ns, first, 0, {
    virt_text = { { text, text_hl } },
    virt_text_pos = 'eol',
  })
  return { mark = mark, span = span, task_id = entry.task_id, hunk = entry.hunk, file = entry.file }
end

---@param bufnr integer
---@param entry agentls.OpenHunk
---@param index integer
---@param total integer
---@return agentls.Anchor
local function draw(bufnr, entry, index, total)
  local hunk = entry.hunk
  local first, span, insertion, below_end = rows_in(bufnr, hunk.range)

  local text, text_hl = header(entry, index, total)
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

  local virt_lines = proposed_lines(bufnr, hunk)
  if #virt_lines > 0 then
    local above = insertion and not below_end
    vim.api.nvim_buf_set_extmark(bufnr, M.ns, above and first or first + span, 0, {
      virt_lines = virt_lines,
      virt_lines_above = above,
    })
  end
  return { mark = mark, span = span, task_id = entry.task_id, hunk = hunk, file = entry.file }
end

--- Redraws one buffer from the cached proposals.
---@param bufnr integer
function M.render(bufnr)
  if not vim.api.nvim_buf_is_loaded(bufnr) then
    return
  end
  vim.api.nvim_buf_clear_namespace(bufnr, M.ns, 0, -1)
  local uri = vim.uri_from_bufnr(bufnr)
  local drawn = {}
  for _, entry in ipairs(state.open_hunks(uri, state.undoable_status)) do
    table.insert(drawn, draw_accepted(bufnr, entry))
  end
  local entries = state.open_hunks(uri)
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

--- The anchors of a buffer's hunks whose status is in `statuses` (default: the open ones),
--- with their current first row (moved by the user's edits).
---@param bufnr integer
---@param statuses table<string, boolean>?
---@return {row: integer, anchor: agentls.Anchor}[]
function M.placed(bufnr, statuses)
  statuses = statuses or state.open_status
  local placed = {}
  for _, anchor in ipairs(anchors[bufnr] or {}) do
    local pos = vim.api.nvim_buf_get_extmark_by_id(bufnr, M.ns, anchor.mark, {})
    if pos[1] and statuses[anchor.hunk.status] then
      table.insert(placed, { row = pos[1], anchor = anchor })
    end
  end
  table.sort(placed, function(a, b)
    return a.row < b.row
  end)
  return placed
end

--- Hunks (open ones unless `statuses` says) whose rows overlap [first_row, last_row]
--- (0-based, inclusive).
---@param bufnr integer
---@param first_row integer
---@param last_row integer
---@param statuses table<string, boolean>?
---@return agentls.OpenHunk[]
function M.between(bufnr, first_row, last_row, statuses)
  local found = {}
  for _, p in ipairs(M.placed(bufnr, statuses)) do
    if p.row <= last_row and p.row + p.anchor.span >= first_row then
      table.insert(found, { task_id = p.anchor.task_id, hunk = p.anchor.hunk, file = p.anchor.file })
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
