-- Linear(in, out [, {bias = true}]): y = x W^T + b, a fully connected layer.
-- W is [out, in], b is [out].  Initialisation as PyTorch's default: W and b
-- uniform in [-1/sqrt(in), 1/sqrt(in)] (Kaiming uniform with a = sqrt(5)),
-- drawn from the global generator, so ann.manual_seed repeats a run.

local ann = require("annlua.core")
local util = require("annlua.util")
local check = util.check
local Module = require("annlua.nn.Module")

local Linear = Module:extend("Linear")

function Linear:init(n_in, n_out, opts)
  check(math.type(n_in) == "integer" and n_in > 0,
         "Linear: in must be a positive integer", 4)
  check(math.type(n_out) == "integer" and n_out > 0,
         "Linear: out must be a positive integer", 4)
  opts = util.options("Linear", opts, {bias = true})
  self.in_features, self.out_features = n_in, n_out
  local bound = 1 / math.sqrt(n_in)
  self.weight = ann.zeros(n_out, n_in):uniform_(-bound, bound):requires_grad()
  if opts.bias ~= false then
    self.bias = ann.zeros(n_out):uniform_(-bound, bound):requires_grad()
  end
end

function Linear:forward(x)
  return ann.linear(x, self.weight, self.bias)
end

function Linear:describe()
  return string.format("Linear(%d -> %d%s)", self.in_features,
                       self.out_features, self.bias and "" or ", no bias")
end

return Linear
