/*
** annlua.c: the annlua interpreter.
** Lua 5.4's stand-alone interpreter (same options, LUA_INIT, REPL and
** Ctrl-C handling as lua.c) with annlua built in: before running anything
** it makes `require "annlua"` work from the Lua sources embedded at build
** time and the statically linked C module, and sets the global `ann`
** (annlua_openlibs, linit.c).
*/
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lua.h"
#include "lauxlib.h"
#include "lualib.h"

#include "annlua.h"

#define PROGNAME  "annlua"
#define PROMPT    "> "
#define PROMPT2   ">> "
#define MAXINPUT  512
#define LUA_INIT_VAR        "LUA_INIT"
#define LUA_INITVARVERSION  LUA_INIT_VAR LUA_VERSUFFIX    /* LUA_INIT_5_4 */

static lua_State *globalL = NULL;
static const char *progname = PROGNAME;


/* ---- Ctrl-C: stop the running chunk at its next hook ------------------- */

/* sigaction rather than signal(): its semantics are the same everywhere */
static void setsignal(int sig, void (*handler)(int)) {
  struct sigaction sa;
  sa.sa_handler = handler;
  sa.sa_flags = 0;
  sigemptyset(&sa.sa_mask);
  sigaction(sig, &sa, NULL);
}

/* set by the handler: a long operation of the core polls it through the
** state's cancel callback (a Lua loop is stopped by the hook instead) */
static volatile sig_atomic_t interrupted;
static int cancelled;          /* the running call was stopped by cancel */

/* the hook raises the error inside the Lua state, where it is safe */
static void lstop(lua_State *L, lua_Debug *ar) {
  (void)ar;
  lua_sethook(L, NULL, 0, 0);
  interrupted = 0;
  luaL_error(L, "interrupted!");
}

/* the state's cancel callback: the core stops with "op: cancelled by the
** host", which the binding raises; the hook is taken off so that only
** that error is raised */
static int lcancel(void *ud) {
  (void)ud;
  if (!interrupted) return 0;
  interrupted = 0;
  cancelled = 1;
  lua_sethook(globalL, NULL, 0, 0);
  return 1;
}

/* the signal handler only sets a hook and the flag; a second Ctrl-C
** kills (SIG_DFL) */
static void laction(int sig) {
  int flag = LUA_MASKCALL | LUA_MASKRET | LUA_MASKLINE | LUA_MASKCOUNT;
  setsignal(sig, SIG_DFL);
  interrupted = 1;
  lua_sethook(globalL, lstop, flag, 1);
}


/* ---- messages ---------------------------------------------------------- */

static void print_usage(const char *badoption) {
  lua_writestringerror("%s: ", progname);
  if (badoption[1] == 'e' || badoption[1] == 'l')
    lua_writestringerror("'%s' needs argument\n", badoption);
  else
    lua_writestringerror("unrecognized option '%s'\n", badoption);
  lua_writestringerror(
    "usage: %s [options] [script [args]]\n"
    "Available options are:\n"
    "  -e stat   execute string 'stat'\n"
    "  -i        enter interactive mode after executing 'script'\n"
    "  -l mod    require library 'mod' into global 'mod'\n"
    "  -l g=mod  require library 'mod' into global 'g'\n"
    "  -v        show version information\n"
    "  -E        ignore environment variables\n"
    "  -W        turn warnings on\n"
    "  --        stop handling options\n"
    "  -         stop handling options and execute stdin\n",
    progname);
}

static void l_message(const char *pname, const char *msg) {
  if (pname) lua_writestringerror("%s: ", pname);
  lua_writestringerror("%s\n", msg);
}

/* prints the error message on the stack top, if any */
static int report(lua_State *L, int status) {
  if (status != LUA_OK) {
    const char *msg = lua_tostring(L, -1);
    if (msg == NULL) msg = "(error object is not a string)";
    l_message(progname, msg);
    lua_pop(L, 1);
  }
  return status;
}

/* message handler: adds a traceback; uses __tostring for error objects */
static int msghandler(lua_State *L) {
  const char *msg = lua_tostring(L, 1);
  if (msg == NULL) {
    if (luaL_callmeta(L, 1, "__tostring") && lua_type(L, -1) == LUA_TSTRING)
      return 1;
    msg = lua_pushfstring(L, "(error object is a %s value)",
                          luaL_typename(L, 1));
  }
  if (cancelled && strstr(msg, "cancelled by the host"))  /* Ctrl-C, in C */
    msg = lua_pushfstring(L, "interrupted! (%s)", msg);
  luaL_traceback(L, L, msg, 1);
  return 1;
}

