/* SPDX-License-Identifier: MIT */
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "lun.h"
#include "luavm.h"
#include "util.h"

/* The functions lunar.dispatch.new() returns, by name. */
enum {
	FN_BATCH, FN_TMR, FN_CLOSE, FN_TICK, FN_DEVICE, FN_CHECK, FN_EXPORT, FN_IMPORT, FN_FILES,
	LUNAR_GEN_FN_N
};

static const char *const fn_names[LUNAR_GEN_FN_N] = {
	"batch", "tmr", "close", "tick", "device", "check", "export", "import", "files",
};

struct lunar_gen {
	lua_State *L;
	struct lunar_lun *lun;
	lua_Alloc inner;
	void *inner_ud;
	size_t used;
	size_t limit;
	uint64_t allocated;	/* bytes ever handed out (growth only) */
	int ref[LUNAR_GEN_FN_N];	/* the dispatcher's entry points */
	uint32_t held;			/* deferred commands it holds */
	const struct lunar_lun_config *cfg;	/* while building only */
	const struct lunar_value *args;		/* while building only */
	bool dead;		/* panicked: never touch L again */
	jmp_buf *panic_jmp;	/* set while C is inside the state */
};

/* ---- where lua/lunar lives ------------------------------------------------------- */

const char *lunar_lua_path(void)
{
	static char path[4096];
	const char *env = getenv("LUNAR_LUA_DIR");

	if (path[0])
		return path;
	if (env && *env)
		snprintf(path, sizeof(path), "%s/?.lua;%s/?/init.lua", env, env);
	else if (access(LUNAR_SRC_LUA_DIR "/lunar/dispatch.lua", R_OK) == 0 &&
		 access(LUNAR_BUILD_LUA_DIR "/lunar/abi_cdef.lua", R_OK) == 0)
		/* running from a build tree: sources plus the generated cdef */
		snprintf(path, sizeof(path), "%s/?.lua;%s/?/init.lua;%s/?.lua", LUNAR_SRC_LUA_DIR,
			 LUNAR_SRC_LUA_DIR, LUNAR_BUILD_LUA_DIR);
	else
		snprintf(path, sizeof(path), "%s/?.lua;%s/?/init.lua", LUNAR_INSTALL_LUA_DIR,
			 LUNAR_INSTALL_LUA_DIR);
	return path;
}

/* ---- the capped allocator ---------------------------------------------------------- */

/*
 * Counts bytes on top of LuaJIT's own allocator and refuses growth past the
 * cap: Lua sees "not enough memory" (LUA_ERRMEM), which fails the commands
 * that needed memory, never the process.
 */
static void *capped_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
	struct lunar_gen *g = ud;
	size_t old = ptr ? osize : 0;
	void *p;

	if (nsize > old && g->used + (nsize - old) > g->limit)
		return NULL;
	p = g->inner(g->inner_ud, ptr, osize, nsize);
	if (p || nsize == 0) {
		g->used = g->used - old + nsize;
		if (nsize > old)
			g->allocated += nsize - old;
	}
	return p;
}

static struct lunar_gen *panic_owner(lua_State *L)
{
	void *ud;

	return lua_getallocf(L, &ud) == capped_alloc ? ud : NULL;
}

/*
 * An error outside any lua_pcall.  We only enter Lua through lua_pcall and
 * lua_cpcall, so this is a VM failure: leave the state for good (longjmp
 * back to the C caller, which marks the generation dead).
 */
static int on_panic(lua_State *L)
{
	struct lunar_gen *g = panic_owner(L);
	const char *msg = lua_tostring(L, -1);

	log_err("Lua VM panic%s%s: %s", g ? " in LUN " : "", g ? g->lun->cfg.name : "",
		msg ? msg : "?");
	if (g && g->panic_jmp)
		longjmp(*g->panic_jmp, 1);
	abort();
}

/* The message handler of every lua_pcall: a traceback for strings; error
 * objects (a lunar.sense error) pass through unchanged. */
static int traceback(lua_State *L)
{
	const char *msg = lua_tostring(L, 1);

	if (!msg || lua_type(L, 1) != LUA_TSTRING) {
		if (lua_type(L, 1) == LUA_TTABLE || lua_type(L, 1) == LUA_TNIL)
			return 1;
		msg = luaL_typename(L, 1);
	}
	luaL_traceback(L, L, msg, 1);
	return 1;
}

/* ---- args: YAML tree to Lua table -------------------------------------------------- */

