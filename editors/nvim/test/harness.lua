-- What every headless Neovim test script here starts with (test.lua, review.lua and
-- editors/generic/test/plain_nvim.lua load it with dofile): `fail` exits with status 1
-- and the message, `check` fails unless its condition holds, `wait` polls a condition
-- until it holds or `timeout` ms pass, then fails naming what it waited for, and
-- `open_with_agentls` opens a file once agentls serves it.

local M = { timeout = 15000 }

function M.fail(message)
  io.stderr:write('FAIL: ' .. message .. '\n')
  os.exit(1)
end

function M.check(condition, message)
  if not condition then
    M.fail(message)
  end
end

--- `detail`, when given, says what there was instead.
function M.wait(what, condition, detail)
  if not vim.wait(M.timeout, condition, 20) then
    M.fail('timed out waiting for ' .. what .. (detail and (': ' .. detail()) or ''))
  end
end

--- Opens `file` and waits until agentls is attached to it and initialized.
--- Returns the buffer and the client.
function M.open_with_agentls(file)
  vim.cmd.edit(file)
  local buf = vim.api.nvim_get_current_buf()
  local client
  M.wait('agentls to attach to ' .. file, function()
    client = vim.lsp.get_clients({ bufnr = buf, name = 'agentls' })[1]
    return client ~= nil and client.initialized
  end)
  return buf, client
end

return M
