-- The examples of the documentation run: every ```lua block of README.md
-- and docs/api.md is written to a file and run by the annlua interpreter
-- (helpers.annlua_bin: $ANNLUA_BIN, which spec/run sets, else the one
-- beside the C module busted loads, else build/bin/annlua) in a child
-- process from the top of the checkout, and must exit with status 0.  The
-- blocks check their own claims with assert.  A block whose first line is
-- "-- fragment" is not meant to run alone and is skipped.

-- the checkout: the directory above this file's (so that the spec also
-- runs from elsewhere); spec/ on the path for the shared helpers
local cwd = io.popen("pwd"):read("l")
local dir = debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") or "."
if dir:sub(1, 1) ~= "/" then dir = cwd .. "/" .. dir end
local root = dir .. "/.."
package.path = dir .. "/?.lua;" .. package.path
local h = require("helpers")
local bin = h.annlua_bin()

-- the ```lua blocks of a Markdown text: a list of {line =, code =}, line
-- being the line of the opening fence
local function lua_blocks(text)
  local blocks, cur, n = {}, nil, 0
  for line in (text .. "\n"):gmatch("(.-)\r?\n") do
    n = n + 1
    if cur then
      if line:match("^%s*```%s*$") then
        blocks[#blocks + 1] = {line = cur.line, code = table.concat(cur, "\n") .. "\n"}
        cur = nil
      else
        cur[#cur + 1] = line
      end
    elseif line:match("^%s*```lua%s*$") then
      cur = {line = n}
    end
  end
  assert(cur == nil, "a ```lua block opened at line " .. tostring(cur and cur.line)
         .. " is never closed")
  return blocks
end

local function is_fragment(code)
  return code:match("^%s*%-%-%s*fragment") ~= nil
end

-- runs code by the interpreter from the checkout; output (both streams)
-- and exit status
local function run(code)
  local path = h.writefile(os.tmpname(), code)
  local out, _, status = h.run(("cd %s && %s %s 2>&1"):format(
    h.quote(root), h.quote(bin), h.quote(path)))
  os.remove(path)
  return out, status
end

describe("documentation examples", function()
  it("the extractor finds blocks, their lines and fragments", function()
    local text = "x\n```lua\nprint(1)\n```\n```sh\nls\n```\n```lua\n-- fragment\nfoo(\n```\n"
    local b = lua_blocks(text)
    assert.equal(2, #b)
    assert.same({line = 2, code = "print(1)\n"}, b[1])
    assert.equal(8, b[2].line)
    assert.is_false(is_fragment(b[1].code))
    assert.is_true(is_fragment(b[2].code))
  end)

  it("the interpreter reports a failing block by its exit status", function()
    local _, ok = run("assert(ann.tensor{1}:item() == 1)\n")
    assert.equal(0, ok)
    local out, bad = run("assert(false, 'on purpose')\n")
    assert.is_not.equal(0, bad)
    assert.truthy(out:find("on purpose", 1, true))
  end)

  for _, doc in ipairs{"README.md", "docs/api.md"} do
    local blocks = lua_blocks(h.readfile(root .. "/" .. doc))
    it(doc .. " has lua blocks", function()
      assert.is_true(#blocks > 0)
    end)
    for _, b in ipairs(blocks) do
      local name = ("%s:%d runs"):format(doc, b.line)
      if is_fragment(b.code) then
        pending(name .. " (a fragment)")
      else
        it(name, function()
          local out, code = run(b.code)
          assert.equal(0, code, doc .. ":" .. b.line .. ":\n" .. out)
        end)
      end
    end
  end
end)
