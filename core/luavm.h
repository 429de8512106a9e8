/* SPDX-License-Identifier: MIT */
#ifndef LUNAR_LUAVM_H
#define LUNAR_LUAVM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct lunar_lun;

/*
 * A generation: one lua_State with the dispatcher and the LUN's handler
 * loaded and open()ed.  Built on any thread, then used by the LUN's worker
 * only.
 */
struct lunar_gen;

struct lunar_gen *lunar_gen_create(struct lunar_lun *lun, char *err, size_t errlen);
struct lunar_lun_config;
struct lunar_value;
/* The same from a configuration that is not the LUN's yet (a reload). */
struct lunar_gen *lunar_gen_create_with(struct lunar_lun *lun, const struct lunar_lun_config *cfg,
					const struct lunar_value *args, char *err, size_t errlen);
/* The handler's check(lun): may it replace the serving generation? */
int lunar_gen_check(struct lunar_gen *g, char *err, size_t errlen);
/* export() of from into import() of to (plain data, as text). */
int lunar_gen_transfer(struct lunar_gen *from, struct lunar_gen *to, char *err, size_t errlen);
/* The Lua files the generation runs (malloc'd; for on-change reloads). */
int lunar_gen_files(struct lunar_gen *g, char ***files, size_t *n, char *err, size_t errlen);
/* Deferred commands the generation holds (the worker counts them). */
void lunar_gen_hold(struct lunar_gen *g, int delta);
uint32_t lunar_gen_holding(const struct lunar_gen *g);
/* Runs the batch (lun->batch[0..n)) through the handler: one lua_pcall. */
void lunar_gen_dispatch(struct lunar_gen *g, uint32_t n);
/* Tells the handler about a task management function. */
void lunar_gen_tmr(struct lunar_gen *g, uint8_t type, const uint32_t *slots, uint32_t n);
struct lunar_lun_device;
/* New device attributes into the handler's lun table (resize() on a size
 * change); true when the handler took the size. */
bool lunar_gen_device(struct lunar_gen *g, const struct lunar_lun_device *dev);
/* The handler's tick(lun, now_ns), if it has one. */
void lunar_gen_tick(struct lunar_gen *g, uint64_t now_ns);
/* Frees the state without running Lua (a wedged or dead generation). */
void lunar_gen_discard(struct lunar_gen *g);
/* Calls the handler's close() and frees the state. */
void lunar_gen_destroy(struct lunar_gen *g);
/* Bytes the state holds now. */
size_t lunar_gen_mem_used(const struct lunar_gen *g);
/* Bytes the state was ever given (for "allocations per command"). */
uint64_t lunar_gen_allocated(const struct lunar_gen *g);

/* The package.path that finds lua/lunar (source tree, build tree or
 * installed copy; LUNAR_LUA_DIR overrides). */
const char *lunar_lua_path(void);
/* Compiles a Lua file without running it: "file:line: message" on error. */
int lunar_lua_check_syntax(const char *path, char *err, size_t errlen);
/* Runs require(module).selftest() in a fresh state; 0 when it passed. */
int lunar_lua_selftest(const char *module);
/* Runs a Lua script file with args (for tools and tests); exit status. */
int lunar_lua_script(const char *path, int argc, char **argv);

#endif
