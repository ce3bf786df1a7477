-- optim_spec.lua: ann.optim through the Lua API against steps worked out
-- by hand (the update rules as torch.optim defines them): SGD plain, with
-- momentum, Nesterov and weight decay; Adam, AdamW and RMSprop; the lr
-- schedules; clip_grad_norm; opt.lr.
local ann = require("annlua")
local optim = ann.optim
local h = require("helpers")

-- fn raises an error holding each of the parts
local fails = h.fails

-- absolute comparisons, to 1e-6 unless a test says otherwise
local function near(want, got, tol) h.near(want, got, tol or 1e-6) end
local function near_all(want, t, tol) h.near_all(want, t, tol or 1e-6) end

-- a parameter with values w and gradient g, through the API: the loss
-- sum(w * g) has gradient g
local function param(w) return ann.tensor(w):requires_grad() end
local function grad(p, g)
  p.grad = nil
  ;(p * ann.tensor(g)):sum():backward()
end

describe("SGD", function()
  it("steps w -= lr g", function()
    local p = param{1, -2, 0.5}
    local opt = optim.SGD({p}, {lr = 0.1})
    grad(p, {0.5, -1, 2})
    opt:step()
    near_all({0.95, -1.9, 0.3}, p)
    assert.are.same({0.5, -1, 2}, p.grad:totable())   -- step keeps the grad
  end)

  it("updates several parameters in one step", function()
    local a, b = param{1, 2}, param{{3}, {4}}
    local opt = optim.SGD({a, b}, {lr = 0.5})
    grad(a, {1, 1}); grad(b, {{2}, {-2}})
    opt:step()
    near_all({0.5, 1.5}, a)
    near_all({2, 5}, b)
  end)

  it("with momentum 0.9 over two steps", function()
    -- step 1: buf = g = 1, w = 1 - 0.1 = 0.9
    -- step 2: buf = 0.9 * 1 + 2 = 2.9, w = 0.9 - 0.1 * 2.9 = 0.61
    local p = param{1}
    local opt = optim.SGD({p}, {lr = 0.1, momentum = 0.9})
    grad(p, {1}); opt:step()
    near_all({0.9}, p)
    grad(p, {2}); opt:step()
    near_all({0.61}, p)
  end)

  it("with Nesterov momentum", function()
    -- step 1: buf = g = 1, update g + 0.9 buf = 1.9, w = 1 - 0.19 = 0.81
    -- step 2: buf = 0.9 + 2 = 2.9, update 2 + 0.9 * 2.9 = 4.61,
    --         w = 0.81 - 0.461 = 0.349
    local p = param{1}
    local opt = optim.SGD({p}, {lr = 0.1, momentum = 0.9, nesterov = true})
    grad(p, {1}); opt:step()
    near_all({0.81}, p)
    grad(p, {2}); opt:step()
    near_all({0.349}, p)
  end)

  it("with weight decay: g + wd w", function()
    -- g' = 0.5 + 0.1 * 2 = 0.7, w = 2 - 0.1 * 0.7 = 1.93
    local p = param{2, -4}
    local opt = optim.SGD({p}, {lr = 0.1, weight_decay = 0.1})
    grad(p, {0.5, 0})
    opt:step()
    near_all({1.93, -3.96}, p)
  end)

  it("with L1 regularisation: g + l1 sign(w)", function()
    -- g' = 0.5 sign(w) = {0.5, -0.5, 0}; w -= 0.1 g'
    local p, q = param{2, -3, 0}, param{1}
    local opt = optim.SGD({p, q}, {lr = 0.1, l1 = 0.5})
    grad(p, {0, 0, 0})
    opt:step()
    near_all({1.95, -2.95, 0}, p)
    near_all({1}, q)                      -- no gradient: left alone
    assert.is_nil(q.grad)
  end)

  it("with dampening, from the second step on", function()
    -- step 1: buf = g = 1, w = -1; step 2: buf = 0.5 + 0.5 * 1, w = -2
    local p = param{0}
    local opt = optim.SGD({p}, {lr = 1, momentum = 0.5, dampening = 0.5})
    grad(p, {1}); opt:step()
    near_all({-1}, p)
    grad(p, {1}); opt:step()
    near_all({-2}, p)
  end)

  it("prints its name, lr and parameter count", function()
    local opt = optim.SGD({param{0}, param{1}}, {lr = 0.25})
    assert.are.equal("SGD(lr = 0.25, 2 parameters)", tostring(opt))
    assert.truthy(tostring(optim.Adam({param{0}})):find("^Adam%("))
  end)

  it("skips a parameter without a gradient", function()
    local a, b = param{1}, param{1}
    local opt = optim.SGD({a, b}, {lr = 1, momentum = 0.5})
    grad(a, {1})
    opt:step()
    near_all({0}, a)
    near_all({1}, b)
    assert.is_nil(b.grad)
  end)

  it("zero_grad zeroes every gradient", function()
    local a, b = param{1, 2}, param{3}
    local opt = optim.SGD({a, b}, {lr = 1})
    grad(a, {5, 6}); grad(b, {7})
    opt:zero_grad()
    assert.are.same({0, 0}, a.grad:totable())
    assert.are.same({0}, b.grad:totable())
    opt:step()                               -- a zero gradient: no move
    assert.are.same({1, 2}, a:totable())
  end)

  it("uses opt.lr as set between steps", function()
    local p = param{1}
    local opt = optim.SGD({p}, {lr = 0.1})
    assert.are.equal(0.1, opt.lr)
    opt.lr = 0.5
    assert.are.equal(0.5, opt.lr)
    grad(p, {1}); opt:step()
    near_all({0.5}, p)
  end)

  it("rejects an unknown option and an empty list", function()
    fails(function() optim.SGD({param{1}}, {lr = 0.1, momentun = 0.9}) end,
          "SGD", "momentun")
    fails(function() optim.SGD({}, {lr = 0.1}) end, "SGD")
    fails(function() optim.Adam({param{1}, 2}) end, "Adam", "parameter 2",
          "number")
    fails(function() optim.SGD({param{1}}, {lr = -1}):step() end, "lr", "-1")
    fails(function()
      optim.SGD({param{1}}, {lr = 1, nesterov = true}):step()
    end, "nesterov", "momentum")
  end)
end)

