-- mnist.lua: a 784-256-128-10 ReLU network learns handwritten digits
-- (MNIST, 8,000 training and 2,000 test images shipped in examples/data).
-- Adam, lr 1e-3, batch 64, softmax cross-entropy; PyTorch 1.13 reaches
-- 95.8% test accuracy with this recipe on these files.  Trains with
-- ann.fit (a progress bar on a terminal, the test accuracy after each
-- epoch), prints the confusion matrix, then saves the model, loads it back
-- and checks that the loaded copy scores the same.
--   annlua examples/mnist.lua [epochs [model file]]

local ann = require("annlua")
local here = arg and arg[0] and arg[0]:match("(.*/)") or "./"
local dir = here .. "data/"
local epochs = tonumber(arg and arg[1]) or 20
local model_path = arg and arg[2] or "mnist.ann"

local train = assert(ann.data.idx(dir .. "mnist-train-8k-images-idx3-ubyte.gz",
                                  dir .. "mnist-train-8k-labels-idx1-ubyte.gz"))
local test = assert(ann.data.idx(dir .. "mnist-test-2k-images-idx3-ubyte.gz",
                                 dir .. "mnist-test-2k-labels-idx1-ubyte.gz"))
print(string.format("train: %s\ntest:  %s", train, test))

ann.manual_seed(1)
local net = ann.nn.Sequential{
  ann.nn.Linear(784, 256), ann.nn.ReLU(),
  ann.nn.Linear(256, 128), ann.nn.ReLU(),
  ann.nn.Linear(128, 10),
}
print(net)

local loss = ann.nn.CrossEntropyLoss()
local history = ann.fit(net, {
  train = train, validation = test, loss = loss, epochs = epochs,
  optimizer = ann.optim.Adam(net:parameters(), {lr = 1e-3}),
  batch_size = 64, seed = 1,
})
print(string.format("trained %d epochs in %.1fs; best val_loss at epoch %d",
                    history.epochs, history.time, history.best_epoch))

local scores = ann.no_grad(net, test.x)
print(ann.metrics.confusion_matrix(scores, test.y, 10, {names = test.classes}))
local acc = ann.metrics.accuracy(scores, test.y)

-- the model file: save, load back, and score the loaded copy
assert(ann.save(net, model_path))
local loaded = assert(ann.load(model_path))
local again = ann.evaluate(loaded, test).accuracy
print(string.format("saved to %s; reloaded: test accuracy %.2f%% (%s)", model_path,
                    100 * again, again == acc and "the same" or "DIFFERENT"))
assert(again == acc, "the reloaded model scores differently")
print(string.format("final test accuracy: %.2f%%", 100 * acc))
