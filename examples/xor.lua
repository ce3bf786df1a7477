-- xor.lua: a 2-4-1 network learns XOR, which no single perceptron can
-- (the two classes are not separable by one line).
--   annlua examples/xor.lua

local ann = require("annlua")
ann.manual_seed(1)

local x = ann.tensor{{0, 0}, {0, 1}, {1, 0}, {1, 1}}
local y = ann.tensor{{0}, {1}, {1}, {0}}

-- first, the perceptron: it never gets all four right
local p = ann.nn.Perceptron(2)
local epoch = p:fit(x, y:view(-1), {epochs = 100, lr = 1})
print(string.format("perceptron on XOR: %s",
      epoch and ("converged at epoch " .. epoch) or "no convergence in 100 epochs"))

-- then a hidden layer of 4 tanh units and a sigmoid output
local net = ann.nn.Sequential{
  ann.nn.Linear(2, 4), ann.nn.Tanh(),
  ann.nn.Linear(4, 1), ann.nn.Sigmoid(),
}
print(net)
local loss_fn = ann.nn.BCELoss()
local opt = ann.optim.SGD(net:parameters(), {lr = 0.5, momentum = 0.9})

for epoch = 1, 1000 do
  opt:zero_grad()
  local loss = loss_fn(net(x), y)
  loss:backward()
  opt:step()
  if epoch % 200 == 0 then
    print(string.format("epoch %4d  loss %.5f", epoch, loss:item()))
  end
end

local out = ann.no_grad(net, x)
print("inputs, target, network output:")
for i = 1, 4 do
  print(string.format("  %d xor %d = %d   %.4f", x:get(i, 1), x:get(i, 2),
                      y:get(i, 1), out:get(i, 1)))
end
local correct = out:gt(0.5):eq(y):sum():item()
print(string.format("correct: %d of 4", correct))
if correct ~= 4 then os.exit(1) end