describe("Adam", function()
  it("moves each weight by lr * sign(g) on the first step", function()
    -- m = 0.1 g, v = 0.001 g^2; bias-corrected m/(sqrt v) = g/|g|
    local p = param{1, -2, 3, 0.5}
    local opt = optim.Adam({p}, {lr = 0.01})
    grad(p, {0.3, -5, 1e-3, 200})
    opt:step()
    near_all({0.99, -1.99, 2.99, 0.49}, p, 1e-5)
  end)

  it("uses the defaults lr = 1e-3 and betas {0.9, 0.999}", function()
    local opt = optim.Adam({param{0}})
    assert.are.equal(1e-3, opt.lr)
    assert.are.same({0.9, 0.999}, opt.betas)
    assert.are.equal(1e-8, opt.eps)
  end)

  it("follows the bias-corrected moments on the second step", function()
    local b1, b2, lr, eps = 0.9, 0.999, 0.1, 1e-8
    local w, m, v = 1.0, 0, 0
    local p = param{w}
    local opt = optim.Adam({p}, {lr = lr})
    for t, g in ipairs{1.0, -3.0} do
      m = b1 * m + (1 - b1) * g
      v = b2 * v + (1 - b2) * g * g
      local mh, vh = m / (1 - b1 ^ t), v / (1 - b2 ^ t)
      w = w - lr * mh / (math.sqrt(vh) + eps)
      grad(p, {g}); opt:step()
      near(w, p:get(1), 1e-5)
    end
  end)

  it("adds weight decay to the gradient (L2), unlike AdamW", function()
    -- w = 10, g = -0.1, wd = 1: g + wd w = 9.9 > 0, so Adam steps down
    local p = param{10}
    local opt = optim.Adam({p}, {lr = 0.01, weight_decay = 1})
    grad(p, {-0.1}); opt:step()
    near_all({9.99}, p, 1e-5)
  end)
end)

describe("AdamW", function()
  it("decays the weight apart from the gradient", function()
    -- w = w (1 - lr wd) - lr sign(g) = 10 (1 - 0.01) + 0.01 = 9.91
    local p = param{10}
    local opt = optim.AdamW({p}, {lr = 0.01, weight_decay = 1})
    grad(p, {-0.1}); opt:step()
    near_all({9.91}, p, 1e-5)
  end)

  it("has weight decay 1e-2 by default", function()
    local p = param{1}
    local opt = optim.AdamW({p}, {lr = 0.1})
    assert.are.equal(1e-2, opt.weight_decay)
    -- 1 (1 - 0.1 * 0.01) - 0.1 = 0.899
    grad(p, {2}); opt:step()
    near_all({0.899}, p, 1e-5)
  end)
end)

