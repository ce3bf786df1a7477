-- ann.data: datasets, loaders and file readers.
--
--   local train = ann.data.idx("train-images.gz", "train-labels.gz")
--   local loader = ann.data.DataLoader(train, {batch_size = 64})
--   for xb, yb in loader:iter() do ... end
--
-- Readers parse in C; batches are gathered in C (index_select), one call
-- per batch.

local core = require("annlua.core")
local util = require("annlua.util")
local check = util.check

local data = {}

-- TensorDataset(x [, y]): samples along the first dim of x (and y)
local Dataset = {}
Dataset.__index = Dataset
Dataset.__name = "TensorDataset"

function data.TensorDataset(x, y)
  check(core.is_tensor(x) and x:dim() >= 1,
         "TensorDataset: x must be a tensor with a sample dim")
  if y ~= nil then
    check(core.is_tensor(y), "TensorDataset: y must be a tensor")
    if #y ~= #x then
      util.error(string.format("TensorDataset: x has %d samples, y has %d",
                          #x, #y))
    end
  end
  return setmetatable({x = x, y = y}, Dataset)
end

function Dataset:size() return #self.x end
Dataset.__len = Dataset.size

-- ds:get(i) -> x_i, y_i (views)
function Dataset:get(i)
  if self.y then return self.x[i], self.y[i] end
  return self.x[i]
end

-- the samples at the 1-based indices idx (a tensor), as a new dataset
function Dataset:subset(idx)
  local ds = data.TensorDataset(self.x:index_select(1, idx),
                                self.y and self.y:index_select(1, idx))
  ds.classes = self.classes
  return ds
end

-- ds:shuffle([seed]) -> the same samples in a random order (a new dataset)
function Dataset:shuffle(seed)
  return self:subset(core.randperm(self:size(), seed))
end

-- ds:split(frac [, seed]) -> the first frac of a shuffled order, and the
-- rest; without a seed, the order of the file
function Dataset:split(frac, seed)
  check(type(frac) == "number" and frac > 0 and frac < 1,
         "split: frac must be in (0, 1)")
  local n = self:size()
  local k = math.floor(n * frac + 0.5)
  local order = seed and core.randperm(n, seed) or core.arange(1, n)
  return self:subset(order:narrow(1, 1, k)),
         self:subset(order:narrow(1, k + 1, n - k))
end

-- ds:map(fn) -> a new dataset of fn(x, y), applied to the whole tensors
-- at once (e.g. function(x, y) return x / 16, y end)
function Dataset:map(fn)
  local x, y = fn(self.x, self.y)
  local ds = data.TensorDataset(x, y)
  ds.classes = self.classes
  return ds
end

function Dataset:__tostring()
  local function shape(t) return table.concat(t:shape(), "x") end
  return string.format("TensorDataset(%d samples, x %s%s)", self:size(),
                       shape(self.x), self.y and (", y " .. shape(self.y)) or "")
end

-- DataLoader(ds, {batch_size = 64, shuffle = true, drop_last = false, seed})
local Loader = {}
Loader.__index = Loader

local loader_options = util.set{"batch_size", "shuffle", "drop_last", "seed"}

-- what a dataset needs, for the messages
data.NEEDS = "a TensorDataset or a table with x (a tensor [N, ...]) and, "
             .. "for training, y (targets [N, ...])"

local function kind(v)
  if core.is_tensor(v) then return "an ann.Tensor" end
  local mt = getmetatable(v)
  if type(v) == "table" and type(mt) == "table" and mt.__name then
    return "a " .. tostring(mt.__name)
  end
  return "a " .. type(v)
end

-- data.as_dataset(op, what, ds) -> ds as a TensorDataset: a TensorDataset
-- itself, or one made from a table's x and y tensors; raises otherwise
-- (at the user's line), saying what is needed
function data.as_dataset(op, what, ds)
  if getmetatable(ds) == Dataset then return ds end
  local x = type(ds) == "table" and ds.x or nil
  if not core.is_tensor(x) or x:dim() < 1 then
    util.fail("%s: %s must be %s; got %s%s", op, what, data.NEEDS, kind(ds),
              core.is_tensor(ds) and " (wrap it: ann.data.TensorDataset(x, y))"
              or (type(ds) == "table" and " without a tensor x" or ""))
  end
  local y = ds.y
  if y ~= nil and not core.is_tensor(y) then
    util.fail("%s: %s.y must be a tensor of targets, got %s", op, what, kind(y))
  end
  if y ~= nil and #y ~= #x then
    util.fail("%s: %s has %d samples in x and %d in y", op, what, #x, #y)
  end
  local out = data.TensorDataset(x, y)
  out.classes = ds.classes
  return out
end

function data.DataLoader(ds, opts)
  opts = util.options("DataLoader", opts, loader_options)
  ds = data.as_dataset("DataLoader", "dataset", ds)
  local self = setmetatable({dataset = ds, batch_size = opts.batch_size or 64,
                             shuffle = opts.shuffle ~= false,
                             drop_last = opts.drop_last or false,
                             seed = opts.seed, epoch = 0}, Loader)
  check(math.type(self.batch_size) == "integer" and self.batch_size > 0,
         "DataLoader: batch_size must be a positive integer")
  return self
end

function Loader:__len()
  local n, b = self.dataset:size(), self.batch_size
  return self.drop_last and n // b or (n + b - 1) // b
end

-- for xb, yb in loader:iter() do ... end: one pass over the data; with
-- shuffle, a new order each pass (from seed + pass number when seeded)
-- the next pass's order of the samples (a permutation of 1..n), or nil
-- without shuffle; advances the pass number
function Loader:next_order()
  self.epoch = self.epoch + 1
  if self.shuffle then
    return core.randperm(self.dataset:size(), self.seed and self.seed + self.epoch)
  end
end

function Loader:iter()
  local ds, b = self.dataset, self.batch_size
  local n = ds:size()
  local order = self:next_order()
  local nb, i = #self, 0
  return function()
    i = i + 1
    if i > nb then return nil end
    local start, len = (i - 1) * b + 1, math.min(b, n - (i - 1) * b)
    if order then
      local idx = order:narrow(1, start, len)
      return ds.x:index_select(1, idx), ds.y and ds.y:index_select(1, idx)
    end
    return ds.x:narrow(1, start, len), ds.y and ds.y:narrow(1, start, len)
  end
end

-- ann.data.csv(path [, {header = auto, label = "last" | column number |
-- column name | false, classes = false, delimiter = ",", max_bytes =,
-- max_elements =}]) -> a dataset,
-- or x alone with label = false; nil, err on a bad file.  Parsed in C
-- (core.csv_read).  With classes, ds.classes lists the label values in
-- the order of the classes 1..n.
local csv_options = util.set{"header", "label", "classes", "delimiter",
                             "max_bytes", "max_elements"}

function data.csv(path, opts)
  util.options("csv", opts, csv_options)
  local x, y, classes = core.csv_read(path, opts)
  if not x then return nil, y end
  if not y then return x end
  local ds = data.TensorDataset(x, y)
  ds.classes = classes
  return ds
end

-- ann.data.idx(images, labels [, {max_bytes =, max_elements =}]):
-- MNIST-style IDX files (raw or gzip); images flattened to [N, rows*cols]
-- and scaled to [0,1]; labels as 1-based classes (digit d -> class d + 1).
-- nil, err on a bad file or one past a limit (each file's own).
function data.idx(images_path, labels_path, opts)
  local x, err = core.idx_read(images_path, opts)
  if not x then return nil, err end
  x = x:view(#x, -1) / 255
  if not labels_path then return x end
  local y
  y, err = core.idx_read(labels_path, opts)
  if not y then return nil, err end
  if y:dim() ~= 1 or #y ~= #x then
    return nil, string.format("%s: %d labels for %d images in %s",
                              labels_path, y:numel(), #x, images_path)
  end
  if #y > 0 and y:min():item() < 0 then
    return nil, labels_path .. ": labels must be >= 0"
  end
  local ds = data.TensorDataset(x, y + 1)
  ds.classes = {}
  for c = 0, #y > 0 and y:max():item() or -1 do ds.classes[c + 1] = c end
  return ds
end

-- ann.data.load_npy(path) -> tensor, or nil, err; ann.data.save_npy(t,
-- path) -> true, or nil, err (NumPy's .npy, written as little-endian
-- float32 in C order, atomically)
data.load_npy = core.npy_load
data.save_npy = core.npy_save

-- ann.data.standardize(train_x [, other_x...]): per-column mean and std
-- of train_x, applied in place to all; constant columns are only centred.
-- Returns mean, std.
function data.standardize(x, ...)
  check(core.is_tensor(x) and x:dim() >= 1, "standardize: x must be a tensor [N, ...]")
  if #x < 2 then        -- the std of one row is NaN: every value would be
    util.fail("standardize: needs at least 2 rows to estimate a std, got %d", #x)
  end
  local mean = x:mean(1)
  local std = x:std(1)
  local safe = std + std:eq(0)          -- 1 where a column is constant
  for _, t in ipairs{x, ...} do
    t:sub_(mean):div_(safe)
  end
  return mean, std
end

return data
