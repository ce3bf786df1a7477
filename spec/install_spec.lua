-- Packaging for C and C++ hosts: the installed libraries, headers and
-- pkg-config files.  `make test` installs into B/stage (PREFIX) and
-- B/stage-dest (DESTDIR, PREFIX=/opt/annlua) first; here programs are
-- built against B/stage with g++/cc and pkg-config, and run.

local h = require("helpers")

local B = h.annlua_bin():match("^(.*)/bin/annlua$")
local stage = B .. "/stage"
local q = h.quote
local tmp = h.tmpdir()
local PC = "PKG_CONFIG_PATH=" .. q(stage .. "/lib/pkgconfig") .. " pkg-config "

-- runs cmd, asserting exit 0; returns its stdout
local function ok(cmd)
  local out, err, code = h.run(cmd)
  assert(code == 0, ("`%s` failed (%s):\n%s%s"):format(cmd, tostring(code), out, err))
  return out
end

local function words(s)
  local t = {}
  for w in s:gmatch("%S+") do t[#t + 1] = w end
  return t
end

-- the names a shared object exports (defined, dynamic symbol table)
local function exports(path)
  return words(ok("nm -D --defined-only " .. q(path) .. " | awk '{print $3}'"))
end

-- " -fsanitize=..." when the staged build is a sanitizer one (make asan):
-- a program linking it needs the sanitizer runtime first, shared or not
local function sanitizers()
  local syms = ok("nm " .. q(stage .. "/lib/libannlua.a") .. " 2>/dev/null")
  local san = {}
  if syms:find("__asan_", 1, true) then san[#san + 1] = "address" end
  if syms:find("__ubsan_", 1, true) then san[#san + 1] = "undefined" end
  return #san > 0 and " -fsanitize=" .. table.concat(san, ",") or ""
end

describe("installed annlua", function()
  teardown(function() h.rmdir(tmp) end)

  it("has its files where PREFIX and DESTDIR say", function()
    assert(h.exists(stage .. "/lib/libannlua.so.0.1.0"), "run `make test`: no " .. stage)
    for _, f in ipairs({"include/ann.h", "lib/libannlua.a", "lib/libannlua.so",
                        "lib/libannlua.so.0", "lib/libannlua-lua.a",
                        "lib/libannlua-lua.so.0.1.0", "lib/pkgconfig/annlua.pc",
                        "lib/pkgconfig/annlua-lua.pc", "bin/annlua",
                        "lib/lua/5.4/annlua/core.so", "share/lua/5.4/annlua/init.lua"}) do
      assert(h.exists(stage .. "/" .. f), f .. " not installed")
    end
    local dest = B .. "/stage-dest"
    assert(h.exists(dest .. "/opt/annlua/lib/libannlua.so.0"), "DESTDIR install")
    assert.matches("prefix=/opt/annlua\n",
                   h.readfile(dest .. "/opt/annlua/lib/pkgconfig/annlua.pc"), 1, true)
  end)

  it("libannlua.so has a SONAME and exports only the names in ann.h", function()
    local lib = stage .. "/lib/libannlua.so"
    assert.matches("SONAME%s+libannlua%.so%.0\n", ok("objdump -p " .. q(lib)))
    local header = h.readfile(stage .. "/include/ann.h")
    local names = exports(lib)
    assert.is_true(#names > 100)
    for _, name in ipairs(names) do
      assert(name:match("^ann_"), name .. " exported")
      assert(header:find("%f[%w_]" .. name .. "%f[^%w_]"), name .. " is not in ann.h")
    end
    -- internal ones (ann_impl.h) stay hidden
    for _, name in ipairs({"ann_gemm_raw", "ann_pool_run", "ann_kernels", "ann_empty_cache"}) do
      assert.is_nil(header:find(name, 1, true))
      for _, e in ipairs(names) do assert.are_not.equal(name, e) end
    end
  end)

  it("the Lua module and the binding library export only Lua entry points", function()
    assert.are.same({"luaopen_annlua_core"},
                    exports(stage .. "/lib/lua/5.4/annlua/core.so"))
    for _, name in ipairs(exports(stage .. "/lib/libannlua-lua.so")) do
      assert(name:match("^luaopen_annlua") or name:match("^annlua_"), name .. " exported")
    end
    assert.matches("NEEDED%s+libannlua%.so%.0\n",
                   ok("objdump -p " .. q(stage .. "/lib/libannlua-lua.so")))
  end)

  it("a C++ program builds with pkg-config --cflags --libs annlua and runs", function()
    local exe = tmp .. "/hello"
    ok("g++ -std=c++11 -Wall -Wextra -Werror -o " .. q(exe) .. " spec/pkg/hello.cpp $("
       .. PC .. "--cflags --libs annlua)" .. sanitizers())
    assert.matches("NEEDED%s+libannlua%.so%.0\n", ok("objdump -p " .. q(exe)))
    local out = ok("LD_LIBRARY_PATH=" .. q(stage .. "/lib") .. " " .. q(exe))
    assert.matches("^19 22 43 50 ", out)
  end)

  it("and statically with pkg-config --static, and fully static", function()
    local libs = ok(PC .. "--static --libs annlua"):gsub("%s+$", "")
    local exe = tmp .. "/hello-static"
    -- the archive for annlua, the system's libraries as they come; an
    -- archive built with sanitizers (the ASan run) needs their runtimes
    local flags = libs:gsub("%-lannlua", "-Wl,-Bstatic -lannlua -Wl,-Bdynamic")
    local san = sanitizers()
    flags = flags .. san
    ok("g++ -std=c++11 -o " .. q(exe) .. " spec/pkg/hello.cpp $(" .. PC
       .. "--cflags annlua) " .. flags)
    assert.is_nil(ok("objdump -p " .. q(exe)):find("libannlua", 1, true))
    assert.matches("^19 22 43 50 ", ok(q(exe)))
    -- a fully static program: it runs on the built-in kernels, as it has
    -- no dynamic loader to load a BLAS with (and with BLAS=none, no dlopen
    -- is linked at all)
    if san == "" then
      ok("g++ -static -std=c++11 -o " .. q(exe) .. " spec/pkg/hello.cpp $("
         .. PC .. "--cflags annlua) " .. libs)
      assert.is_nil(ok("objdump -p " .. q(exe)):find("NEEDED", 1, true))
      assert.are.equal("19 22 43 50 builtin\n", ok(q(exe)))
      if not libs:find("-ldl", 1, true) then
        assert.is_nil(ok("nm " .. q(stage .. "/lib/libannlua.a")):find(" U dlopen", 1, true))
      end
    end
  end)

  it("a Lua host links the bindings with pkg-config annlua-lua", function()
    local exe = tmp .. "/host"
    ok("cc -std=c99 -Wall -o " .. q(exe) .. " spec/pkg/host.c $(" .. PC
       .. "--cflags --libs annlua-lua)" .. sanitizers())
    assert.are.equal("54\n", ok("LD_LIBRARY_PATH=" .. q(stage .. "/lib") .. " " .. q(exe)))
  end)
end)
