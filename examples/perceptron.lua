-- perceptron.lua: Rosenblatt's perceptron and its learning rule on
-- linearly separable data: iris setosa against the other two species.
-- The rule, sample by sample: yhat = [w.x + b >= 0];
-- w += lr (y - yhat) x; b += lr (y - yhat).  On separable data it stops
-- making mistakes after finitely many updates (the perceptron
-- convergence theorem).
--   annlua examples/perceptron.lua

local ann = require("annlua")
local here = arg and arg[0] and arg[0]:match("(.*/)") or "./"

-- iris.csv: 4 measurements, then the species 0..2 (0 = setosa); its first
-- line is sklearn's header "150,4,setosa,versicolor,virginica"
local iris = assert(ann.data.csv(here .. "data/iris.csv", {header = true}))
local x = iris.x
local y = iris.y:eq(0)                 -- 1 for setosa, 0 for the rest
print(string.format("%d flowers, %d features; %d setosa", #x, x:size(2),
                    y:sum():item()))

local p = ann.nn.Perceptron(4)
local epoch = p:fit(x, y, {epochs = 100, lr = 0.1})
if not epoch then
  print("no convergence in 100 epochs")
  os.exit(1)
end
print(string.format("converged at epoch %d: no mistakes in a full pass", epoch))
print("weights " .. tostring(p.weight):match("^[^\n]*") ..
      string.format("  bias %.2f", p.bias:item()))

local correct = p(x):eq(y):sum():item()
print(string.format("training accuracy: %d of %d", correct, #x))
if correct ~= #x then os.exit(1) end
