-- The agentls language client: one per workspace root, started through vim.lsp and attached
-- to every file buffer under that root, so the server sees each edit and can keep pending
-- hunks anchored to the live text. Requests go through `request()`, which turns server
-- errors into messages a person can act on. `restart()` replaces a workspace's server
-- without losing its tasks (the new one loads them; `on_ready` lists them).
--
-- vim.lsp.start() rather than vim.lsp.enable(): enable() attaches on FileType, and files
-- without a detected filetype would then never be synced, leaving their hunks unanchored.

local config = require('agentls.config')

local M = {}

M.name = 'agentls'

-- Server-to-client handlers, filled in by init.lua (taskUpdate, requestApproval).
---@type table<string, function>
M.handlers = {}

--- Called once a client has finished `initialize` (init.lua lists its tasks).
---@type fun(client: vim.lsp.Client)?
M.on_ready = nil

--- Called when a client's server has exited (init.lua forgets its tasks).
---@type fun(client_id: integer)?
M.on_gone = nil

-- Callbacks waiting for a client's `initialize` to finish, by client id.
---@type table<integer, fun(client: vim.lsp.Client)[]>
local waiting = {}

--- A buffer the server should see: a normal buffer backed by a file path.
---@param bufnr integer
function M.is_file_buffer(bufnr)
  if not vim.api.nvim_buf_is_valid(bufnr) or vim.bo[bufnr].buftype ~= '' then
    return false
  end
  local name = vim.api.nvim_buf_get_name(bufnr)
  return name ~= '' and not name:match('^%a[%w+.-]*://')
end

--- The workspace of a buffer: the nearest folder above its file holding a root marker,
--- else the current directory (also for scratch buffers such as the task output).
---@param bufnr integer
---@return string
function M.root_for(bufnr)
  local root = M.is_file_buffer(bufnr) and vim.fs.root(bufnr, config.options.root_markers)
  return root or vim.fn.getcwd()
end

--- Whether the configured server command can be run.
function M.server_found()
  return vim.fn.executable(config.options.cmd[1]) == 1
end

--- The plugin draws hunks itself (extmarks), so the server's hunk diagnostics and code
--- lenses, meant for editors without a plugin, are off unless the user's init_options
--- say otherwise.
local function init_options(user)
  return vim.tbl_extend('force', { hunk_diagnostics = false, hunk_code_lens = false }, user or {})
end

local function client_config(root)
  local opts = config.options
  local capabilities = vim.lsp.protocol.make_client_capabilities()
  -- This client reads agent/taskUpdate: the server does not repeat task news as
  -- window/showMessage. It answers agent/requestApproval (approval.lua): the approval
  -- policy asks here instead of denying.
  capabilities.experimental =
    vim.tbl_extend('force', capabilities.experimental or {}, { agent = { version = 1, approvals = true } })
  return {
    name = M.name,
    cmd = opts.cmd,
    cmd_env = opts.cmd_env,
    root_dir = root,
    workspace_folders = { { uri = vim.uri_from_fname(root), name = root } },
    init_options = init_options(opts.init_options),
    capabilities = capabilities,
    handlers = M.handlers,
    on_init = function(client)
      local queued = waiting[client.id] or {}
      waiting[client.id] = nil
      if M.on_ready then
        -- After this callback Neovim sends didOpen for the attached buffers: let those
        -- go first, so the server answers about the text they hold.
        vim.schedule(function()
          M.on_ready(client)
        end)
      end
      for _, callback in ipairs(queued) do
        callback(client)
      end
    end,
    on_exit = function(code, signal, client_id)
      waiting[client_id] = nil
      if M.on_gone then
        vim.schedule(function()
          M.on_gone(client_id)
        end)
      end
      if code ~= 0 or (signal or 0) ~= 0 then
        local how = code ~= 0 and ('exited with code %d'):format(code) or ('was killed (signal %d)'):format(signal)
        vim.schedule(function()
          vim.notify(
            ('agentls: the server %s; :AgentRestart brings it and its tasks back (see :LspLog, and :checkhealth agentls)'):format(
              how
            ),
            vim.log.levels.WARN
          )
        end)
      end
    end,
  }
end

--- The running client for a root, if any.
---@param root string
---@return vim.lsp.Client?
function M.client_for_root(root)
  for _, client in ipairs(vim.lsp.get_clients({ name = M.name })) do
    if client.root_dir == root then
      return client
    end
  end
end

--- Starts (or reuses) the client for the buffer's workspace and attaches it when the
--- buffer is a file. Returns the client id, or nil when the server could not start.
---@param bufnr integer
---@return integer?
function M.ensure(bufnr)
  local root = M.root_for(bufnr)
  if M.is_file_buffer(bufnr) then
    return vim.lsp.start(client_config(root), { bufnr = bufnr })
  end
  local existing = M.client_for_root(root)
  if existing then
    return existing.id
  end
  if vim.fn.has('nvim-0.11') == 1 then
    return vim.lsp.start(client_config(root), { attach = false })
  end
  return vim.lsp.start_client(client_config(root))
end

