-- load_nil_spec.lua (issue 11, finding 6): ann.load of a valid file that
-- holds nil gives nil and a message saying so, never nil, nil (which
-- `local obj, err = ann.load(p); if not obj then error(err) end` would
-- turn into error(nil)).
local ann = require("annlua")

describe("ann.load of a file holding nil", function()
  it("returns nil and a message naming the file", function()
    local path = os.tmpname()
    assert(ann.save(nil, path))
    local obj, err = ann.load(path)
    os.remove(path)
    assert.is_nil(obj)
    assert.is_string(err)
    assert.truthy(err:find(path .. ": the file holds nil", 1, true), err)
  end)

  it("still loads false, and a table holding nils", function()
    local path = os.tmpname()
    assert(ann.save(false, path))
    local obj, err = ann.load(path)
    assert.is_false(obj)
    assert.is_nil(err)
    assert(ann.save({a = 1}, path))
    assert.are.same({a = 1}, (ann.load(path)))
    os.remove(path)
  end)
end)