/* calls the function below narg arguments, with traceback and Ctrl-C */
static int docall(lua_State *L, int narg, int nres) {
  int status;
  int base = lua_gettop(L) - narg;
  lua_pushcfunction(L, msghandler);
  lua_insert(L, base);
  globalL = L;
  interrupted = cancelled = 0;
  setsignal(SIGINT, laction);
  status = lua_pcall(L, narg, nres, base);
  setsignal(SIGINT, SIG_DFL);
  lua_remove(L, base);
  return status;
}

static void print_version(void) {
  ann_Config c;
  ann_init();               /* may fail: ann_config then says "builtin" */
  ann_config(&c);
  printf("%s %s on %s\n", PROGNAME, ANN_VERSION, LUA_COPYRIGHT);
  printf("BLAS: %s, kernel %s; SIMD: %s; threads: %d\n",
         c.blas ? c.blas : "?", c.blas_core ? c.blas_core : "?",
         c.simd ? c.simd : "?", c.threads);
  printf("BLAS self-check: %s\n", ann_blas_check());
  fflush(stdout);
}


/* ---- running chunks ---------------------------------------------------- */

/* global `arg`: script at index 0, its arguments from 1, options below 0 */
static void createargtable(lua_State *L, char **argv, int argc, int script) {
  int i, narg;
  if (script == argc) script = 0;        /* no script name? */
  narg = argc - (script + 1);
  lua_createtable(L, narg, script + 1);
  for (i = 0; i < argc; i++) {
    lua_pushstring(L, argv[i]);
    lua_rawseti(L, -2, i - script);
  }
  lua_setglobal(L, "arg");
}

static int dochunk(lua_State *L, int status) {
  if (status == LUA_OK) status = docall(L, 0, 0);
  return report(L, status);
}

static int dofile(lua_State *L, const char *name) {
  return dochunk(L, luaL_loadfile(L, name));
}

static int dostring(lua_State *L, const char *s, const char *name) {
  return dochunk(L, luaL_loadbuffer(L, s, strlen(s), name));
}

/* -l: `mod` into global `mod`, or `g=mod` into global `g` */
static int dolibrary(lua_State *L, char *globname) {
  int status;
  char *mark = NULL;
  char *modname = strchr(globname, '=');
  if (modname != NULL) *modname++ = '\0';
  else {
    modname = globname;
    mark = strchr(modname, '-');   /* "mod-2.1" goes into global "mod" */
  }
  lua_getglobal(L, "require");
  lua_pushstring(L, modname);
  status = docall(L, 1, 1);
  if (status == LUA_OK) {
    if (mark != NULL) *mark = '\0';  /* modname is not needed any more */
    lua_setglobal(L, globname);
  }
  return report(L, status);
}

/* pushes the script's arguments (arg[1..n]) and returns n */
static int pushargs(lua_State *L) {
  int i, n;
  if (lua_getglobal(L, "arg") != LUA_TTABLE)
    luaL_error(L, "'arg' is not a table");
  n = (int)luaL_len(L, -1);
  luaL_checkstack(L, n + 3, "too many arguments to script");
  for (i = 1; i <= n; i++) lua_rawgeti(L, -i, i);
  lua_remove(L, -i);
  return n;
}

static int handle_script(lua_State *L, char **argv) {
  int status;
  const char *fname = argv[0];
  if (strcmp(fname, "-") == 0 && strcmp(argv[-1], "--") != 0)
    fname = NULL;                        /* stdin */
  status = luaL_loadfile(L, fname);
  if (status == LUA_OK) {
    int n = pushargs(L);
    status = docall(L, n, LUA_MULTRET);
  }
  return report(L, status);
}


/* ---- options ----------------------------------------------------------- */

#define has_error 1   /* bad option */
#define has_i     2   /* -i */
#define has_v     4   /* -v */
#define has_e     8   /* -e */
#define has_E     16  /* -E */

/* checks the options; returns the flags and sets *first to the script's
** index (argc if none) */
static int collectargs(char **argv, int *first) {
  int args = 0, i;
  if (argv[0] == NULL) { *first = 0; return 0; }
  for (i = 1; argv[i] != NULL; i++) {
    *first = i;
    if (argv[i][0] != '-') return args;             /* the script */
    switch (argv[i][1]) {
      case '-':                                      /* "--" */
        if (argv[i][2] != '\0') return has_error;
        *first = i + 1;
        return args;
      case '\0':                                     /* "-": stdin */
        return args;
      case 'E':
        if (argv[i][2] != '\0') return has_error;
        args |= has_E;
        break;
      case 'W':
        if (argv[i][2] != '\0') return has_error;
        break;
      case 'i':                                      /* implies -v */
        args |= has_i;
        /* FALLTHROUGH */
      case 'v':
        if (argv[i][2] != '\0') return has_error;
        args |= has_v;
        break;
      case 'e':                                      /* as -l, with arg */
        args |= has_e;
        /* FALLTHROUGH */
      case 'l':
        if (argv[i][2] == '\0') {                   /* "-e stat" */
          i++;
          if (argv[i] == NULL || argv[i][0] == '-') return has_error;
        }
        break;
      default:
        return has_error;
    }
  }
  *first = i;
  return args;
}