static void push_scalar(lua_State *L, const struct lunar_value *v)
{
	char *end;

	if (v->plain) {
		if (!strcmp(v->str, "true")) {
			lua_pushboolean(L, 1);
			return;
		}
		if (!strcmp(v->str, "false")) {
			lua_pushboolean(L, 0);
			return;
		}
		if (!strcmp(v->str, "null") || !strcmp(v->str, "~") || !v->str[0]) {
			lua_pushnil(L);
			return;
		}
		if (v->str[0] == '-' || v->str[0] == '+' || (v->str[0] >= '0' && v->str[0] <= '9') ||
		    v->str[0] == '.') {
			double d = strtod(v->str, &end);

			if (!*end) {
				lua_pushnumber(L, d);
				return;
			}
		}
	}
	lua_pushstring(L, v->str);
}

static void push_value(lua_State *L, const struct lunar_value *v)
{
	luaL_checkstack(L, 4, "args nested too deeply");
	switch (v->kind) {
	case LUNAR_VAL_SCALAR:
		push_scalar(L, v);
		return;
	case LUNAR_VAL_SEQ:
		lua_createtable(L, (int)v->n, 0);
		for (size_t i = 0; i < v->n; i++) {
			push_value(L, &v->items[i]);
			lua_rawseti(L, -2, (int)i + 1);
		}
		return;
	case LUNAR_VAL_MAP:
		lua_createtable(L, 0, (int)v->n);
		for (size_t i = 0; i < v->n; i++) {
			push_value(L, &v->items[i]);
			lua_setfield(L, -2, v->keys[i]);
		}
		return;
	}
}

/* ---- building a generation ------------------------------------------------------- */

static void set_package_path(lua_State *L, const char *extra_dir)
{
	lua_getglobal(L, "package");
	if (extra_dir)
		lua_pushfstring(L, "%s;%s/?.lua;%s/?/init.lua;", lunar_lua_path(), extra_dir, extra_dir);
	else
		lua_pushfstring(L, "%s;", lunar_lua_path());
	lua_getfield(L, -2, "path");
	lua_concat(L, 2);
	lua_setfield(L, -2, "path");
	lua_pop(L, 1);
}

static void push_info(lua_State *L, struct lunar_lun *lun, const struct lunar_lun_config *c,
		      const struct lunar_value *args)
{
	lua_createtable(L, 0, 12);
	lua_pushstring(L, c->name);
	lua_setfield(L, -2, "name");
	lua_pushinteger(L, lun->id);
	lua_setfield(L, -2, "id");
	lua_pushstring(L, lunar_transport_name(c->transport));
	lua_setfield(L, -2, "transport");
	lua_pushnumber(L, (lua_Number)c->size);
	lua_setfield(L, -2, "size");
	lua_pushinteger(L, (lua_Integer)c->block_size);
	lua_setfield(L, -2, "block_size");
	lua_pushnumber(L, (lua_Number)(c->size / c->block_size));
	lua_setfield(L, -2, "blocks");
	lua_pushstring(L, c->handler);
	lua_setfield(L, -2, "handler");
	lua_pushinteger(L, (lua_Integer)c->queue_depth);
	lua_setfield(L, -2, "queue_depth");
	if (args)
		push_value(L, args);
	else
		lua_newtable(L);
	lua_setfield(L, -2, "args");
	/* the YAML's filters (validated by config.c): lunar.filter stacks them */
	if (c->filters) {
		push_value(L, c->filters);
		lua_setfield(L, -2, "filters");
	}
}

struct setup_ctx {
	struct lunar_gen *g;
};

/* Runs protected (lua_cpcall): everything that may raise. */
static int setup(lua_State *L)
{
	struct setup_ctx *ctx = lua_touserdata(L, 1);
	struct lunar_gen *g = ctx->g;
	char *dir = strdup(g->cfg->handler), *slash;

	lua_settop(L, 0);
	luaL_openlibs(L);
	if (dir && (slash = strrchr(dir, '/')))
		*slash = 0;
	set_package_path(L, dir);
	free(dir);
	lua_pushcfunction(L, traceback);		/* stays at index 1 */
	lua_getglobal(L, "require");
	lua_pushstring(L, "lunar.dispatch");
	if (lua_pcall(L, 1, 1, 1))
		return lua_error(L);
	lua_getfield(L, -1, "new");
	lua_pushinteger(L, g->lun->id);
	push_info(L, g->lun, g->cfg, g->args);
	lua_pushinteger(L, (lua_Integer)sizeof(struct lunar_cmd));
	if (lua_pcall(L, 3, 1, 1))
		return lua_error(L);
	for (int i = 0; i < LUNAR_GEN_FN_N; i++) {
		lua_getfield(L, -1, fn_names[i]);
		if (lua_type(L, -1) != LUA_TFUNCTION)
			return luaL_error(L, "lunar.dispatch.new() gave no %s()", fn_names[i]);
		g->ref[i] = luaL_ref(L, LUA_REGISTRYINDEX);
	}
	lua_pop(L, 2);					/* the table, the module */
	return 0;
}

