--[[
ann.plot: pictures of a training run, as PNG files and in the terminal.

  ann.plot.decision_boundary(model, train, {test = test, features = "x1,x2",
                             file = "out.png", terminal = true})
  ann.plot.loss_curve(history, {file = "loss.png", terminal = true})

The decision boundary is the network's output over the input square
([-6,6]^2, as the Playground) computed in one batched forward, coloured on
the Playground's scale (orange -1, light grey 0, blue +1), with the
training points on top (white rims) and the test points outlined in black.
In the terminal both pictures are drawn with 24-bit colour half blocks
("▀", two pixels a character) when the terminal shows colour, and with
plain characters otherwise:  boundary  + (positive) - (negative),
o / x training points (+1 / -1), O / X test points; loss  * training,
o test.  Pixels are drawn by the C core (ann.image, libpng).
]]

local core = require("annlua.core")
local util = require("annlua.util")
local autograd = require("annlua.autograd")

local plot = {}

plot.domain = {-6, 6}
plot.WHITE, plot.BLACK = 0xffffff, 0x000000
plot.FADE = 0.25         -- the heat map is lightened so the points show
plot.SHADES = 30         -- and drawn in steps, as on the page
plot.TRAIN_LINE, plot.TEST_LINE = 0x0877bd, 0xf59322

local function fail(fmt, ...) util.error(string.format(fmt, ...)) end

-- ---------------------------------------------------------------------
-- terminal

-- plot.color_supported([fd = 1]): does the terminal on fd show 24-bit
-- colour?  NO_COLOR turns colour off; COLORTERM = truecolor / 24bit, or a
-- TERM naming 256color, truecolor or direct, turns it on
function plot.color_supported(fd)
  local getenv = os and os.getenv or function() end  -- no os: no colour
  if getenv("NO_COLOR") or not os then return false end
  if not core.isatty(fd or 1) then return false end
  local ct = (getenv("COLORTERM") or ""):lower()
  if ct == "truecolor" or ct == "24bit" then return true end
  local term = (getenv("TERM") or ""):lower()
  return term:find("256color", 1, true) ~= nil
         or term:find("truecolor", 1, true) ~= nil
         or term:find("direct", 1, true) ~= nil
end

local function rgb(c) return c >> 16 & 0xff, c >> 8 & 0xff, c & 0xff end

