-- The annlua interpreter (src/annlua.c): lua.c's options and behaviour,
-- plus the global `ann` and the embedded Lua sources.  Runs the binary in
-- $ANNLUA_BIN (spec/run sets it), else the one next to the C module under
-- test, else build/bin/annlua.

local h = require("helpers")

local shell_quote = h.quote
local bin = h.annlua_bin()
local ANNLUA = shell_quote(bin)

local tmpdir = h.tmpdir()

local function writefile(name, text)
  return h.writefile(tmpdir .. "/" .. name, text)
end

-- run(cmd, stdin) runs a shell command line, returns stdout, stderr, exit
-- code; annlua(args, stdin, env) runs the interpreter so, env being a
-- string of VAR=value assignments put before the command
local run, annlua = h.run, h.annlua

describe("annlua interpreter", function()
  teardown(function() h.rmdir(tmpdir) end)

  it("exists", function()
    assert.is_true(io.open(bin) ~= nil, bin .. " is not built")
  end)

  it("runs a script with its arguments in `arg` and `...`", function()
    local script = writefile("args.lua", [[
      print(arg[0], arg[1], arg[2], #arg, arg[-1] ~= nil)
      print(select("#", ...), ...)
    ]])
    local out, err, code = annlua(shell_quote(script) .. " one 'two words'")
    assert.are.equal(0, code, err)
    assert.are.equal(script .. "\tone\ttwo words\t2\ttrue\n" ..
                     "2\tone\ttwo words\n", out)
  end)

  it("puts options before the script at negative indices of `arg`", function()
    local script = writefile("neg.lua", "print(arg[-2], arg[-1], arg[1])")
    local out, err, code = annlua("-e 'x=1' " .. shell_quote(script) .. " z")
    assert.are.equal(0, code, err)
    assert.are.equal("-e\tx=1\tz\n", out)
  end)

  it("executes -e statements in order", function()
    local out, err, code = annlua("-e 'x = 20' -e 'print(x + 22)'")
    assert.are.equal(0, code, err)
    assert.are.equal("42\n", out)
  end)

  it("loads a library with -l mod and -l g=mod", function()
    writefile("mymod.lua", "return {answer = 6 * 7}")
    local env = "LUA_PATH=" .. shell_quote(tmpdir .. "/?.lua;;")
    local out, err, code = annlua("-l mymod -e 'print(mymod.answer)'",
                                  nil, env)
    assert.are.equal(0, code, err)
    assert.are.equal("42\n", out)
    out, err, code = annlua("-l m=mymod -e 'print(m.answer, mymod)'", nil, env)
    assert.are.equal(0, code, err)
    assert.are.equal("42\tnil\n", out)
  end)

  it("reports a missing -l module and exits 1", function()
    local _, err, code = annlua("-l no_such_module_xyz -e 'print(1)'")
    assert.are.equal(1, code)
    assert.truthy(err:find("module 'no_such_module_xyz' not found", 1, true))
  end)

  it("-v names annlua, Lua 5.4 and the BLAS kernel in use", function()
    local out, err, code = annlua("-v")
    assert.are.equal(0, code, err)
    assert.truthy(out:find("annlua", 1, true))
    assert.truthy(out:find("Lua 5.4", 1, true))
    local kernel = annlua("-e 'io.write(ann.config().blas_core)'")
    assert.is_true(#kernel > 0)
    assert.truthy(out:find("kernel " .. kernel, 1, true), out)
    assert.truthy(out:find("BLAS: ", 1, true))
  end)

  it("runs stdin as a script with `-`, passing the arguments", function()
    local out, err, code = annlua("- a b", "print('in', ...)")
    assert.are.equal(0, code, err)
    assert.are.equal("in\ta\tb\n", out)
  end)

  it("runs stdin as a script when it is not a terminal and has no args",
     function()
    local out, err, code = annlua("", "print(1 + 1)")
    assert.are.equal(0, code, err)
    assert.are.equal("2\n", out)
  end)

  it("runs LUA_INIT_5_4, else LUA_INIT, first; -E ignores them", function()
    local out, err, code = annlua("-e 'print(X)'", nil, "LUA_INIT='X = 5'")
    assert.are.equal(0, code, err)
    assert.are.equal("5\n", out)
    out = annlua("-e 'print(X)'", nil,
                 "LUA_INIT='X = 5' LUA_INIT_5_4='X = 54'")
    assert.are.equal("54\n", out)
    out = annlua("-E -e 'print(X)'", nil, "LUA_INIT='X = 5'")
    assert.are.equal("nil\n", out)
    local init = writefile("init.lua", "Y = 'from file'")
    out = annlua("-e 'print(Y)'", nil, "LUA_INIT=@" .. shell_quote(init))
    assert.are.equal("from file\n", out)
  end)

  it("LUA_INIT can use `ann`", function()
    local out, err, code = annlua("-e 'print(N)'", nil,
                                  "LUA_INIT='N = ann.zeros(2, 3):numel()'")
    assert.are.equal(0, code, err)
    assert.are.equal("6\n", out)
  end)

  it("REPL (-i, input piped) prints the values of expressions", function()
    local out, err, code = annlua("-i",
      "x = 3\nx * 2\n'a', 'b'\nfunction f()\n  return 7\nend\nf()\n")
    assert.are.equal(0, code, err)
    -- each value printed alone on a line, after the prompt
    assert.truthy(out:find("> 6\n", 1, true), out)
    assert.truthy(out:find("> a\tb\n", 1, true), out)
    assert.truthy(out:find(">> >> > 7\n", 1, true), out)    -- continued lines
    assert.falsy(out:find("> 3\n", 1, true))   -- a statement prints nothing
  end)

  it("REPL prints tensors through tostring", function()
    local expected =
      annlua("-e 'io.write(tostring(ann.tensor{{1, 2}, {3, 4}}))'")
    assert.is_true(#expected > 0)
    local out, err, code = annlua("-i", "ann.tensor{{1, 2}, {3, 4}}\n")
    assert.are.equal(0, code, err)
    assert.truthy(out:find(expected, 1, true), out)
  end)

  it("REPL reports errors with a traceback and goes on", function()
    local out, err, code = annlua("-i", "error('boom')\n1 + 1\n")
    assert.are.equal(0, code)
    assert.truthy(err:find("stdin:1: boom", 1, true), err)
    assert.truthy(err:find("stack traceback:", 1, true), err)
    assert.truthy(out:find("> 2\n", 1, true), out)
  end)

  it("a runtime error prints a traceback and exits with 1", function()
    local script = writefile("boom.lua", [[
local function inner() error("boom here") end
local function outer() inner() end
outer()
print("not reached")
]])
    local out, err, code = annlua(shell_quote(script))
    assert.are.equal(1, code)
    assert.are.equal("", out)
    assert.truthy(err:find(script .. ":1: boom here", 1, true), err)
    assert.truthy(err:find("stack traceback:", 1, true), err)
    assert.truthy(err:find(script .. ":2: in", 1, true), err)   -- outer
    assert.truthy(err:find(script .. ":3: in main chunk", 1, true), err)
  end)

  it("a syntax error names the file and line and exits with 1", function()
    local script = writefile("syntax.lua", "local x = 1\nx = = 2\n")
    local out, err, code = annlua(shell_quote(script))
    assert.are.equal(1, code)
    assert.are.equal("", out)
    local msg = script .. ":2: unexpected symbol near '='"
    assert.truthy(err:find(msg, 1, true), err)
  end)

  it("exits with os.exit's code", function()
    local _, _, code = annlua("-e 'os.exit(3)'")
    assert.are.equal(3, code)
  end)

  it("rejects an unknown option with the usage, exit 1", function()
    local out, err, code = annlua("-z")
    assert.are.equal(1, code)
    assert.are.equal("", out)
    assert.truthy(err:find("unrecognized option '-z'", 1, true), err)
    assert.truthy(err:find("usage:", 1, true), err)
    _, err, code = annlua("-e")
    assert.are.equal(1, code)
    assert.truthy(err:find("'-e' needs argument", 1, true), err)
  end)

  it("`--` ends the options", function()
    writefile("-dash.lua", "print('dash', ...)")
    local out, err, code = run("cd " .. shell_quote(tmpdir) .. " && " ..
                               ANNLUA .. " -- -dash.lua -v")
    assert.are.equal(0, code, err)
    assert.are.equal("dash\t-v\n", out)
  end)

  it("has the global `ann`, the module \"annlua\"", function()
    local out, err, code = annlua(
      "-e 'print(type(ann), ann == require(\"annlua\"))'")
    assert.are.equal(0, code, err)
    assert.are.equal("table\ttrue\n", out)
  end)

  it("runs from another directory with its embedded Lua sources", function()
    local out, err, code = run("cd / && env -u LUA_PATH -u LUA_PATH_5_4 " ..
      ANNLUA .. " -e 'print(type(package.preload.annlua), " ..
      "ann.zeros(2, 3):numel())'")
    assert.are.equal(0, code, err)
    assert.are.equal("function\t6\n", out)
  end)

  it("exports Lua's API so C modules load into it", function()
    -- the in-tree module links no Lua: every lua_* symbol must come from
    -- the interpreter (RTLD_NOW resolves them all at load)
    local so = bin:gsub("/bin/annlua$", "/lua/annlua/core.so")
    local out, err, code = annlua("-e " .. shell_quote(
      "local f, e = package.loadlib('" .. so .. "', 'luaopen_annlua_core')" ..
      " print(type(f), e)"))
    assert.are.equal(0, code, err)
    assert.are.equal("function\tnil\n", out)
  end)

  it("Ctrl-C (SIGINT) interrupts a running script", function()
    -- the script signals itself; the handler stops it at the next hook
    local script = writefile("int.lua", [[
local pid = assert(io.open("/proc/self/stat")):read("n")
local p = io.popen("kill -INT " .. pid)
p:close()
while true do end
]])
    local out, err, code = run("timeout 60 " .. ANNLUA .. " " ..
                               shell_quote(script))
    assert.are.equal(1, code)
    assert.are.equal("", out)
    assert.truthy(err:find("interrupted!", 1, true), err)
  end)

  -- a long operation of the core polls the state's cancel callback, which
  -- reads the flag the handler sets: a reduction over 2^40 elements (an
  -- hour's work) and a chain of 2048^3 products (minutes) stop at once
  for _, case in ipairs({
    {"a reduction", "local e = ann.ones(1):expand(2^40)", "e:sum()",
     "sum: cancelled"},
    {"a product chain", "local a = ann.full({2048, 2048}, 1e-3)",
     "for i = 1, 100 do a = a:mm(a) end", "gemm: cancelled"},
  }) do
    it("Ctrl-C (SIGINT) stops " .. case[1] .. " running in C", function()
      -- the operands are made before the signal is sent
      local script = writefile("intc.lua", case[2] .. "\n" .. [[
local pid = assert(io.open("/proc/self/stat")):read("n")
io.popen("(sleep 0.5; kill -INT " .. pid .. ") &"):close()
]] .. case[3])
      local t0 = os.time()
      local out, err, code = run("timeout 60 " .. ANNLUA .. " " ..
                                 shell_quote(script))
      assert.are.equal(1, code, err)
      assert.are.equal("", out)
      assert.truthy(err:find("interrupted! (", 1, true), err)
      assert.truthy(err:find(case[4], 1, true), err)
      assert.is_true(os.time() - t0 <= 10)
    end)
  end
end)
