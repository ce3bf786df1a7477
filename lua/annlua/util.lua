-- Small helpers shared by the Lua modules.

local util = {}

-- raises msg unless cond, blaming the caller's caller (level 3) by
-- default: the user's line that called the checking function, not ours;
-- module constructors (user -> new -> init -> check) pass 4
function util.check(cond, msg, level)
  if not cond then error(msg, level or 3) end
  return cond
end

return util
