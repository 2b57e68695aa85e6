-- The plugin's options: defaults, and the user's table merged over them by `setup()`.
-- Kept apart so every module reads the same values and `:checkhealth` can show them.

local M = {}

---@class agentls.Options
---@field cmd string[] how to start the server (stdio)
---@field cmd_env table<string,string>? extra environment for the server
---@field init_options table? config.toml keys sent as LSP initializationOptions
---@field root_markers string[] a workspace root is the nearest folder holding one of these
---@field autostart boolean attach the server to every file buffer
---@field keymaps {next_hunk: string|false, prev_hunk: string|false}|false
---@field output "split"|"float"|"none" where task output streams
---@field output_height integer height of the output split

---@type agentls.Options
M.defaults = {
  cmd = { 'agentls' },
  cmd_env = nil,
  init_options = nil,
  root_markers = { '.git' },
  autostart = true,
  keymaps = { next_hunk = ']h', prev_hunk = '[h' },
  output = 'split',
  output_height = 12,
}

---@type agentls.Options
M.options = vim.deepcopy(M.defaults)

M.configured = false

-- vim.validate's signature changed in 0.11; a plain check reads the same on every version.
local function check(user, key, kind)
  if user[key] ~= nil and type(user[key]) ~= kind then
    error(('agentls.setup: `%s` must be a %s, got %s'):format(key, kind, type(user[key])), 3)
  end
end

---@param user agentls.Options?
function M.set(user)
  user = user or {}
  check(user, 'cmd', 'table')
  check(user, 'root_markers', 'table')
  check(user, 'autostart', 'boolean')
  if user.output ~= nil and not vim.tbl_contains({ 'split', 'float', 'none' }, user.output) then
    error(('agentls.setup: `output` must be "split", "float" or "none", not %q'):format(tostring(user.output)), 2)
  end
  M.options = vim.tbl_deep_extend('force', vim.deepcopy(M.defaults), user)
  if user.keymaps == false then
    M.options.keymaps = false
  end
  M.configured = true
end

return M
