-- playground_spec.lua: ann.playground and ann.plot.  Every data set's
-- shape, label balance and ranges, checked against the Playground's
-- definitions worked out here (radii, arms, label formulas); seeds;
-- features against hand-computed values; pictures decoded back to pixels
-- of known colour; training: the spiral with 8,8 tanh to >= 95% test
-- accuracy, xor with x1*x2 and no hidden layer; the command line.
local ann = require("annlua")
local pg, plot = ann.playground, ann.plot
local h = require("helpers")

-- near(want, got, tol): absolute, tol 1e-5; fails(fn, parts...): fn
-- raises an error holding each part
local near, fails = h.near, h.fails

-- the points and labels of a dataset as Lua lists
local function points(ds)
  return ds.x:totable(), ds.y:reshape(-1):totable()
end

local function count(list, v)
  local k = 0
  for _, x in ipairs(list) do if x == v then k = k + 1 end end
  return k
end

local tmp = h.tmpdir()

describe("playground datasets", function()
  it("circle: 250 inside radius 2.5 (+1), 250 in the ring 3.5..5 (-1)", function()
    local ds = pg.dataset("circle")
    assert.are.same({500, 2}, ds.x:shape())
    assert.are.same({500, 1}, ds.y:shape())
    assert.are.equal("classification", ds.kind)
    local x, y = points(ds)
    assert.are.equal(250, count(y, 1))
    assert.are.equal(250, count(y, -1))
    for i = 1, 500 do
      local r = math.sqrt(x[i][1] ^ 2 + x[i][2] ^ 2)
      if y[i] == 1 then assert.is_true(r < 2.5 + 1e-5)
      else assert.is_true(r >= 3.5 - 1e-5 and r <= 5 + 1e-5) end
    end
  end)

  it("xor: |coordinates| in 0.3..5.3, label the sign of x1*x2", function()
    local x, y = points(pg.dataset("xor"))
    assert.are.equal(500, #y)
    for i = 1, 500 do
      for d = 1, 2 do
        local a = math.abs(x[i][d])
        assert.is_true(a >= 0.3 - 1e-5 and a <= 5.3 + 1e-5)
      end
      assert.are.equal(x[i][1] * x[i][2] >= 0 and 1 or -1, y[i])
    end
    -- uniform quadrants: about half each (binomial sd 11 points)
    local pos = count(y, 1)
    assert.is_true(pos > 200 and pos < 300, "positives: " .. pos)
  end)

  it("gauss: two clouds at (2,2) (+1) and (-2,-2) (-1), variance 0.5", function()
    local x, y = points(pg.dataset("gauss", {n = 2000}))
    assert.are.equal(1000, count(y, 1))
    for _, label in ipairs{1, -1} do
      local s, ss, k = {0, 0}, {0, 0}, 0
      for i = 1, #y do
        if y[i] == label then
          k = k + 1
          for d = 1, 2 do
            s[d] = s[d] + x[i][d]; ss[d] = ss[d] + x[i][d] ^ 2
          end
        end
      end
      for d = 1, 2 do
        local mean = s[d] / k
        local var = ss[d] / k - mean ^ 2
        near(2 * label, mean, 0.1)           -- sd of the mean: 0.022
        near(0.5, var, 0.1)                  -- sd of the variance: 0.022
      end
    end
    -- the noise widens the clouds: variance 4 at noise 0.5
    local x2, y2 = points(pg.dataset("gauss", {n = 2000, noise = 0.5}))
    local s, ss, k = 0, 0, 0
    for i = 1, #y2 do
      if y2[i] == 1 then k = k + 1; s = s + x2[i][1]; ss = ss + x2[i][1] ^ 2 end
    end
    near(4, ss / k - (s / k) ^ 2, 0.6)
  end)

  it("spiral: two opposite arms, r = 5i/250, angle 1.75*2*pi*i/250", function()
    local x, y = points(pg.dataset("spiral"))
    assert.are.equal(250, count(y, 1))
    assert.are.equal(250, count(y, -1))
    for i = 0, 249 do
      local r, t = 5 * i / 250, 1.75 * 2 * math.pi * i / 250
      local p, q = x[i + 1], x[i + 251]
      assert.are.equal(1, y[i + 1])
      assert.are.equal(-1, y[i + 251])
      near(r * math.sin(t), p[1], 1e-5)
      near(r * math.cos(t), p[2], 1e-5)
      near(-p[1], q[1], 1e-5)               -- the second arm is turned by pi
      near(-p[2], q[2], 1e-5)
    end
    -- noise moves each coordinate by less than the noise
    local xn = pg.dataset("spiral", {noise = 0.3}).x:totable()
    local moved = 0
    for i = 1, 500 do
      for d = 1, 2 do
        local dv = math.abs(xn[i][d] - x[i][d])
        assert.is_true(dv <= 0.3 + 1e-5)
        moved = moved + dv
      end
    end
    assert.is_true(moved > 50)              -- mean 0.15 per coordinate
  end)

  it("plane: 1200 points in [-6,6]^2, target (x1 + x2) / 10", function()
    local ds = pg.dataset("plane")
    assert.are.equal("regression", ds.kind)
    assert.are.same({1200, 1}, ds.y:shape())
    local x, y = points(ds)
    for i = 1, 1200 do
      assert.is_true(math.abs(x[i][1]) <= 6 and math.abs(x[i][2]) <= 6)
      near((x[i][1] + x[i][2]) / 10, y[i], 1e-5)
    end
  end)

  it("multigauss: the largest of six bumps of +-1 falling to 0 at 2", function()
    local bumps = {{-4, 2.5, 1}, {0, 2.5, -1}, {4, 2.5, 1},
                   {-4, -2.5, -1}, {0, -2.5, 1}, {4, -2.5, -1}}
    local x, y = points(pg.dataset("multigauss"))
    local zero = 0
    for i = 1, 1200 do
      local want = 0
      for _, b in ipairs(bumps) do
        local d = math.sqrt((x[i][1] - b[1]) ^ 2 + (x[i][2] - b[2]) ^ 2)
        if d < 2 and (2 - d) / 2 > math.abs(want) then want = b[3] * (2 - d) / 2 end
      end
      near(want, y[i], 1e-5)
      assert.is_true(math.abs(y[i]) <= 1)
      if y[i] == 0 then zero = zero + 1 end
    end
    -- six discs of radius 2 cover 6*4pi/144 = 52% of the square
    assert.is_true(zero > 1200 * 0.38 and zero < 1200 * 0.58, "zeros: " .. zero)
  end)

  it("noise flips the labels of points near the boundary", function()
    local _, y0 = points(pg.dataset("circle", {seed = 3}))
    local x, y = points(pg.dataset("circle", {seed = 3, noise = 0.5}))
    assert.are.equal(250, count(y0, 1))
    -- inner points keep r < 2.5; their labels come from noisy copies
    local flipped = 0
    for i = 1, 500 do
      local r = math.sqrt(x[i][1] ^ 2 + x[i][2] ^ 2)
      assert.is_true(i <= 250 and r < 2.5 + 1e-5 or i > 250 and r >= 3.5 - 1e-5)
      if (i <= 250) == (y[i] == -1) then flipped = flipped + 1 end
    end
    assert.is_true(flipped > 20, "flipped " .. flipped)
  end)

  it("gives the same points for the same seed and others for another", function()
    for _, name in ipairs{"circle", "xor", "gauss", "spiral", "plane", "multigauss"} do
      local a = pg.dataset(name, {seed = 42, noise = 0.2})
      local b = pg.dataset(name, {seed = 42, noise = 0.2})
      local c = pg.dataset(name, {seed = 43, noise = 0.2})
      assert.is_true(ann.allclose(a.x, b.x, 0, 0) and ann.allclose(a.y, b.y, 0, 0))
      assert.is_false(ann.allclose(a.x, c.x))
    end
  end)

  it("leaves the global generator alone", function()
    ann.manual_seed(7)
    local a = ann.rand(5)
    ann.manual_seed(7)
    pg.dataset("gauss", {noise = 0.3})
    assert.is_true(ann.allclose(a, ann.rand(5), 0, 0))
  end)

  it("gives 1-based classes on request: -1 -> 1, +1 -> 2", function()
    local s = pg.dataset("xor", {seed = 5})
    local c = pg.dataset("xor", {seed = 5, labels = "class"})
    assert.are.same({500}, c.y:shape())
    assert.is_true(ann.allclose((s.y:view(-1) + 3) / 2, c.y, 0, 0))
    assert.are.same({-1, 1}, c.classes)
  end)

  it("splits by a shuffled order, keeping what the set is", function()
    local ds = pg.dataset("spiral")
    local train, test = pg.split(ds, 0.3, 2)
    assert.are.equal(150, train:size())
    assert.are.equal(350, test:size())
    assert.are.equal("spiral", test.name)
    -- every point once: the sums of x add up
    near(ds.x:sum():item(), train.x:sum():item() + test.x:sum():item(), 1e-3)
  end)

  it("refuses bad names and values, listing what is allowed", function()
    fails(function() pg.dataset("moons") end, "unknown dataset 'moons'",
          "circle, xor, gauss, spiral, plane, multigauss")
    fails(function() pg.dataset("xor", {noise = 0.7}) end, "noise must be in 0..0.5")
    fails(function() pg.dataset("xor", {n = 1}) end, "n must be an integer >= 2")
    fails(function() pg.dataset("plane", {labels = "class"}) end, "regression")
    fails(function() pg.dataset("xor", {nosie = 0.1}) end, "unknown option 'nosie'")
  end)
end)

describe("playground features", function()
  it("computes x1, x2, x1^2, x2^2, x1*x2, sin(x1), sin(x2)", function()
    local x = ann.tensor{{1, 2}, {0.5, -1}}
    local f = pg.features(x, pg.feature_names):totable()
    -- sin 1 = 0.841470985, sin 2 = 0.909297427, sin 0.5 = 0.479425539
    local want = {{1, 2, 1, 4, 2, 0.841470985, 0.909297427},
                  {0.5, -1, 0.25, 1, -0.5, 0.479425539, -0.841470985}}
    for i = 1, 2 do
      for j = 1, 7 do near(want[i][j], f[i][j], 1e-6) end
    end
  end)

  it("takes names, aliases and 'sin' in the order given", function()
    assert.are.same({"x1", "x2", "sin(x1)", "sin(x2)"}, pg.parse_features("x1,x2,sin"))
    assert.are.same({"x1*x2"}, pg.parse_features("x1x2"))
    assert.are.same({"x2^2", "x1^2"}, pg.parse_features({"x2sq", "x1^2", "x1sq"}))
    assert.are.same(pg.feature_names, pg.parse_features("all"))
    local f = pg.features(ann.tensor{{3, -2}}, "x1x2, sin2"):totable()
    near(-6, f[1][1]); near(-0.909297427, f[1][2], 1e-6)
    fails(function() pg.parse_features("x1,cos") end, "unknown feature 'cos'",
          "x1, x2, x1^2")
    fails(function() pg.features(ann.zeros(3, 3), "x1") end, "x must be [N,2], got [3,3]")
  end)
end)

-- a model whose output is 10 * x1: positive (blue) right of x1 = 0
local function vertical_split()
  local lin = ann.nn.Linear(2, 1)
  ann.no_grad(function()
    lin.weight:copy(ann.tensor{{10, 0}})
    lin.bias:fill(0)
  end)
  return lin
end

-- the Playground's blue and orange lightened by plot.FADE = 0.25, worked
-- out by hand: blue #0877bd -> 8 + 247/4, 119 + 136/4, 189 + 66/4
local FADED_BLUE = 0x4699ce       -- 69.75 -> 70, 153, 205.5 -> 206
local FADED_ORANGE = 0xf8ae59     -- 245 + 10/4 = 247.5 -> 248, 174, 89.25 -> 89

describe("plot.decision_boundary", function()
  it("writes a PNG that decodes to the size and the colours expected", function()
    local train = ann.data.TensorDataset(ann.tensor{{-3, 3}}, ann.tensor{{1}})
    local test = ann.data.TensorDataset(ann.tensor{{3, -3}}, ann.tensor{{-1}})
    local file = tmp .. "/boundary.png"
    local img = plot.decision_boundary(vertical_split(), train,
      {test = test, file = file, width = 120, height = 80})
    assert.are.equal("userdata", type(img))
    -- the file itself: PNG signature, IHDR width and height (big-endian)
    local f = assert(io.open(file, "rb"))
    local head = f:read(24)
    f:close()
    assert.are.equal("\137PNG\r\n\26\n", head:sub(1, 8))
    assert.are.equal(120, string.unpack(">I4", head, 17))
    assert.are.equal(80, string.unpack(">I4", head, 21))
    -- decoded by libpng: x1 = -6 + 12 (px - 0.5) / 120
    local back = assert(ann.png_read(file))
    assert.are.same({120, 80}, {back:size()})
    assert.are.equal(FADED_BLUE, back:get(100, 40))      -- x1 = 3.95
    assert.are.equal(FADED_BLUE, back:get(62, 10))       -- x1 = 0.15
    assert.are.equal(FADED_ORANGE, back:get(58, 10))     -- x1 = -0.25
    assert.are.equal(FADED_ORANGE, back:get(5, 75))
    -- on the boundary itself (x1 = 0 between pixels 60 and 61) the output
    -- is +-0.5 there: halfway to the middle grey
    -- the training point at (-3,3): pixel (30.5, 20.5), blue in orange
    assert.are.equal(0x0877bd, back:get(30, 20))
    assert.are.equal(0x0877bd, back:get(31, 21))
    -- the test point at (3,-3): pixel (90.5, 60.5), orange with a black
    -- rim 2..3 pixels from its centre
    assert.are.equal(0xf59322, back:get(90, 60))
    assert.are.equal(0x000000, back:get(93, 60))
    assert.are.equal(FADED_BLUE, back:get(95, 60))
  end)

  it("draws the boundary as text: '-' left, '+' right, points as o/x/O/X", function()
    local train = ann.data.TensorDataset(ann.tensor{{-3, 3}, {3, 3}},
                                         ann.tensor{{1}, {-1}})
    local test = ann.data.TensorDataset(ann.tensor{{-3, -3}}, ann.tensor{{-1}})
    local text = plot.boundary_text(vertical_split(), train,
                                    {test = test, cols = 20, color = false})
    local lines = {}
    for l in text:gmatch("[^\n]+") do lines[#lines + 1] = l end
    assert.are.equal(10, #lines)
    -- (-3, 3): column floor(3/12*20)+1 = 6, row floor(3/12*10)+1 = 3
    assert.are.equal("-----o----+++++x++++", lines[3])
    assert.are.equal("-----X----++++++++++", lines[8])
    assert.are.equal("----------++++++++++", lines[1])
  end)

  it("draws it in colour with half blocks, two pixels a character", function()
    local ds = pg.dataset("gauss", {n = 20})
    local text = plot.boundary_text(vertical_split(), ds, {cols = 16, color = true})
    local lines = {}
    for l in text:gmatch("[^\n]+") do lines[#lines + 1] = l end
    assert.are.equal(8, #lines)
    local _, blocks = lines[1]:gsub("▀", "")
    assert.are.equal(16, blocks)
    -- the first cell: orange faded above and below
    assert.truthy(lines[1]:find("\27[38;2;248;174;89m\27[48;2;248;174;89m", 1, true))
    assert.truthy(text:find("\27[0m", 1, true))
  end)

  it("takes a model with two class scores and reports bad input", function()
    local two = ann.nn.Sequential{vertical_split(), ann.nn.Linear(1, 2)}
    assert.are.equal("userdata", type(plot.decision_boundary(two,
      pg.dataset("xor", {n = 10}), {width = 20, height = 20})))
    fails(function() plot.decision_boundary(vertical_split(), {x = ann.zeros(3, 3)}) end,
          "training set must be a dataset with x [N,2], got [3,3]")
    fails(function() plot.decision_boundary(42, pg.dataset("xor")) end,
          "model must be callable")
    local img, err = plot.decision_boundary(vertical_split(), pg.dataset("xor"),
      {file = "/nonexistent-dir/b.png", width = 10, height = 10})
    assert.is_nil(img)
    assert.truthy(err:find("/nonexistent-dir/b.png", 1, true))
  end)
end)

describe("plot.loss_curve", function()
  it("draws training (blue) and test (orange) loss on a scale from 0", function()
    local file = tmp .. "/loss.png"
    local hist = {loss = {1, 1, 1}, val_loss = {0.5, 0.5, 0.5}}
    assert.truthy(plot.loss_curve(hist, {file = file, width = 480, height = 240}))
    local img = assert(ann.png_read(file))
    assert.are.same({480, 240}, {img:size()})
    -- plot area: x 45..471, y 23..221 (ymax = 1.05 at the top, 0 at the
    -- bottom); loss 1 at y = 23 + 198 * (1 - 1/1.05) = 32.4, loss 0.5 at
    -- 23 + 198 * (1 - 0.5/1.05) = 126.7; epoch 2 at x = 45 + 213 = 258
    assert.are.equal(plot.TRAIN_LINE, img:get(258, 32))
    assert.are.equal(plot.TEST_LINE, img:get(258, 127))
    assert.are.equal(0xffffff, img:get(258, 80))
  end)

  it("draws text curves: * training, o test", function()
    local text = plot.curve_text({loss = {4, 3, 2, 1}, val_loss = {4, 2, 2, 2}},
                                 {cols = 4, rows = 4, color = false})
    local lines = {}
    for l in text:gmatch("[^\n]+") do lines[#lines + 1] = l end
    -- row of v: 4 - floor(3 v / 4 + 0.5): 4 -> 1, 3 -> 2, 2 -> 2, 1 -> 3;
    -- '#' where both curves fall on one cell
    assert.are.equal("4 |#   ", lines[1])
    assert.are.equal("  | ##o", lines[2])
    assert.are.equal("  |   *", lines[3])
    assert.are.equal("0 |    ", lines[4])
    assert.truthy(lines[5]:find("epochs 1..4", 1, true))
    fails(function() plot.loss_curve({}) end, "history.loss must be a non-empty list")
  end)
end)

describe("playground training", function()
  it("spiral, 8,8 tanh: >= 95% test accuracy at noise 0 in 300 epochs", function()
    -- the Playground's settings (SGD, lr 0.03, batch 10, half for
    -- training) with the features of the issue's command
    local t0 = ann.clock()
    local r = pg.train{dataset = "spiral", features = "x1,x2,sin",
                       layers = {8, 8}, activation = "tanh", epochs = 300}
    assert.are.equal(300, #r.history.loss)
    assert.is_true(r.test_accuracy >= 0.95, "test accuracy " .. r.test_accuracy)
    assert.is_true(r.history.val_loss[300] < r.history.val_loss[1] / 5)
    print(string.format("\n  spiral 8,8: test accuracy %.3f in %.2f s",
                        r.test_accuracy, ann.clock() - t0))
  end)

  it("xor with the feature x1*x2 learns with no hidden layer", function()
    local r = pg.train{dataset = "xor", features = "x1x2", layers = {}, epochs = 20}
    assert.are.equal(2, #r.model:parameters())       -- one weight, one bias
    assert.is_true(r.test_accuracy >= 0.99, "test accuracy " .. r.test_accuracy)
    -- and with x1, x2 alone and no hidden layer it can't (a line)
    local lin = pg.train{dataset = "xor", layers = {}, epochs = 20}
    assert.is_true(lin.test_accuracy < 0.8)
  end)

  it("regularises: l2 and l1 shrink the weights", function()
    local function norm(m)
      local s = 0
      for _, p in ipairs(m:parameters()) do s = s + (p * p):sum():item() end
      return math.sqrt(s)
    end
    local base = {dataset = "circle", features = "x1sq,x2sq", layers = {4},
                  epochs = 30}
    local function run(reg, rate)
      local o = {}
      for k, v in pairs(base) do o[k] = v end
      o.regularization, o.rate = reg, rate
      return pg.train(o)
    end
    local function l1norm(m)
      local s = 0
      for _, p in ipairs(m:parameters()) do s = s + p:abs():sum():item() end
      return s
    end
    local none, l2, l1 = run("none", 0), run("l2", 0.3), run("l1", 0.1)
    assert.is_true(norm(l2.model) < 0.7 * norm(none.model))
    assert.is_true(l1norm(l1.model) < 0.7 * l1norm(none.model))
    fails(function() pg.train{regularization = "l3"} end,
          "regularization must be none, l1 or l2")
  end)

  it("fits the regression sets with a linear output", function()
    local r = pg.train{dataset = "plane", layers = {}, epochs = 10}
    assert.is_nil(r.test_accuracy)
    assert.is_true(r.test_loss < 1e-3, "test loss " .. r.test_loss)
  end)
end)

describe("examples/playground.lua", function()
  teardown(function() h.rmdir(tmp) end)

  -- the interpreter on the example; its stdout and stderr as one, exit code
  local function run(args)
    local out, _, rc = h.annlua("examples/playground.lua " .. args .. " 2>&1")
    return out, rc
  end

  it("lists every option with --help", function()
    local out, rc = run("--help")
    assert.are.equal(0, rc)
    for _, o in ipairs{"dataset", "noise", "features", "layers", "activation",
                       "lr", "batch", "epochs", "regularization", "rate",
                       "ratio", "seed", "png"} do
      assert.truthy(out:find("--" .. o, 1, true), o)
    end
  end)

  it("rejects a bad value naming the option and the allowed values", function()
    local out, rc = run("--activation softplus")
    assert.are.equal(2, rc)
    assert.truthy(out:find("--activation must be one of tanh, relu, sigmoid, linear, got 'softplus'", 1, true), out)
    out, rc = run("--noise 2")
    assert.are.equal(2, rc)
    assert.truthy(out:find("--noise must be a number from 0 to 0.5", 1, true), out)
    out, rc = run("--dataset moons")
    assert.are.equal(2, rc)
    assert.truthy(out:find("circle, xor, gauss, spiral, plane, multigauss", 1, true), out)
  end)

  it("trains, prints the losses and the boundary, writes the PNG", function()
    local png = tmp .. "/cli.png"
    local out, rc = run("--dataset circle --features x1sq,x2sq --layers 0 "
                        .. "--epochs 10 --plot plain --png " .. png)
    assert.are.equal(0, rc, out)
    assert.truthy(out:find("epoch    10  train loss", 1, true), out)
    assert.truthy(out:find("test accuracy", 1, true))
    assert.truthy(out:find("+++", 1, true))
    assert.truthy(out:find("wrote " .. png, 1, true))
    local img = assert(ann.png_read(png))
    assert.are.same({400, 400}, {img:size()})
  end)
end)

