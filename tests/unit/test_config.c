/* SPDX-License-Identifier: MIT */
/*
 * YAML config validation: every test writes a config (and handler files)
 * into a fresh temporary directory, loads it with lunar_config_load() and
 * checks either the parsed values or the exact "path:line:col: message"
 * text, in file order.
 */
#include <ftw.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"

struct tmp {
	char dir[PATH_MAX];	/* as made by mkdtemp */
	char real[PATH_MAX];	/* realpath of dir: what handler paths are built from */
	char path[PATH_MAX + 16];	/* dir/config.yaml */
};

/* A LUN that is valid on its own, keys at column 5 of lines 2-5. */
#define LUN_A			\
	"luns:\n"		\
	"  - name: a\n"		\
	"    transport: sim\n"	\
	"    handler: h.lua\n"	\
	"    size: 64MiB\n"

static void put(const struct tmp *t, const char *name, const char *text)
{
	char path[PATH_MAX + 64];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", t->dir, name);
	f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(text, 1, strlen(text), f), strlen(text));
	assert_int_equal(fclose(f), 0);
}

static void put_dir(const struct tmp *t, const char *name)
{
	char path[PATH_MAX + 64];

	snprintf(path, sizeof(path), "%s/%s", t->dir, name);
	assert_int_equal(mkdir(path, 0755), 0);
}

