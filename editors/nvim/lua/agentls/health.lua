-- `:checkhealth agentls`: is the server there and which version, what the plugin is
-- configured with, what the running servers reported, and whether this kernel can sandbox
-- the agent's commands.

local config = require('agentls.config')

local M = {}

local health = vim.health

local function check_neovim()
  if vim.fn.has('nvim-0.10') == 1 then
    health.ok(('Neovim %s'):format(tostring(vim.version())))
  else
    health.error('agentls needs Neovim 0.10 or newer')
  end
end

local function check_server()
  local cmd = config.options.cmd
  local path = vim.fn.exepath(cmd[1])
  if path == '' then
    health.error(('`%s` not found'):format(cmd[1]), {
      'Install it: `cargo install --path server` in the agentls repository',
      'or point setup({ cmd = { "/path/to/agentls" } }) at the binary',
    })
    return
  end
  local ok, result = pcall(function()
    return vim.system({ path, '--version' }, { text = true }):wait(5000)
  end)
  if ok and result.code == 0 then
    health.ok(('server: %s (%s)'):format(vim.trim(result.stdout), path))
  else
    local why = ok and vim.trim(result.stderr or '') or tostring(result)
    health.error(('`%s --version` failed: %s'):format(path, why))
  end
end

local function check_config()
  if not config.configured then
    health.warn('setup() was not called', { 'Add require("agentls").setup({}) to your config' })
  end
  local opts = config.options
  health.info(('cmd: %s'):format(table.concat(opts.cmd, ' ')))
  health.info(('root markers: %s; autostart: %s; output: %s'):format(
    table.concat(opts.root_markers, ', '),
    tostring(opts.autostart),
    opts.output
  ))
  if opts.init_options then
    health.info('init_options: ' .. vim.inspect(opts.init_options, { newline = ' ', indent = '' }))
  end
  local home = vim.env.AGENTLS_HOME or vim.fs.joinpath(vim.env.HOME or '~', '.agentls')
  local file = vim.fs.joinpath(home, 'config.toml')
  if vim.uv.fs_stat(file) then
    health.ok('user config: ' .. file)
  else
    health.info(('no %s: the openai provider with OPENAI_API_KEY is the default'):format(file))
  end
end

local function check_clients()
  local clients = vim.lsp.get_clients({ name = 'agentls' })
  if #clients == 0 then
    health.info('no agentls server running in this Neovim (open a file in a workspace to start one)')
    return
  end
  for _, client in ipairs(clients) do
    local caps = client.server_capabilities or {}
    local agent = caps.experimental and caps.experimental.agent
    health.ok(('server running for %s (protocol %s, %s positions)'):format(
      client.root_dir or '?',
      agent and agent.version or '?',
      client.offset_encoding or '?'
    ))
    for _, warning in ipairs(agent and agent.warnings or {}) do
      health.warn('config: ' .. warning)
    end
  end
end

-- landlock_create_ruleset(NULL, 0, LANDLOCK_CREATE_RULESET_VERSION) returns the kernel's
-- Landlock ABI version. The syscall number is 444 on every Linux architecture.
local function landlock_abi()
  local ok, ffi = pcall(require, 'ffi')
  if not ok or ffi.os ~= 'Linux' then
    return nil
  end
  pcall(ffi.cdef, 'long syscall(long number, ...);')
  local called, abi = pcall(function()
    return tonumber(ffi.C.syscall(444, nil, ffi.cast('size_t', 0), ffi.cast('unsigned int', 1)))
  end)
  if called and abi and abi > 0 then
    return abi
  end
end

local function check_sandbox()
  if vim.fn.has('linux') ~= 1 then
    health.warn('commands are sandboxed with Linux Landlock; on this OS use sandbox_mode = "read-only" or approve commands')
    return
  end
  local abi = landlock_abi()
  if abi then
    health.ok(('Landlock ABI %d: commands can run sandboxed (network rules need ABI 4)'):format(abi))
  else
    health.warn('this kernel has no Landlock: workspace-write commands are refused unless sandbox_mode is "danger-full-access"')
  end
end

function M.check()
  health.start('agentls')
  check_neovim()
  check_server()
  check_config()
  check_clients()
  health.start('agentls sandbox')
  check_sandbox()
end

return M
