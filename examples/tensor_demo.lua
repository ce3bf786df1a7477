-- tensor_demo.lua: a short tour of annlua's tensors.
-- Run it with `make run`, or `build/bin/annlua examples/tensor_demo.lua`
-- (annlua sets the global `ann`; plain lua5.4 needs require "annlua").
local ann = ann or require("annlua")

local function section(title) print("\n-- " .. title) end

section("creation: float32, row-major, 1-based")
local a = ann.tensor{{1, 2, 3}, {4, 5, 6}}
print(a)
print(("shape %s, %d elements, a[2][3] = %g"):format(
  table.concat(a:shape(), "x"), a:numel(), a:get(2, 3)))
print(ann.arange(0, 1, 0.25))
print(ann.eye(3))
ann.manual_seed(42)                        -- the same numbers every run
print(ann.randn(2, 4))

section("broadcasting (numpy rules)")
print(a + ann.tensor{10, 20, 30})          -- [2,3] + [3]
print(ann.tensor{{1}, {2}} * ann.tensor{1, 10, 100})   -- [2,1] * [3]
print(1 - a / 2)                           -- numbers on either side

section("views share storage")
local at = a:t()                           -- [3,2], no copy
print(at)
print("contiguous: " .. tostring(at:is_contiguous()))
local b = a:clone()                        -- a copy of a
b[1]:fill(0)                               -- row 1 of b is a view
print(b)

section("matrix products (OpenBLAS)")
local w = ann.tensor{{1, 0}, {0, 1}, {1, 1}}
print(a:mm(w))                             -- [2,3] x [3,2]
print(ann.matmul(a, ann.ones(3)))          -- row sums
print(a:mm(a:t()))                         -- a transposed view, no copy

section("softmax: rows sum to 1, stable for large logits")
local p = ann.tensor{{1, 2, 3}, {1000, 1000, 1000}}:softmax(2)
print(p)
print(p:sum(2))

section("reductions")
local m, i = a:max(2)
print(("sum %g, mean %g"):format(a:sum():item(), a:mean():item()))
print("row maxima and their columns:")
print(m)
print(i)

section("a mistake gives a clear error")
print(select(2, pcall(function() return a:mm(a) end)))

local c = ann.config()
print(("\nannlua %s, BLAS %s (kernel %s), SIMD %s, %d threads"):format(
  c.version, c.blas, c.blas_core, c.simd, c.threads))
