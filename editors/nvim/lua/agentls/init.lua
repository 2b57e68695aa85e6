-- agentls for Neovim: `require("agentls").setup({...})` starts the agentls language server
-- for each workspace and adds the :Agent* commands and ]h / [h. All review logic lives in the
-- server; this plugin forwards requests and draws what the server says. See :h agentls.

local config = require('agentls.config')
local lsp = require('agentls.lsp')
local state = require('agentls.state')
local hunks = require('agentls.hunks')
local tasks = require('agentls.tasks')
local approval = require('agentls.approval')

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

--- Accepts or rejects the hunk under the cursor, the hunks in the command's range, or with
--- `!` every open hunk in the buffer.
---@param action "accept"|"reject"
---@param opts {range: integer, line1: integer, line2: integer, bang: boolean}
function M.resolve(action, opts)
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
  local found = hunks.between(bufnr, first, last)
  if #found == 0 then
    vim.notify('agentls: no pending hunk here (]h goes to the next one)', vim.log.levels.INFO)
    return
  end
  tasks.resolve(action, found, bufnr)
end

local function task_ids()
  local ids = {}
  for i = #state.order, 1, -1 do
    table.insert(ids, state.order[i])
  end
  return ids
end

local function create_commands()
  local command = vim.api.nvim_create_user_command
  command('Agent', function(opts)
    tasks.start({ prompt = opts.args, mode = 'code', context = context(opts) })
  end, { nargs = '+', range = true, desc = 'agentls: start a task that changes code' })
  command('AgentAsk', function(opts)
    tasks.start({ prompt = opts.args, mode = 'ask', context = context(opts) })
  end, { nargs = '+', range = true, desc = 'agentls: ask a question (read-only tools)' })
  command('AgentCancel', function(opts)
    tasks.cancel(opts.args ~= '' and opts.args or nil)
  end, { nargs = '?', complete = task_ids, desc = 'agentls: cancel a task (default: the newest running)' })
  command('AgentTasks', tasks.pick, { nargs = 0, desc = 'agentls: pick a task to review' })
  command('AgentAccept', function(opts)
    M.resolve('accept', opts)
  end, { range = true, bang = true, desc = 'agentls: accept the hunk under the cursor (range, or ! for the file)' })
  command('AgentReject', function(opts)
    M.resolve('reject', opts)
  end, { range = true, bang = true, desc = 'agentls: reject the hunk under the cursor (range, or ! for the file)' })
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
  hunks.define_highlights()
  create_commands()
  create_autocmds()
  if config.options.autostart then
    lsp.autostart()
  end
end

return M