--- Calls `callback` with the buffer's client once it has finished `initialize`.
---@param bufnr integer
---@param callback fun(client: vim.lsp.Client)
function M.with_client(bufnr, callback)
  if not M.server_found() then
    vim.notify(
      ('agentls: `%s` is not an executable; install agentls or set `cmd` in setup() (:checkhealth agentls)'):format(
        config.options.cmd[1]
      ),
      vim.log.levels.ERROR
    )
    return
  end
  local id = M.ensure(bufnr)
  local client = id and vim.lsp.get_client_by_id(id)
  if not client then
    vim.notify('agentls: the server did not start; see :LspLog', vim.log.levels.ERROR)
    return
  end
  if client.initialized then
    callback(client)
  else
    waiting[client.id] = waiting[client.id] or {}
    table.insert(waiting[client.id], callback)
  end
end

--- Any running agentls client (for updates that name only a task id).
---@param id integer?
---@return vim.lsp.Client?
function M.client(id)
  if id then
    return vim.lsp.get_client_by_id(id)
  end
  return vim.lsp.get_clients({ name = M.name })[1]
end

-- JSON-RPC "method not found": the server is older than this plugin.
local METHOD_NOT_FOUND = -32601

--- A server error as one readable sentence.
---@param method string
---@param err lsp.ResponseError|table
function M.describe_error(method, err)
  if err.code == METHOD_NOT_FOUND then
    return ('this agentls server does not support %s yet; upgrade agentls'):format(method)
  end
  local message = err.message or vim.inspect(err)
  return ('%s failed: %s'):format(method, message)
end

--- Sends a request; `on_result` gets the result, errors become a notification unless
--- `on_error` handles them (returns true). `bufnr` makes Neovim flush that buffer's
--- pending didChange first, so the server answers about the text the user sees.
---@param client vim.lsp.Client
---@param method string
---@param params table
---@param on_result fun(result: any)?
---@param bufnr integer?
---@param on_error (fun(err: table): boolean)?
function M.request(client, method, params, on_result, bufnr, on_error)
  local function handler(err, result)
    if err then
      if on_error and on_error(err) then
        return
      end
      vim.notify('agentls: ' .. M.describe_error(method, err), vim.log.levels.ERROR)
    elseif on_result then
      on_result(result)
    end
  end
  -- Client:request (0.11) and client.request (0.10) take the same arguments.
  local ok
  if vim.fn.has('nvim-0.11') == 1 then
    ok = client:request(method, params, handler, bufnr)
  else
    ok = client.request(method, params, handler, bufnr)
  end
  if not ok then
    vim.notify(('agentls: could not send %s: the server is not running'):format(method), vim.log.levels.ERROR)
  end
end

--- Sends a request and waits up to `timeout_ms` for the answer (for a write that must
--- know whether it succeeded). Returns the result, or nil and why there is none.
---@param client vim.lsp.Client
---@param method string
---@param params table
---@param timeout_ms integer
---@param bufnr integer?
---@return table? result, string? why
function M.request_sync(client, method, params, timeout_ms, bufnr)
  local response, err
  if vim.fn.has('nvim-0.11') == 1 then
    response, err = client:request_sync(method, params, timeout_ms, bufnr)
  else
    response, err = client.request_sync(method, params, timeout_ms, bufnr)
  end
  if not response then
    return nil, ('no answer from the server (%s)'):format(err or 'timeout')
  elseif response.err then
    return nil, M.describe_error(method, response.err)
  end
  return response.result or {}
end

--- The loaded file buffers of a workspace.
---@param root string
---@return integer[]
local function buffers_of(root)
  return vim.tbl_filter(function(bufnr)
    return vim.api.nvim_buf_is_loaded(bufnr) and M.is_file_buffer(bufnr) and M.root_for(bufnr) == root
  end, vim.api.nvim_list_bufs())
end

-- How long a stopping server gets before it is killed.
local STOP_TIMEOUT_MS = 5000

--- Restarts the server of the buffer's workspace: stops it, waits until its process has
--- exited (until then it holds its tasks' logs, and a new server would leave those tasks
--- out), then starts a new one attached to the same buffers. The new server brings back
--- the tasks (`on_ready`). With no server running, starts one.
---@param bufnr integer
function M.restart(bufnr)
  local root = M.root_for(bufnr)
  local old = M.client_for_root(root)
  local function start()
    local list = buffers_of(root)
    if #list == 0 then
      M.ensure(bufnr)
    end
    for _, file in ipairs(list) do
      M.ensure(file)
    end
  end
  if not old then
    start()
    return
  end
  local id = old.id
  if vim.fn.has('nvim-0.11') == 1 then
    old:stop()
  else
    old.stop()
  end
  local waited = 0
  local function poll()
    local client = vim.lsp.get_client_by_id(id)
    if not client then
      start()
      return
    end
    waited = waited + 50
    if waited == STOP_TIMEOUT_MS then
      vim.notify('agentls: the server did not stop in time; killing it', vim.log.levels.WARN)
      if vim.fn.has('nvim-0.11') == 1 then
        client:stop(true)
      else
        client.stop(true)
      end
    end
    vim.defer_fn(poll, 50)
  end
  poll()
end

--- Attaches every file buffer, present and future, to its workspace's server.
function M.autostart()
  local group = vim.api.nvim_create_augroup('agentls.autostart', { clear = true })
  vim.api.nvim_create_autocmd({ 'BufReadPost', 'BufNewFile' }, {
    group = group,
    callback = function(args)
      if M.is_file_buffer(args.buf) and M.server_found() then
        M.ensure(args.buf)
      end
    end,
  })
  for _, bufnr in ipairs(vim.api.nvim_list_bufs()) do
    if vim.api.nvim_buf_is_loaded(bufnr) and M.is_file_buffer(bufnr) and M.server_found() then
      M.ensure(bufnr)
    end
  end
end

return M