/* runs -e, -l and -W in order, up to the script */
static int runargs(lua_State *L, char **argv, int n) {
  int i;
  for (i = 1; i < n; i++) {
    int option = argv[i][1];
    switch (option) {
      case 'e': case 'l': {
        int status;
        char *extra = argv[i] + 2;
        if (*extra == '\0') extra = argv[++i];
        status = (option == 'e') ? dostring(L, extra, "=(command line)")
                                 : dolibrary(L, extra);
        if (status != LUA_OK) return 0;
        break;
      }
      case 'W':
        lua_warning(L, "@on", 0);
        break;
    }
  }
  return 1;
}

/* LUA_INIT_5_4, else LUA_INIT: "@file" runs a file, else a chunk */
static int handle_luainit(lua_State *L) {
  const char *name = "=" LUA_INITVARVERSION;
  const char *init = getenv(name + 1);
  if (init == NULL) {
    name = "=" LUA_INIT_VAR;
    init = getenv(name + 1);
  }
  if (init == NULL) return LUA_OK;
  if (init[0] == '@') return dofile(L, init + 1);
  return dostring(L, init, name);
}

/* ---- the REPL ---------------------------------------------------------- */

/*
** Line editing with GNU readline when built with it (ANNLUA_READLINE) and
** stdin is a terminal; otherwise plain fgets, so piped input gives clean
** output.  History is kept in ~/.annlua_history.
*/
#if defined(ANNLUA_READLINE)
#include <readline/readline.h>
#include <readline/history.h>

static int use_readline;
static char histfile[1024];

static void initreadline(void) {
  const char *home = getenv("HOME");
  use_readline = isatty(0);
  if (!use_readline) return;
  rl_readline_name = PROGNAME;
  if (home && snprintf(histfile, sizeof histfile, "%s/.annlua_history",
                       home) < (int)sizeof histfile) {
    if (read_history(histfile) != 0) write_history(histfile);  /* create */
    history_truncate_file(histfile, 1000);
  }
  else histfile[0] = '\0';
}

static void saveline(const char *line) {
  if (!use_readline) return;
  add_history(line);
  if (histfile[0]) append_history(1, histfile);
}
#else
#define use_readline 0
static void initreadline(void) {}
static void saveline(const char *line) { (void)line; }
#endif

/* reads a line into a fresh malloc'ed string; NULL at end of input */
static char *readline_any(const char *prompt) {
  char buf[MAXINPUT], *line = NULL;
  size_t len = 0;
#if defined(ANNLUA_READLINE)
  if (use_readline) return readline(prompt);
#endif
  fputs(prompt, stdout);
  fflush(stdout);
  while (fgets(buf, sizeof buf, stdin) != NULL) {   /* lines of any length */
    size_t l = strlen(buf);
    char *p = realloc(line, len + l + 1);
    if (p == NULL) break;
    line = p;
    memcpy(line + len, buf, l + 1);
    len += l;
    if (len > 0 && line[len - 1] == '\n') break;
  }
  if (line && len > 0 && line[len - 1] == '\n') line[len - 1] = '\0';
  return line;
}

static const char *get_prompt(lua_State *L, int firstline) {
  const char *p;
  if (lua_getglobal(L, firstline ? "_PROMPT" : "_PROMPT2") == LUA_TNIL)
    return firstline ? PROMPT : PROMPT2;
  p = luaL_tolstring(L, -1, NULL);
  lua_remove(L, -2);                     /* the string stays on the stack */
  return p;
}

#define EOFMARK     "<eof>"
#define marklen     (sizeof(EOFMARK) / sizeof(char) - 1)

/* a syntax error at the end of input means the chunk may go on */
static int incomplete(lua_State *L, int status) {
  if (status == LUA_ERRSYNTAX) {
    size_t lmsg;
    const char *msg = lua_tolstring(L, -1, &lmsg);
    if (lmsg >= marklen && strcmp(msg + lmsg - marklen, EOFMARK) == 0) {
      lua_pop(L, 1);
      return 1;
    }
  }
  return 0;
}

/* pushes the next line; 0 at end of input */
static int pushline(lua_State *L, int firstline) {
  const char *prmt = get_prompt(L, firstline);
  char *b = readline_any(prmt);
  size_t l;
  lua_pop(L, 1);                         /* the prompt, if it was pushed */
  if (b == NULL) return 0;
  l = strlen(b);
  if (firstline && b[0] == '=')          /* "=x" is "return x" (5.1 habit) */
    lua_pushfstring(L, "return %s", b + 1);
  else
    lua_pushlstring(L, b, l);
  free(b);
  return 1;
}

