-- train_model.lua: the Lua half of examples/embed/game.c.  Trains a small
-- policy network (32 sensor readings in, 8 action scores out, two hidden
-- layers of 64 tanh units) to imitate a hand-written policy, saves it with
-- ann.save, and writes beside it what the C host checks itself against:
--   PATH.in    64 input rows                    (little-endian float32)
--   PATH.out   the Lua forward of all 64 rows in one call
--   PATH.out1  the Lua forward of each row alone
-- Run:  annlua examples/embed/train_model.lua policy.ann [epochs]
local path = arg[1] or "policy.ann"
local epochs = tonumber(arg[2] or "20")
local nn = ann.nn

ann.manual_seed(7)
-- the policy to imitate: action k scores sensors k, k+8, k+16, k+24
local N = 2048
local X = ann.randn(N, 32)
local W = ann.zeros(32, 8)
for k = 1, 8 do
  for j = 0, 3 do W[k + 8 * j][k] = (j % 2 == 0) and 0.5 or -0.25 end
end
local Y = (X:mm(W)):tanh()

local net = nn.Sequential{nn.Linear(32, 64), nn.Tanh(),
                          nn.Linear(64, 64), nn.Tanh(),
                          nn.Linear(64, 8)}
ann.fit(net, {train = ann.data.TensorDataset(X, Y), loss = nn.MSELoss(),
              optimizer = ann.optim.Adam(net:parameters(), {lr = 0.003}),
              epochs = epochs, batch_size = 32, progress = false})
net:eval()
assert(ann.save(net, path))

local function write(file, t)
  local f = assert(io.open(file, "wb"))
  local parts = {}
  for _, row in ipairs(t:totable()) do
    for _, v in ipairs(row) do parts[#parts + 1] = string.pack("<f", v) end
  end
  f:write(table.concat(parts))
  f:close()
end

local xs = X:narrow(1, 1, 64):contiguous()
ann.no_grad(function()
  write(path .. ".in", xs)
  write(path .. ".out", net(xs))
  local rows = {}
  for i = 1, 64 do rows[i] = net(xs[i]):view(1, 8) end
  write(path .. ".out1", ann.cat(rows, 1))
end)
local loss = nn.MSELoss()(net(X), Y):item()
print(string.format("trained %s: mse %.4f on the training set", path, loss))
