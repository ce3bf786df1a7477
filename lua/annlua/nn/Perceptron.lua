-- Perceptron(n): Rosenblatt's perceptron, one neuron with a step
-- activation: y = 1 if w.x + b >= 0, else 0.  fit() applies the classic
-- learning rule sample by sample, w += lr (y - yhat) x, b += lr (y - yhat),
-- and returns the first epoch with no mistakes, or nil if there was none
-- (the data is then probably not linearly separable).

local core = require("annlua.core")
local util = require("annlua.util")
local check = util.check
local Module = require("annlua.nn.Module")

local Perceptron = Module:extend("Perceptron")

function Perceptron:init(n)
  check(math.type(n) == "integer" and n > 0,
         "Perceptron: n_inputs must be a positive integer", 4)
  self.n = n
  self.weight = core.zeros(n)     -- the rule needs no gradients
  self.bias = core.zeros(1)
end

function Perceptron:forward(x)
  local s = core.matmul(x, self.weight) + self.bias:item()
  return s:ge(0)
end

-- x: [N, n]; y: [N] of 0/1 (or -1/+1) labels
function Perceptron:fit(x, y, opts)
  opts = util.options("Perceptron:fit", opts, {epochs = true, lr = true})
  local epochs, lr = opts.epochs or 100, opts.lr or 1
  if math.type(epochs) ~= "integer" or epochs < 1 then
    util.fail("Perceptron:fit: epochs must be a positive integer, got %s", tostring(epochs))
  end
  if type(lr) ~= "number" or not (lr > 0) then
    util.fail("Perceptron:fit: lr must be a number > 0, got %s", tostring(lr))
  end
  if core.is_tensor(y) then       -- the rule knows 0/1 (-1 counts as 0)
    for i, v in ipairs(y:contiguous():view(-1):totable()) do
      if v ~= 0 and v ~= 1 and v ~= -1 then
        util.fail("Perceptron:fit: labels must be 0/1 (or -1/+1), got %s at sample %d",
                  v == math.floor(v) and string.format("%d", v) or tostring(v), i)
      end
    end
  end
  return core.perceptron_fit(self.weight, self.bias, x, y,
                             epochs, lr)
end

function Perceptron:describe()
  return string.format("Perceptron(%d)", self.n)
end

return Perceptron