/* tries "return <line>" so that expressions print their values */
static int addreturn(lua_State *L) {
  const char *line = lua_tostring(L, -1);
  const char *retline = lua_pushfstring(L, "return %s;", line);
  int status = luaL_loadbuffer(L, retline, strlen(retline), "=stdin");
  if (status == LUA_OK) {
    lua_remove(L, -2);                   /* the modified line */
    if (line[0] != '\0') saveline(line);
  }
  else lua_pop(L, 2);                    /* result and modified line */
  return status;
}

/* reads more lines while the statement is incomplete */
static int multiline(lua_State *L) {
  for (;;) {
    size_t len;
    const char *line = lua_tolstring(L, 1, &len);
    int status = luaL_loadbuffer(L, line, len, "=stdin");
    if (!incomplete(L, status) || !pushline(L, 0)) {
      saveline(line);
      return status;
    }
    lua_pushliteral(L, "\n");
    lua_insert(L, -2);
    lua_concat(L, 3);
  }
}

/* reads one statement or expression and compiles it; -1 at end of input */
static int loadline(lua_State *L) {
  int status;
  lua_settop(L, 0);
  if (!pushline(L, 1)) return -1;
  if ((status = addreturn(L)) != LUA_OK)
    status = multiline(L);
  lua_remove(L, 1);                      /* the line */
  return status;
}

/* prints what the chunk returned, through the global `print` */
static void l_print(lua_State *L) {
  int n = lua_gettop(L);
  if (n > 0) {
    luaL_checkstack(L, LUA_MINSTACK, "too many results to print");
    lua_getglobal(L, "print");
    lua_insert(L, 1);
    if (lua_pcall(L, n, 0, 0) != LUA_OK)
      l_message(progname, lua_pushfstring(L, "error calling 'print' (%s)",
                                          lua_tostring(L, -1)));
  }
}

static void doREPL(lua_State *L) {
  int status;
  const char *oldprogname = progname;
  progname = NULL;                       /* no program name before errors */
  initreadline();
  while ((status = loadline(L)) != -1) {
    if (status == LUA_OK) status = docall(L, 0, LUA_MULTRET);
    if (status == LUA_OK) l_print(L);
    else report(L, status);
  }
  lua_settop(L, 0);
  lua_writeline();
  progname = oldprogname;
}


/* ---- main -------------------------------------------------------------- */

static int pmain(lua_State *L) {
  int argc = (int)lua_tointeger(L, 1);
  char **argv = (char **)lua_touserdata(L, 2);
  int script;
  int args = collectargs(argv, &script);
  luaL_checkversion(L);
  if (argv[0] && argv[0][0]) progname = argv[0];
  if (args == has_error) {
    print_usage(argv[script]);
    return 0;
  }
  if (args & has_v) print_version();
  if (args & has_E) {                    /* the package library reads it */
    lua_pushboolean(L, 1);
    lua_setfield(L, LUA_REGISTRYINDEX, "LUA_NOENV");
  }
  luaL_openlibs(L);
  createargtable(L, argv, argc, script);
  lua_gc(L, LUA_GCRESTART);
  lua_gc(L, LUA_GCGEN, 0, 0);            /* as lua.c */
  {
    ann_CtxOpts o;
    ann_ctx_defaults(&o);
    o.cancel = lcancel;
    if (report(L, annlua_openlibs(L, &o)) != LUA_OK) return 0;
  }
  if (!(args & has_E) && handle_luainit(L) != LUA_OK) return 0;
  if (!runargs(L, argv, script)) return 0;
  if (script < argc && handle_script(L, argv + script) != LUA_OK)
    return 0;
  if (args & has_i) doREPL(L);
  else if (script == argc && !(args & (has_e | has_v))) {
    if (isatty(0)) {                     /* no script: interactive */
      print_version();
      doREPL(L);
    }
    else dofile(L, NULL);                /* stdin as a script */
  }
  lua_pushboolean(L, 1);                 /* success */
  return 1;
}

int main(int argc, char **argv) {
  int status, result;
  lua_State *L = luaL_newstate();
  if (L == NULL) {
    l_message(argv[0], "cannot create state: not enough memory");
    return EXIT_FAILURE;
  }
  lua_gc(L, LUA_GCSTOP);                 /* no collection during set-up */
  lua_pushcfunction(L, pmain);
  lua_pushinteger(L, argc);
  lua_pushlightuserdata(L, argv);
  status = lua_pcall(L, 2, 1, 0);
  result = lua_toboolean(L, -1);
  report(L, status);
  lua_close(L);
  return (result && status == LUA_OK) ? EXIT_SUCCESS : EXIT_FAILURE;
}