/* lua_cpcall(setup) with a way back from a panic: -2 when it panicked. */
static int run_setup(struct lunar_gen *g)
{
	struct setup_ctx ctx = { .g = g };
	jmp_buf jb;
	int rc;

	if (setjmp(jb))
		return -2;
	g->panic_jmp = &jb;
	rc = lua_cpcall(g->L, setup, &ctx);
	g->panic_jmp = NULL;
	return rc;
}

struct lunar_gen *lunar_gen_create(struct lunar_lun *lun, char *err, size_t errlen)
{
	return lunar_gen_create_with(lun, &lun->cfg, lun->args, err, errlen);
}

struct lunar_gen *lunar_gen_create_with(struct lunar_lun *lun, const struct lunar_lun_config *cfg,
					const struct lunar_value *args, char *err, size_t errlen)
{
	struct lunar_gen *g = calloc(1, sizeof(*g));
	int rc;

	if (!g) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	g->lun = lun;
	g->cfg = cfg;
	g->args = args;
	g->limit = cfg->lua_memory_limit;
	for (int i = 0; i < LUNAR_GEN_FN_N; i++)
		g->ref[i] = LUA_NOREF;
	g->L = luaL_newstate();
	if (!g->L) {
		snprintf(err, errlen, "cannot create a Lua state");
		free(g);
		return NULL;
	}
	g->inner = lua_getallocf(g->L, &g->inner_ud);
	g->used = (size_t)lua_gc(g->L, LUA_GCCOUNT, 0) * 1024;
	lua_setallocf(g->L, capped_alloc, g);
	lua_atpanic(g->L, on_panic);
	rc = run_setup(g);
	if (rc == 0) {
		/* The message handler every later lua_pcall names as index 1:
		 * what setup pushed went with the lua_cpcall frame. */
		lua_settop(g->L, 0);
		lua_pushcfunction(g->L, traceback);
	}
	if (rc == -2) {
		snprintf(err, errlen, "Lua VM panic while loading the handler");
		return NULL;	/* state and g leaked on purpose: not safe to touch */
	}
	if (rc != 0) {
		const char *msg = lua_tostring(g->L, -1);

		snprintf(err, errlen, "%s", rc == LUA_ERRMEM ? "lua_memory_limit reached while loading"
			 : msg ? msg : "error object is not a string");
		lua_close(g->L);
		free(g);
		return NULL;
	}
	/* the config may go away with a reload: the state has what it needs */
	g->cfg = NULL;
	g->args = NULL;
	return g;
}

/*
 * Calls one of the dispatcher's functions, panics included.  nargs values
 * are on the stack; on success nres results are left (the caller pops
 * them), on failure err says why.
 */
static int call_fn(struct lunar_gen *g, int fn, int nargs, int nres, char *err, size_t errlen)
{
	lua_State *L = g->L;
	jmp_buf jb;
	int rc;

	if (g->dead) {
		lua_pop(L, nargs);
		snprintf(err, errlen, "the Lua state is dead");
		return -1;
	}
	if (setjmp(jb)) {
		g->dead = true;
		snprintf(err, errlen, "Lua VM panic in %s()", fn_names[fn]);
		return -1;
	}
	g->panic_jmp = &jb;
	lua_rawgeti(L, LUA_REGISTRYINDEX, g->ref[fn]);
	lua_insert(L, -1 - nargs);
	rc = lua_pcall(L, nargs, nres, 1);
	g->panic_jmp = NULL;
	if (rc != 0) {
		const char *msg = lua_tostring(L, -1);

		snprintf(err, errlen, "%s", rc == LUA_ERRMEM ? "lua_memory_limit reached" :
			 msg ? msg : "(error object is not a string)");
		lua_settop(L, 1);
		return -1;
	}
	return 0;
}

int lunar_gen_check(struct lunar_gen *g, char *err, size_t errlen)
{
	return call_fn(g, FN_CHECK, 0, 0, err, errlen);
}

int lunar_gen_transfer(struct lunar_gen *from, struct lunar_gen *to, char *err, size_t errlen)
{
	const char *text;
	size_t len;
	int rc = 0;

	if (call_fn(from, FN_EXPORT, 0, 1, err, errlen) < 0)
		return -1;
	text = lua_tolstring(from->L, -1, &len);
	if (text) {
		/* the one way across two states: as bytes */
		lua_pushlstring(to->L, text, len);
		rc = call_fn(to, FN_IMPORT, 1, 0, err, errlen);
	}
	lua_settop(from->L, 1);
	return rc;
}

