-- activations.lua: sigmoid, tanh, relu and softmax, their values and
-- derivatives at a few points: autograd's derivative next to the closed
-- form (sigmoid' = s(1 - s), tanh' = 1 - tanh^2, relu' = [x > 0]).
--   annlua examples/activations.lua

local ann = require("annlua")

local points = {-3, -1, -0.5, 0.5, 1, 3}

local closed = {
  sigmoid = function(x) local s = 1 / (1 + math.exp(-x)) return s, s * (1 - s) end,
  tanh = function(x) local t = (math.exp(2 * x) - 1) / (math.exp(2 * x) + 1)
           return t, 1 - t * t end,
  relu = function(x) return math.max(x, 0), x > 0 and 1 or 0 end,
}

local worst = 0
for _, name in ipairs{"sigmoid", "tanh", "relu"} do
  print(string.format("%-8s %6s  %10s %10s  %10s %10s", name, "x", "f(x)",
                      "closed", "f'(x)", "closed"))
  local x = ann.tensor(points):requires_grad()
  local y = x[name](x)
  y:sum():backward()        -- d(sum y)/dx_i = f'(x_i): each y_i has one x_i
  for i, p in ipairs(points) do
    local f, d = closed[name](p)
    print(string.format("%-8s %6.2f  %10.6f %10.6f  %10.6f %10.6f", "", p,
                        y:get(i), f, x.grad:get(i), d))
    worst = math.max(worst, math.abs(y:get(i) - f), math.abs(x.grad:get(i) - d))
  end
end

-- softmax over n outputs: s_i = e^z_i / sum_j e^z_j; its Jacobian is
-- ds_i/dz_j = s_i ([i = j] - s_j).  Row i of the Jacobian is the gradient
-- of s_i, which autograd gives by backward from s_i alone.
local z = {1, 2, 3}
local denom = 0
for _, v in ipairs(z) do denom = denom + math.exp(v) end
print("\nsoftmax of {1, 2, 3}, and its Jacobian (autograd | closed form):")
for i = 1, 3 do
  local zt = ann.tensor(z):requires_grad()
  local s = zt:softmax(1)
  s:select(1, i):backward()
  local si = math.exp(z[i]) / denom
  local row = {}
  for j = 1, 3 do
    local sj = math.exp(z[j]) / denom
    local want = si * ((i == j and 1 or 0) - sj)
    row[#row + 1] = string.format("%9.6f|%9.6f", zt.grad:get(j), want)
    worst = math.max(worst, math.abs(zt.grad:get(j) - want))
  end
  print(string.format("  s_%d = %.6f (closed %.6f)   %s", i, s:get(i), si,
                      table.concat(row, "  ")))
  worst = math.max(worst, math.abs(s:get(i) - si))
end

print(string.format("\nlargest difference from the closed forms: %.2e", worst))
if worst > 1e-5 then os.exit(1) end
