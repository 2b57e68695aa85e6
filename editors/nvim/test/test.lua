-- End-to-end test of the Neovim plugin, run by run.sh as `nvim --headless -l test.lua` in a
-- throwaway git workspace holding notes.txt (ten lines, "one" to "ten"). The scripted model
-- answers the first :Agent with one apply_patch that capitalises "two" and "eight" (two
-- hunks) and a text reply, the second with a patch for "five", the follow-up on that task
-- with a patch for "six", a third task with another patch for "six". Then :AgentRestart
-- brings every task back with its decisions; a fourth task makes a patch for "seven" and
-- stalls on its next turn, the server is killed (SIGKILL), and after :AgentRestart the
-- task is interrupted with its hunk, resumed from the :AgentTasks list, forked, and the
-- fork deleted. A fifth task has a patch for "one" and for "nine"/"ten" (reviewed with
-- :AgentEdit) and a reply to its follow-up, and a sixth a patch that moves a.txt to
-- b.txt. `:Agent --agent=scripted …` then runs a task with the scripted ACP agent
-- (tests/acp/scripted-agent.mjs), whose edit of greeting.txt is reviewed like any other;
-- :AgentBestOf runs two attempts at colours.txt (one whose check fails), compared in
-- :AgentAttempts and one chosen. Every step is what a user would do; any failure exits
-- with status 1.
-- Proposals are fetched one hunk per page, so every refresh pages.

local env = vim.env
local harness = dofile(vim.fs.joinpath(vim.fs.dirname(debug.getinfo(1, 'S').source:sub(2)), 'harness.lua'))
local TIMEOUT = harness.timeout
local fail, check, wait = harness.fail, harness.check, harness.wait

-- Every notification the plugin shows, to assert on the readable ones.
local notes = {}
vim.notify = function(message, level)
  table.insert(notes, { message = message, level = level or vim.log.levels.INFO })
  io.stderr:write(('notify: %s\n'):format(message))
end

local function lines(bufnr)
  return vim.api.nvim_buf_get_lines(bufnr, 0, -1, false)
end

local function lnums(list)
  return vim.tbl_map(function(h)
    return h.lnum
  end, list)
end

--- The model requests logged so far (one JSON line each) that mention `text`.
local function model_requests(text)
  return vim.tbl_filter(function(line)
    return line:find(text, 1, true) ~= nil
  end, vim.fn.readfile(env.SCRIPTED_MODEL_LOG))
end

--- The last model request mentioning `text`, once the model server has logged it (it
--- writes its log every 100 ms).
local function model_request(text)
  wait(('a model request with %q in the model log'):format(text), function()
    return #model_requests(text) > 0
  end)
  local found = model_requests(text)
  return found[#found]
end

local function notified(text, level)
  for _, note in ipairs(notes) do
    if note.message:find(text, 1, true) and (level == nil or note.level == level) then
      return true
    end
  end
  return false
end

--- Every extmark's virtual text and virtual lines in a buffer, as plain strings.
local function drawn_text(bufnr, ns)
  local texts, vlines = {}, {}
  for _, mark in ipairs(vim.api.nvim_buf_get_extmarks(bufnr, ns, 0, -1, { details = true })) do
    for _, chunk in ipairs(mark[4].virt_text or {}) do
      table.insert(texts, { row = mark[2] + 1, text = chunk[1], hl = chunk[2] })
    end
    for _, vline in ipairs(mark[4].virt_lines or {}) do
      local parts = vim.tbl_map(function(chunk)
        return chunk[1]
      end, vline)
      table.insert(vlines, vim.trim(table.concat(parts)))
    end
  end
  return texts, vlines
end

-- ----- installed from a packpath, set up, attached -------------------------------------
vim.opt.packpath:prepend(env.AGENTLS_TEST_PACK)
vim.cmd.packadd('agentls')
local agentls = require('agentls')
local state = require('agentls.state')

local function task_named(prompt)
  for _, id in ipairs(state.order) do
    if state.tasks[id].prompt == prompt then
      return state.tasks[id]
    end
  end
end

agentls.setup({ cmd = { env.AGENTLS_BIN } })

-- One hunk per getProposal page, and a record of the pages asked for.
local tasks_module = require('agentls.tasks')
tasks_module.page_limit = 1
local pages = {}
local lsp_module = require('agentls.lsp')
local send = lsp_module.request
lsp_module.request = function(c, method, params, ...)
  if method == 'agent/getProposal' then
    table.insert(pages, params)
  end
  return send(c, method, params, ...)
end

local buf, client = harness.open_with_agentls('notes.txt')
check(client.root_dir == vim.fn.getcwd(), 'root is the workspace with .git: ' .. tostring(client.root_dir))
check(client.offset_encoding == 'utf-8', 'utf-8 positions negotiated, got ' .. tostring(client.offset_encoding))

--- Runs `:Agent {prompt}` (with a range prefix if any) and waits for the task to complete
--- with `drawn` open hunks drawn in notes.txt; returns its id.
local function run_task(command, drawn)
  vim.cmd(command)
  local prompt = command:match('Agent (.*)$')
  local task
  wait(('the task of :%s to finish with %d hunks drawn'):format(command, drawn), function()
    task = task_named(prompt)
    return task ~= nil and task.status == 'completed' and #agentls.hunks(buf) == drawn
  end)
  return task.id
end

-- ----- :Agent streams output and draws two pending hunks --------------------------------
local task_id = run_task('Agent capitalise two and eight', 2)
check(vim.deep_equal(lnums(agentls.hunks(buf)), { 2, 8 }), 'hunks on lines 2 and 8: ' .. vim.inspect(agentls.hunks(buf)))
check(#vim.tbl_filter(function(p)
  return p.cursor ~= nil and p.limit == 1
end, pages) > 0, 'the proposal was fetched page by page: ' .. vim.inspect(pages))
check(lines(buf)[2] == 'two', 'the buffer is untouched before accepting')

