-- Autograd helpers written in Lua: no_grad and grad_check.  The engine
-- itself (graph, backward of every op) is in C.

local core = require("annlua.core")
local util = require("annlua.util")
local check = util.check

local M = {}

-- ann.no_grad(fn, ...) -> fn(...) run without recording a graph
function M.no_grad(fn, ...)
  local prev = core._set_grad_enabled(false)
  local res = table.pack(pcall(fn, ...))
  core._set_grad_enabled(prev)
  if not res[1] then error(res[2], 0) end
  return table.unpack(res, 2, res.n)
end

-- fixed weights that turn any output into a scalar without symmetries
-- that could hide a wrong gradient (no random numbers: the global
-- generator's stream is left alone)
local function projection(out)
  local n = out:numel()
  local w = {}
  for k = 1, n do w[k] = 1 + 0.5 * math.sin(k) end
  return core.tensor(w, out:dim() > 0 and out:shape() or {})
end

-- ann.grad_check(fn, inputs [, {eps = 1e-3, atol = 1e-3, rtol = 1e-2}])
-- compares autograd's gradient of fn(inputs...) with central differences
-- (f(x + eps) - f(x - eps)) / 2 eps, element by element.
-- Returns ok, max_abs_error.
function M.grad_check(fn, inputs, opts)
  opts = util.options("grad_check", opts, {eps = true, atol = true, rtol = true})
  local eps, atol, rtol = opts.eps or 1e-3, opts.atol or 1e-3, opts.rtol or 1e-2
  check(type(inputs) == "table" and #inputs > 0,
         "grad_check: expected a non-empty list of input tensors")
  for i, x in ipairs(inputs) do
    check(core.is_tensor(x) and x:needs_grad(),
           "grad_check: input " .. i .. " is not a tensor that requires grad")
    x.grad = nil
  end
  local out = fn(table.unpack(inputs))
  check(core.is_tensor(out), "grad_check: fn must return a tensor, got "
         .. type(out))
  local w = projection(out)
  local function f() return (fn(table.unpack(inputs)) * w):sum():item() end
  ;(out * w):sum():backward()
  local ok, maxerr = true, 0
  M.no_grad(function()
    for _, x in ipairs(inputs) do
      -- a non-contiguous leaf (say a transposed one) is perturbed through
      -- a contiguous copy, copied back into it after each change
      local direct = x:is_contiguous()
      local flat = direct and x:view(-1) or x:contiguous():view(-1)
      local function put(k, v)
        flat:set(k, v)
        if not direct then x:copy(flat:view(x:shape())) end
      end
      local g = x.grad and x.grad:contiguous():view(-1)
      for k = 1, flat:numel() do
        local v = flat:get(k)
        put(k, v + eps); local fp = f()
        put(k, v - eps); local fm = f()
        put(k, v)
        local num = (fp - fm) / (2 * eps)
        local ana = g and g:get(k) or 0
        local err = math.abs(num - ana)
        if err > maxerr then maxerr = err end
        if not (err <= atol + rtol * math.abs(num)) then ok = false end
      end
    end
  end)
  return ok, maxerr
end

return M
