-- spec/save_kill_child.lua <path> <marker>: run by save_spec.lua in a child
-- process.  Saves a large model (50M parameters, 200 MB) to path; once its
-- tensors are written, and before the save can commit, it creates marker
-- and waits to be killed (kill -9) by the parent.  The hook is an
-- optimiser whose state_dict the save calls after the model ("model" sorts
-- before "opt").
local path, marker = arg[1], arg[2]
local ann = require("annlua")

ann.manual_seed(3)
local big = ann.nn.Sequential{ann.nn.Linear(5000, 5000),
                              ann.nn.Linear(5000, 5000)}
local opt = ann.optim.SGD({ann.zeros(1)}, {lr = 0.1})
function opt:state_dict()
  local f = assert(io.open(marker, "w"))
  f:write("mid-save\n")
  f:close()
  while true do end               -- until the parent kills us
end
ann.save({model = big, opt = opt}, path)
error("the save returned: the parent should have killed this process")