local ns = require('agentls.hunks').ns
local added, removed_rows = {}, {}
for _, mark in ipairs(vim.api.nvim_buf_get_extmarks(buf, ns, 0, -1, { details = true })) do
  for _, vline in ipairs(mark[4].virt_lines or {}) do
    table.insert(added, vim.trim(vline[1][1]))
  end
  if mark[4].line_hl_group then
    table.insert(removed_rows, mark[2] + 1)
  end
end
check(vim.deep_equal(added, { 'TWO', 'EIGHT' }), 'added lines drawn as virtual lines: ' .. vim.inspect(added))
check(vim.deep_equal(removed_rows, { 2, 8 }), 'removed lines highlighted: ' .. vim.inspect(removed_rows))

local out = require('agentls.output').text(task_id)
check(out:find('# Agent: capitalise two and eight', 1, true), 'output starts with the prompt:\n' .. out)
check(out:find('`apply_patch` notes.txt', 1, true), 'output shows the tool call:\n' .. out)
check(out:find('Capitalised two words.', 1, true), 'output streams the reply:\n' .. out)
check(#vim.fn.win_findbuf(vim.fn.bufnr('agentls://task/' .. task_id)) == 1, 'output shown in a split')

-- ----- the user types above the hunks; they follow -------------------------------------
vim.api.nvim_buf_set_lines(buf, 0, 0, false, { 'zero' })
check(vim.deep_equal(lnums(agentls.hunks(buf)), { 3, 9 }), 'hunks moved with the edit: ' .. vim.inspect(agentls.hunks(buf)))

-- ----- ]h, :AgentAccept, ]h, :AgentReject, :write ----------------------------------------
vim.api.nvim_win_set_cursor(0, { 1, 0 })
vim.cmd('normal ]h')
check(vim.api.nvim_win_get_cursor(0)[1] == 3, ']h goes to the first hunk (line 3)')
vim.cmd('AgentAccept')
wait('the accepted hunk applied and the other one still pending', function()
  return lines(buf)[3] == 'TWO' and #agentls.hunks(buf) == 1
end)
check(vim.deep_equal(lnums(agentls.hunks(buf)), { 9 }), 'the other hunk stays on line 9: ' .. vim.inspect(agentls.hunks(buf)))

vim.cmd('normal [h')
check(vim.api.nvim_win_get_cursor(0)[1] == 9, '[h wraps around to the last hunk (line 9)')
vim.cmd('AgentReject keep eight lowercase')
wait('no pending hunks left', function()
  return #agentls.hunks(buf) == 0
end)
local notes_drawn = drawn_text(buf, ns)
check(#notes_drawn == 1 and notes_drawn[1].row == 3 and notes_drawn[1].text:find(':AgentUndo', 1, true),
  'once every hunk is resolved only the accepted one’s undo note is drawn: ' .. vim.inspect(notes_drawn))
vim.cmd('write')
local expected = 'zero\none\nTWO\nthree\nfour\nfive\nsix\nseven\neight\nnine\nten\n'
local on_disk = table.concat(vim.fn.readfile('notes.txt', 'b'), '\n')
check(on_disk == expected, 'notes.txt on disk:\n' .. on_disk)

local proposal = client:request_sync('agent/getProposal', { taskId = task_id }, TIMEOUT, buf)
check(proposal and proposal.result, 'getProposal answered')
local statuses = vim.tbl_map(function(h)
  return h.status
end, proposal.result.files[1].hunks)
check(vim.deep_equal(statuses, { 'accepted', 'rejected' }), 'server agrees: ' .. vim.inspect(statuses))
check(proposal.result.files[1].hunks[2].reason == 'keep eight lowercase',
  'the rejection keeps its reason: ' .. vim.inspect(proposal.result.files[1].hunks[2]))

-- ----- :AgentUndo takes the accepted hunk back; it is pending again ------------------------
vim.api.nvim_win_set_cursor(0, { 3, 0 })
vim.cmd('AgentUndo')
wait('the accepted hunk undone and pending again', function()
  local drawn = agentls.hunks(buf)
  return lines(buf)[3] == 'two' and #drawn == 1 and drawn[1].status == 'pending' and drawn[1].lnum == 3
end)
check(table.concat(lines(buf), '\n') == 'zero\none\ntwo\nthree\nfour\nfive\nsix\nseven\neight\nnine\nten',
  'the buffer is back to before the accept:\n' .. table.concat(lines(buf), '\n'))
local function undo_note_on(row)
  for _, text in ipairs((drawn_text(buf, ns))) do
    if text.row == row and text.text:find(':AgentUndo', 1, true) then
      return true
    end
  end
  return false
