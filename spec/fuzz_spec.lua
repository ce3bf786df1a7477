-- Inputs the fuzz targets of fuzz/ found crashing (or reported by a
-- sanitizer), kept as regression cases: spec/fuzz/<target>-<what> holds
-- the input exactly as the target took it, replayed here the way that
-- target uses it.  Each must give a result or nil and a message (or a
-- Lua error with a message), never a crash; under `make asan` a sanitizer
-- report fails the run too.  See fuzz/fuzz_*.c for what each target does.
local ann = require("annlua")
local h = require("helpers")

local tmp = h.tmpdir()

local read, write = h.readfile, h.writefile

-- CRC-32 (zlib's), for the container fuzz.h puts around a bare body
local crctab = {}
for i = 0, 255 do
  local c = i
  for _ = 1, 8 do
    c = (c & 1 ~= 0) and (0xEDB88320 ~ (c >> 1)) or (c >> 1)
  end
  crctab[i] = c
end
local function crc32(s)
  local c = 0xFFFFFFFF
  for i = 1, #s do c = crctab[(c ~ s:byte(i)) & 0xFF] ~ (c >> 8) end
  return c ~ 0xFFFFFFFF
end

-- fz_model_file of fuzz/fuzz.h: first byte odd, the rest is the file;
-- even, the rest is a body put in a valid container
local function model_file(s)
  if s:byte(1) & 1 == 1 then return s:sub(2) end
  local body = s:sub(2)
  local f = "\x89ANN\r\n\x1a\n" .. string.pack("<I4I8", 1, #body) .. body
  return f .. string.pack("<I8I4", #body, crc32(f))   -- CRC of header, body
end

-- a result, or nil and a string
local function answered(ok, v, err)
  assert(ok == true or type(v) == "string", "raised a " .. type(v))
  if ok and v == nil then assert.are.equal("string", type(err)) end
end

local replay = {
  idx = function(s)
    answered(pcall(ann.data.idx, write(tmp .. "/in", s)))
  end,
  npy = function(s)
    answered(pcall(ann.data.load_npy, write(tmp .. "/in", s)))
  end,
  csv = function(s)   -- the options as fuzz_csv.c takes them from byte 1
    local b = s:byte(1)
    local hd = (b & 3) - 1
    local o = {header = (hd == 0 and false) or (hd == 1 and true) or nil,
               classes = (b >> 3) & 1 == 1,
               delimiter = ({nil, ";", "\t", " "})[((b >> 6) & 3) + 1]}
    if b & 4 ~= 0 then o.label = false
    elseif b & 32 ~= 0 then o.label = "label"
    elseif b & 16 ~= 0 then o.label = 1 end
    answered(pcall(ann.data.csv, write(tmp .. "/in", s:sub(2)), o))
  end,
  model = function(s)
    answered(pcall(ann.load, write(tmp .. "/in", model_file(s))))
  end,
}
replay.load = replay.model
replay.api = function(s)    -- the driver itself catches what it calls
  local driver = assert(loadfile("fuzz/fuzz_api.lua"))
  local ok, err = pcall(driver, s)
  assert(ok or not tostring(err):find("non-string error", 1, true), err)
end

describe("inputs the fuzzers found", function()
  teardown(function() h.rmdir(tmp) end)
  local names = {}
  local p = io.popen("ls spec/fuzz 2>/dev/null")
  for name in p:lines() do names[#names + 1] = name end
  p:close()
  it("are there", function() assert.is_true(#names > 0) end)
  for _, name in ipairs(names) do
    local target = name:match("^(%a+)%-")
    it(name, function()
      assert(replay[target], "no replay for " .. name)
      replay[target](read("spec/fuzz/" .. name))
    end)
  end
end)
