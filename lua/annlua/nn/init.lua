-- ann.nn: layers, activations, containers and losses.

local nn = {
  Module = require("annlua.nn.Module"),
  Linear = require("annlua.nn.Linear"),
  Sequential = require("annlua.nn.Sequential"),
  Perceptron = require("annlua.nn.Perceptron"),
}

for _, part in ipairs{"annlua.nn.activations", "annlua.nn.losses",
                      "annlua.nn.containers"} do
  for k, v in pairs(require(part)) do nn[k] = v end
end

return nn