int lunar_gen_files(struct lunar_gen *g, char ***files, size_t *n, char *err, size_t errlen)
{
	lua_State *L = g->L;
	size_t cnt;

	*files = NULL;
	*n = 0;
	if (call_fn(g, FN_FILES, 0, 1, err, errlen) < 0)
		return -1;
	cnt = lua_objlen(L, -1);
	*files = calloc(cnt ? cnt : 1, sizeof(char *));
	for (size_t i = 0; *files && i < cnt; i++) {
		lua_rawgeti(L, -1, (int)i + 1);
		if (lua_isstring(L, -1))
			(*files)[(*n)++] = strdup(lua_tostring(L, -1));
		lua_pop(L, 1);
	}
	lua_settop(L, 1);
	return 0;
}

void lunar_gen_hold(struct lunar_gen *g, int delta)
{
	g->held = (uint32_t)((int)g->held + delta);
}

uint32_t lunar_gen_holding(const struct lunar_gen *g)
{
	return g->held;
}

size_t lunar_gen_mem_used(const struct lunar_gen *g)
{
	return g->used;
}

uint64_t lunar_gen_allocated(const struct lunar_gen *g)
{
	return g->allocated;
}

/* ---- calls into a generation ------------------------------------------------------- */

static void report(struct lunar_gen *g, int rc, const char *what)
{
	const char *msg = lua_tostring(g->L, -1);

	if (rc == LUA_ERRMEM) {
		lun_err(g->lun->cfg.name,
			"%s: lua_memory_limit (%zu bytes) reached", what, g->limit);
		lua_settop(g->L, 1);
		lua_gc(g->L, LUA_GCCOLLECT, 0);
		return;
	}
	lun_err(g->lun->cfg.name,
		"%s failed: %s", what, msg ? msg : "(error object is not a string)");
	lua_settop(g->L, 1);
}

void lunar_gen_dispatch(struct lunar_gen *g, uint32_t n)
{
	lua_State *L = g->L;
	jmp_buf jb;
	int rc;

	if (g->dead)
		return;		/* slots stay NEW: the core fails them */
	if (setjmp(jb)) {
		g->dead = true;
		g->lun->handler_failed = true;
		lunar_lun_set_state(g->lun, LUNAR_LUN_FAILED, "Lua VM panic");
		return;
	}
	g->panic_jmp = &jb;
	lua_rawgeti(L, LUA_REGISTRYINDEX, g->ref[FN_BATCH]);
	lua_pushinteger(L, (lua_Integer)n);
	rc = lua_pcall(L, 1, 0, 1);
	g->panic_jmp = NULL;
	if (rc != 0) {
		/* The dispatcher itself failed (its per-command guard did not
		 * catch it: memory, mostly).  Unanswered slots become 4/44/00. */
		lunar_stat_add(&g->lun->stats.handler_errors, 1);
		report(g, rc, "dispatch");
	}
}

void lunar_gen_tmr(struct lunar_gen *g, uint8_t type, const uint32_t *slots, uint32_t n)
{
	lua_State *L = g->L;
	jmp_buf jb;
	int rc;

	if (g->dead)
		return;
	if (setjmp(jb)) {
		g->dead = true;
		g->lun->handler_failed = true;
		lunar_lun_set_state(g->lun, LUNAR_LUN_FAILED, "Lua VM panic");
		return;
	}
	g->panic_jmp = &jb;
	/* the aborted slots go in the batch vector, as for a batch (the
	 * batch that was there is finished) */
	for (uint32_t i = 0; i < n; i++)
		g->lun->batch[i] = (int32_t)slots[i];
	lua_rawgeti(L, LUA_REGISTRYINDEX, g->ref[FN_TMR]);
	lua_pushinteger(L, type);
	lua_pushinteger(L, (lua_Integer)n);
	rc = lua_pcall(L, 2, 0, 1);
	g->panic_jmp = NULL;
	if (rc != 0)
		report(g, rc, "tmr");
}

void lunar_gen_tick(struct lunar_gen *g, uint64_t now_ns)
{
	lua_State *L = g->L;
	jmp_buf jb;
	int rc;

	if (g->dead)
		return;
	if (setjmp(jb)) {
		g->dead = true;
		g->lun->handler_failed = true;
		lunar_lun_set_state(g->lun, LUNAR_LUN_FAILED, "Lua VM panic");
		return;
	}
	g->panic_jmp = &jb;
	lua_rawgeti(L, LUA_REGISTRYINDEX, g->ref[FN_TICK]);
	lua_pushnumber(L, (lua_Number)now_ns);
	rc = lua_pcall(L, 1, 0, 1);
	g->panic_jmp = NULL;
	if (rc != 0)
		report(g, rc, "tick");
}