-- plot.half_blocks(img) -> a string: the image two pixel rows a line,
-- each character "▀" in the top pixel's colour on the bottom's
function plot.half_blocks(img)
  local w, h = img:size()
  local out = {}
  for y = 1, h, 2 do
    local line, last = {}, nil
    for x = 1, w do
      local top = img:get(x, y)
      local bot = y + 1 <= h and img:get(x, y + 1) or 0
      local key = top * 0x1000000 + bot
      if key ~= last then
        local r1, g1, b1 = rgb(top)
        local r2, g2, b2 = rgb(bot)
        line[#line + 1] = string.format("\27[38;2;%d;%d;%dm\27[48;2;%d;%d;%dm",
                                        r1, g1, b1, r2, g2, b2)
        last = key
      end
      line[#line + 1] = "▀"
    end
    out[#out + 1] = table.concat(line) .. "\27[0m"
  end
  return table.concat(out, "\n") .. "\n"
end

-- whether to draw in colour: opts.color if given, else ask the terminal
local function use_color(opts)
  if opts.color ~= nil then return opts.color and true or false end
  return plot.color_supported(1)
end

-- ---------------------------------------------------------------------
-- decision boundary

local function check_model(op, model)
  local mt = getmetatable(model)
  if type(model) ~= "function" and not (mt and mt.__call) then
    fail("%s: model must be callable (a module or function), got %s", op,
         type(model))
  end
end

local function check_ds(op, name, ds)
  if ds == nil then return end
  if type(ds) ~= "table" or not core.is_tensor(rawget(ds, "x"))
     or ds.x:dim() ~= 2 or ds.x:size(2) ~= 2 then
    fail("%s: %s must be a dataset with x [N,2], got %s", op, name,
         type(ds) == "table" and core.is_tensor(rawget(ds, "x"))
           and "[" .. table.concat(ds.x:shape(), ",") .. "]" or type(ds))
  end
end

-- the model's output as one value per point in [-1,1]-ish: one output
-- column as it is; two columns (class scores) as p(class 2) - p(class 1)
local function squash(out)
  if out:dim() == 1 then return out end
  if out:size(2) == 1 then return out:view(-1) end
  if out:size(2) == 2 then
    local p = out:softmax(2)
    return p:select(2, 2) - p:select(2, 1)
  end
  util.error("decision_boundary: the model gives " .. out:size(2)
        .. " outputs per point; 1 (a score) or 2 (class scores) can be drawn")
end

-- plot.grid(model, {features, cols = 100, rows = cols, domain = {-6, 6}})
-- -> [rows, cols]: the output at the centres of a rows x cols tiling of
-- the square, row 1 at the top (x2 largest), in one forward pass
local grid_options = util.set{"features", "cols", "rows", "domain"}
local boundary_options = util.set{"file", "width", "height", "terminal",
  "cols", "color", "features", "grid", "domain", "test"}
local curve_options = util.set{"file", "width", "height", "terminal",
  "cols", "rows", "color"}

function plot.grid(model, opts)
  opts = util.options("grid", opts, grid_options)
  local pg = require("annlua.playground")
  local lo, hi = table.unpack(opts.domain or plot.domain)
  local cols = opts.cols or 100
  local rows = opts.rows or cols
  if math.type(cols) ~= "integer" or math.type(rows) ~= "integer"
     or cols < 1 or rows < 1 or cols * rows > 4000000 then
    fail("grid: cols and rows must be positive integers (at most 4e6 "
         .. "points), got %s x %s", tostring(cols), tostring(rows))
  end
  local dx, dy = (hi - lo) / cols, (hi - lo) / rows
  local xs = core.linspace(lo + dx / 2, hi - dx / 2, cols)
  local ys = core.linspace(hi - dy / 2, lo + dy / 2, rows)
  local gx = xs:view(1, cols):expand(rows, cols)
  local gy = ys:view(rows, 1):expand(rows, cols)
  local pts = core.stack({gx, gy}, 3):reshape(rows * cols, 2)
  local out = autograd.no_grad(function()
    return squash(model(pg.features(pts, opts.features)))
  end)
  return out:reshape(rows, cols)
end

-- the sign (+1/-1) or value of each label of ds, as a Lua list
local function label_values(ds)
  local y = ds.y:reshape(-1)
  if ds.labels == "class" then y = y * 2 - 3 end
  return y:totable()
end

local function point_list(ds)
  if not ds then return {}, {} end
  return ds.x:totable(), label_values(ds)
end

-- the training and test sets: (train, {test = ...}) or ({train, test})
local function parts(dataset, opts)
  if type(dataset) == "table" and dataset.x == nil and dataset.train then
    return dataset.train, dataset.test
  end
  return dataset, opts.test
end

local function boundary_png(model, train, test, opts)
  local w, h = opts.width or 400, opts.height or 400
  local lo, hi = table.unpack(opts.domain or plot.domain)
  local img = core.image(w, h)
  local grid = plot.grid(model, {features = opts.features, cols = opts.grid or 100,
                                 domain = opts.domain})
  img:heatmap(grid, -1, 1, plot.FADE, plot.SHADES)
  local r = math.max(2, math.min(w, h) / 110)
  local function draw(ds, rim)
    local xs, ys = point_list(ds)
    for i, p in ipairs(xs) do
      local px = (p[1] - lo) / (hi - lo) * w + 0.5
      local py = (hi - p[2]) / (hi - lo) * h + 0.5
      img:disc(px, py, r, core.colour(ys[i], -1, 1), rim, 1)
    end
  end
  draw(train, plot.WHITE)
  draw(test, plot.BLACK)
  return img
end

local function boundary_text(model, train, test, opts)
  local cols = opts.cols or 64
  local lo, hi = table.unpack(opts.domain or plot.domain)
  local color = use_color(opts)
  local rows = color and cols or cols // 2     -- pixels: square cells
  local grid = plot.grid(model, {features = opts.features, cols = cols,
                                 rows = rows, domain = opts.domain})
  -- mark(column, row, label, test) for each point that falls in a cell
  -- (1-based), train points first
  local function each_point(mark)
    for k, ds in ipairs{train or false, test or false} do
      if ds then
        local xs, ys = point_list(ds)
        for i, p in ipairs(xs) do
          local c = math.floor((p[1] - lo) / (hi - lo) * cols) + 1
          local r = math.floor((hi - p[2]) / (hi - lo) * rows) + 1
          if c >= 1 and c <= cols and r >= 1 and r <= rows then
            mark(c, r, ys[i], k == 2)
          end
        end
      end
    end
  end
  if color then
    local img = core.image(cols, rows)
    img:heatmap(grid, -1, 1, plot.FADE, plot.SHADES)
    -- one pixel a point: the label's colour, darker for test points
    each_point(function(c, r, y, is_test)
      local colour = core.colour(y, -1, 1)
      if is_test then colour = core.mix(colour, plot.BLACK, 0.4) end
      img:rect(c, r, 1, 1, colour)
    end)
    return plot.half_blocks(img)
  end
  local g = grid:totable()
  local chars = {}
  for r = 1, rows do
    chars[r] = {}
    for c = 1, cols do chars[r][c] = g[r][c] >= 0 and "+" or "-" end
  end
  each_point(function(c, r, y, is_test)
    local pos = y >= 0
    chars[r][c] = is_test and (pos and "O" or "X") or (pos and "o" or "x")
  end)
  for r = 1, rows do chars[r] = table.concat(chars[r]) end
  return table.concat(chars, "\n") .. "\n"
end

-- plot.decision_boundary(model, train [, {test =, features =, file =,
--   width = 400, height = 400, grid = 100, domain = {-6, 6},
--   terminal = false, cols = 64, color = auto}])
-- train: a dataset of points x [N,2] (x1, x2) and labels y (+1/-1, or
-- classes 1/2 with ds.labels = "class"; or regression targets), or a table
-- {train =, test =}.  The model takes the chosen features of the points
-- (the playground's names, x1,x2 by default).  Writes file as PNG when
-- given; with terminal = true prints the terminal form.  Returns the image
-- (ann.image) and, with terminal, the text; nil, err if the file can't be
-- written.
function plot.decision_boundary(model, dataset, opts)
  opts = util.options("decision_boundary", opts, boundary_options)
  local op = "decision_boundary"
  check_model(op, model)
  local train, test = parts(dataset, opts)
  check_ds(op, "the training set", train)
  check_ds(op, "the test set", test)
  local img = boundary_png(model, train, test, opts)
  if opts.file then
    local ok, err = img:write_png(opts.file)
    if not ok then return nil, err end
  end
  local text
  if opts.terminal then
    text = boundary_text(model, train, test, opts)
    core.write(text)
  end
  return img, text
end

-- plot.boundary_text(model, train [, opts]) -> the terminal form as a
-- string (opts as decision_boundary: test, features, cols, color)
function plot.boundary_text(model, dataset, opts)
  opts = util.options("boundary_text", opts, boundary_options)
  check_model("boundary_text", model)
  local train, test = parts(dataset, opts)
  check_ds("boundary_text", "the training set", train)
  check_ds("boundary_text", "the test set", test)
  return boundary_text(model, train, test, opts)
end

-- ---------------------------------------------------------------------
-- loss curves

local function series(history)
  if type(history) ~= "table" then
    fail("loss_curve: history must be a table (what ann.fit returns), got %s",
         type(history))
  end
  local train = history.loss or history.train_loss
  local test = history.val_loss or history.test_loss
  if type(train) ~= "table" or #train == 0 then
    fail("loss_curve: history.loss must be a non-empty list of numbers")
  end
  if test ~= nil and type(test) ~= "table" then
    fail("loss_curve: history.val_loss must be a list of numbers")
  end
  return train, test or {}
end

local function top_of(train, test)
  local top = 0
  for _, s in ipairs{train, test} do
    for _, v in ipairs(s) do
      if v == v and v < math.huge and v > top then top = v end
    end
  end
  return top > 0 and top or 1
end

-- a short number for a label: 3 significant digits
local function num(v) return (string.format("%.3g", v)) end

local function curve_png(train, test, opts)
  local w, h = opts.width or 480, opts.height or 240
  local img = core.image(w, h)
  local left, right, topm, bottom = 44, 10, 22, 20   -- margins
  local pw, ph = w - left - right, h - topm - bottom
  if pw < 10 or ph < 10 then
    fail("loss_curve: %dx%d is too small for a chart (at least 64x52)", w, h)
  end
  local n = math.max(#train, #test)
  local ymax = top_of(train, test) * 1.05
  local function X(e) return left + 1 + (n > 1 and (e - 1) / (n - 1) or 0.5) * pw end
  local function Y(v) return topm + 1 + (1 - math.min(v, ymax) / ymax) * ph end
  -- frame and grid lines at quarters
  local grey = 0xdddddd
  for k = 0, 4 do
    local y = topm + 1 + ph * k / 4
    img:line(left + 1, y, left + 1 + pw, y, grey, 1)
    img:text(2, math.floor(y) - 3, num(ymax * (1 - k / 4)), 0x555555, 1)
  end
  img:line(left + 1, topm + 1, left + 1, topm + 1 + ph, 0x555555, 1)
  img:line(left + 1, topm + 1 + ph, left + 1 + pw, topm + 1 + ph, 0x555555, 1)
  img:text(left + 1, h - 9, "1", 0x555555, 1)
  local last = tostring(n)
  img:text(left + pw - 6 * #last + 2, h - 9, last, 0x555555, 1)
  img:text(left + pw // 2 - 12, h - 9, "epoch", 0x555555, 1)
  local function curve(s, colour)
    for e = 2, #s do
      if s[e] == s[e] and s[e - 1] == s[e - 1] then
        img:line(X(e - 1), Y(s[e - 1]), X(e), Y(s[e]), colour, 2)
      end
    end
    if #s == 1 then img:disc(X(1), Y(s[1]), 2, colour) end
  end
  curve(train, plot.TRAIN_LINE)
  curve(test, plot.TEST_LINE)
  -- legend: the last values
  local x = left + 1
  img:rect(x, 6, 10, 3, plot.TRAIN_LINE)
  img:text(x + 14, 4, "train " .. num(train[#train]), 0x333333, 1)
  if #test > 0 then
    x = x + 14 + 6 * (7 + #num(train[#train])) + 12
    img:rect(x, 6, 10, 3, plot.TEST_LINE)
    img:text(x + 14, 4, "test " .. num(test[#test]), 0x333333, 1)
  end
  return img
end

local function curve_text(train, test, opts)
  local cols, rows = opts.cols or 60, opts.rows or 12
  local n = math.max(#train, #test)
  local ymax = top_of(train, test)
  -- the column of epoch e and the row of value v (row 1 at the top)
  local function C(e) return n > 1 and math.floor((e - 1) / (n - 1) * (cols - 1) + 1.5) or 1 end
  local function R(v) return rows - math.floor(math.min(v, ymax) / ymax * (rows - 1) + 0.5) end
  local lab = math.max(#num(ymax), 1)
  local lines = {}
  if use_color(opts) then
    local img = core.image(cols, 2 * rows)
    local function Rp(v) return 2 * rows - math.min(v, ymax) / ymax * (2 * rows - 1) end
    for _, sc in ipairs{{train, plot.TRAIN_LINE}, {test, plot.TEST_LINE}} do
      local s, colour = sc[1], sc[2]
      for e = 2, #s do
        if s[e] == s[e] and s[e - 1] == s[e - 1] then
          img:line(C(e - 1), Rp(s[e - 1]), C(e), Rp(s[e]), colour, 1)
        end
      end
    end
    local body = plot.half_blocks(img)
    local k = 0
    for line in body:gmatch("[^\n]+") do
      k = k + 1
      local label = k == 1 and num(ymax) or k == rows and "0" or ""
      lines[#lines + 1] = string.rep(" ", lab - #label) .. label .. " " .. line
    end
  else
    local grid = {}
    for r = 1, rows do
      grid[r] = {}
      for c = 1, cols do grid[r][c] = " " end
    end
    for _, sc in ipairs{{train, "*"}, {test, "o"}} do
      for e, v in ipairs(sc[1]) do
        if v == v then
          local r, c = R(v), C(e)
          grid[r][c] = (grid[r][c] ~= " " and grid[r][c] ~= sc[2]) and "#" or sc[2]
        end
      end
    end
    for r = 1, rows do
      local label = r == 1 and num(ymax) or r == rows and "0" or ""
      lines[r] = string.rep(" ", lab - #label) .. label .. " |" .. table.concat(grid[r])
    end
  end
  lines[#lines + 1] = string.rep(" ", lab + 1) .. "epochs 1.." .. n
    .. "   train " .. num(train[#train])
    .. (#test > 0 and ("   test " .. num(test[#test])) or "")
    .. (use_color(opts) and "" or "   (* train, o test, # both)")
  return table.concat(lines, "\n") .. "\n"
end

-- plot.loss_curve(history [, {file =, width = 480, height = 240,
--   terminal = false, cols = 60, rows = 12, color = auto}])
-- history: what ann.fit returns (history.loss, history.val_loss per
-- epoch), or {train_loss =, test_loss =}.  Training loss in blue, test
-- loss in orange, from 0 up.  Returns the image and, with terminal, the
-- text (also printed); nil, err if the file can't be written.
function plot.loss_curve(history, opts)
  opts = util.options("loss_curve", opts, curve_options)
  local train, test = series(history)
  local img = curve_png(train, test, opts)
  if opts.file then
    local ok, err = img:write_png(opts.file)
    if not ok then return nil, err end
  end
  local text
  if opts.terminal then
    text = curve_text(train, test, opts)
    core.write(text)
  end
  return img, text
end

-- plot.curve_text(history [, opts]) -> the terminal form as a string
function plot.curve_text(history, opts)
  local train, test = series(history)
  return curve_text(train, test, util.options("curve_text", opts, curve_options))
end

return plot