describe("RMSprop", function()
  it("first step: w -= lr g / sqrt((1 - alpha) g^2)", function()
    -- square_avg = 0.01 g^2, so the step is lr g / (0.1 |g|) = 10 lr sign(g)
    local p = param{1, -1}
    local opt = optim.RMSprop({p}, {lr = 0.01})
    grad(p, {4, -0.2})
    opt:step()
    near_all({0.9, -0.9}, p, 1e-5)
  end)

  it("second step by hand", function()
    local alpha, lr = 0.9, 0.01
    local w, sq = 1.0, 0
    local p = param{w}
    local opt = optim.RMSprop({p}, {lr = lr, alpha = alpha})
    for _, g in ipairs{2.0, 1.0} do
      sq = alpha * sq + (1 - alpha) * g * g
      w = w - lr * g / (math.sqrt(sq) + 1e-8)
      grad(p, {g}); opt:step()
      near(w, p:get(1), 1e-5)
    end
  end)

  it("with weight decay", function()
    -- g' = 1 + 0.5 * 2 = 2, square_avg = 0.01 * 4, w = 2 - 0.01 * 2 / 0.2
    local p = param{2}
    local opt = optim.RMSprop({p}, {lr = 0.01, weight_decay = 0.5})
    grad(p, {1}); opt:step()
    near_all({1.9}, p, 1e-5)
  end)

  it("with momentum", function()
    -- buf = 0.5 buf + g / sqrt(sq); w -= lr buf
    local p = param{0}
    local opt = optim.RMSprop({p}, {lr = 0.1, alpha = 0.75, momentum = 0.5})
    -- step 1: sq = 0.25, buf = 1 / 0.5 = 2, w = -0.2
    grad(p, {1}); opt:step()
    near_all({-0.2}, p, 1e-5)
    -- step 2: sq = 0.1875 + 0.25 = 0.4375, buf = 1 + 1 / sqrt(0.4375)
    grad(p, {1}); opt:step()
    near_all({-0.2 - 0.1 * (1 + 1 / math.sqrt(0.4375))}, p, 1e-5)
  end)
end)

describe("learning-rate schedules", function()
  it("StepLR multiplies lr by gamma every step_size steps", function()
    local opt = optim.SGD({param{0}}, {lr = 1})
    local s = optim.StepLR(opt, {step_size = 2, gamma = 0.5})
    local seen = {}
    for i = 1, 5 do s:step(); seen[i] = opt.lr end
    assert.are.same({1, 0.5, 0.5, 0.25, 0.25}, seen)
  end)

  it("CosineLR anneals from lr to eta_min over t_max steps", function()
    local opt = optim.SGD({param{0}}, {lr = 1})
    local s = optim.CosineLR(opt, {t_max = 4})
    local want = {(1 + math.sqrt(0.5)) / 2, 0.5, (1 - math.sqrt(0.5)) / 2, 0}
    for i = 1, 4 do s:step(); near(want[i], opt.lr, 1e-12) end
    local opt2 = optim.SGD({param{0}}, {lr = 0.3})
    local s2 = optim.CosineLR(opt2, {t_max = 2, eta_min = 0.1})
    s2:step(); near(0.2, opt2.lr, 1e-12)
    s2:step(); near(0.1, opt2.lr, 1e-12)
  end)

  it("reject a step size or t_max that is not positive", function()
    local opt = optim.SGD({param{0}}, {lr = 1})
    fails(function() optim.StepLR(opt, {step_size = 0}) end, "StepLR")
    fails(function() optim.StepLR(opt, {}) end, "StepLR", "step_size")
    fails(function() optim.CosineLR(opt, {t_max = 0}) end, "CosineLR", "t_max")
  end)

  it("the scheduled lr is the one the next step uses", function()
    local p = param{1}
    local opt = optim.SGD({p}, {lr = 1})
    local s = optim.StepLR(opt, {step_size = 1, gamma = 0.1})
    s:step()
    grad(p, {1}); opt:step()
    near_all({0.9}, p)
  end)
end)

describe("clip_grad_norm", function()
  it("scales all gradients jointly to max_norm and returns the norm", function()
    local a, b = param{0, 0}, param{0}
    grad(a, {3, 0}); grad(b, {4})               -- joint norm 5
    local total = ann.clip_grad_norm({a, b}, 1)
    near(5, total, 1e-5)
    near_all({0.6, 0}, a.grad, 1e-5)
    near_all({0.8}, b.grad, 1e-5)
  end)

  it("leaves gradients already within the bound alone", function()
    local a = param{0, 0}
    grad(a, {0.3, 0.4})
    near(0.5, ann.clip_grad_norm({a}, 1), 1e-6)
    near_all({0.3, 0.4}, a.grad, 1e-7)
  end)

  it("rejects something that is not a tensor", function()
    fails(function() ann.clip_grad_norm({param{1}, "x"}, 1) end,
          "clip_grad_norm", "entry 2")
  end)
end)
