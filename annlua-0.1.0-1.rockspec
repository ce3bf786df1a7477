-- LuaRocks: from a checkout, `luarocks --lua-version 5.4 make` builds with
-- the Makefile and installs the module "annlua" (Lua sources and the C
-- module annlua.core) and the `annlua` interpreter.  Needs no network.
-- `luarocks --lua-version 5.4 make BLAS=none` builds without a BLAS (the
-- built-in kernels, no dlopen).  Without it LuaRocks warns "unmatched
-- variable BLAS" and the Makefile's default (a BLAS found at run time)
-- applies.
rockspec_format = "3.0"
package = "annlua"
version = "0.1.0-1"
source = {
  url = ".",   -- built from the working copy (`luarocks make`)
}
description = {
  summary = "A neural-network runtime for Lua 5.4, with a C core",
  license = "MIT",
  detailed = [[
annlua gives Lua 5.4 float32 tensors (OpenBLAS and SIMD kernels in C),
and the `annlua` interpreter: Lua with annlua built in.
]],
}
dependencies = {
  "lua >= 5.4, < 5.5",
}
build = {
  type = "make",
  build_target = "all",
  build_variables = {
    CFLAGS = "$(CFLAGS)",
    LIBFLAG = "$(LIBFLAG)",
    LUA_INCDIR = "$(LUA_INCDIR)",
    LUA = "$(LUA)",
    BLAS = "$(BLAS)",
  },
  install_target = "install-lua",
  install_variables = {
    INST_PREFIX = "$(PREFIX)",
    INST_BINDIR = "$(BINDIR)",
    INST_LIBDIR = "$(LIBDIR)",
    INST_LUADIR = "$(LUADIR)",
    BLAS = "$(BLAS)",
  },
}
