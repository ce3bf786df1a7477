-- The examples of the neural-network basics, each run by the annlua
-- interpreter in a child process from another directory (they find their
-- data next to themselves).  Each example checks its own result against
-- closed forms or hand-worked numbers and exits non-zero when it is off;
-- here we check the exit code and the lines that carry the result.
-- (iris, digits and mnist run in fit_spec.lua; playground in
-- playground_spec.lua.)

local h = require("helpers")

-- runs examples/<example> from /tmp; returns its stdout and stderr as one,
-- and the exit code
local function run(example)
  local out, _, code = h.run(("cd /tmp && %s %s 2>&1"):format(
    h.quote(h.annlua_bin()), h.quote(h.abspath("examples/" .. example))))
  return out, code
end

describe("examples", function()
  it("tensor_demo.lua runs", function()
    local _, code = run("tensor_demo.lua")
    assert.equal(0, code)
  end)

  it("activations.lua: autograd matches sigmoid' = s(1-s), tanh' = 1-tanh^2, softmax's Jacobian", function()
    local out, code = run("activations.lua")
    assert.equal(0, code, out)
    local worst = tonumber(out:match("largest difference from the closed forms: (%S+)"))
    assert.is_true(worst < 1e-5, out)
    -- sigmoid'(0.5) = s(1-s) with s = 1/(1+e^-0.5), worked out here
    local s = 1 / (1 + math.exp(-0.5))
    assert.truthy(out:find(string.format("%.6f", s * (1 - s)), 1, true))
  end)

  it("chain_rule.lua: the hand-derived gradients equal autograd's", function()
    local out, code = run("chain_rule.lua")
    assert.equal(0, code, out)
    assert.is_true(tonumber(out:match("largest difference: (%S+)")) < 1e-6)
  end)

  it("perceptron.lua: converges on setosa against the rest", function()
    local out, code = run("perceptron.lua")
    assert.equal(0, code, out)
    assert.truthy(out:match("converged at epoch %d+"))
    assert.truthy(out:find("training accuracy: 150 of 150", 1, true))
  end)

  it("xor.lua: the perceptron fails, the 2-4-1 network learns", function()
    local out, code = run("xor.lua")
    assert.equal(0, code, out)
    assert.truthy(out:find("perceptron on XOR: no convergence", 1, true))
    assert.truthy(out:find("correct: 4 of 4", 1, true))
  end)
end)
