-- annlua.fused: the fast path for Sequential stacks of built-in layers.
--
-- A Sequential made only of Linear layers, each followed by at most one
-- of Tanh, ReLU, Sigmoid, LeakyReLU (slope >= 0) or Identity, is handed to
-- C whole (src/ann_mlp.c) instead of op by op through autograd:
--
--   fused.forward(model, x)  -> y, or nil when the general path must run
--     (not fusable, or a graph is wanted).  Sequential:forward calls it,
--     so inference under ann.no_grad takes one C call per batch.
--   fused.trainer(model, loss, optimizer, batch_size) -> trainer, or nil
--     when the stack, the loss (MSE, CrossEntropy, BCEWithLogits; mean) or
--     the optimiser (SGD, Adam, AdamW, RMSprop) is not one it knows.
--     trainer:epoch(x, y [, order]) runs a whole epoch in one C call
--     (forward, loss, backward, optimiser step per batch) and returns the
--     mean loss; order is a permutation of 1..N (ann.randperm), else rows
--     are taken in order.  The model's tensors and the optimiser's state
--     are updated in place, exactly as the general loop would.
--     trainer:check(xb, yb) compares its loss and gradients on one batch
--     with autograd's: ok, max relative error.
--
-- The plan (which tensors, which activations) is cached per model and
-- checked on every call, so replacing a layer, a weight or a slope is
-- seen.

local core = require("annlua.core")
local load = load         -- as it was when annlua was opened
local check = require("annlua.util").check

local fused = {}

local plans = setmetatable({}, {__mode = "k"})   -- model -> plan

local act_names           -- activation class -> name in ann_mlp.c
local function classes()
  if act_names then return end
  local A = require("annlua.nn.activations")
  act_names = {[A.Tanh] = "tanh", [A.ReLU] = "relu", [A.Sigmoid] = "sigmoid",
               [A.LeakyReLU] = "leaky"}
  fused.Linear = require("annlua.nn.Linear")
  fused.Identity = A.Identity
  fused.Sequential = require("annlua.nn.Sequential")
end