end
vim.cmd('AgentAccept')
wait('the hunk accepted again, with its undo note', function()
  return lines(buf)[3] == 'TWO' and #agentls.hunks(buf) == 0 and undo_note_on(3)
end)
-- Undoing over the user's own edit of the accepted text is refused, with the reason shown.
vim.api.nvim_buf_set_text(buf, 2, 3, 2, 3, { '!' })
vim.cmd('AgentUndo')
wait('the undo refused with a reason', function()
  return notified('not undone: ', vim.log.levels.WARN)
end)
check(lines(buf)[3] == 'TWO!', 'a refused undo leaves the user’s text: ' .. lines(buf)[3])
vim.api.nvim_buf_set_text(buf, 2, 3, 2, 4, { '' })
vim.cmd('write')

-- ----- a selection goes along as context; typing inside a hunk makes it stale -------------
local second = run_task('5,7Agent capitalise five', 1)
local sent_context
wait('the model to get the selected lines', function()
  for _, line in ipairs(vim.fn.readfile(env.SCRIPTED_MODEL_LOG)) do
    -- The last line may still be half written.
    local ok, request = pcall(vim.json.decode, line)
    for _, message in ipairs(ok and request.messages or {}) do
      if message.role == 'user' and message.content:find('capitalise five', 1, true) then
        sent_context = message.content
      end
    end
  end
  return sent_context ~= nil
end)
check(sent_context:find('The user selected notes.txt lines 5-7:\n```\nfour\nfive\nsix\n```', 1, true),
  'the selection is sent as context:\n' .. sent_context)

-- A formatter rewrites the whole buffer, changing only line 4: Neovim reports one edit
-- spanning the hunk, so the server marks it stale although its lines are unchanged; the
-- 3-way merge of :AgentRefresh puts it back, and accepting it applies the agent's text.
local formatted = lines(buf)
formatted[4] = 'Three'
vim.api.nvim_buf_set_lines(buf, 0, -1, false, formatted)
wait('the rewrite spanning the hunk to make it stale', function()
  local drawn = agentls.hunks(buf)
  return #drawn == 1 and drawn[1].status == 'stale'
end)
vim.cmd('AgentRefresh')
wait(':AgentRefresh to make the hunk pending again on line 6', function()
  local drawn = agentls.hunks(buf)
  return #drawn == 1 and drawn[1].status == 'pending' and drawn[1].lnum == 6
end)
check(notified('1 stale hunk re-placed', vim.log.levels.INFO), ':AgentRefresh says it re-placed the hunk')
vim.api.nvim_win_set_cursor(0, { 6, 0 })
vim.cmd('AgentAccept')
wait('the refreshed hunk applied', function()
  return lines(buf)[6] == 'FIVE' and #agentls.hunks(buf) == 0
end)
check(table.concat(lines(buf), '\n') == 'zero\none\nTWO\nThree\nfour\nFIVE\nsix\nseven\neight\nnine\nten',
  'the refreshed hunk replaced exactly its line:\n' .. table.concat(lines(buf), '\n'))
-- Undone, it is pending again for the next check.
vim.cmd('AgentUndo')
wait('the refreshed hunk undone and pending again', function()
  local drawn = agentls.hunks(buf)
  return lines(buf)[6] == 'five' and #drawn == 1 and drawn[1].status == 'pending'
end)

vim.api.nvim_buf_set_lines(buf, 5, 6, false, { 'five!' })
wait('the hunk under the edit to turn stale', function()
  local drawn = agentls.hunks(buf)
  return #drawn == 1 and drawn[1].status == 'stale'
end)
local stale_header
for _, mark in ipairs(vim.api.nvim_buf_get_extmarks(buf, ns, 0, -1, { details = true })) do
  local chunk = (mark[4].virt_text or {})[1]
  if chunk then
    stale_header = chunk
  end
end
check(stale_header and stale_header[1]:find('stale', 1, true) and stale_header[2] == 'AgentlsStale',
  'a stale hunk is drawn as stale: ' .. vim.inspect(stale_header))
local _, compared = drawn_text(buf, ns)
check(vim.deep_equal(compared, { 'yours │ five!', 'agent │ FIVE' }),
  'a stale hunk shows the user’s text next to the agent’s: ' .. vim.inspect(compared))
