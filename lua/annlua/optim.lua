-- ann.optim: optimisers and learning-rate schedules.
--
--   local opt = ann.optim.Adam(model:parameters(), {lr = 1e-3})
--   opt:zero_grad(); loss:backward(); opt:step()
--
-- Each step is one C call over the whole parameter list.  The update rules
-- are PyTorch's (torch.optim), so the same settings train the same way.
-- State (momentum, moments) lives in tensors held here, so it can be saved.

local core = require("annlua.core")

local optim = {}

local Optimizer = {}
Optimizer.__index = Optimizer

local function class(name, defaults)
  defaults.l1 = 0                        -- every optimiser takes l1 = rate
  local cls = setmetatable({}, {__index = Optimizer, __call = function(c, params, opts)
    local self = setmetatable({name = name}, c)
    assert(type(params) == "table" and #params > 0,
           name .. ": expected a non-empty list of parameters")
    self.params = params
    opts = opts or {}
    for k, v in pairs(opts) do
      if defaults[k] == nil then
        error(string.format("%s: unknown option '%s'", name, k), 2)
      end
    end
    for k, v in pairs(defaults) do
      if opts[k] == nil then self[k] = v else self[k] = opts[k] end
    end
    self:init_state()
    return self
  end})
  cls.__index = cls
  optim[name] = cls
  return cls
end

-- zero tensors shaped like each parameter
local function zeros_like(params)
  local t = {}
  for i, p in ipairs(params) do t[i] = core.zeros(p:shape()) end
  return t
end

function Optimizer:zero_grad() core._zero_grad(self.params) end

-- L1 regularisation (the Playground's): grad += l1 * sign(param), before
-- the step; weight_decay is the L2 counterpart
function Optimizer:regularize()
  if self.l1 ~= 0 then core._l1_grad(self.params, self.l1) end
end

function Optimizer:__tostring()
  return string.format("%s(lr = %g, %d parameters)", self.name, self.lr,
                       #self.params)
end

-- Every optimiser also takes l1 = rate (L1 regularisation).
-- SGD(params, {lr, momentum = 0, dampening = 0, nesterov = false,
--              weight_decay = 0})
local SGD = class("SGD", {lr = 0.01, momentum = 0, dampening = 0,
                          nesterov = false, weight_decay = 0})
function SGD:init_state()
  self.state = {momentum = zeros_like(self.params), step = 0}
end
function SGD:step()
  self.state.step = self.state.step + 1
  self.step_count = self.state.step     -- the momentum buffer starts at grad
  self:regularize()
  core._sgd_step(self.params, self.state.momentum, self)
end

-- Adam(params, {lr = 1e-3, betas = {0.9, 0.999}, eps = 1e-8,
--               weight_decay = 0}); AdamW the same with decoupled decay
local function adam(name, decoupled, wd)
  local cls = class(name, {lr = 1e-3, betas = {0.9, 0.999}, eps = 1e-8,
                           weight_decay = wd})
  function cls:init_state()
    self.state = {m = zeros_like(self.params), v = zeros_like(self.params),
                  step = 0}
    self.decoupled = decoupled
  end
  function cls:step()
    local s = self.state
    s.step = s.step + 1
    self.beta1, self.beta2 = self.betas[1], self.betas[2]
    self.step_count = s.step
    self:regularize()
    core._adam_step(self.params, s.m, s.v, self)
  end
  return cls
end
adam("Adam", false, 0)
adam("AdamW", true, 1e-2)

-- RMSprop(params, {lr = 1e-2, alpha = 0.99, eps = 1e-8, momentum = 0,
--                  weight_decay = 0})
local RMSprop = class("RMSprop", {lr = 1e-2, alpha = 0.99, eps = 1e-8,
                                  momentum = 0, weight_decay = 0})
function RMSprop:init_state()
  self.state = {square_avg = zeros_like(self.params),
                momentum = zeros_like(self.params), step = 0}
end
function RMSprop:step()
  self.state.step = self.state.step + 1
  self.step_count = self.state.step
  self:regularize()
  core._rmsprop_step(self.params, self.state.square_avg, self.state.momentum,
                     self)
end

-- StepLR(opt, {step_size, gamma = 0.1}): lr *= gamma every step_size steps
function optim.StepLR(opt, opts)
  assert(opts and opts.step_size, "StepLR: step_size is required")
  local s = {opt = opt, step_size = opts.step_size, gamma = opts.gamma or 0.1,
             base_lr = opt.lr, epoch = 0}
  function s:step()
    self.epoch = self.epoch + 1
    self.opt.lr = self.base_lr * self.gamma ^ (self.epoch // self.step_size)
    return self.opt.lr
  end
  return s
end

-- CosineLR(opt, {t_max, eta_min = 0}): cosine annealing from the initial
-- lr to eta_min over t_max steps
function optim.CosineLR(opt, opts)
  assert(opts and opts.t_max, "CosineLR: t_max is required")
  local s = {opt = opt, t_max = opts.t_max, eta_min = opts.eta_min or 0,
             base_lr = opt.lr, epoch = 0}
  function s:step()
    self.epoch = self.epoch + 1
    local t = math.min(self.epoch, self.t_max)
    self.opt.lr = self.eta_min + (self.base_lr - self.eta_min)
                  * (1 + math.cos(math.pi * t / self.t_max)) / 2
    return self.opt.lr
  end
  return s
end

return optim
