-- chain_rule.lua: backpropagation is the chain rule applied layer by
-- layer.  The network  x -> h = sigmoid(x w1) -> yhat = sigmoid(h w2)
-- with the squared error L = (yhat - y)^2, its gradients worked out by
-- hand step by step in plain Lua numbers, next to what autograd gives.
--   annlua examples/chain_rule.lua

local ann = require("annlua")

local x = {0.5, -1.0}                          -- one sample, 2 inputs
local y = 1.0                                  -- its target
local w1 = {{0.1, -0.2, 0.3}, {0.4, 0.5, -0.6}}   -- 2 x 3
local w2 = {0.7, -0.8, 0.9}                    -- 3 x 1

local function sigmoid(v) return 1 / (1 + math.exp(-v)) end

-- forward, by hand
local l1, h = {}, {}
for j = 1, 3 do
  l1[j] = x[1] * w1[1][j] + x[2] * w1[2][j]
  h[j] = sigmoid(l1[j])
end
local l2 = h[1] * w2[1] + h[2] * w2[2] + h[3] * w2[3]
local yhat = sigmoid(l2)
local L = (yhat - y) ^ 2

-- backward, by hand: each factor of the chain
local dL_dyhat = 2 * (yhat - y)                -- d/dyhat (yhat - y)^2
local dyhat_dl2 = yhat * (1 - yhat)            -- sigmoid' = s (1 - s)
local dL_dl2 = dL_dyhat * dyhat_dl2
local dL_dw2, dL_dh, dL_dl1, dL_dw1 = {}, {}, {}, {{}, {}}
for j = 1, 3 do
  dL_dw2[j] = dL_dl2 * h[j]                    -- dl2/dw2_j = h_j
  dL_dh[j] = dL_dl2 * w2[j]                    -- dl2/dh_j = w2_j
  dL_dl1[j] = dL_dh[j] * h[j] * (1 - h[j])     -- dh_j/dl1_j = h_j (1 - h_j)
  for i = 1, 2 do
    dL_dw1[i][j] = dL_dl1[j] * x[i]            -- dl1_j/dw1_ij = x_i
  end
end

print(string.format("forward:  l2 = %.6f  yhat = %.6f  L = %.6f", l2, yhat, L))
print(string.format("dL/dyhat = 2 (yhat - y)          = %.6f", dL_dyhat))
print(string.format("dyhat/dl2 = yhat (1 - yhat)      = %.6f", dyhat_dl2))
print(string.format("dL/dl2 = dL/dyhat * dyhat/dl2    = %.6f", dL_dl2))
print(string.format("dL/dh_j = dL/dl2 * w2_j          = %.6f %.6f %.6f",
                    dL_dh[1], dL_dh[2], dL_dh[3]))
print(string.format("dL/dl1_j = dL/dh_j h_j (1 - h_j) = %.6f %.6f %.6f",
                    dL_dl1[1], dL_dl1[2], dL_dl1[3]))

-- the same network with tensors, and autograd
local tx = ann.tensor{x}                       -- [1, 2]
local tw1 = ann.tensor(w1):requires_grad()     -- [2, 3]
local tw2 = ann.tensor(w2, {3, 1}):requires_grad()
local tyhat = tx:mm(tw1):sigmoid():mm(tw2):sigmoid()
local tL = ((tyhat - y) ^ 2):sum()
tL:backward()
print(string.format("\nautograd: L = %.6f (by hand %.6f)", tL:item(), L))

local worst = math.abs(tL:item() - L)
print("dL/dw2:   autograd   by hand")
for j = 1, 3 do
  print(string.format("  [%d]    %9.6f  %9.6f", j, tw2.grad:get(j, 1), dL_dw2[j]))
  worst = math.max(worst, math.abs(tw2.grad:get(j, 1) - dL_dw2[j]))
end
print("dL/dw1:   autograd   by hand")
for i = 1, 2 do
  for j = 1, 3 do
    print(string.format("  [%d,%d]  %9.6f  %9.6f", i, j, tw1.grad:get(i, j),
                        dL_dw1[i][j]))
    worst = math.max(worst, math.abs(tw1.grad:get(i, j) - dL_dw1[i][j]))
  end
end
print(string.format("largest difference: %.2e", worst))
if worst > 1e-6 then os.exit(1) end