vim.cmd('AgentRefresh')
wait(':AgentRefresh to say the typed-over hunk cannot be re-placed', function()
  return notified('0 stale hunks re-placed; 1 still stale', vim.log.levels.WARN)
end)
vim.api.nvim_win_set_cursor(0, { 6, 0 })
vim.cmd('AgentAccept')
wait('accepting a stale hunk to be refused with a reason', function()
  return notes[#notes].message:find('hunk not applied, it is stale', 1, true) ~= nil
end)
check(lines(buf)[6] == 'five!', 'a stale hunk is never applied: ' .. lines(buf)[6])
vim.cmd('AgentReject!')
wait('the stale hunk rejected', function()
  return #agentls.hunks(buf) == 0
end)

-- ----- :AgentFollowUp runs another turn of the same task -----------------------------------
vim.cmd('AgentFollowUp also capitalise six')
wait('the follow-up turn to propose a hunk for "six"', function()
  local drawn = agentls.hunks(buf)
  return state.tasks[second].status == 'completed' and #drawn == 1 and drawn[1].lnum == 7
    and drawn[1].task_id == second
end)
check(require('agentls.output').text(second):find('## Follow-up: also capitalise six', 1, true),
  'the follow-up shows in the task output:\n' .. require('agentls.output').text(second))

-- ----- another task's hunk on the same line is a conflict naming that hunk --------------------
run_task('Agent shout six', 2)
local conflict_header
for _, text in ipairs((drawn_text(buf, ns))) do
  if text.hl == 'AgentlsConflict' then
    conflict_header = text.text
  end
end
check(conflict_header and conflict_header:find('conflicts with hunk 2 of “capitalise five”', 1, true),
  'a conflict names the other task’s hunk: ' .. vim.inspect((drawn_text(buf, ns))))
vim.cmd('AgentReject!')
wait('both hunks rejected', function()
  return #agentls.hunks(buf) == 0
end)

-- ----- task history: :AgentRestart brings every task back, decisions included ---------------
local task_list = require('agentls.task_list')
local notes_win = vim.api.nvim_get_current_win()
local function list_lines()
  local list_buf = vim.fn.bufnr(task_list.name)
  return list_buf ~= -1 and lines(list_buf) or {}
end
--- The row of the :AgentTasks line holding every text given, or nil.
local function listed(...)
  local wanted = { ... }
  for row, line in ipairs(list_lines()) do
    local all = row > 1
    for _, text in ipairs(wanted) do
      all = all and line:find(text, 1, true) ~= nil
    end
    if all then
      return row
    end
  end
end
local function list_window()
  return vim.fn.win_findbuf(vim.fn.bufnr(task_list.name))[1]
end
local function logs()
  return #vim.fn.glob(env.AGENTLS_HOME .. '/tasks/*.jsonl', false, true)
end
--- What notes.txt shows besides its text: the notes and headers of its hunks, by row.
local function shown()
  return vim.tbl_map(function(text)
    return text.row .. ' ' .. text.text
  end, (drawn_text(buf, ns)))
end
local function all_on(client_id)
  for _, id in ipairs(state.order) do
    if state.tasks[id].client_id ~= client_id then
      return false
    end
  end
  return true
end
--- Waits for a server other than `old_id` to have listed `count` tasks.
local function new_server(old_id, count)
  wait(('a new server listing %d tasks'):format(count), function()
    client = vim.lsp.get_clients({ bufnr = buf, name = 'agentls' })[1]
    return client ~= nil and client.id ~= old_id and client.initialized and #state.order == count and all_on(client.id)
  end, function()
    return ('%d tasks known: %s'):format(#state.order, vim.inspect(state.order))
  end)
end

local before = shown()
check(#before == 1 and before[1]:find('accepted', 1, true), 'the accepted hunk’s note is drawn: ' .. vim.inspect(before))
vim.cmd('AgentRestart')
new_server(client.id, 3)
wait('the accepted hunk drawn again after the restart', function()
  return vim.deep_equal(shown(), before)
end, function()
  return vim.inspect(shown())
end)
local first = client:request_sync('agent/getProposal', { taskId = task_id }, TIMEOUT, buf).result.files[1].hunks
check(first[1].status == 'accepted' and first[2].status == 'rejected' and first[2].reason == 'keep eight lowercase',
  'the first task’s decisions survive the restart: ' .. vim.inspect(first))

vim.cmd('AgentTasks')
wait(':AgentTasks to list the three earlier tasks', function()
  return #list_lines() == 4
end, function()
  return vim.inspect(list_lines())
end)
check(vim.api.nvim_get_current_win() == list_window(), ':AgentTasks shows the list in a window and goes there')
check(listed('completed', 'just now', 'shout six') == 2 and listed('capitalise five') == 3
  and listed('capitalise two and eight') == 4, 'the list is newest first, with status and age: ' .. vim.inspect(list_lines()))

-- A crash while the model streams: the task is interrupted, its patch kept as a hunk.
vim.api.nvim_set_current_win(notes_win)
vim.cmd('Agent capitalise seven')
wait('the model to be asked for the turn after the patch (it stalls)', function()
  return #model_requests('capitalise seven') == 2
end)
--- The agentls server this Neovim started: its child running AGENTLS_BIN.
local function server_pid()
  local nvim_pid = vim.fn.getpid()
  for _, dir in ipairs(vim.fn.glob('/proc/[0-9]*', false, true)) do
    local stat, cmdline = io.open(dir .. '/stat'), io.open(dir .. '/cmdline')
    if stat and cmdline then
      local ppid = tonumber(stat:read('*a'):match('%) %S+ (%d+)'))
      local argv0 = cmdline:read('*a'):match('^[^%z]*')
      stat:close()
      cmdline:close()
      if ppid == nvim_pid and argv0 == env.AGENTLS_BIN then
        return tonumber(dir:match('%d+$'))
      end
    end
  end
end
local crashed = client.id
vim.uv.kill(assert(server_pid(), 'the server is a child of this Neovim'), 'sigkill')
wait('the crash noticed and the dead server’s hunks taken off the buffer', function()
  return vim.lsp.get_client_by_id(crashed) == nil and #state.order == 0 and #shown() == 0
end)
check(notified('the server was killed', vim.log.levels.WARN), 'the crash is reported')
vim.cmd('AgentRestart')
new_server(crashed, 4)
local seven
wait('the interrupted task back with the hunk it made before the crash', function()
  seven = task_named('capitalise seven')
  local drawn = agentls.hunks(buf)
  return seven and seven.status == 'interrupted' and #drawn == 1 and drawn[1].lnum == 8
    and drawn[1].status == 'pending' and drawn[1].task_id == seven.id
end, function()
  return vim.inspect({ status = seven and seven.status, drawn = agentls.hunks(buf) })
end)
wait('the accepted hunk drawn again', function()
  return shown()[1] == before[1]
end, function()
  return vim.inspect(shown())
end)

-- Resume it from the list: `f` asks for the follow-up.
vim.cmd('AgentTasks')
local row
wait('the interrupted task listed as such, the cursor in the list', function()
  row = listed('interrupted', 'capitalise seven', '1 to review')
  return row ~= nil and vim.api.nvim_get_current_win() == list_window()
end, function()
  return vim.inspect(list_lines())
end)
local asked_input
vim.ui.input = function(opts, on_confirm)
  asked_input = opts.prompt
  on_confirm('carry on')
end
vim.api.nvim_win_set_cursor(0, { row, 0 })
vim.cmd.normal('f')
check(asked_input == 'Resume “capitalise seven”: ', 'f asks how to resume: ' .. tostring(asked_input))
wait('the resumed task to complete, and the list to say so', function()
  return seven.status == 'completed' and listed('completed', 'capitalise seven') ~= nil
end)
local resumed = model_request('carry on')
check(resumed:find('capitalise seven', 1, true) and resumed:find('SEVEN', 1, true),
  'the model continues the recorded conversation: ' .. resumed)
wait('the resumed task’s hunk still pending', function()
  local drawn = agentls.hunks(buf)
  return #drawn == 1 and drawn[1].lnum == 8 and drawn[1].status == 'pending'
end)

-- Fork it (`F`: at its end): the fork is listed, with the hunk it took over.
local logs_before = logs()
vim.api.nvim_set_current_win(list_window())
vim.api.nvim_win_set_cursor(0, { listed('capitalise seven'), 0 })
vim.cmd.normal('F')
wait('the fork listed with its origin and its hunk', function()
  row = listed('capitalise seven', 'fork of “capitalise seven” at turn', '1 to review')
  return row ~= nil and #agentls.hunks(buf) == 2
end, function()
  return vim.inspect({ list = list_lines(), drawn = agentls.hunks(buf) })
end)
check(logs() == logs_before + 1, 'the fork has its own log: ' .. logs())
local fork_hunk = vim.tbl_filter(function(h)
  return h.task_id ~= seven.id
end, agentls.hunks(buf))[1]
check(fork_hunk and fork_hunk.lnum == 8, 'the fork’s copy of the hunk: ' .. vim.inspect(agentls.hunks(buf)))

-- Delete the fork (`d`, confirmed): gone from the list, the buffer and $AGENTLS_HOME.
local confirmed
vim.fn.confirm = function(question)
  confirmed = question
  return 1
end
vim.api.nvim_win_set_cursor(0, { row, 0 })
vim.cmd.normal('d')
check(confirmed and confirmed:find('Delete the task “capitalise seven” and its 1 hunk to review?', 1, true),
  'd asks first: ' .. tostring(confirmed))
wait('the fork gone from the list and from notes.txt', function()
  return listed('fork of') == nil and #list_lines() == 5 and #agentls.hunks(buf) == 1
end, function()
  return vim.inspect({ list = list_lines(), drawn = agentls.hunks(buf) })
end)
check(logs() == logs_before, 'the fork’s log is removed: ' .. logs())

-- <CR> opens a task: the cursor goes to its first pending hunk.
vim.api.nvim_win_set_cursor(0, { listed('capitalise seven'), 0 })
vim.cmd.normal(vim.keycode('<CR>'))
wait('<CR> to go to the task’s hunk in notes.txt', function()
  return vim.api.nvim_get_current_buf() == buf and vim.api.nvim_win_get_cursor(0)[1] == 8
end)
vim.api.nvim_win_close(list_window(), false)
vim.cmd('AgentReject')
wait('the resumed task’s hunk rejected', function()
  return #agentls.hunks(buf) == 0
end)

-- ----- :AgentEdit accepts the user's own version of a hunk -------------------------------
local fourth = run_task('Agent capitalise one, nine and ten', 2)
local source_win = vim.api.nvim_get_current_win()
local function edit_buffer(hunk_line)
  vim.api.nvim_set_current_win(source_win)
  vim.api.nvim_win_set_cursor(0, { hunk_line, 0 })
  vim.cmd('AgentEdit')
  local edit_buf = vim.api.nvim_get_current_buf()
  check(edit_buf ~= buf and vim.api.nvim_buf_get_name(edit_buf):find('^agentls://edit/' .. vim.pesc(fourth)),
    ':AgentEdit opens an agentls://edit/ buffer: ' .. vim.api.nvim_buf_get_name(edit_buf))
  check(vim.bo[edit_buf].buftype == 'acwrite' and vim.bo[edit_buf].filetype == vim.bo[buf].filetype,
    'the edit buffer is written by the plugin and has the file’s filetype')
  return edit_buf
end

-- Refused: the hunk was rejected meanwhile. The error is shown and the text kept; :q! abandons.
local refused_buf = edit_buffer(2)
check(vim.deep_equal(lines(refused_buf), { 'ONE' }), 'the edit buffer holds the proposed text: ' .. vim.inspect(lines(refused_buf)))
vim.api.nvim_set_current_win(source_win)
vim.cmd('AgentReject')
wait('the hunk on line 2 rejected', function()
  return #agentls.hunks(buf) == 1
end)
vim.api.nvim_set_current_win(vim.fn.win_findbuf(refused_buf)[1])
vim.api.nvim_buf_set_lines(refused_buf, 0, -1, false, { 'One' })
vim.cmd('write')
check(notified('your version was not accepted', vim.log.levels.ERROR), 'a refused write says why')
check(vim.api.nvim_buf_is_valid(refused_buf) and vim.bo[refused_buf].modified
  and vim.deep_equal(lines(refused_buf), { 'One' }), 'a refused write keeps the edit buffer and its text')
vim.cmd('quit!')
check(not vim.api.nvim_buf_is_valid(refused_buf), ':q! abandons the edit buffer')
check(lines(buf)[2] == 'one', 'an abandoned edit changes nothing: ' .. lines(buf)[2])

-- Accepted: two lines rewritten; the file gets the user's text, the proposal keeps the model's.
local edit_buf = edit_buffer(10)
check(vim.deep_equal(lines(edit_buf), { 'NINE', 'TEN' }), 'the edit buffer holds the proposed lines: ' .. vim.inspect(lines(edit_buf)))
vim.api.nvim_buf_set_lines(edit_buf, 0, -1, false, { 'Nine', 'and Ten' })
vim.cmd('write')
wait('the user’s version in notes.txt and the edit buffer closed', function()
  return lines(buf)[10] == 'Nine' and lines(buf)[11] == 'and Ten' and not vim.api.nvim_buf_is_valid(edit_buf)
end)
check(#lines(buf) == 11, 'the whole-line hunk kept its line break: ' .. vim.inspect(lines(buf)))
check(vim.api.nvim_get_current_win() == source_win, 'back in notes.txt after the write')
local edited = client:request_sync('agent/getProposal', { taskId = fourth }, TIMEOUT, buf).result.files[1].hunks[2]
check(edited.status == 'accepted' and edited.newText == 'Nine\nand Ten\n' and edited.proposedText == 'NINE\nTEN\n',
  'the proposal has the user’s text accepted and the model’s as proposedText: ' .. vim.inspect(edited))
wait('the accepted hunk drawn as the user’s version', function()
  for _, text in ipairs((drawn_text(buf, ns))) do
    if text.row == 10 and text.text:find('accepted (your version)', 1, true) then
      return true
    end
  end
end)

-- The next turn tells the model what the user wrote instead.
vim.api.nvim_win_set_cursor(0, { 10, 0 })
vim.cmd('AgentFollowUp anything else?')
wait('the follow-up to finish', function()
  return state.tasks[fourth].status == 'completed'
    and require('agentls.output').text(fourth):find('Kept your version.', 1, true) ~= nil
end)
local told = model_request('anything else?')
check(told:find('the user wrote instead', 1, true) and told:find('and Ten', 1, true),
  'the follow-up shows the model the user’s version: ' .. told)

-- ----- a renamed file: the header says so; accepting moves the file ---------------------
vim.fn.writefile({ 'alpha', 'beta' }, 'a.txt')
vim.cmd.edit('a.txt')
local a_buf = vim.api.nvim_get_current_buf()
vim.cmd('Agent move a.txt to b.txt')
wait('the rename task to draw its hunk in a.txt', function()
  local moved = task_named('move a.txt to b.txt')
  return moved and moved.status == 'completed' and #agentls.hunks(a_buf) == 1
end)
local rename_header
for _, text in ipairs((drawn_text(a_buf, ns))) do
  if text.hl == 'AgentlsHeader' then
    rename_header = text.text
  end
end
check(rename_header and rename_header:find('hunk 1/1 · renames a.txt → b.txt', 1, true),
  'the hunk says it renames the file: ' .. vim.inspect((drawn_text(a_buf, ns))))
vim.api.nvim_win_set_cursor(0, { 1, 0 })
vim.cmd('AgentAccept')
local b_buf
wait('a.txt renamed to b.txt, its buffer with the new text', function()
  b_buf = vim.fn.bufnr('b.txt')
  return b_buf ~= -1 and vim.fn.filereadable('a.txt') == 0 and vim.deep_equal(lines(b_buf), { 'ALPHA', 'beta' })
end)
check(vim.api.nvim_get_current_buf() == b_buf, 'the window shows b.txt: ' .. vim.api.nvim_buf_get_name(0))
check(vim.fn.buflisted(vim.fn.bufnr('a.txt')) == 0, 'no a.txt buffer is listed')
vim.cmd('write')
check(vim.deep_equal(vim.fn.readfile('b.txt'), { 'ALPHA', 'beta' }), 'b.txt on disk: ' .. vim.inspect(vim.fn.readfile('b.txt')))
wait('the server to confirm the accept', function()
  local moved = task_named('move a.txt to b.txt')
  return moved.files[1].hunks[1].status == 'accepted'
end)
vim.cmd.edit('notes.txt')

-- ----- :Agent --agent=NAME runs the task with an ACP agent ---------------------------------
local completed = vim.fn.getcompletion('Agent --agent=scr', 'cmdline')
check(vim.tbl_contains(completed, '--agent=scripted'), '--agent= completes the configured agents: ' .. vim.inspect(completed))
check(vim.deep_equal({ agentls.parse_agent('--agent codex fix it') }, { 'codex', 'fix it' }), 'the flag may be spaced')
vim.cmd.edit('greeting.txt')
local greeting = vim.api.nvim_get_current_buf()
vim.cmd('Agent --agent=scripted shout the greeting')
local acp_task
wait('the ACP agent’s hunk drawn in greeting.txt', function()
  acp_task = task_named('shout the greeting')
  return acp_task ~= nil and acp_task.status == 'completed' and #agentls.hunks(greeting) == 1
end, function()
  return vim.inspect(acp_task and { status = acp_task.status, out = require('agentls.output').text(acp_task.id) })
end)
check(lines(greeting)[1] == 'hello', 'the agent’s edit waits for review: ' .. lines(greeting)[1])
local acp_out = require('agentls.output').text(acp_task.id)
check(acp_out:find('agent `scripted` (Scripted agent 1.0.0), new session', 1, true), 'the output names the agent:\n' .. acp_out)
check(acp_out:find('`edit` Edit greeting.txt', 1, true), 'the output shows the agent’s tool call:\n' .. acp_out)
local received = table.concat(vim.fn.readfile(env.ACP_AGENT_LOG), '\n')
check(received:find('shout the greeting', 1, true), 'the agent got the prompt without the flag:\n' .. received)
check(not received:find('--agent', 1, true), 'the flag is not part of the prompt:\n' .. received)
vim.api.nvim_win_set_cursor(0, { 1, 0 })
local pages_before = #pages
vim.cmd('AgentAccept')
wait('the accepted greeting, and the proposal fetched again', function()
  local refetched = vim.iter({ unpack(pages, pages_before + 1) }):any(function(p)
    return p.taskId == acp_task.id
  end)
  return lines(greeting)[1] == 'HELLO' and refetched and next(client.requests) == nil
end)
check(vim.fn.readfile('greeting.txt')[1] == 'hello', 'accepting changes the buffer, not the disk')
vim.cmd.write()
check(vim.fn.readfile('greeting.txt')[1] == 'HELLO', 'saved like any edit')
vim.cmd.buffer(buf)

-- ----- :AgentImport: a diff made elsewhere becomes hunks; a bad source a readable error -----
local diff_path = vim.fn.tempname() .. '.diff'
vim.fn.writefile({
  'diff --git a/imported.txt b/imported.txt',
  'new file mode 100644',
  '--- /dev/null',
  '+++ b/imported.txt',
  '@@ -0,0 +1,2 @@',
  '+made elsewhere',
  '+reviewed here',
}, diff_path)
vim.cmd('AgentImport ' .. diff_path)
wait(':AgentImport to propose the diff', function()
  local imported = task_named('import ' .. diff_path)
  return imported and imported.status == 'completed' and state.open_count(imported) == 1
end)
vim.cmd('AgentImport does-not-exist.diff')
wait('a readable error for a missing diff file', function()
  for _, note in ipairs(notes) do
    if note.level == vim.log.levels.ERROR and note.message:find('does-not-exist.diff', 1, true) then
      return true
    end
  end
end)

-- ----- a proposal larger than the server's default page (5000 hunks) arrives whole ---------
-- 85 files of 60 one-line hunks: 5100 hunks, and the page boundary falls inside a file.
tasks_module.page_limit = nil
local FILES, PER_FILE = 85, 60
local big_diff = {}
for f = 1, FILES do
  local name = ('big/%02d.txt'):format(f)
  local text = {}
  vim.list_extend(big_diff, { ('diff --git a/%s b/%s'):format(name, name), '--- a/' .. name, '+++ b/' .. name })
  for i = 1, PER_FILE do
    vim.list_extend(text, { 'keep ' .. i, 'change ' .. i })
    vim.list_extend(big_diff, { ('@@ -%d +%d @@'):format(2 * i, 2 * i), '-change ' .. i, '+CHANGED ' .. i })
  end
  vim.fn.mkdir('big', 'p')
  vim.fn.writefile(text, name)
end
local big_path = vim.fn.tempname() .. '.diff'
vim.fn.writefile(big_diff, big_path)
pages = {}
vim.cmd('AgentImport ' .. big_path)
local big
wait('the 5100-hunk import to arrive whole', function()
  big = task_named('import ' .. big_path)
  return big and big.status == 'completed' and state.open_count(big) == FILES * PER_FILE
end)
check(#big.files == FILES, 'a file split over two pages is merged back: ' .. #big.files .. ' files')
local counts = vim.tbl_map(function(file)
  return #file.hunks
end, big.files)
check(#vim.tbl_filter(function(n)
  return n ~= PER_FILE
end, counts) == 0, 'every file has all its hunks: ' .. vim.inspect(counts))
check(#vim.tbl_filter(function(p)
  return p.taskId == big.id and p.cursor ~= nil
end, pages) > 0, 'it came in more than one page: ' .. vim.inspect(pages))

-- ----- :AgentBestOf / :AgentAttempts: two attempts compared, the green one chosen --------
-- Each attempt patches colours.txt its own way and runs the same check: one passes, one fails.
vim.fn.writefile({ 'red', 'green', 'blue' }, 'colours.txt')
vim.cmd.edit('colours.txt')
local colours_buf = vim.api.nvim_get_current_buf()
vim.cmd('AgentBestOf 2 shout green')
local best
wait('both attempts to finish', function()
  best = task_named('shout green')
  local rows = best and best.attempts or {}
  return best ~= nil and best.status == 'completed' and #rows == 2 and rows[1].status == 'completed' and rows[2].status == 'completed'
end, function()
  return vim.inspect(best)
end)
check(#agentls.hunks(colours_buf) == 0, 'nothing is proposed before an attempt is chosen')

vim.cmd('AgentAttempts')
local list_buf
wait('the attempts list to open with the cursor in it', function()
  list_buf = vim.fn.bufnr('agentls://attempts/' .. best.id)
  return list_buf ~= -1 and vim.api.nvim_get_current_buf() == list_buf
end)
local preview_buf = vim.fn.bufnr('agentls://attempts/' .. best.id .. '/preview')
check(#vim.fn.win_findbuf(preview_buf) == 1, 'the preview is shown beside the list')
local function row_saying(text)
  for row, line in ipairs(lines(list_buf)) do
    if line:find(text, 1, true) then
      return row, line
    end
  end
  fail(('no attempt line says %q: %s'):format(text, vim.inspect(lines(list_buf))))
end
local green_row, green_line = row_saying('Shouted green.')
local red_row, red_line = row_saying('Titled green.')
check(green_line:find('completed · +1 −1 · 1 file · ✓ ', 1, true) and green_line:find('grep -q GREEN colours.txt', 1, true)
  and not green_line:find('exit', 1, true), 'the green attempt’s line: ' .. green_line)
check(red_line:find('✗ ', 1, true) and red_line:find('(exit 1)', 1, true), 'the failed check shows its exit code: ' .. red_line)

-- Moving the cursor previews the attempt under it, as a diff.
local function previewing(line)
  wait(('the preview to show %q'):format(line), function()
    return vim.tbl_contains(lines(preview_buf), line)
  end, function()
    return vim.inspect(lines(preview_buf))
  end)
end
-- `nvim -l` runs no main loop to fire CursorMoved after a motion: the test fires it.
local function go_to(row)
  vim.api.nvim_feedkeys(('%dG'):format(row), 'x', false)
  check(vim.api.nvim_win_get_cursor(0)[1] == row, 'the cursor moved to line ' .. row)
  vim.api.nvim_exec_autocmds('CursorMoved', { buffer = list_buf })
end
go_to(red_row)
previewing('+Green')
check(vim.tbl_contains(lines(preview_buf), '-green'), 'the preview shows the line replaced: ' .. vim.inspect(lines(preview_buf)))
go_to(green_row)
previewing('+GREEN')

-- <CR> chooses it: the list closes and its hunk is drawn, reviewed like any other.
vim.api.nvim_feedkeys(vim.keycode('<CR>'), 'x', false)
wait('the chosen attempt’s hunk in colours.txt', function()
  return #agentls.hunks(colours_buf) == 1
end)
check(vim.fn.bufwinid(list_buf) == -1 and vim.fn.bufwinid(preview_buf) == -1, 'choosing closes the list and the preview')
check(vim.api.nvim_get_current_buf() == colours_buf and vim.api.nvim_win_get_cursor(0)[1] == 2,
  'the cursor is on the chosen hunk: ' .. vim.api.nvim_buf_get_name(0) .. ' ' .. vim.inspect(vim.api.nvim_win_get_cursor(0)))
check(notified('attempt ' .. best.chosen_attempt .. ' chosen — 1 hunk to review'), 'choosing says what is left to review')
vim.cmd('AgentAccept')
wait('GREEN in colours.txt', function()
  return vim.deep_equal(lines(colours_buf), { 'red', 'GREEN', 'blue' })
end)
vim.cmd('write')
check(vim.deep_equal(vim.fn.readfile('colours.txt'), { 'red', 'GREEN', 'blue' }), 'colours.txt on disk: ' .. vim.inspect(vim.fn.readfile('colours.txt')))
vim.cmd('AgentAttempts')
wait('the list to mark the chosen attempt', function()
  local shown = vim.fn.bufnr('agentls://attempts/' .. best.id)
  return shown ~= -1 and (lines(shown)[green_row] or ''):find('(chosen)', 1, true) ~= nil
end)
vim.cmd('close')
vim.cmd.edit('notes.txt')

-- ----- approvals: the handler waits for vim.ui.select and maps the choice ----------------
-- The server asks only a client that announced it answers (else the policy denies).
local announced = client.config.capabilities.experimental.agent
check(announced.approvals == true, 'experimental.agent announced: ' .. vim.inspect(announced))
local handle = require('agentls.lsp').handlers['agent/requestApproval']
local asked
vim.ui.select = function(items, opts, on_choice)
  asked = opts.prompt
  vim.schedule(function()
    on_choice(items[2])
  end)
end
local answer
coroutine.wrap(function()
  answer = handle(nil, { taskId = task_id, callId = 'c1', kind = 'command', command = { 'cargo', 'test' }, cwd = '/w' }, {})
end)()
wait('the approval answer', function()
  return answer ~= nil
end)
check(answer.decision == 'allowForTask', 'approval decision: ' .. vim.inspect(answer))
check(asked == 'agentls wants to run `cargo test` in /w', 'approval prompt: ' .. tostring(asked))
vim.ui.select = function(_, _, on_choice)
  on_choice(nil)
end
coroutine.wrap(function()
  answer = handle(nil, { taskId = task_id, callId = 'c2', kind = 'patch', diff = '--- a/x\n+++ b/x\n' }, {})
end)()
check(answer.decision == 'deny', 'a dismissed prompt denies: ' .. vim.inspect(answer))

-- ----- :checkhealth agentls ---------------------------------------------------------------
vim.cmd('checkhealth agentls')
local report = table.concat(lines(0), '\n')
check(report:find('server: agentls %d+%.%d+%.%d+'), 'health shows the server version:\n' .. report)
check(report:find('server running for', 1, true), 'health shows the running server:\n' .. report)
check(not report:find('ERROR', 1, true), 'health has no errors:\n' .. report)

vim.lsp.stop_client(client.id)
wait('the server to shut down', function()
  return vim.lsp.get_client_by_id(client.id) == nil
end)
io.stderr:write('nvim e2e: all checks passed\n')
os.exit(0)
