-- Loaded by screenshot.sh as the init file of a real (not headless) Neovim in tmux: runs the
-- same task as test.lua, then leaves both hunks drawn with the cursor on the first one and
-- writes $AGENTLS_SCREENSHOT_READY for the script to capture the screen.
vim.o.termguicolors = true
vim.o.background = 'dark'
vim.o.number = true
vim.o.signcolumn = 'yes'
vim.o.shortmess = vim.o.shortmess .. 'I'
vim.opt.packpath:prepend(vim.env.AGENTLS_TEST_PACK)
vim.cmd.packadd('agentls')
local agentls = require('agentls')
agentls.setup({ cmd = { vim.env.AGENTLS_BIN }, output_height = 8 })

vim.api.nvim_create_autocmd('VimEnter', {
  callback = function()
    local buf = vim.api.nvim_get_current_buf()
    vim.defer_fn(function()
      vim.cmd('Agent capitalise two and eight')
    end, 500)
    local timer = vim.uv.new_timer()
    timer:start(200, 200, vim.schedule_wrap(function()
      local state = require('agentls.state')
      local id = state.order[1]
      if #agentls.hunks(buf) == 2 and id and state.tasks[id].status == 'completed' then
        timer:stop()
        vim.api.nvim_win_set_cursor(0, { 1, 0 })
        vim.cmd('normal ]h')
        vim.cmd('echo ""')
        vim.defer_fn(function()
          vim.fn.writefile({}, vim.env.AGENTLS_SCREENSHOT_READY)
        end, 500)
      end
    end))
  end,
})
