-- fuzz/mkseeds.lua: writes the seed corpora fuzz/corpus/<target>/ from
-- real files: the head of examples/data/iris.csv, the MNIST label file of
-- examples/data (gzip, and raw cut short), NumPy files and model files
-- written by ann.save / save_npy.  Run from the top directory:
--   build/bin/annlua fuzz/mkseeds.lua
-- (the seeds are committed; rerun after a file format changes)
local ann = require("annlua")
local dir = "fuzz/corpus/"

local function write(path, s)
  local f = assert(io.open(dir .. path, "wb"))
  f:write(s)
  f:close()
end
local function read(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("a")
  f:close()
  return s
end
local function gzip(s)
  local tmp = os.tmpname()
  local f = assert(io.open(tmp, "wb"))
  f:write(s)
  f:close()
  local p = assert(io.popen("gzip -cn9 " .. tmp))
  local z = p:read("a")
  p:close()
  os.remove(tmp)
  return z
end
for _, t in ipairs{"csv", "idx", "npy", "model", "load", "api"} do
  os.execute("mkdir -p " .. dir .. t)
end

-- CSV: the first byte chooses the options (fuzz_csv.c)
local iris = read("examples/data/iris.csv")
local head = iris:match("^([^\n]*\n[^\n]*\n[^\n]*\n[^\n]*\n[^\n]*\n[^\n]*\n)")
write("csv/iris-head", "\0" .. head)                     -- detect header
write("csv/iris-head-classes", "\8" .. head)             -- classes
write("csv/iris-head.gz", "\8" .. gzip(head))
write("csv/quoted", "\1" .. 'a,"b\r\nc",d\n1,"2",3\n"x""y",5,6\r\n')
write("csv/semicolon", "\64" .. "1;2;3\n4;5;6\n")
write("csv/nolabel", "\5" .. "1.5,2e3,-4\n,nan,inf\n")

-- IDX: the 2k test labels (gzip, 1 KB), a raw cut of them, raw images
local labels = read("examples/data/mnist-test-2k-labels-idx1-ubyte.gz")
write("idx/labels-2k.gz", labels)
local function be32(n) return string.pack(">I4", n) end
write("idx/labels-raw", "\0\0\8\1" .. be32(6) .. "\7\2\1\0\4\1")
write("idx/images-raw", "\0\0\8\3" .. be32(2) .. be32(2) .. be32(3) ..
      ("\1\2\3\4\5\6\7\8\9\10\11\12"))
write("idx/floats-raw", "\0\0\13\2" .. be32(2) .. be32(2) ..
      string.pack(">ffff", 1.5, -2, 0, 3.25))
write("idx/int-raw.gz", gzip("\0\0\12\1" .. be32(3) ..
      string.pack(">i4i4i4", 1, -2, 3)))

-- NumPy: written by annlua, and a hand-made '>f8' and 'u1'
local tmp = os.tmpname()
assert(ann.data.save_npy(ann.tensor{{1, 2, 3}, {4, 5, 6}}, tmp))
write("npy/f4-2x3.npy", read(tmp))
assert(ann.data.save_npy(ann.tensor{0.5}, tmp))
write("npy/f4-1.npy", read(tmp))
local function npy(descr, shape, body)
  local h = ("{'descr': '%s', 'fortran_order': False, 'shape': %s, }")
            :format(descr, shape)
  h = h .. (" "):rep(63 - (10 + #h) % 64) .. "\n"
  return "\147NUMPY\1\0" .. string.pack("<I2", #h) .. h .. body
end
write("npy/f8-be.npy", npy(">f8", "(2,)", string.pack(">dd", 1.25, -3)))
write("npy/u1-2x2.npy", npy("|u1", "(2, 2)", "\1\2\3\255"))
write("npy/b1-empty.npy", npy("|b1", "(0, 3)", ""))

-- model files: the whole file (first byte 1) and the body alone (0)
local function model(name, obj)
  assert(ann.save(obj, tmp))
  local f = read(tmp)
  local body = f:sub(21, #f - 12)
  for _, t in ipairs{"model", "load"} do
    write(t .. "/" .. name .. "-file", "\1" .. f)
    write(t .. "/" .. name .. "-body", "\0" .. body)
  end
end
ann.manual_seed(1)
local nn = ann.nn
model("mlp", nn.Sequential{nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2),
                           nn.Tanh()})
model("linear", nn.Linear(2, 1))
model("table", {a = 1, b = {true, "x", 2.5}, t = ann.ones(2, 2)})
local shared = ann.zeros(2)
model("refs", {shared, shared, {k = shared}})
model("leaky", nn.Sequential{nn.Linear(2, 2), nn.LeakyReLU(0.1),
                             nn.Linear(2, 3), nn.Sigmoid()})
os.remove(tmp)

-- the API driver: programs are bytes; a few hand-picked ones
write("api/make-and-view", "\0\0\2\3\4\0" .. "\1\0\60\2\4\5" ..
      "\2\0\70\1\3" .. "\7\0\1")
write("api/8dim", "\0\1\8\1\1\1\1\2\1\1\2\0" .. "\3\0\10\0" .. "\7\0\1")
write("api/empty", "\0\0\3\0\2\2\0" .. "\1\0\20\0" .. "\5\0\30\2\0\0\5\0")
write("api/module", "\6\0\2\4\3\4\2\0\2\2\3\4\3\0")
