-- Progress display of ann.fit.
--
-- On a terminal: one line redrawn in place (\r) at most ten times a
-- second, with the epoch, step/total, a bar, the running loss and
-- metrics, samples/s, elapsed time and ETA; at the end of each epoch it is
-- replaced by the epoch's summary line, which stays.  Elsewhere (a pipe, a
-- file): only the summary line, one per epoch:
--
--   epoch 3/20  loss 0.2045  accuracy 0.9412  val_loss 0.2210  val_accuracy 0.9350  31204 samples/s  0.3s

local core = require("annlua.core")

local progress = {}

local P = {}
P.__index = P

local REDRAW = 0.1        -- seconds between redraws of the bar

-- "0.4s", "12.3s", "4m05s", "2h07m"
function progress.duration(s)
  if s < 60 then return string.format("%.1fs", s) end
  s = math.floor(s + 0.5)
  if s < 3600 then return string.format("%dm%02ds", s // 60, s % 60) end
  return string.format("%dh%02dm", s // 3600, s % 3600 // 60)
end
local duration = progress.duration

-- "0.2045", "nan", "1.234e-07": four decimals unless tiny or huge
local function number(v)
  if v ~= v then return "nan" end
  local a = math.abs(v)
  if a ~= 0 and (a < 1e-3 or a >= 1e5) then return string.format("%.4g", v) end
  return string.format("%.4f", v)
end
progress.number = number

-- the figures in order: names is a list of log keys; short = true uses
-- short names ("acc") for the bar's line
local short_names = {accuracy = "acc", val_accuracy = "val_acc"}
local function figures(names, logs, short, sep)
  local parts = {}
  for _, k in ipairs(names) do
    local v = logs[k]
    if v ~= nil then     -- the bar's line: fixed decimals, a steady width
      parts[#parts + 1] = short and (short_names[k] or k) .. " "
                          .. (v == v and string.format("%.4f", v) or "nan")
                          or k .. " " .. number(v)
    end
  end
  return table.concat(parts, sep or "  ")
end

-- "950", "31k", "1.2M" samples/s: short, for the bar's line
local function rate(r)
  if r >= 1e6 then return string.format("%.1fM", r / 1e6) end
  if r >= 1e4 then return string.format("%.0fk", r / 1e3) end
  return string.format("%.0f", r)
end

-- library output goes through core.write: the host's writer when annlua
-- is embedded (a state may have no io library), else stdout
progress.stdout = {
  write = function(self, ...) core.write(...) return self end,
  flush = function(self) return self end,
}

-- the terminal's width: $COLUMNS, else stty's answer, else 80 (a state
-- with no os or io library: 80)
local function columns()
  local c = os and os.getenv and tonumber(os.getenv("COLUMNS"))
  if c then return c end
  local p = io and io.popen and io.popen("stty size 2>/dev/null </dev/tty")
  if p then
    local s = p:read("a") or ""
    p:close()
    c = tonumber(s:match("^%s*%d+%s+(%d+)"))
  end
  return c and c >= 20 and c or 80
end

-- progress.new{epochs =, steps =, mode = "bar" | "lines" | "off",
--   out = progress.stdout, width = columns}; mode "auto" picks "bar" on a
-- terminal (stdout) and "lines" elsewhere
function progress.new(o)
  local mode = o.mode or "auto"
  if mode == "auto" then mode = core.isatty(1) and "bar" or "lines" end
  return setmetatable({epochs = o.epochs, steps = o.steps, mode = mode,
                       out = o.out or progress.stdout,
                       width = o.width or (mode == "bar" and columns() or 80),
                       clock = o.clock or core.clock, shown = false,
                       last = -math.huge}, P)
end

function P:epoch_begin(epoch)
  self.epoch, self.t0, self.last, self.room = epoch, self.clock(), -math.huge, nil
end

-- is a redraw due after this step?  (so that the caller gathers the
-- running figures only when they are shown)
function P:due(step)
  if self.mode ~= "bar" then return false end
  return step >= self.steps or self.clock() - self.last >= REDRAW
end

-- after a step that is due: running figures (names, logs) and samples
-- seen so far
function P:step(step, names, logs, samples)
  if self.mode ~= "bar" then return end
  local now = self.clock()
  self.last = now
  local dt = now - self.t0
  local eta = step > 0 and dt / step * (self.steps - step) or 0
  local head = string.format("epoch %d/%d %" .. #tostring(self.steps) .. "d/%d ",
                             self.epoch, self.epochs, step, self.steps)
  local tail = string.format(" %s %s samples/s %s ETA %s",
                             figures(names, logs, true, " "),
                             rate(dt > 0 and samples / dt or 0),
                             duration(dt), duration(eta))
  -- the bar takes what the terminal's width leaves at the epoch's first
  -- draw, 6 to 30 columns (none if less), and keeps that width
  self.room = self.room or math.min(30, self.width - 1 - #head - #tail - 2)
  local room, bar = self.room, ""
  if room >= 6 then
    local done = math.floor(room * step / self.steps)
    bar = "[" .. string.rep("=", done)
          .. (done < room and ">" .. string.rep(" ", room - done - 1) or "") .. "]"
  end
  local line = (head .. bar .. tail):sub(1, self.width - 1)
  self.out:write("\r", line, "\27[K")
  self.out:flush()
  self.shown = true
end

-- end of an epoch: the summary line (names, logs), samples/s of the
-- training part and the epoch's seconds
function P:epoch_end(names, logs, rate, seconds)
  if self.mode == "off" then return end
  local line = string.format("epoch %d/%d  %s  %.0f samples/s  %s", self.epoch,
                             self.epochs, figures(names, logs), rate,
                             duration(seconds))
  if self.shown then self.out:write("\r\27[K") end
  self.out:write(line, "\n")
  self.out:flush()
  self.shown = false
end

-- a message of its own (early stopping, checkpoint), on a fresh line
function P:note(msg)
  if self.mode == "off" then return end
  self:interrupt()
  self.out:write(msg, "\n")
  self.out:flush()
end

-- ends a half-drawn bar line, so that what follows starts on its own line
function P:interrupt()
  if self.shown then
    self.out:write("\n")
    self.out:flush()
    self.shown = false
  end
end

return progress
