-- ann.optim: optimisers and learning-rate schedules.
--
--   local opt = ann.optim.Adam(model:parameters(), {lr = 1e-3})
--   opt:zero_grad(); loss:backward(); opt:step()
--
-- Each step is one C call over the whole parameter list.  The update rules
-- are PyTorch's (torch.optim), so the same settings train the same way.
-- State (momentum, moments) lives in tensors held here, so it can be saved.

local core = require("annlua.core")
local util = require("annlua.util")
local check = util.check

local optim = {}

local Optimizer = {}
Optimizer.__index = Optimizer
Optimizer.__optimizer = true      -- how ann.save knows one

local function class(name, defaults)
  defaults.l1 = 0                        -- every optimiser takes l1 = rate
  local cls = setmetatable({}, {__index = Optimizer, __call = function(c, params, opts)
    local self = setmetatable({name = name}, c)
    check(type(params) == "table" and #params > 0,
           name .. ": expected a non-empty list of parameters")
    local first = {}
    for i, p in ipairs(params) do
      if not core.is_tensor(p) then
        util.error(string.format("%s: parameter %d is a %s, not a tensor", name, i,
                            type(p)))
      end
      -- one tensor twice would be moved twice per step
      if first[p] then
        util.error(string.format("%s: parameter %d is parameter %d again "
                            .. "(list each once; Module:parameters() does)",
                            name, i, first[p]))
      end
      -- the result of an operation: a step would move a temporary
      if p:needs_grad() and not p:is_leaf() then
        util.error(string.format("%s: parameter %d is not a leaf (the result of "
                            .. "an operation); pass the tensors themselves, "
                            .. "model:parameters()", name, i))
      end
      first[p] = i
    end
    self.params = params
    opts = util.options(name, opts, defaults)
    for k, v in pairs(defaults) do
      if opts[k] == nil then self[k] = v else self[k] = opts[k] end
    end
    self:validate()
    self:init_state()
    return self
  end})
  cls.__index = cls
  cls.defaults = defaults
  cls.__tostring = Optimizer.__tostring   -- metamethods are not inherited
  optim[name] = cls
  return cls
end

-- the options' ranges, checked when the optimiser is made and at each
-- step (an option may be changed between steps): a negative rate or a
-- beta of 1.5 would train silently the wrong way
local function number_ge0(v) return type(v) == "number" and v >= 0 end
local ranges = {
  {"lr", number_ge0, "a number >= 0"},
  {"momentum", number_ge0, "a number >= 0"},
  {"dampening", function(v) return type(v) == "number" and v >= 0 and v <= 1 end,
   "a number in [0, 1]"},
  {"nesterov", function(v) return type(v) == "boolean" end, "true or false"},
  {"alpha", number_ge0, "a number >= 0"},
  {"eps", number_ge0, "a number >= 0"},
  {"weight_decay", number_ge0, "a number >= 0"},
  {"l1", number_ge0, "a number >= 0"},
}

local function beta_ok(b) return type(b) == "number" and b >= 0 and b < 1 end

function Optimizer:validate()
  local name, defaults = self.name, self.defaults
  for _, r in ipairs(ranges) do
    local k = r[1]
    if defaults[k] ~= nil and not r[2](self[k]) then
      util.fail("%s: %s must be %s, got %s", name, k, r[3], tostring(self[k]))
    end
  end
  if self.nesterov and not (self.momentum > 0 and self.dampening == 0) then
    util.fail("%s: nesterov needs momentum > 0 and dampening = 0 (momentum %s, dampening %s)",
              name, tostring(self.momentum), tostring(self.dampening))
  end
  if defaults.betas ~= nil then
    local b = self.betas
    if type(b) ~= "table" or #b ~= 2 then
      util.fail("%s: betas must be {beta1, beta2}, got %s", name,
                type(b) == "table" and #b .. " values" or tostring(b))
    end
    for i = 1, 2 do
      if not beta_ok(b[i]) then
        util.fail("%s: betas[%d] must be in [0, 1), got %s", name, i, tostring(b[i]))
      end
    end
  end
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
  self:validate()
  if self.l1 ~= 0 then core._l1_grad(self.params, self.l1) end
end

-- opt:state_dict() -> a plain table (what ann.save writes for an
-- optimiser): {optimizer = name, hyper = {lr = ..., ...}, state = {step =
-- n, m = {tensors in parameter order}, ...}}.  The tensors are shared.
function Optimizer:state_dict()
  local function copy(v)
    return type(v) == "table" and table.move(v, 1, #v, 1, {}) or v
  end
  local hyper, state = {}, {}
  for k in pairs(self.defaults) do hyper[k] = copy(self[k]) end
  for k, v in pairs(self.state) do state[k] = copy(v) end
  return {optimizer = self.name, hyper = hyper, state = state}
end

local function shapestr(t)
  return core.is_tensor(t) and "[" .. table.concat(t:shape(), ",") .. "]"
         or type(t)
end

-- opt:load_state_dict(sd): hyper-parameters and state from sd, the
-- state_dict of the same optimiser on parameters of the same shapes;
-- everything is checked before anything changes
function Optimizer:load_state_dict(sd)
  local name = self.name
  local function fail(fmt, ...)
    util.error(string.format("%s:load_state_dict: " .. fmt, name, ...))
  end
  if type(sd) ~= "table" or sd.optimizer ~= name then
    fail("the state is of %s", type(sd) == "table" and tostring(sd.optimizer)
         or "a " .. type(sd))
  end
  local state = type(sd.state) == "table" and sd.state or {}
  for k, v in pairs(self.state) do
    local src = state[k]
    if type(v) == "table" then
      if type(src) ~= "table" or #src ~= #v then
        fail("state.%s has %s tensors, expected %d", k,
             type(src) == "table" and #src or "no", #v)
      end
      for i, t in ipairs(v) do
        if shapestr(src[i]) ~= shapestr(t) then
          fail("state.%s[%d] is %s, expected %s", k, i, shapestr(src[i]),
               shapestr(t))
        end
      end
    elseif math.type(src) ~= math.type(v) then
      fail("state.%s is %s, expected a number", k, tostring(src))
    end
  end
  for k, v in pairs(sd.hyper or {}) do
    if self.defaults[k] == nil then fail("unknown option '%s'", k) end
    if type(v) ~= type(self.defaults[k]) then
      fail("option '%s' is a %s, expected a %s", k, type(v),
           type(self.defaults[k]))
    end
  end
  for k, v in pairs(sd.hyper or {}) do self[k] = v end
  for k, v in pairs(self.state) do
    if type(v) == "table" then
      for i, t in ipairs(v) do t:copy(state[k][i]) end
    else
      self.state[k] = state[k]
    end
  end
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
  util.options("StepLR", opts, {step_size = true, gamma = true})
  check(opts and math.type(opts.step_size) == "integer"
         and opts.step_size > 0, "StepLR: step_size must be a positive integer")
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
  util.options("CosineLR", opts, {t_max = true, eta_min = true})
  check(opts and type(opts.t_max) == "number" and opts.t_max > 0,
         "CosineLR: t_max must be a positive number")
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