bool lunar_gen_device(struct lunar_gen *g, const struct lunar_lun_device *dev)
{
	lua_State *L = g->L;
	bool took = false;
	jmp_buf jb;
	int rc;

	if (g->dead)
		return false;
	if (setjmp(jb)) {
		g->dead = true;
		g->lun->handler_failed = true;
		lunar_lun_set_state(g->lun, LUNAR_LUN_FAILED, "Lua VM panic");
		return false;
	}
	g->panic_jmp = &jb;
	lua_rawgeti(L, LUA_REGISTRYINDEX, g->ref[FN_DEVICE]);
	lua_pushnumber(L, (lua_Number)dev->size);
	lua_pushinteger(L, (lua_Integer)dev->max_sectors);
	lua_pushinteger(L, dev->write_cache);
	lua_pushinteger(L, (lua_Integer)dev->cmd_time_out);
	rc = lua_pcall(L, 4, 1, 1);
	g->panic_jmp = NULL;
	if (rc != 0) {
		report(g, rc, "device");
		return false;
	}
	took = lua_toboolean(L, -1);
	lua_settop(L, 1);
	return took;
}

void lunar_gen_discard(struct lunar_gen *g)
{
	if (!g)
		return;
	if (!g->dead)
		lua_close(g->L);
	free(g);
}

void lunar_gen_destroy(struct lunar_gen *g)
{
	jmp_buf jb;

	if (!g)
		return;
	if (g->dead)
		return;	/* leaked on purpose */
	if (setjmp(jb)) {
		free(g);
		return;
	}
	g->panic_jmp = &jb;
	lua_rawgeti(g->L, LUA_REGISTRYINDEX, g->ref[FN_CLOSE]);
	if (lua_pcall(g->L, 0, 0, 1) != 0)
		report(g, LUA_ERRRUN, "close");
	g->panic_jmp = NULL;
	lua_close(g->L);
	free(g);
}

/* ---- tools ---------------------------------------------------------------------- */

int lunar_lua_check_syntax(const char *path, char *err, size_t errlen)
{
	lua_State *L = luaL_newstate();
	int rc;

	if (!L) {
		snprintf(err, errlen, "cannot create a Lua state");
		return -1;
	}
	rc = luaL_loadfile(L, path);
	if (rc)
		snprintf(err, errlen, "%s", lua_tostring(L, -1));
	lua_close(L);
	return rc ? -1 : 0;
}

static lua_State *tool_state(void)
{
	lua_State *L = luaL_newstate();

	if (!L)
		return NULL;
	luaL_openlibs(L);
	set_package_path(L, NULL);
	lua_pushcfunction(L, traceback);
	return L;
}

int lunar_lua_selftest(const char *module)
{
	lua_State *L = tool_state();
	int rc;

	if (!L)
		return 1;
	lua_getglobal(L, "require");
	lua_pushstring(L, module);
	rc = lua_pcall(L, 1, 1, 1);
	if (rc == 0) {
		lua_getfield(L, -1, "selftest");
		if (lua_isnil(L, -1)) {
			fprintf(stderr, "%s has no selftest()\n", module);
			lua_close(L);
			return 1;
		}
		rc = lua_pcall(L, 0, 0, 1);
	}
	if (rc) {
		fprintf(stderr, "%s: selftest failed: %s\n", module, lua_tostring(L, -1));
		lua_close(L);
		return 1;
	}
	lua_close(L);
	printf("%s: selftest passed\n", module);
	return 0;
}

int lunar_lua_script(const char *path, int argc, char **argv)
{
	lua_State *L = tool_state();
	int rc;

	if (!L)
		return 1;
	lua_createtable(L, argc, 0);
	for (int i = 0; i < argc; i++) {
		lua_pushstring(L, argv[i]);
		lua_rawseti(L, -2, i + 1);
	}
	lua_setglobal(L, "arg");
	rc = luaL_loadfile(L, path);
	if (rc == 0)
		rc = lua_pcall(L, 0, 1, 1);
	if (rc) {
		fprintf(stderr, "%s\n", lua_tostring(L, -1));
		lua_close(L);
		return 1;
	}
	rc = lua_isnumber(L, -1) ? (int)lua_tointeger(L, -1) : 0;
	lua_close(L);
	return rc;
}