-- is the cached plan still the model's?  build() lists what a plan was
-- made from as triples (table, key, value): the model's module count and
-- modules, each Linear's weight and bias (false for none), each
-- LeakyReLU's slope.  The check runs on every inference call, where each
-- Lua operation shows, so the triples become one function with the
-- checks unrolled and the values as upvalues:
--   local v1, v2, ... = ...
--   return function(model) return model["n"] == v1 and ... end
-- nil if there are more values than a function may have upvalues.
local function compile(guard)
  local names, vals, tests = {model = "model"}, {}, {}
  local function name(v)
    if v == false then return "nil" end
    if not names[v] then
      vals[#vals + 1] = v
      names[v] = "v" .. #vals
    end
    return names[v]
  end
  for i = 1, #guard, 3 do
    tests[#tests + 1] = string.format("%s[%q] == %s", name(guard[i]),
                                      guard[i + 1], name(guard[i + 2]))
  end
  -- a host may withhold load (a sandbox): no guard, no plan; the general
  -- path serves then
  if #vals > 180 or not load then return nil end
  local ups = {}
  for i = 1, #vals do ups[i] = "v" .. i end
  local src = "local " .. table.concat(ups, ", ") .. " = ...\n"
              .. "return function(model) return "
              .. table.concat(tests, "\n  and ") .. " end"
  return assert(load(src, "=(plan guard)", "t", {}))(table.unpack(vals))
end

-- the plan of a model, or nil if it is not a fusable stack
local function build(model)
  classes()
  if getmetatable(model) ~= fused.Sequential then return nil end
  local p = {ws = {}, bs = {}, acts = {}, slopes = {}}
  -- "model" stands for the model, the argument of the compiled check
  local guard = {"model", "n", rawget(model, "n")}
  local function holds(t, k, v)
    guard[#guard + 1], guard[#guard + 2], guard[#guard + 3] = t, k, v
  end
  local open = false      -- the last Linear has no activation yet
  for i = 1, model.n do
    local key = tostring(i)
    local m = rawget(model, key)
    local mt = getmetatable(m)
    holds("model", key, m)
    if mt == fused.Linear then
      local w, b = rawget(m, "weight"), rawget(m, "bias")
      if not core.is_tensor(w) or not w:is_contiguous()
         or (b ~= nil and not core.is_tensor(b)) then return nil end
      local l = #p.ws + 1
      p.ws[l], p.bs[l], p.acts[l], p.slopes[l] = w, b or false, "identity", 0
      holds(m, "weight", w)
      holds(m, "bias", b or false)
      open = true
    elseif mt == fused.Identity then      -- nothing to do
    elseif act_names[mt] then
      if not open then return nil end
      local l = #p.ws
      p.acts[l] = act_names[mt]
      if act_names[mt] == "leaky" then
        local slope = rawget(m, "slope")
        if type(slope) ~= "number" or not (slope >= 0) then return nil end
        p.slopes[l] = slope
        holds(m, "slope", slope)
      end
      open = false
    else
      return nil
    end
  end
  if #p.ws == 0 then return nil end
  local ok, mlp = pcall(core._mlp, p.ws, p.bs, p.acts, p.slopes)
  if not ok then return nil end
  p.mlp, p.fwd, p.holds = mlp, mlp.forward, compile(guard)
  return p.holds and p
end

-- a refusal is remembered with the module count it was decided for, so
-- an unfusable model costs one look per call, and a Sequential that grows
-- is looked at again
local refused = setmetatable({}, {__mode = "k"})   -- model -> n

local function plan_of(model)
  if type(model) ~= "table" then return nil end   -- a function, say
  local p = plans[model]
  if p then
    if p.holds(model) then return p end
  elseif refused[model] == rawget(model, "n") then
    return nil
  end
  p = build(model)
  plans[model], refused[model] = p, not p and rawget(model, "n") or nil
  return p
end

-- a user may add modules after a first call: forget a cached refusal
function fused.forget(model) plans[model], refused[model] = nil, nil end

-- y, or nil when the general path must run: the model is not a fusable
-- stack, x does not fit it, or a graph is wanted (grad mode on and x or a
-- parameter requires grad); the C side answers the last two
function fused.forward(model, x)
  local p = plan_of(model)
  if not p then return nil end
  return p.fwd(p.mlp, x)
end

-- net(x) for a Sequential (its __call): the fused path, else the
-- model's forward.  Being the metamethod itself saves a Lua call level,
-- which shows in an inference of a microsecond
function fused.call(model, x, ...)
  local p = plans[model]
  if p and p.holds(model) then
    -- a graph wanted, or x not for this network: forward would only try
    -- the fused path again
    return p.fwd(p.mlp, x) or model:forward_modules(x)
  end
  return model:forward(x, ...)
end

-- ---- training ------------------------------------------------------------

local loss_kinds = {MSELoss = "mse", CrossEntropyLoss = "ce",
                    BCEWithLogitsLoss = "bcel"}
local opt_kinds = {SGD = "sgd", Adam = "adam", AdamW = "adam",
                   RMSprop = "rmsprop"}

-- state lists laid out 2 per layer (weight, bias), false where no bias
local function state_lists(p, opt, index)
  local st, s1, s2 = opt.state, {}, {}
  local a, b
  if opt.name == "SGD" then a = st.momentum
  elseif opt.name == "RMSprop" then a, b = st.square_avg, st.momentum
  else a, b = st.m, st.v end
  for l = 1, #p.ws do
    local iw, ib = index[p.ws[l]], p.bs[l] and index[p.bs[l]]
    s1[2 * l - 1], s1[2 * l] = a and a[iw] or false, ib and a and a[ib] or false
    s2[2 * l - 1], s2[2 * l] = b and b[iw] or false, ib and b and b[ib] or false
  end
  return s1, s2
end

local Trainer = {}
Trainer.__index = Trainer

-- fused epochs run so far, by any trainer: lets a test (spec/fused_spec)
-- prove that ann.fit took the fused path it claims
fused.epochs_run = 0

function fused.trainer(model, loss, opt, batch_size)
  local optim = require("annlua.optim")
  local losses = require("annlua.nn.losses")
  local p = plan_of(model)
  if not p or type(loss) ~= "table" or type(opt) ~= "table" then return nil end
  local lname = loss.__name
  if not loss_kinds[lname] or getmetatable(loss) ~= losses[lname]
     or loss.reduction ~= "mean" or loss.extended then return nil end
  local oname = opt.name
  if not opt_kinds[oname] or getmetatable(opt) ~= optim[oname] then
    return nil
  end
  -- the optimiser must hold exactly the model's parameters
  local index, n = {}, 0
  for i, t in ipairs(opt.params) do index[t] = i; n = n + 1 end
  local count = 0
  for l = 1, #p.ws do
    if not index[p.ws[l]] or (p.bs[l] and not index[p.bs[l]]) then
      return nil
    end
    count = count + (p.bs[l] and 2 or 1)
  end
  if count ~= n then return nil end
  batch_size = batch_size or 64
  check(math.type(batch_size) == "integer" and batch_size > 0,
        "fused.trainer: batch_size must be a positive integer")
  return setmetatable({model = model, loss = loss, opt = opt, plan = p,
                       index = index, kind = loss_kinds[lname],
                       opt_kind = opt_kinds[oname],
                       batch_size = batch_size}, Trainer)
end

-- the plan, rebuilt if the model changed; nil if no longer fusable
function Trainer:current()
  local p = plan_of(self.model)
  if p ~= self.plan then
    if not p then return nil end
    for l = 1, #p.ws do
      if not self.index[p.ws[l]] or (p.bs[l] and not self.index[p.bs[l]]) then
        return nil
      end
    end
    self.plan = p
  end
  return p
end

-- one epoch; returns the mean loss (weighted by rows), the number of
-- right predictions (cross-entropy: argmax; BCE with logits: the logit's
-- sign per element), and the step whose loss was not finite if one was
-- (the epoch stopped there, before that step's update); nil if the model
-- stopped being fusable
function Trainer:epoch(x, y, order)
  local p = self:current()
  if not p then return nil end
  if not x:is_contiguous() then x = x:contiguous() end
  if not y:is_contiguous() then y = y:contiguous() end
  local opt, st = self.opt, self.opt.state
  if opt.betas then opt.beta1, opt.beta2 = opt.betas[1], opt.betas[2] end
  opt.step_count = st.step + 1
  local s1, s2 = state_lists(p, opt, self.index)
  local loss, steps, correct, bad = p.mlp:epoch(x, y, order, self.batch_size,
                                                self.kind, self.opt_kind, opt,
                                                s1, s2, #p.ws)
  fused.epochs_run = fused.epochs_run + 1
  st.step = st.step + steps
  opt.step_count = st.step
  return loss, correct, bad
end

-- loss and gradients of one batch, fused against autograd: ok (within
-- rtol, 1e-5 by default, relative to each tensor's largest entry), the
-- largest relative error, and the two losses
function Trainer:check(xb, yb, rtol)
  local p = self:current()
  if not p then return nil end
  rtol = rtol or 1e-5
  local params = self.model:parameters()
  core._zero_grad(params)
  local l = self.loss(self.model(xb), yb)
  l:backward()
  local ref = {}
  for i, t in ipairs(params) do ref[i] = t.grad:clone() end
  local lf = p.mlp:grad(xb, yb, self.kind)
  local lg = l:item()
  local worst = math.abs(lf - lg) / math.max(math.abs(lg), 1e-30)
  for i, t in ipairs(params) do
    local scale = math.max(ref[i]:abs():max():item(), 1e-30)
    local err = (t.grad - ref[i]):abs():max():item() / scale
    if err > worst then worst = err end
  end
  return worst <= rtol, worst, lf, lg
end

return fused
