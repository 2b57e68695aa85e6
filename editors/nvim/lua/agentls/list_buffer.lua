-- What the plugin's list buffers (:AgentTasks, :AgentAttempts) share: read-only scratch
-- buffers whose lines are replaced in place as the server reports changes, with the
-- cursor of every window on them kept and the first line (the keys) dimmed.

local M = {}

--- Replaces a read-only buffer's lines.
---@param buf integer
---@param lines string[]
function M.set_lines(buf, lines)
  vim.bo[buf].modifiable = true
  vim.api.nvim_buf_set_lines(buf, 0, -1, false, lines)
  vim.bo[buf].modifiable = false
end

--- Replaces a list's lines, keeps each window's cursor (on the last line at most), and
--- clears `ns` but for the dimmed first line: the caller highlights the rest.
---@param buf integer
---@param ns integer
---@param lines string[]
function M.redraw(buf, ns, lines)
  local cursors = {}
  for _, win in ipairs(vim.fn.win_findbuf(buf)) do
    cursors[win] = vim.api.nvim_win_get_cursor(win)
  end
  M.set_lines(buf, lines)
  for win, cursor in pairs(cursors) do
    vim.api.nvim_win_set_cursor(win, { math.min(cursor[1], #lines), 0 })
  end
  vim.api.nvim_buf_clear_namespace(buf, ns, 0, -1)
  vim.api.nvim_buf_set_extmark(buf, ns, 0, 0, { end_row = 1, hl_group = 'Comment', hl_eol = true })
end

return M