static int setup(void **state)
{
	const char *base = getenv("TMPDIR");
	struct tmp *t = calloc(1, sizeof(*t));

	if (!t)
		return -1;
	snprintf(t->dir, sizeof(t->dir), "%s/lunar-test-config-XXXXXX", base && *base ? base : "/tmp");
	if (!mkdtemp(t->dir) || !realpath(t->dir, t->real)) {
		free(t);
		return -1;
	}
	snprintf(t->path, sizeof(t->path), "%s/config.yaml", t->dir);
	put(t, "h.lua", "return {}\n");
	*state = t;
	return 0;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static int teardown(void **state)
{
	struct tmp *t = *state;
	int rc = nftw(t->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);

	free(t);
	return rc;
}

/* s with every "@DIR@" replaced by dir; the caller frees it. */
static char *subst_dir(const char *s, const char *dir)
{
	struct lunar_buf b = { 0 };
	const char *p;

	while ((p = strstr(s, "@DIR@"))) {
		lunar_buf_add(&b, s, (size_t)(p - s));
		lunar_buf_puts(&b, dir);
		s = p + 5;
	}
	lunar_buf_puts(&b, s);
	assert_false(b.oom);
	return b.data;
}

static struct lunar_config *load_ok(const struct tmp *t, const char *yaml)
{
	struct lunar_diag d = { 0 };
	struct lunar_config *c = NULL;
	int rc;

	put(t, "config.yaml", yaml);
	rc = lunar_config_load(t->path, &c, &d);
	if (rc != 0)
		print_error("unexpected diagnostics:\n%s", d.text.data ? d.text.data : "(none)\n");
	assert_int_equal(rc, 0);
	assert_int_equal(d.count, 0);
	assert_true(!d.text.data || !d.text.data[0]);
	assert_non_null(c);
	assert_string_equal(c->path, t->path);
	assert_string_equal(c->dir, t->real);
	lunar_buf_free(&d.text);
	return c;
}

/*
 * Loads path and expects exactly want: "line:col: message\n" lines, each of
 * which is reported as "path:line:col: message\n" ("@DIR@" stands for the
 * resolved temporary directory).  *out must be left alone.
 */
static void expect_diag(const char *path, const char *dir, const char *want)
{
	static struct lunar_config sentinel;
	struct lunar_config *c = &sentinel;
	struct lunar_diag d = { 0 };
	struct lunar_buf exp = { 0 };
	char *w = subst_dir(want, dir), *line, *save = NULL;
	int lines = 0;

	for (line = strtok_r(w, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		lunar_buf_printf(&exp, "%s:%s\n", path, line);
		lines++;
	}
	assert_int_equal(lunar_config_load(path, &c, &d), -1);
	assert_ptr_equal(c, &sentinel);
	assert_non_null(d.text.data);
	/* cmocka cuts long strings short: show both in full */
	if (strcmp(d.text.data, exp.data))
		fprintf(stderr, "got:\n%s\nwanted:\n%s\n", d.text.data, exp.data);
	assert_string_equal(d.text.data, exp.data);
	assert_int_equal(d.count, lines);
	assert_string_equal(d.file, path);
	lunar_buf_free(&exp);
	lunar_buf_free(&d.text);
	free(w);
}

static void load_fails(const struct tmp *t, const char *yaml, const char *want)
{
	put(t, "config.yaml", yaml);
	expect_diag(t->path, t->real, want);
}

/* ---- valid configs ------------------------------------------------------------------ */

static void test_valid_minimal(void **state)
{
	struct tmp *t = *state;
	struct lunar_config *c = load_ok(t, LUN_A);
	struct lunar_lun_config *l = &c->luns[0];
	char handler[PATH_MAX + 16];

	snprintf(handler, sizeof(handler), "%s/h.lua", t->real);
	assert_int_equal(c->nluns, 1);
	assert_non_null(c->root);
	assert_string_equal(l->name, "a");
	assert_int_equal(l->transport, LUNAR_TRANSPORT_SIM);
	assert_string_equal(l->handler, handler);
	assert_true(l->size == 64ull << 20);
	assert_int_equal(l->block_size, LUNAR_DEFAULT_BLOCK_SIZE);
	assert_int_equal(l->block_size, 512);
	assert_true(l->lua_memory_limit == LUNAR_DEFAULT_LUA_MEMORY_LIMIT);
	assert_true(l->lua_memory_limit == 64ull << 20);
	assert_int_equal(l->queue_depth, LUNAR_DEFAULT_QUEUE_DEPTH);
	assert_int_equal(l->queue_depth, 128);
	assert_null(l->args);
	assert_true(l->sim.ring_size == 0 && l->sim.data_size == 0);
	assert_false(l->tcmu.create);
	assert_null(l->tcmu.fabric);
	assert_null(l->tcmu.wwn);
	assert_null(l->tcmu.iqn);
	assert_null(l->tcmu.portal);
	assert_int_equal(l->tcmu.hw_max_sectors, 0);
	assert_int_equal(l->tcmu.cmd_time_out, 0);
	assert_true(l->tcmu.max_data_area == 0);
	assert_null(l->xen.p_dev);
	assert_int_equal(l->line, 2);
	assert_int_equal(l->col, 5);
	lunar_config_free(c);
}

static void test_valid_full(void **state)
{
	struct tmp *t = *state;
	char yaml[8192], abs_handler[PATH_MAX + 32], sub_handler[PATH_MAX + 32], h[PATH_MAX + 16];
	struct lunar_config *c;
	const struct lunar_value *a, *v;
	struct lunar_lun_config *l;

	put_dir(t, "handlers");
	put(t, "handlers/disk.lua", "return {}\n");
	put(t, "tape.lua", "return {}\n");
	snprintf(abs_handler, sizeof(abs_handler), "%s/tape.lua", t->dir);
	snprintf(sub_handler, sizeof(sub_handler), "%s/handlers/disk.lua", t->real);
	snprintf(yaml, sizeof(yaml),
		 "# every key there is\n"
		 "version: 1\n"
		 "luns:\n"
		 "  - name: disk-0.a_B\n"
		 "    transport: sim\n"
		 "    handler: handlers/disk.lua\n"
		 "    size: 1 GiB\n"
		 "    block_size: 4096\n"
		 "    lua_memory_limit: 128MiB\n"
		 "    queue_depth: 4096\n"
		 "    args:\n"
		 "      vendor: LUNAR\n"
		 "      blocks: [1, 2, 3]\n"
		 "      nested: {deep: true, quoted: \"x y\"}\n"
		 "      shared: &s [a, b]\n"
		 "      again: *s\n"
		 "    sim:\n"
		 "      ring: 1MiB\n"
		 "      data_area: 16GiB\n"
		 "  - name: t\n"
		 "    transport: tcmu\n"
		 "    handler: %s\n"
		 "    size: 2TiB\n"
		 "    block_size: 512\n"
		 "    lua_memory_limit: 1MiB\n"
		 "    queue_depth: 1\n"
		 "    tcmu:\n"
		 "      create: yes\n"
		 "      fabric: iscsi\n"
		 "      wwn: naa.5001405ABCdef012\n"
		 "      iqn: iqn.2024-01.org.example:t\n"
		 "      portal: 127.0.0.1:3260\n"
		 "      hw_max_sectors: 65536\n"
		 "      cmd_time_out: 3600\n"
		 "      max_data_area: 1GiB\n"
		 "  - {name: x, transport: xen, handler: ./h.lua, size: 4096, block_size: 1024,\n"
		 "     xen: {p_dev: \"0:0:0:0\"}, args: {}}\n"
		 "  - name: l\n"
		 "    transport: tcmu\n"
		 "    handler: h.lua\n"
		 "    size: 2048\n"
		 "    block_size: 2048\n"
		 "    args:\n"
		 "    tcmu: {create: off, fabric: loop}\n",
		 abs_handler);
	c = load_ok(t, yaml);
	assert_int_equal(c->nluns, 4);

	l = &c->luns[0];
	assert_string_equal(l->name, "disk-0.a_B");
	assert_int_equal(l->transport, LUNAR_TRANSPORT_SIM);
	assert_string_equal(l->handler, sub_handler);
	assert_true(l->size == 1ull << 30);
	assert_int_equal(l->block_size, 4096);
	assert_true(l->lua_memory_limit == 128ull << 20);
	assert_int_equal(l->queue_depth, LUNAR_MAX_QUEUE_DEPTH);
	assert_true(l->sim.ring_size == 1ull << 20);
	assert_true(l->sim.data_size == 16ull << 30);
	assert_int_equal(l->line, 4);
	assert_int_equal(l->col, 5);
	a = l->args;
	assert_non_null(a);
	assert_int_equal(a->kind, LUNAR_VAL_MAP);
	assert_int_equal(a->line, 12);
	assert_int_equal(a->col, 7);
	assert_int_equal(a->n, 5);
	assert_string_equal(a->keys[0], "vendor");
	assert_string_equal(a->keys[4], "again");
	assert_int_equal(a->key_line[1], 13);
	assert_int_equal(a->key_col[1], 7);
	v = lunar_value_get(a, "vendor");
	assert_int_equal(v->kind, LUNAR_VAL_SCALAR);
	assert_string_equal(v->str, "LUNAR");
	assert_true(v->plain);
	v = lunar_value_get(a, "blocks");
	assert_int_equal(v->kind, LUNAR_VAL_SEQ);
	assert_int_equal(v->n, 3);
	assert_string_equal(v->items[2].str, "3");
	assert_int_equal(v->items[2].line, 13);
	assert_int_equal(v->items[2].col, 22);
	v = lunar_value_get(a, "nested");
	assert_int_equal(v->kind, LUNAR_VAL_MAP);
	assert_string_equal(lunar_value_get(v, "deep")->str, "true");
	assert_string_equal(lunar_value_get(v, "quoted")->str, "x y");
	assert_false(lunar_value_get(v, "quoted")->plain);
	/* an alias is a copy of what it names */
	v = lunar_value_get(a, "again");
	assert_int_equal(v->kind, LUNAR_VAL_SEQ);
	assert_int_equal(v->n, 2);
	assert_string_equal(v->items[1].str, "b");
	assert_null(lunar_value_get(a, "missing"));

	l = &c->luns[1];
	assert_string_equal(l->name, "t");
	assert_int_equal(l->transport, LUNAR_TRANSPORT_TCMU);
	snprintf(h, sizeof(h), "%s/tape.lua", t->real);
	assert_string_equal(l->handler, h);
	assert_true(l->size == 2ull << 40);
	assert_int_equal(l->block_size, 512);
	assert_true(l->lua_memory_limit == 1ull << 20);
	assert_int_equal(l->queue_depth, 1);
	assert_null(l->args);
	assert_true(l->tcmu.create);
	assert_string_equal(l->tcmu.fabric, "iscsi");
	assert_string_equal(l->tcmu.wwn, "naa.5001405ABCdef012");
	assert_string_equal(l->tcmu.iqn, "iqn.2024-01.org.example:t");
	assert_string_equal(l->tcmu.portal, "127.0.0.1:3260");
	assert_int_equal(l->tcmu.hw_max_sectors, 65536);
	assert_int_equal(l->tcmu.cmd_time_out, 3600);
	assert_true(l->tcmu.max_data_area == 1ull << 30);
	assert_int_equal(l->line, 20);

	l = &c->luns[2];
	assert_string_equal(l->name, "x");
	assert_int_equal(l->transport, LUNAR_TRANSPORT_XEN);
	snprintf(h, sizeof(h), "%s/h.lua", t->real);
	assert_string_equal(l->handler, h);
	assert_true(l->size == 4096);
	assert_int_equal(l->block_size, 1024);
	assert_string_equal(l->xen.p_dev, "0:0:0:0");
	assert_non_null(l->args);
	assert_int_equal(l->args->kind, LUNAR_VAL_MAP);
	assert_int_equal(l->args->n, 0);
	assert_int_equal(l->line, 36);
	assert_int_equal(l->col, 5);

	/* an empty 'args:' is no args */
	l = &c->luns[3];
	assert_int_equal(l->transport, LUNAR_TRANSPORT_TCMU);
	assert_int_equal(l->block_size, 2048);
	assert_true(l->size == 2048);
	assert_null(l->args);
	assert_false(l->tcmu.create);
	assert_string_equal(l->tcmu.fabric, "loop");
	lunar_config_free(c);
}

static void test_valid_sizes(void **state)
{
	static const struct {
		const char *text;
		uint64_t bytes;
	} sizes[] = {
		{ "512", 512 },
		{ "1024B", 1024 },
		{ "4KiB", 4096 },
		{ "64MiB", 64ull << 20 },
		{ "3 GiB", 3ull << 30 },
		{ "1TiB", 1ull << 40 },
		{ "16777215TiB", 16777215ull << 40 },
		{ "18446744073709551104", 18446744073709551104ull },
	};
	struct tmp *t = *state;

	for (size_t i = 0; i < LUNAR_ARRAY_SIZE(sizes); i++) {
		char yaml[256];
		struct lunar_config *c;

		snprintf(yaml, sizeof(yaml),
			 "luns:\n  - {name: s, transport: sim, handler: h.lua, size: %s}\n",
			 sizes[i].text);
		c = load_ok(t, yaml);
		assert_true(c->luns[0].size == sizes[i].bytes);
		lunar_config_free(c);
	}
}

static void test_valid_crlf_and_names(void **state)
{
	struct tmp *t = *state;
	struct lunar_config *c = load_ok(t,
		"version: 1\r\n"
		"luns:\r\n"
		"  - name: a\r\n"
		"    transport: sim\r\n"
		"    handler: h.lua\r\n"
		"    size: 64MiB\r\n"
		"  - name: xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\r\n"
		"    transport: sim\r\n"
		"    handler: h.lua\r\n"
		"    size: 1MiB\r\n"
		"...\r\n");

	assert_int_equal(c->nluns, 2);
	assert_int_equal(strlen(c->luns[1].name), 64);
	assert_int_equal(c->luns[1].line, 7);
	lunar_config_free(c);
}

/* ---- unknown keys ------------------------------------------------------------------- */

static void test_unknown_key_top(void **state)
{
	load_fails(*state,
		   "version: 1\n"
		   "lunz: []\n"
		   "foo: 1\n",
		   "1:1: missing 'luns:' (a list of LUNs)\n"
		   "2:1: unknown key 'lunz' in the top level (did you mean 'luns'?)\n"
		   "3:1: unknown key 'foo' in the top level\n");
	load_fails(*state,
		   LUN_A
		   "verison: 1\n",
		   "6:1: unknown key 'verison' in the top level (did you mean 'version'?)\n");
}

static void test_unknown_key_lun(void **state)
{
	load_fails(*state,
		   "luns:\n"
		   "  - name: a\n"
		   "    transport: sim\n"
		   "    handler: h.lua\n"
		   "    sise: 64MiB\n"
		   "    colour: red\n"
		   "  - {transport: sim, handler: h.lua, size: 1MiB, nmae: b}\n",
		   "2:5: LUN 'a' is missing 'size' (e.g. size: 64MiB)\n"
		   "5:5: unknown key 'sise' in LUN 'a' (did you mean 'size'?)\n"
		   "6:5: unknown key 'colour' in LUN 'a'\n"
		   "7:5: a LUN is missing 'name'\n"
		   "7:50: unknown key 'nmae' in a LUN (did you mean 'name'?)\n");
}

static void test_unknown_key_sections(void **state)
{
	load_fails(*state,
		   "luns:\n"
		   "  - name: s\n"
		   "    transport: sim\n"
		   "    handler: h.lua\n"
		   "    size: 64MiB\n"
		   "    sim:\n"
		   "      rings: 64KiB\n"
		   "      data_area: 1MiB\n"
		   "  - name: t\n"
		   "    transport: tcmu\n"
		   "    handler: h.lua\n"
		   "    size: 64MiB\n"
		   "    tcmu: {create: true, fabrik: loop, colour: red}\n"
		   "  - name: x\n"
		   "    transport: xen\n"
		   "    handler: h.lua\n"
		   "    size: 64MiB\n"
		   "    xen:\n"
		   "      pdev: 0:0:0:0\n",
		   "7:7: unknown key 'rings' in 'sim' (did you mean 'ring'?)\n"
		   "13:26: unknown key 'fabrik' in 'tcmu' (did you mean 'fabric'?)\n"
		   "13:40: unknown key 'colour' in 'tcmu'\n"
		   "19:7: unknown key 'pdev' in 'xen' (did you mean 'p_dev'?)\n");
}

/* ---- wrong types -------------------------------------------------------------------- */

static void test_wrong_types_lun(void **state)
{
	load_fails(*state,
		   "luns:\n"
		   "  - name: a\n"
		   "    transport: sim\n"
		   "    handler: h.lua\n"
		   "    size: {a: 1}\n"
		   "    block_size: \"512\"\n"
		   "    queue_depth: lots\n"
		   "    lua_memory_limit: [1]\n"
		   "    args: 5\n"
		   "    sim: fast\n"
		   "  - name: [b]\n"
		   "    transport: {}\n"
		   "    handler: [h.lua]\n"
		   "    size: 1MiB\n"
		   "    queue_depth: -1\n"
		   "    block_size: 4096.0\n"
		   "  - name: c\n"
		   "    transport: tcmu\n"
		   "    handler: h.lua\n"
		   "    size: 1MiB\n"
		   "    args: [x]\n"
		   "    tcmu:\n"
		   "      create: maybe\n"
		   "      hw_max_sectors: '8'\n"
		   "      cmd_time_out: 1e3\n"
		   "      fabric: [loop]\n"
		   "  - name: d\n"
		   "    transport: tcmu\n"
		   "    handler: h.lua\n"
		   "    size: 1MiB\n"
		   "    tcmu: {create: \"true\"}\n"
		   "    xen: []\n",
		   "5:11: 'size' must be a size such as 64MiB, not a mapping\n"
		   "6:17: 'block_size' must be an integer, not the quoted string '512'\n"
		   "7:18: 'queue_depth' must be an integer, not 'lots'\n"
		   "8:23: 'lua_memory_limit' must be a size such as 64MiB, not a list\n"
		   "9:11: 'args' must be a mapping (key: value lines), not a scalar\n"
		   "10:10: 'sim' must be a mapping (key: value lines), not a scalar\n"
		   "11:11: 'name' must be a string, not a list\n"
		   "12:16: 'transport' must be a string, not a mapping\n"
		   "13:14: 'handler' must be a string, not a list\n"
		   "15:18: 'queue_depth' must be an integer, not '-1'\n"
		   "16:17: 'block_size' must be an integer, not '4096.0'\n"
		   "21:11: 'args' must be a mapping (key: value lines), not a list\n"
		   "23:15: 'create' must be true or false, not 'maybe'\n"
		   "24:23: 'hw_max_sectors' must be an integer, not the quoted string '8'\n"
		   "25:21: 'cmd_time_out' must be an integer, not '1e3'\n"
		   "26:15: 'fabric' must be a string, not a list\n"
		   "31:20: 'create' must be true or false, not the quoted string 'true'\n"
		   "32:10: 'xen' must be a mapping (key: value lines), not a list\n");
}

static void test_wrong_types_structure(void **state)
{
	load_fails(*state, "luns: {a: 1}\n",
		   "1:7: 'luns' must be a list ('- name: ...' items), not a mapping\n");
	load_fails(*state, "luns: disk0\n",
		   "1:7: 'luns' must be a list ('- name: ...' items), not a scalar\n");
	load_fails(*state, "luns:\n",
		   "1:6: 'luns' must be a list ('- name: ...' items), not a scalar\n");
	load_fails(*state, "- luns: []\n",
		   "1:1: the top level must be a mapping (key: value lines), not a list\n");
	load_fails(*state, "luns\n",
		   "1:1: the top level must be a mapping (key: value lines), not a scalar\n");
	load_fails(*state,
		   "luns:\n"
		   "  - disk0\n"
		   "  - [a, b]\n"
		   "  -\n",
		   "2:5: a LUN must be a mapping (key: value lines), not a scalar\n"
		   "3:5: a LUN must be a mapping (key: value lines), not a list\n"
		   "4:4: a LUN must be a mapping (key: value lines), not a scalar\n");
	load_fails(*state,
		   "version: one\n"
		   "luns: []\n",
		   "1:10: 'version' must be an integer, not 'one'\n");
	load_fails(*state,
		   "version: \"1\"\n"
		   "luns: []\n",
		   "1:10: 'version' must be an integer, not the quoted string '1'\n");
}

/* ---- values ------------------------------------------------------------------------- */

static void test_bad_sizes(void **state)
{
	load_fails(*state,
		   "luns:\n"
		   "  - {name: a, transport: sim, handler: h.lua, size: 64MB}\n"
		   "  - {name: b, transport: sim, handler: h.lua, size: 64 foo}\n"
		   "  - {name: c, transport: sim, handler: h.lua, size: abc}\n"
		   "  - {name: d, transport: sim, handler: h.lua, size: 0}\n"
		   "  - {name: e, transport: sim, handler: h.lua, size: 1000}\n"
		   "  - {name: f, transport: sim, handler: h.lua, size: 6KiB, block_size: 4096}\n"
		   "  - {name: g, transport: sim, handler: h.lua, size: 99999999999TiB}\n"
		   "  - {name: h, transport: sim, handler: h.lua, size: 99999999999999999999}\n"
		   "  - {name: i, transport: sim, handler: h.lua, size: -1}\n"
		   "  - {name: j, transport: sim, handler: h.lua, size: 1.5GiB}\n"
		   "  - {name: k, transport: sim, handler: h.lua, size: 64mib}\n"
		   "  - {name: l, transport: sim, handler: h.lua, size: 1g}\n"
		   "  - {name: m, transport: sim, handler: h.lua, size: 1MiB, lua_memory_limit: 64M}\n"
		   "  - {name: n, transport: sim, handler: h.lua, size: \"\"}\n"
		   "  - {name: o, transport: sim, handler: h.lua, size: 16777216TiB}\n",
		   "2:53: 'size': ambiguous unit: write KiB, MiB, GiB or TiB (powers of 1024), not '64MB'\n"
		   "3:53: 'size': unknown unit: use B, KiB, MiB, GiB or TiB, not '64 foo'\n"
		   "4:53: 'size': expected a size such as 512, 4KiB, 64MiB or 2GiB, not 'abc'\n"
		   "5:53: 'size' must not be 0\n"
		   "6:53: 'size' (1000 bytes) is not a multiple of the block size 512\n"
		   "7:53: 'size' (6144 bytes) is not a multiple of the block size 4096\n"
		   "8:53: 'size': size is too large, not '99999999999TiB'\n"
		   "9:53: 'size': size is too large, not '99999999999999999999'\n"
		   "10:53: 'size': expected a size such as 512, 4KiB, 64MiB or 2GiB, not '-1'\n"
		   "11:53: 'size': unknown unit: use B, KiB, MiB, GiB or TiB, not '1.5GiB'\n"
		   "12:53: 'size': unknown unit: use B, KiB, MiB, GiB or TiB, not '64mib'\n"
		   "13:53: 'size': ambiguous unit: write KiB, MiB, GiB or TiB (powers of 1024), not '1g'\n"
		   "14:77: 'lua_memory_limit': ambiguous unit: write KiB, MiB, GiB or TiB (powers of 1024), not '64M'\n"
		   "15:53: 'size': expected a size such as 512, 4KiB, 64MiB or 2GiB, not ''\n"
		   "16:53: 'size': size is too large, not '16777216TiB'\n");
}

static void test_bad_block_size(void **state)
{
	load_fails(*state,
		   "luns:\n"
		   "  - {name: a, transport: sim, handler: h.lua, size: 1MiB, block_size: 1000}\n"
		   "  - {name: b, transport: sim, handler: h.lua, size: 1MiB, block_size: 0}\n"
		   "  - {name: c, transport: sim, handler: h.lua, size: 1MiB, block_size: 8192}\n"
		   "  - {name: d, transport: sim, handler: h.lua, size: 1MiB, block_size: 65537}\n"
		   "  - {name: e, transport: sim, handler: h.lua, size: 1MiB, block_size: 4KiB}\n",
		   "2:71: 'block_size' must be 512, 1024, 2048 or 4096, not 1000\n"
		   "3:71: 'block_size' must be 512, 1024, 2048 or 4096, not 0\n"
		   "4:71: 'block_size' must be 512, 1024, 2048 or 4096, not 8192\n"
		   "5:71: 'block_size' must be 512, 1024, 2048 or 4096, not 65537\n"
		   "6:71: 'block_size' must be an integer, not '4KiB'\n");
}

static void test_bad_transport(void **state)
{
	load_fails(*state,
		   "luns:\n"
		   "  - name: a\n"
		   "    transport: iscsi\n"
		   "    handler: h.lua\n"
		   "    size: 64MiB\n"
		   "  - {name: b, transport: SIM, handler: h.lua, size: 1MiB}\n"
		   "  - {name: c, transport: '', handler: h.lua, size: 1MiB}\n",
		   "3:16: 'transport' must be sim, tcmu or xen, not 'iscsi'\n"
		   "6:26: 'transport' must be sim, tcmu or xen, not 'SIM'\n"
		   "7:26: 'transport' must not be empty\n");
}

static void test_duplicate_names(void **state)
{
	load_fails(*state,
		   "luns:\n"
		   "  - name: a\n"
		   "    transport: sim\n"
		   "    handler: h.lua\n"
		   "    size: 64MiB\n"
		   "  - {name: b, transport: sim, handler: h.lua, size: 1MiB}\n"
		   "  - {name: a, transport: sim, handler: h.lua, size: 1MiB}\n"
		   "  - {transport: sim, name: b, handler: h.lua, size: 1MiB}\n"
		   "  - {name: a, transport: sim, handler: h.lua, size: 1MiB}\n",
		   "7:12: duplicate LUN name 'a' (first defined at line 2)\n"
		   "8:28: duplicate LUN name 'b' (first defined at line 6)\n"
		   "9:12: duplicate LUN name 'a' (first defined at line 2)\n");
}

static void test_duplicate_keys(void **state)
{
	load_fails(*state,
		   "luns:\n"
		   "  - name: a\n"
		   "    transport: sim\n"
		   "    handler: h.lua\n"
		   "    size: 64MiB\n"
		   "    size: 32MiB\n"
		   "    args: {x: 1, y: 2, x: 3}\n",
		   "6:5: duplicate key 'size' (first at line 5)\n"
		   "7:24: duplicate key 'x' (first at line 7)\n");
	load_fails(*state,
		   "luns: []\n"
		   "version: 1\n"
		   "\"luns\": []\n",
		   "3:1: duplicate key 'luns' (first at line 1)\n");
}

static void test_handler_files(void **state)
{
	struct tmp *t = *state;
	char path[PATH_MAX + 32];

	put_dir(t, "sub");
	load_fails(t,
		   "luns:\n"
		   "  - name: a\n"
		   "    transport: sim\n"
		   "    handler: nope.lua\n"
		   "    size: 64MiB\n"
		   "  - {name: b, transport: sim, handler: sub/nope.lua, size: 1MiB}\n"
		   "  - {name: c, transport: sim, handler: /nonexistent/x.lua, size: 1MiB}\n"
		   "  - {name: d, transport: sim, handler: sub, size: 1MiB}\n"
		   "  - {name: e, transport: sim, handler: h.lua/x.lua, size: 1MiB}\n",
		   "4:14: handler file 'nope.lua' not found (looked at @DIR@/nope.lua)\n"
		   "6:40: handler file 'sub/nope.lua' not found (looked at @DIR@/sub/nope.lua)\n"
		   "7:40: handler file '/nonexistent/x.lua' not found (looked at /nonexistent/x.lua)\n"
		   "8:40: handler 'sub' is not a file (looked at @DIR@/sub)\n"
		   "9:40: handler file 'h.lua/x.lua' not found (looked at @DIR@/h.lua/x.lua)\n");

	/* relative to the config file's directory, not to the working directory */
	put(t, "sub/s.lua", "return {}\n");
	put(t, "sub/config.yaml", "luns:\n  - {name: a, transport: sim, handler: h.lua, size: 1MiB}\n");
	snprintf(path, sizeof(path), "%s/sub/config.yaml", t->dir);
	expect_diag(path, t->real,
		    "2:40: handler file 'h.lua' not found (looked at @DIR@/sub/h.lua)\n");
}

static void test_missing_required(void **state)
{
	load_fails(*state,
		   "luns:\n"
		   "  - block_size: 512\n"
		   "  - name: a\n"
		   "    size: 1MiB\n"
		   "  - {}\n",
		   "2:5: a LUN is missing 'name'\n"
		   "2:5: a LUN is missing 'transport' (sim, tcmu or xen)\n"
		   "2:5: a LUN is missing 'handler' (path to a Lua file)\n"
		   "2:5: a LUN is missing 'size' (e.g. size: 64MiB)\n"
		   "3:5: LUN 'a' is missing 'transport' (sim, tcmu or xen)\n"
		   "3:5: LUN 'a' is missing 'handler' (path to a Lua file)\n"
		   "5:5: a LUN is missing 'name'\n"
		   "5:5: a LUN is missing 'transport' (sim, tcmu or xen)\n"
		   "5:5: a LUN is missing 'handler' (path to a Lua file)\n"
		   "5:5: a LUN is missing 'size' (e.g. size: 64MiB)\n");
	load_fails(*state,
		   "# no LUNs at all\n"
		   "version: 1\n",
		   "2:1: missing 'luns:' (a list of LUNs)\n");
}

static void test_bad_names(void **state)
{
	load_fails(*state,
		   "luns:\n"
		   "  - {name: my disk, transport: sim, handler: h.lua, size: 1MiB}\n"
		   "  - {name: a/b, transport: sim, handler: h.lua, size: 1MiB}\n"
		   "  - {name: \"\", transport: sim, handler: h.lua, size: 1MiB}\n"
		   "  - {name: d\xc3\xadsk, transport: sim, handler: h.lua, size: 1MiB}\n"
		   "  - {name: xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx,"
		   " transport: sim, handler: h.lua, size: 1MiB}\n",
		   "2:12: LUN name 'my disk' may only use letters, digits, '-', '_' and '.' (at most 64)\n"
		   "3:12: LUN name 'a/b' may only use letters, digits, '-', '_' and '.' (at most 64)\n"
		   "4:12: 'name' must not be empty\n"
		   "5:12: LUN name 'd\xc3\xadsk' may only use letters, digits, '-', '_' and '.' (at most 64)\n"
		   "6:12: LUN name 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx'"
		   " may only use letters, digits, '-', '_' and '.' (at most 64)\n");
}

static void test_section_mismatch(void **state)
{
	load_fails(*state,
		   LUN_A
		   "    tcmu:\n"
		   "      create: true\n"
		   "  - name: x\n"
		   "    transport: xen\n"
		   "    handler: h.lua\n"
		   "    size: 64MiB\n"
		   "    sim: {ring: 64KiB}\n"
		   "    tcmu: {}\n"
		   "  - {name: t, transport: tcmu, handler: h.lua, size: 1MiB, xen: {p_dev: a}}\n",
		   "6:5: section 'tcmu' does not apply: LUN 'a' uses transport sim\n"
		   "12:5: section 'sim' does not apply: LUN 'x' uses transport xen\n"
		   "13:5: section 'tcmu' does not apply: LUN 'x' uses transport xen\n"
		   "14:60: section 'xen' does not apply: LUN 't' uses transport tcmu\n");
}

static void test_version(void **state)
{
	load_fails(*state,
		   "version: 2\n"
		   "luns: []\n",
		   "1:10: unsupported config version 2 (this lunar reads version 1)\n");
	load_fails(*state,
		   "version: 1001\n"
		   "luns: []\n",
		   "1:10: unsupported config version 1001 (this lunar reads version 1)\n");
	load_fails(*state,
		   "version: 0\n"
		   LUN_A,
		   "1:10: unsupported config version 0 (this lunar reads version 1)\n");
}

static void test_tcmu_netlink(void **state)
{
	struct lunar_config *c = load_ok(*state, LUN_A);

	assert_false(c->tcmu_netlink_own);
	lunar_config_free(c);
	c = load_ok(*state, "tcmu_netlink: own\n" LUN_A);
	assert_true(c->tcmu_netlink_own);
	lunar_config_free(c);
	c = load_ok(*state, "tcmu_netlink: listen\n" LUN_A);
	assert_false(c->tcmu_netlink_own);
	lunar_config_free(c);
	load_fails(*state,
		   "tcmu_netlink: reply\n"
		   LUN_A,
		   "1:15: 'tcmu_netlink' must be listen or own, not 'reply'\n");
	load_fails(*state,
		   "tcmu_netlnk: own\n"
		   LUN_A,
		   "1:1: unknown key 'tcmu_netlnk' in the top level (did you mean 'tcmu_netlink'?)\n");
}

static void test_queue_depth(void **state)
{
	load_fails(*state,
		   "luns:\n"
		   "  - {name: a, transport: sim, handler: h.lua, size: 1MiB, queue_depth: 0}\n"
		   "  - {name: b, transport: sim, handler: h.lua, size: 1MiB, queue_depth: 4097}\n"
		   "  - {name: c, transport: sim, handler: h.lua, size: 1MiB, queue_depth: 99999999999999999999}\n",
		   "2:72: 'queue_depth' must be at least 1\n"
		   "3:72: 'queue_depth' is 4097, the largest allowed is 4096\n"
		   "4:72: 'queue_depth' must be an integer, not '99999999999999999999'\n");
}

static void test_worker(void **state)
{
	struct lunar_config *c = load_ok(*state,
					 "luns:\n"
					 "  - {name: a, transport: sim, handler: h.lua, size: 1MiB, worker: pair}\n"
					 "  - {name: b, transport: sim, handler: h.lua, size: 1MiB}\n");

	assert_string_equal(c->luns[0].worker, "pair");
	assert_null(c->luns[1].worker);
	lunar_config_free(c);
	load_fails(*state,
		   "luns:\n"
		   "  - {name: a, transport: sim, handler: h.lua, size: 1MiB, worker: 'two words'}\n",
		   "2:67: worker name 'two words' may only use letters, digits, '-', '_' and '.' (at most 64)\n");
}

static void test_lua_memory_limit(void **state)
{
	load_fails(*state,
		   "luns:\n"
		   "  - {name: a, transport: sim, handler: h.lua, size: 1MiB, lua_memory_limit: 1023KiB}\n"
		   "  - {name: b, transport: sim, handler: h.lua, size: 1MiB, lua_memory_limit: 0}\n",
		   "2:77: 'lua_memory_limit' must be at least 1MiB\n"
		   "3:77: 'lua_memory_limit' must be at least 1MiB\n");
}

static void test_bad_sim_section(void **state)
{
	load_fails(*state,
		   "luns:\n"
		   "  - name: a\n"
		   "    transport: sim\n"
		   "    handler: h.lua\n"
		   "    size: 64MiB\n"
		   "    sim:\n"
		   "      ring: 4KiB\n"
		   "      data_area: 1000\n"
		   "  - name: b\n"
		   "    transport: sim\n"
		   "    handler: h.lua\n"
		   "    size: 64MiB\n"
		   "    sim: {ring: 65MiB, data_area: 17GiB}\n"
		   "  - {name: c, transport: sim, handler: h.lua, size: 1MiB, sim: {ring: 12KiB, data_area: 4095}}\n"
		   "  - {name: d, transport: sim, handler: h.lua, size: 1MiB, sim: {ring: 9000, data_area: 64MB}}\n",
		   "7:13: 'ring' must be a multiple of 4KiB between 8KiB and 64MiB\n"
		   "8:18: 'data_area' must be a multiple of 4KiB up to 16GiB\n"
		   "13:17: 'ring' must be a multiple of 4KiB between 8KiB and 64MiB\n"
		   "13:35: 'data_area' must be a multiple of 4KiB up to 16GiB\n"
		   "14:89: 'data_area' must be a multiple of 4KiB up to 16GiB\n"
		   "15:71: 'ring' must be a multiple of 4KiB between 8KiB and 64MiB\n"
		   "15:88: 'data_area': ambiguous unit: write KiB, MiB, GiB or TiB (powers of 1024), not '64MB'\n");
}

static void test_bad_tcmu_section(void **state)
{
	load_fails(*state,
		   "luns:\n"
		   "  - name: t\n"
		   "    transport: tcmu\n"
		   "    handler: h.lua\n"
		   "    size: 64MiB\n"
		   "    tcmu:\n"
		   "      fabric: fc\n"
		   "      wwn: naa.123\n"
		   "      iqn: eui.02004567A425678D\n"
		   "      portal: 127.0.0.1\n"
		   "      hw_max_sectors: 65537\n"
		   "      cmd_time_out: 3601\n"
		   "      max_data_area: 1 GB\n"
		   "  - name: u\n"
		   "    transport: tcmu\n"
		   "    handler: h.lua\n"
		   "    size: 64MiB\n"
		   "    tcmu:\n"
		   "      wwn: naa.500140xyzabcdef0\n"
		   "      portal: \"\"\n",
		   "7:15: 'fabric' must be loop or iscsi, not 'fc'\n"
		   "8:12: 'wwn' must look like naa.5001405xxxxxxxxx (16 hex digits), not 'naa.123'\n"
		   "9:12: 'iqn' must start with 'iqn.', not 'eui.02004567A425678D'\n"
		   "10:15: 'portal' must be ADDRESS:PORT, not '127.0.0.1'\n"
		   "11:23: 'hw_max_sectors' is 65537, the largest allowed is 65536\n"
		   "12:21: 'cmd_time_out' is 3601, the largest allowed is 3600\n"
		   "13:22: 'max_data_area': ambiguous unit: write KiB, MiB, GiB or TiB (powers of 1024), not '1 GB'\n"
		   "19:12: 'wwn' must look like naa.5001405xxxxxxxxx (16 hex digits), not 'naa.500140xyzabcdef0'\n"
		   "20:15: 'portal' must not be empty\n");
}

static void test_bad_xen_section(void **state)
{
	load_fails(*state,
		   "luns:\n"
		   "  - name: x\n"
		   "    transport: xen\n"
		   "    handler: h.lua\n"
		   "    size: 64MiB\n"
		   "    xen:\n"
		   "      p_dev: a/b\n"
		   "      backend_type: vscsi/lunar\n"
		   "  - name: y\n"
		   "    transport: xen\n"
		   "    handler: h.lua\n"
		   "    size: 64MiB\n"
		   "    xen: {p_dev: \"\", backend_type: vscsi.x}\n",
		   "7:14: 'p_dev' must be 1 to 64 characters without '/' or spaces, not 'a/b'\n"
		   "8:21: 'backend_type' must be letters, digits, - and _ (e.g. vscsi-lunar), not 'vscsi/lunar'\n"
		   "13:18: 'p_dev' must not be empty\n"
		   "13:36: 'backend_type' must be letters, digits, - and _ (e.g. vscsi-lunar), not 'vscsi.x'\n");
}

static void test_valid_xen_section(void **state)
{
	struct lunar_config *c = load_ok(*state,
					 "luns:\n"
					 "  - name: x\n"
					 "    transport: xen\n"
					 "    handler: h.lua\n"
					 "    size: 64MiB\n"
					 "    xen: {p_dev: naa.6001405:0, backend_type: vscsi_2}\n"
					 "  - name: y\n"
					 "    transport: xen\n"
					 "    handler: h.lua\n"
					 "    size: 64MiB\n");

	assert_string_equal(c->luns[0].xen.p_dev, "naa.6001405:0");
	assert_string_equal(c->luns[0].xen.backend_type, "vscsi_2");
	assert_null(c->luns[1].xen.p_dev);
	assert_null(c->luns[1].xen.backend_type);
	lunar_config_free(c);
}

/* ---- YAML itself -------------------------------------------------------------------- */

static void test_yaml_syntax_errors(void **state)
{
	load_fails(*state,
		   "luns:\n"
		   "  - name: a\n"
		   "   transport: sim\n",
		   "3:4: did not find expected '-' indicator (while parsing a block collection)\n");
	load_fails(*state, "luns: [a, b\n",
		   "2:1: did not find expected ',' or ']' (while parsing a flow sequence)\n");
	load_fails(*state,
		   "luns:\n"
		   "\t- name: a\n",
		   "2:1: found character that cannot start any token (while scanning for the next token)\n");
	load_fails(*state,
		   "luns:\n"
		   "  - name: \"a\n",
		   "3:1: found unexpected end of stream (while scanning a quoted scalar)\n");
	load_fails(*state, "version: 1: 2\n",
		   "1:11: mapping values are not allowed in this context\n");
	load_fails(*state, "luns: *nowhere\n",
		   "1:7: found undefined alias\n");
	load_fails(*state,
		   LUN_A
		   "    args: {a: 1\n",
		   "7:1: did not find expected ',' or '}' (while parsing a flow mapping)\n");
}

static void test_yaml_encoding_errors(void **state)
{
	/* the reader reports byte offsets: they must still become line:col */
	load_fails(*state, "luns: \xff\n",
		   "1:7: invalid leading UTF-8 octet\n");
	load_fails(*state,
		   "version: 1\n"
		   "luns:\n"
		   "  - name: \xc3\xa9\xc3(\n",
		   "3:13: invalid trailing UTF-8 octet\n");
	load_fails(*state,
		   "version: 1\n"
		   "luns:\n"
		   "  - name: a\x01\n",
		   "3:12: control characters are not allowed\n");
	load_fails(*state,
		   "luns:\n"
		   "  - {name: \"a\\0b\", transport: sim, handler: h.lua, size: 1MiB}\n",
		   "2:12: strings must not contain NUL bytes\n");
	load_fails(*state,
		   "? [a]\n"
		   ": b\n"
		   "luns: []\n",
		   "1:3: a mapping key must be a plain string\n");
}

static void test_empty_file(void **state)
{
	load_fails(*state, "", "1:1: the file is empty: expected a 'luns:' list\n");
	load_fails(*state, "# nothing here\n\n", "1:1: the file is empty: expected a 'luns:' list\n");
	load_fails(*state, "---\n", "1:1: the file is empty: expected a 'luns:' list\n");
	load_fails(*state, "--- ~\n",
		   "1:5: the top level must be a mapping (key: value lines), not a scalar\n");
}

static void test_second_document(void **state)
{
	load_fails(*state,
		   LUN_A
		   "---\n"
		   "luns: []\n",
		   "7:1: only one YAML document is allowed\n");
	load_fails(*state,
		   LUN_A
		   "...\n"
		   "--- x\n",
		   "7:5: only one YAML document is allowed\n");
	/* the rest of the file is read, so a syntax error there is not missed */
	load_fails(*state,
		   LUN_A
		   "---\n"
		   "[\n",
		   "8:1: did not find expected node content (while parsing a flow node)\n");
}

static void test_recursive_alias(void **state)
{
	load_fails(*state, "luns: &a [*a]\n",
		   "1:7: document too deep or too large (recursive or exploding aliases?)\n");
	/*
	 * libyaml hands over an alias as the node it names, so the limit trips
	 * on the node being copied when it is reached (here the name, 'a'),
	 * not on the alias.
	 */
	load_fails(*state,
		   "luns:\n"
		   "  - &l {name: a, transport: sim, handler: h.lua, size: 1MiB, args: {me: *l}}\n",
		   "2:15: document too deep or too large (recursive or exploding aliases?)\n");
}

static long maxrss_kib(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_maxrss;
}

static void test_alias_bomb(void **state)
{
	struct tmp *t = *state;
	struct lunar_buf b = { 0 };
	struct timespec t0, t1;
	long rss0 = maxrss_kib();
	double secs;

	/* "billion laughs": 9^9 scalars once expanded, a few hundred bytes written */
	lunar_buf_puts(&b, "a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
	for (char c = 'b'; c <= 'i'; c++) {
		lunar_buf_printf(&b, "%c: &%c [", c, c);
		for (int i = 0; i < 9; i++)
			lunar_buf_printf(&b, "%s*%c", i ? ", " : "", c - 1);
		lunar_buf_puts(&b, "]\n");
	}
	lunar_buf_puts(&b, "luns: *i\n");
	put(t, "config.yaml", b.data);
	lunar_buf_free(&b);

	clock_gettime(CLOCK_MONOTONIC, &t0);
	/* the 100001st node: the second 'lol' of a copy of 'a' deep inside 'f' */
	expect_diag(t->path, t->real,
		    "1:13: document too deep or too large (recursive or exploding aliases?)\n");
	clock_gettime(CLOCK_MONOTONIC, &t1);
	secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	assert_true(secs < 10.0);
	/* 100000 nodes at most (a few hundred MiB would mean no limit at all) */
	assert_true(maxrss_kib() - rss0 < 256 * 1024);
}

static void test_too_many_luns(void **state)
{
	struct tmp *t = *state;
	struct lunar_buf b = { 0 };

	lunar_buf_puts(&b, "luns: [");
	for (int i = 0; i <= LUNAR_MAX_LUNS; i++)
		lunar_buf_puts(&b, i ? ", {}" : "{}");
	lunar_buf_puts(&b, "]\n");
	put(t, "config.yaml", b.data);
	lunar_buf_free(&b);
	expect_diag(t->path, t->real, "1:7: at most 1024 LUNs are supported\n");
}

static void test_deep_nesting(void **state)
{
	struct tmp *t = *state;
	struct lunar_buf b = { 0 };

	/* root 0, luns 1, the LUN 2, args 3: the 62nd '[' is at depth 65 */
	lunar_buf_puts(&b, LUN_A "    args: {x: ");
	for (int i = 0; i < 70; i++)
		lunar_buf_puts(&b, "[");
	for (int i = 0; i < 70; i++)
		lunar_buf_puts(&b, "]");
	lunar_buf_puts(&b, "}\n");
	put(t, "config.yaml", b.data);
	lunar_buf_free(&b);
	expect_diag(t->path, t->real,
		    "6:76: document too deep or too large (recursive or exploding aliases?)\n");
}

static void test_cannot_open(void **state)
{
	struct tmp *t = *state;
	char path[PATH_MAX + 32];

	snprintf(path, sizeof(path), "%s/missing.yaml", t->dir);
	expect_diag(path, t->real, "0:0: cannot open: No such file or directory\n");
	snprintf(path, sizeof(path), "%s/no/such/dir/config.yaml", t->dir);
	expect_diag(path, t->real, "0:0: cannot resolve the directory of the file\n");
}

/* ---- all at once -------------------------------------------------------------------- */

static void test_many_errors_in_order(void **state)
{
	/*
	 * Each LUN is checked key by key in a fixed order (name, unknown keys,
	 * transport, handler, block_size, size, ...), whatever order the keys
	 * are written in: the report still reads from the top of the file.
	 */
	load_fails(*state,
		   "version: 3\n"
		   "luns:\n"
		   "  - name: bad name/x\n"
		   "    size: 99999999999TiB\n"
		   "    transport: scsi\n"
		   "    handler: nope.lua\n"
		   "    sise: 1\n"
		   "    block_size: 1000\n"
		   "    queue_depth: 0\n"
		   "    xen: {pdev: x}\n"
		   "  - queue_depth: 5000\n"
		   "    name: a\n"
		   "    transport: sim\n"
		   "    block_size: 4096\n"
		   "    size: 1000\n"
		   "  - {name: a, transport: sim, handler: h.lua, size: 1MiB}\n"
		   "colour: blue\n",
		   "1:10: unsupported config version 3 (this lunar reads version 1)\n"
		   "3:11: LUN name 'bad name/x' may only use letters, digits, '-', '_' and '.' (at most 64)\n"
		   "4:11: 'size': size is too large, not '99999999999TiB'\n"
		   "5:16: 'transport' must be sim, tcmu or xen, not 'scsi'\n"
		   "6:14: handler file 'nope.lua' not found (looked at @DIR@/nope.lua)\n"
		   "7:5: unknown key 'sise' in LUN 'bad name/x' (did you mean 'size'?)\n"
		   "8:17: 'block_size' must be 512, 1024, 2048 or 4096, not 1000\n"
		   "9:18: 'queue_depth' must be at least 1\n"
		   "10:11: unknown key 'pdev' in 'xen' (did you mean 'p_dev'?)\n"
		   "11:5: LUN 'a' is missing 'handler' (path to a Lua file)\n"
		   "11:18: 'queue_depth' is 5000, the largest allowed is 4096\n"
		   "15:11: 'size' (1000 bytes) is not a multiple of the block size 4096\n"
		   "16:12: duplicate LUN name 'a' (first defined at line 11)\n"
		   "17:1: unknown key 'colour' in the top level\n");
}

static void test_transport_names(void **state)
{
	assert_string_equal(lunar_transport_name(LUNAR_TRANSPORT_SIM), "sim");
	assert_string_equal(lunar_transport_name(LUNAR_TRANSPORT_TCMU), "tcmu");
	assert_string_equal(lunar_transport_name(LUNAR_TRANSPORT_XEN), "xen");
	lunar_config_free(NULL);
}

/* ---- filters ------------------------------------------------------------------ */

static void test_valid_filters(void **state)
{
	struct tmp *t = *state;
	struct lunar_config *c = load_ok(t,
		LUN_A
		"    filters:\n"
		"      - filter: log\n"
		"        level: debug\n"
		"        ops: [read, write_same]\n"
		"      - filter: error\n"
		"        ops: all\n"
		"        lba: [1000, 1999]\n"
		"        sense: 3/11/00\n"
		"        rate: 0.25\n"
		"        after: 10\n"
		"        count: 3\n"
		"        seed: 7\n"
		"      - {filter: error, sense: [3, 0x11, 0], lba: 5, status: 0x08}\n"
		"      - {filter: delay, ms: 1.5, max_ms: 20, ops: read}\n"
		"      - filter: readonly\n"
		"      - {filter: stats, interval: 60}\n"
		"  - {name: b, transport: sim, handler: h.lua, size: 1MiB, filters: }\n");
	const struct lunar_value *f = c->luns[0].filters;

	assert_non_null(f);
	assert_int_equal(f->kind, LUNAR_VAL_SEQ);
	assert_int_equal(f->n, 6);
	assert_int_equal(f->line, 7);
	assert_string_equal(lunar_value_get(&f->items[0], "filter")->str, "log");
	assert_string_equal(lunar_value_get(&f->items[1], "rate")->str, "0.25");
	assert_string_equal(lunar_value_get(&f->items[4], "filter")->str, "readonly");
	assert_string_equal(lunar_value_get(&f->items[5], "interval")->str, "60");
	/* an empty 'filters:' is none */
	assert_null(c->luns[1].filters);
	/* no filters at all */
	lunar_config_free(c);
	c = load_ok(t, LUN_A);
	assert_null(c->luns[0].filters);
	lunar_config_free(c);
}

static void test_bad_filters(void **state)
{
	load_fails(*state,
		   LUN_A
		   "    filters:\n"
		   "      - filter: dealy\n"
		   "      - filter: error\n"
		   "        rat: 0.5\n"
		   "        rate: 2\n"
		   "        ops: [read, wirte]\n"
		   "        sense: 3/11\n"
		   "        lba: [20, 10]\n"
		   "      - filter: log\n"
		   "        level: loud\n"
		   "      - filter: delay\n"
		   "        ms: fast\n"
		   "        ops: 7\n"
		   "      - readonly\n"
		   "      - ms: 5\n"
		   "      - filter: [log]\n"
		   "      - filter: stats\n"
		   "        interval: -1\n"
		   "      - {filter: error, sense: [16, 1, 1], status: 0, lba: {a: 1}}\n"
		   "      - {filter: readonly, ops: all}\n"
		   "  - name: g\n"
		   "    transport: sim\n"
		   "    handler: h.lua\n"
		   "    size: 64MiB\n"
		   "    filters: {filter: log}\n",
		   "7:17: unknown filter 'dealy' (did you mean 'delay'?)\n"
		   "9:9: unknown key 'rat' in filter 'error' (did you mean 'rate'?)\n"
		   "10:15: 'rate' must be a number from 0 to 1, not '2'\n"
		   "11:21: unknown op class 'wirte' in 'ops' (did you mean 'write'?)\n"
		   "12:16: 'sense' must be KEY/ASC/ASCQ in hex (3/11/00) or [KEY, ASC, ASCQ]\n"
		   "13:14: 'lba' must be [FIRST, LAST] with FIRST <= LAST\n"
		   "15:16: unknown log level 'loud' in 'level' (error, warn, info, debug)\n"
		   "17:13: 'ms' must be a number from 0 to 3600000, not 'fast'\n"
		   "18:14: unknown op class '7' in 'ops' (read, write, verify, flush, unmap, write_same, "
		   "compare_and_write, other, all)\n"
		   "19:9: a filter must be a mapping ('- filter: NAME' and its settings), not a scalar\n"
		   "20:9: this filter is missing 'filter' (one of delay, error, log, readonly, stats)\n"
		   "21:17: 'filter' must be a filter name, not a list\n"
		   "23:19: 'interval' must be a number from 0 to 31536000, not '-1'\n"
		   "24:33: 'sense key' must be a number from 0 to 15, not '16'\n"
		   "24:52: 'status' must be a number from 1 to 255, not '0'\n"
		   "24:60: 'lba' must be an LBA or [FIRST, LAST], not a mapping\n"
		   "25:28: unknown key 'ops' in filter 'readonly'\n"
		   "30:14: 'filters' must be a list ('- filter: NAME' items), not a mapping\n");
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_valid_minimal),
		T(test_valid_full),
		T(test_valid_sizes),
		T(test_valid_crlf_and_names),
		T(test_unknown_key_top),
		T(test_unknown_key_lun),
		T(test_unknown_key_sections),
		T(test_wrong_types_lun),
		T(test_wrong_types_structure),
		T(test_bad_sizes),
		T(test_bad_block_size),
		T(test_bad_transport),
		T(test_duplicate_names),
		T(test_duplicate_keys),
		T(test_handler_files),
		T(test_missing_required),
		T(test_bad_names),
		T(test_section_mismatch),
		T(test_version),
		T(test_tcmu_netlink),
		T(test_queue_depth),
		T(test_worker),
		T(test_lua_memory_limit),
		T(test_bad_sim_section),
		T(test_bad_tcmu_section),
		T(test_bad_xen_section),
		T(test_valid_xen_section),
		T(test_yaml_syntax_errors),
		T(test_yaml_encoding_errors),
		T(test_empty_file),
		T(test_second_document),
		T(test_recursive_alias),
		T(test_alias_bomb),
		T(test_too_many_luns),
		T(test_deep_nesting),
		T(test_cannot_open),
		T(test_many_errors_in_order),
		T(test_transport_names),
		T(test_valid_filters),
		T(test_bad_filters),
	};

	return cmocka_run_group_tests_name("config", tests, NULL, NULL);
}
