/* SPDX-License-Identifier: MIT */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"

const char *lunar_transport_name(enum lunar_transport t)
{
	switch (t) {
	case LUNAR_TRANSPORT_SIM: return "sim";
	case LUNAR_TRANSPORT_TCMU: return "tcmu";
	case LUNAR_TRANSPORT_XEN: return "xen";
	}
	return "?";
}

/* ---- diagnostics helpers ---------------------------------------------------------- */

static unsigned edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	unsigned row[64];

	if (la >= 63 || lb >= 63)
		return 99;
	for (size_t j = 0; j <= lb; j++)
		row[j] = (unsigned)j;
	for (size_t i = 1; i <= la; i++) {
		unsigned prev = row[0];

		row[0] = (unsigned)i;
		for (size_t j = 1; j <= lb; j++) {
			unsigned cur = row[j];
			unsigned sub = prev + (a[i - 1] != b[j - 1]);

			row[j] = LUNAR_MIN(LUNAR_MIN(row[j] + 1, row[j - 1] + 1), sub);
			prev = cur;
		}
	}
	return row[lb];
}

/* Every key of map must be in allowed (NULL-terminated). */
static void check_keys(struct lunar_diag *d, const struct lunar_value *map, const char *const *allowed,
		       const char *where)
{
	for (size_t i = 0; i < map->n; i++) {
		const char *k = map->keys[i], *best = NULL;
		unsigned best_d = 3;
		bool ok = false;

		for (const char *const *a = allowed; *a; a++) {
			unsigned dist;

			if (!strcmp(*a, k)) {
				ok = true;
				break;
			}
			dist = edit_distance(*a, k);
			if (dist < best_d) {
				best_d = dist;
				best = *a;
			}
		}
		if (ok)
			continue;
		if (best)
			lunar_diag_add(d, map->key_line[i], map->key_col[i],
				       "unknown key '%s' in %s (did you mean '%s'?)", k, where, best);
		else
			lunar_diag_add(d, map->key_line[i], map->key_col[i],
				       "unknown key '%s' in %s", k, where);
	}
}

static bool want_scalar(struct lunar_diag *d, const struct lunar_value *v, const char *key,
			const char *what)
{
	if (v->kind == LUNAR_VAL_SCALAR)
		return true;
	lunar_diag_add(d, v->line, v->col, "'%s' must be %s, not %s", key, what,
		       lunar_value_kind_name(v));
	return false;
}

static int get_string(struct lunar_diag *d, const struct lunar_value *map, const char *key,
		      char **out)
{
	const struct lunar_value *v = lunar_value_get(map, key);

	if (!v)
		return 0;
	if (!want_scalar(d, v, key, "a string"))
		return -1;
	if (!v->str[0]) {
		lunar_diag_add(d, v->line, v->col, "'%s' must not be empty", key);
		return -1;
	}
	free(*out);
	*out = strdup(v->str);
	return 1;
}

static int get_uint(struct lunar_diag *d, const struct lunar_value *map, const char *key,
		    uint64_t max, uint64_t *out)
{
	const struct lunar_value *v = lunar_value_get(map, key);
	char *end;
	uint64_t n;

	if (!v)
		return 0;
	if (!want_scalar(d, v, key, "an integer"))
		return -1;
	if (!v->plain) {
		lunar_diag_add(d, v->line, v->col, "'%s' must be an integer, not the quoted string '%s'",
			       key, v->str);
		return -1;
	}
	errno = 0;
	n = strtoull(v->str, &end, 0);
	if (!isdigit((unsigned char)v->str[0]) || *end || errno) {
		lunar_diag_add(d, v->line, v->col, "'%s' must be an integer, not '%s'", key, v->str);
		return -1;
	}
	if (n > max) {
		lunar_diag_add(d, v->line, v->col, "'%s' is %" PRIu64 ", the largest allowed is %" PRIu64,
			       key, n, max);
		return -1;
	}
	*out = n;
	return 1;
}

static int get_size(struct lunar_diag *d, const struct lunar_value *map, const char *key,
		    uint64_t *out)
{
	const struct lunar_value *v = lunar_value_get(map, key);
	const char *why;

	if (!v)
		return 0;
	if (!want_scalar(d, v, key, "a size such as 64MiB"))
		return -1;
	if (lunar_parse_size(v->str, out, &why) < 0) {
		lunar_diag_add(d, v->line, v->col, "'%s': %s, not '%s'", key, why, v->str);
		return -1;
	}
	return 1;
}

static int get_duration(struct lunar_diag *d, const struct lunar_value *map, const char *key,
			uint64_t *out)
{
	const struct lunar_value *v = lunar_value_get(map, key);
	const char *why;

	if (!v)
		return 0;
	if (!want_scalar(d, v, key, "a duration such as 20s"))
		return -1;
	if (lunar_parse_duration(v->str, out, &why) < 0) {
		lunar_diag_add(d, v->line, v->col, "'%s': %s, not '%s'", key, why, v->str);
		return -1;
	}
	return 1;
}

static int get_bool(struct lunar_diag *d, const struct lunar_value *map, const char *key, bool *out)
{
	static const char *yes[] = { "true", "yes", "on" }, *no[] = { "false", "no", "off" };
	const struct lunar_value *v = lunar_value_get(map, key);

	if (!v)
		return 0;
	if (!want_scalar(d, v, key, "true or false"))
		return -1;
	for (int i = 0; v->plain && i < 3; i++) {
		if (!strcmp(v->str, yes[i])) {
			*out = true;
			return 1;
		}
		if (!strcmp(v->str, no[i])) {
			*out = false;
			return 1;
		}
	}
	lunar_diag_add(d, v->line, v->col, "'%s' must be true or false, not %s'%s'", key,
		       v->plain ? "" : "the quoted string ", v->str);
	return -1;
}

static bool want_map(struct lunar_diag *d, const struct lunar_value *v, const char *what)
{
	if (v->kind == LUNAR_VAL_MAP)
		return true;
	lunar_diag_add(d, v->line, v->col, "%s must be a mapping (key: value lines), not %s", what,
		       lunar_value_kind_name(v));
	return false;
}

/* Where key itself is written; lunar_value_get() gives where its value is. */
static void key_pos(const struct lunar_value *map, const char *key, int *line, int *col)
{
	for (size_t i = 0; i < map->n; i++) {
		if (!strcmp(map->keys[i], key)) {
			*line = map->key_line[i];
			*col = map->key_col[i];
			return;
		}
	}
	*line = map->line;
	*col = map->col;
}

/* ---- LUN sections ---------------------------------------------------------------- */

static bool valid_name(const char *s)
{
	if (!*s || strlen(s) > 64)
		return false;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && *s != '-' && *s != '_' && *s != '.')
			return false;
	return true;
}

static void parse_sim(struct lunar_diag *d, const struct lunar_value *v, struct lunar_lun_config *l)
{
	static const char *const keys[] = { "ring", "data_area", NULL };

	if (!want_map(d, v, "'sim'"))
		return;
	check_keys(d, v, keys, "'sim'");
	if (get_size(d, v, "ring", &l->sim.ring_size) > 0 &&
	    (l->sim.ring_size < 8192 || l->sim.ring_size > (64u << 20) || l->sim.ring_size % 4096))
		lunar_diag_add(d, lunar_value_get(v, "ring")->line, lunar_value_get(v, "ring")->col,
			       "'ring' must be a multiple of 4KiB between 8KiB and 64MiB");
	if (get_size(d, v, "data_area", &l->sim.data_size) > 0 &&
	    (l->sim.data_size < 4096 || l->sim.data_size % 4096 || l->sim.data_size > (16ull << 30)))
		lunar_diag_add(d, lunar_value_get(v, "data_area")->line,
			       lunar_value_get(v, "data_area")->col,
			       "'data_area' must be a multiple of 4KiB up to 16GiB");
}

static void parse_tcmu(struct lunar_diag *d, const struct lunar_value *v, struct lunar_lun_config *l)
{
	static const char *const keys[] = { "create", "fabric", "wwn", "iqn", "portal",
		"hw_max_sectors", "cmd_time_out", "max_data_area", NULL };
	const struct lunar_value *f;
	uint64_t n;

	if (!want_map(d, v, "'tcmu'"))
		return;
	check_keys(d, v, keys, "'tcmu'");
	get_bool(d, v, "create", &l->tcmu.create);
	if (get_string(d, v, "fabric", &l->tcmu.fabric) > 0 && strcmp(l->tcmu.fabric, "loop") &&
	    strcmp(l->tcmu.fabric, "iscsi")) {
		f = lunar_value_get(v, "fabric");
		lunar_diag_add(d, f->line, f->col, "'fabric' must be loop or iscsi, not '%s'",
			       l->tcmu.fabric);
	}
	if (get_string(d, v, "wwn", &l->tcmu.wwn) > 0 &&
	    (strncmp(l->tcmu.wwn, "naa.", 4) || strlen(l->tcmu.wwn) != 20 ||
	     strspn(l->tcmu.wwn + 4, "0123456789abcdefABCDEF") != 16)) {
		f = lunar_value_get(v, "wwn");
		lunar_diag_add(d, f->line, f->col, "'wwn' must look like naa.5001405xxxxxxxxx (16 hex digits), not '%s'",
			       l->tcmu.wwn);
	}
	if (get_string(d, v, "iqn", &l->tcmu.iqn) > 0 && strncmp(l->tcmu.iqn, "iqn.", 4)) {
		f = lunar_value_get(v, "iqn");
		lunar_diag_add(d, f->line, f->col, "'iqn' must start with 'iqn.', not '%s'", l->tcmu.iqn);
	}
	if (get_string(d, v, "portal", &l->tcmu.portal) > 0 && !strchr(l->tcmu.portal, ':')) {
		f = lunar_value_get(v, "portal");
		lunar_diag_add(d, f->line, f->col, "'portal' must be ADDRESS:PORT, not '%s'",
			       l->tcmu.portal);
	}
	if (get_uint(d, v, "hw_max_sectors", 65536, &n) > 0)
		l->tcmu.hw_max_sectors = (uint32_t)n;
	if (get_uint(d, v, "cmd_time_out", 3600, &n) > 0)
		l->tcmu.cmd_time_out = (uint32_t)n;
	get_size(d, v, "max_data_area", &l->tcmu.max_data_area);
}

static void parse_xen(struct lunar_diag *d, const struct lunar_value *v, struct lunar_lun_config *l)
{
	static const char *const keys[] = { "p_dev", "backend_type", NULL };
	const struct lunar_value *f;

	if (!want_map(d, v, "'xen'"))
		return;
	check_keys(d, v, keys, "'xen'");
	/* both end up in xenstore paths and values: no '/', nothing odd */
	if (get_string(d, v, "p_dev", &l->xen.p_dev) > 0 &&
	    (!l->xen.p_dev[0] || strlen(l->xen.p_dev) > 64 || strpbrk(l->xen.p_dev, "/ \t"))) {
		f = lunar_value_get(v, "p_dev");
		lunar_diag_add(d, f->line, f->col,
			       "'p_dev' must be 1 to 64 characters without '/' or spaces, not '%s'",
			       l->xen.p_dev);
	}
	if (get_string(d, v, "backend_type", &l->xen.backend_type) > 0 &&
	    (!valid_name(l->xen.backend_type) || strchr(l->xen.backend_type, '.'))) {
		f = lunar_value_get(v, "backend_type");
		lunar_diag_add(d, f->line, f->col,
			       "'backend_type' must be letters, digits, - and _ (e.g. vscsi-lunar), not '%s'",
			       l->xen.backend_type);
	}
}

/* ---- filters ------------------------------------------------------------------ */

/*
 * The filters lunar ships (lua/lunar/filter/NAME.lua) and what each takes
 * besides 'filter'.  Values are checked here as far as their form goes, so
 * that `lunar check` points at a slip; lunar.filter checks them again when
 * the LUN starts.
 */
enum filter_arg_kind { FA_NUMBER, FA_OPS, FA_SENSE, FA_LBA, FA_LEVEL };

struct filter_arg {
	const char *key;
	enum filter_arg_kind kind;
	double min, max;		/* FA_NUMBER */
};

static const struct filter_spec {
	const char *name;
	struct filter_arg args[8];
} filter_specs[] = {
	{ "delay", { { "ms", FA_NUMBER, 0, 3600e3 }, { "max_ms", FA_NUMBER, 0, 3600e3 },
		     { "ops", FA_OPS, 0, 0 }, { "seed", FA_NUMBER, 0, 2147483648.0 } } },
	{ "error", { { "ops", FA_OPS, 0, 0 }, { "lba", FA_LBA, 0, 0 }, { "sense", FA_SENSE, 0, 0 },
		     { "status", FA_NUMBER, 1, 255 }, { "rate", FA_NUMBER, 0, 1 },
		     { "after", FA_NUMBER, 0, 9007199254740992.0 },
		     { "count", FA_NUMBER, 0, 9007199254740992.0 },
		     { "seed", FA_NUMBER, 0, 2147483648.0 } } },
	{ "log", { { "level", FA_LEVEL, 0, 0 }, { "ops", FA_OPS, 0, 0 } } },
	{ "readonly", { { NULL, FA_NUMBER, 0, 0 } } },
	{ "stats", { { "interval", FA_NUMBER, 0, 31536000 } } },
};

static const char *const filter_names[] = { "delay", "error", "log", "readonly", "stats", NULL };
static const char *const op_classes[] = { "read", "write", "verify", "flush", "unmap", "write_same",
	"compare_and_write", "other", "all", NULL };
static const char *const log_levels[] = { "error", "warn", "info", "debug", NULL };

/* The closest of names to s within 2 edits, or NULL. */
static const char *closest(const char *const *names, const char *s)
{
	const char *best = NULL;
	unsigned best_d = 3;

	for (; *names; names++) {
		unsigned dist = edit_distance(*names, s);

		if (dist < best_d) {
			best_d = dist;
			best = *names;
		}
	}
	return best;
}

static bool in_list(const char *const *names, const char *s)
{
	for (; *names; names++)
		if (!strcmp(*names, s))
			return true;
	return false;
}

/* "a, b, c" of names (NULL-terminated), into buf. */
static const char *join(const char *const *names, char *buf, size_t len)
{
	size_t n = 0;

	buf[0] = 0;
	for (; *names && n < len; names++)
		n += (size_t)snprintf(buf + n, len - n, "%s%s", n ? ", " : "", *names);
	return buf;
}

static bool filter_number(struct lunar_diag *d, const struct lunar_value *v, const char *key,
			  double min, double max, double *out)
{
	char *end;
	double x;

	if (v->kind == LUNAR_VAL_SCALAR && v->plain && v->str[0]) {
		x = strtod(v->str, &end);
		if (!*end && x >= min && x <= max) {
			*out = x;
			return true;
		}
	}
	lunar_diag_add(d, v->line, v->col, "'%s' must be a number from %.15g to %.15g, not %s%s%s",
		       key, min, max, v->kind == LUNAR_VAL_SCALAR ? "'" : "",
		       v->kind == LUNAR_VAL_SCALAR ? v->str : lunar_value_kind_name(v),
		       v->kind == LUNAR_VAL_SCALAR ? "'" : "");
	return false;
}

static void filter_word(struct lunar_diag *d, const struct lunar_value *v, const char *key,
			const char *what, const char *const *words)
{
	const char *best;
	char all[160];

	if (!want_scalar(d, v, key, what))
		return;
	if (in_list(words, v->str))
		return;
	best = closest(words, v->str);
	if (best)
		lunar_diag_add(d, v->line, v->col, "unknown %s '%s' in '%s' (did you mean '%s'?)", what,
			       v->str, key, best);
	else
		lunar_diag_add(d, v->line, v->col, "unknown %s '%s' in '%s' (%s)", what, v->str, key,
			       join(words, all, sizeof(all)));
}

static void filter_arg(struct lunar_diag *d, const struct lunar_value *v, const struct filter_arg *a)
{
	double x, y;
	unsigned k, asc, ascq;
	char extra;

	switch (a->kind) {
	case FA_NUMBER:
		filter_number(d, v, a->key, a->min, a->max, &x);
		return;
	case FA_LEVEL:
		filter_word(d, v, a->key, "log level", log_levels);
		return;
	case FA_OPS:
		if (v->kind != LUNAR_VAL_SEQ) {
			filter_word(d, v, a->key, "op class", op_classes);
			return;
		}
		for (size_t i = 0; i < v->n; i++)
			filter_word(d, &v->items[i], a->key, "op class", op_classes);
		return;
	case FA_SENSE:
		if (v->kind == LUNAR_VAL_SEQ && v->n == 3) {
			if (filter_number(d, &v->items[0], "sense key", 0, 15, &x) &&
			    filter_number(d, &v->items[1], "ASC", 0, 255, &x))
				filter_number(d, &v->items[2], "ASCQ", 0, 255, &x);
			return;
		}
		if (v->kind == LUNAR_VAL_SCALAR && sscanf(v->str, "%x/%x/%x%c", &k, &asc, &ascq, &extra) == 3 &&
		    k <= 15 && asc <= 255 && ascq <= 255)
			return;
		lunar_diag_add(d, v->line, v->col,
			       "'sense' must be KEY/ASC/ASCQ in hex (3/11/00) or [KEY, ASC, ASCQ]");
		return;
	case FA_LBA:
		if (v->kind == LUNAR_VAL_SEQ && v->n == 2) {
			if (filter_number(d, &v->items[0], "lba", 0, 18446744073709551615.0, &x) &&
			    filter_number(d, &v->items[1], "lba", 0, 18446744073709551615.0, &y) && y < x)
				lunar_diag_add(d, v->line, v->col,
					       "'lba' must be [FIRST, LAST] with FIRST <= LAST");
			return;
		}
		if (v->kind != LUNAR_VAL_SCALAR) {
			lunar_diag_add(d, v->line, v->col, "'lba' must be an LBA or [FIRST, LAST], not %s",
				       lunar_value_kind_name(v));
			return;
		}
		filter_number(d, v, "lba", 0, 18446744073709551615.0, &x);
		return;
	}
}

static void parse_filter(struct lunar_diag *d, const struct lunar_value *v)
{
	const struct lunar_value *name, *f;
	const struct filter_spec *spec = NULL;
	const char *allowed[10] = { "filter" }, *best;
	char where[64], all[80];
	size_t i;

	if (v->kind != LUNAR_VAL_MAP) {
		lunar_diag_add(d, v->line, v->col,
			       "a filter must be a mapping ('- filter: NAME' and its settings), not %s",
			       lunar_value_kind_name(v));
		return;
	}
	name = lunar_value_get(v, "filter");
	if (!name) {
		lunar_diag_add(d, v->line, v->col, "this filter is missing 'filter' (one of %s)",
			       join(filter_names, all, sizeof(all)));
		return;
	}
	if (!want_scalar(d, name, "filter", "a filter name"))
		return;
	for (i = 0; i < LUNAR_ARRAY_SIZE(filter_specs); i++)
		if (!strcmp(filter_specs[i].name, name->str))
			spec = &filter_specs[i];
	if (!spec) {
		best = closest(filter_names, name->str);
		if (best)
			lunar_diag_add(d, name->line, name->col, "unknown filter '%s' (did you mean '%s'?)",
				       name->str, best);
		else
			lunar_diag_add(d, name->line, name->col, "unknown filter '%s' (filters: %s)",
				       name->str, join(filter_names, all, sizeof(all)));
		return;
	}
	for (i = 0; i < LUNAR_ARRAY_SIZE(spec->args) && spec->args[i].key; i++)
		allowed[i + 1] = spec->args[i].key;
	allowed[i + 1] = NULL;
	snprintf(where, sizeof(where), "filter '%s'", spec->name);
	check_keys(d, v, allowed, where);
	for (i = 0; i < LUNAR_ARRAY_SIZE(spec->args) && spec->args[i].key; i++)
		if ((f = lunar_value_get(v, spec->args[i].key)))
			filter_arg(d, f, &spec->args[i]);
}

static void parse_filters(struct lunar_diag *d, const struct lunar_value *v, struct lunar_lun_config *l)
{
	/* an empty 'filters:' is none, as for args */
	if (v->kind == LUNAR_VAL_SCALAR && v->plain && !v->str[0])
		return;
	if (v->kind != LUNAR_VAL_SEQ) {
		lunar_diag_add(d, v->line, v->col,
			       "'filters' must be a list ('- filter: NAME' items), not %s",
			       lunar_value_kind_name(v));
		return;
	}
	for (size_t i = 0; i < v->n; i++)
		parse_filter(d, &v->items[i]);
	l->filters = v;
}

static void parse_lun(struct lunar_diag *d, const struct lunar_config *c, const struct lunar_value *v,
		      struct lunar_lun_config *l)
{
	static const char *const keys[] = { "name", "transport", "handler", "size", "block_size",
		"args", "filters", "lua_memory_limit", "queue_depth", "reload", "deadline", "worker",
		"sim", "tcmu", "xen", NULL };
	const struct lunar_value *f;
	char *transport = NULL, *handler = NULL, where[96];
	int errs = d->count;
	uint64_t n;

	l->line = v->line;
	l->col = v->col;
	l->block_size = LUNAR_DEFAULT_BLOCK_SIZE;
	l->lua_memory_limit = LUNAR_DEFAULT_LUA_MEMORY_LIMIT;
	l->deadline_ns = LUNAR_DEFAULT_DEADLINE_NS;
	l->queue_depth = LUNAR_DEFAULT_QUEUE_DEPTH;
	if (!want_map(d, v, "a LUN"))
		return;
	if (get_string(d, v, "name", &l->name) > 0 && !valid_name(l->name)) {
		f = lunar_value_get(v, "name");
		lunar_diag_add(d, f->line, f->col,
			       "LUN name '%s' may only use letters, digits, '-', '_' and '.' (at most 64)",
			       l->name);
	}
	snprintf(where, sizeof(where), l->name ? "LUN '%s'" : "a LUN%s", l->name ? l->name : "");
	check_keys(d, v, keys, where);
	if (!lunar_value_get(v, "name"))
		lunar_diag_add(d, v->line, v->col, "%s is missing 'name'", where);

	if (get_string(d, v, "transport", &transport) > 0) {
		f = lunar_value_get(v, "transport");
		if (!strcmp(transport, "sim"))
			l->transport = LUNAR_TRANSPORT_SIM;
		else if (!strcmp(transport, "tcmu"))
			l->transport = LUNAR_TRANSPORT_TCMU;
		else if (!strcmp(transport, "xen"))
			l->transport = LUNAR_TRANSPORT_XEN;
		else
			lunar_diag_add(d, f->line, f->col,
				       "'transport' must be sim, tcmu or xen, not '%s'", transport);
	} else if (!lunar_value_get(v, "transport")) {
		lunar_diag_add(d, v->line, v->col, "%s is missing 'transport' (sim, tcmu or xen)", where);
	}
	free(transport);

	if (get_string(d, v, "handler", &handler) > 0) {
		char path[PATH_MAX];
		struct stat st;
		int err;

		f = lunar_value_get(v, "handler");
		if (handler[0] == '/')
			snprintf(path, sizeof(path), "%s", handler);
		else
			snprintf(path, sizeof(path), "%s/%s", c->dir, handler);
		err = stat(path, &st) ? errno : access(path, R_OK) ? errno : 0;
		if (err == ENOENT || err == ENOTDIR)
			lunar_diag_add(d, f->line, f->col, "handler file '%s' not found (looked at %s)",
				       handler, path);
		else if (err)
			lunar_diag_add(d, f->line, f->col, "handler file '%s' cannot be read: %s (looked at %s)",
				       handler, strerror(err), path);
		else if (!S_ISREG(st.st_mode))
			lunar_diag_add(d, f->line, f->col, "handler '%s' is not a file (looked at %s)",
				       handler, path);
		else if (!(l->handler = realpath(path, NULL)))
			lunar_diag_add(d, f->line, f->col, "handler file '%s' cannot be resolved: %s",
				       handler, strerror(errno));
	} else if (!lunar_value_get(v, "handler")) {
		lunar_diag_add(d, v->line, v->col, "%s is missing 'handler' (path to a Lua file)", where);
	}
	free(handler);

	if (get_uint(d, v, "block_size", UINT64_MAX, &n) > 0) {
		f = lunar_value_get(v, "block_size");
		if (n != 512 && n != 1024 && n != 2048 && n != 4096)
			lunar_diag_add(d, f->line, f->col,
				       "'block_size' must be 512, 1024, 2048 or 4096, not %" PRIu64, n);
		else
			l->block_size = (uint32_t)n;
	}
	if (get_size(d, v, "size", &l->size) > 0) {
		f = lunar_value_get(v, "size");
		if (l->size == 0)
			lunar_diag_add(d, f->line, f->col, "'size' must not be 0");
		else if (l->size % l->block_size)
			lunar_diag_add(d, f->line, f->col,
				       "'size' (%" PRIu64 " bytes) is not a multiple of the block size %u",
				       l->size, l->block_size);
	} else if (!lunar_value_get(v, "size")) {
		lunar_diag_add(d, v->line, v->col, "%s is missing 'size' (e.g. size: 64MiB)", where);
	}
	if (get_size(d, v, "lua_memory_limit", &l->lua_memory_limit) > 0 &&
	    l->lua_memory_limit < (1u << 20)) {
		f = lunar_value_get(v, "lua_memory_limit");
		lunar_diag_add(d, f->line, f->col, "'lua_memory_limit' must be at least 1MiB");
	}
	if (get_uint(d, v, "queue_depth", LUNAR_MAX_QUEUE_DEPTH, &n) > 0) {
		if (n == 0) {
			f = lunar_value_get(v, "queue_depth");
			lunar_diag_add(d, f->line, f->col, "'queue_depth' must be at least 1");
		}
		l->queue_depth = (uint32_t)n;
	}
	if ((f = lunar_value_get(v, "reload")) && want_scalar(d, f, "reload", "manual or on-change")) {
		if (!strcmp(f->str, "on-change"))
			l->reload_on_change = true;
		else if (strcmp(f->str, "manual"))
			lunar_diag_add(d, f->line, f->col, "'reload' must be manual or on-change, not '%s'",
				       f->str);
	}
	if (get_duration(d, v, "deadline", &l->deadline_ns) > 0 &&
	    (l->deadline_ns < 100000000u || l->deadline_ns > 3600ull * 1000000000u)) {
		f = lunar_value_get(v, "deadline");
		lunar_diag_add(d, f->line, f->col, "'deadline' must be between 100ms and 1h");
	}
	if (get_string(d, v, "worker", &l->worker) > 0 && !valid_name(l->worker)) {
		f = lunar_value_get(v, "worker");
		lunar_diag_add(d, f->line, f->col,
			       "worker name '%s' may only use letters, digits, '-', '_' and '.' (at most 64)",
			       l->worker);
	}
	/*
	 * Handlers index args as a table, so anything but a mapping is a slip;
	 * an empty 'args:' just means none.
	 */
	f = lunar_value_get(v, "args");
	if (f && !(f->kind == LUNAR_VAL_SCALAR && f->plain && !f->str[0]) && want_map(d, f, "'args'"))
		l->args = f;
	if ((f = lunar_value_get(v, "filters")))
		parse_filters(d, f, l);

	if ((f = lunar_value_get(v, "sim")))
		parse_sim(d, f, l);
	if ((f = lunar_value_get(v, "tcmu")))
		parse_tcmu(d, f, l);
	if ((f = lunar_value_get(v, "xen")))
		parse_xen(d, f, l);
	if (d->count != errs)
		return;
	/* A transport section for another transport is almost surely a slip. */
	static const char *const sections[] = { "sim", "tcmu", "xen" };
	for (int t = 0; t < 3; t++) {
		int line, col;

		if (!lunar_value_get(v, sections[t]) || (int)l->transport == t)
			continue;
		key_pos(v, sections[t], &line, &col);
		lunar_diag_add(d, line, col, "section '%s' does not apply: LUN '%s' uses transport %s",
			       sections[t], l->name, lunar_transport_name(l->transport));
	}
}

static void lun_config_clear(struct lunar_lun_config *l)
{
	free(l->name);
	free(l->handler);
	free(l->worker);
	free(l->tcmu.fabric);
	free(l->tcmu.wwn);
	free(l->tcmu.iqn);
	free(l->tcmu.portal);
	free(l->xen.p_dev);
	free(l->xen.backend_type);
}

void lunar_config_free(struct lunar_config *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->nluns; i++)
		lun_config_clear(&c->luns[i]);
	free(c->luns);
	lunar_value_free(c->root);
	free(c->path);
	free(c->dir);
	free(c->metrics_listen);
	free(c);
}

/*
 * parse_lun() checks one key after another in a fixed order, not in the
 * order they are written, so the diagnostics are put in file order before
 * they are returned: a file is fixed from the top down.  An entry is
 * "file:line:col: message\n" and the next one starts with "file:"; if the
 * text does not split into exactly d->count entries, it is left as it is.
 */
struct diag_entry {
	long line, col;
	size_t off, len;
};

static int diag_entry_cmp(const void *pa, const void *pb)
{
	const struct diag_entry *a = pa, *b = pb;

	if (a->line != b->line)
		return a->line < b->line ? -1 : 1;
	if (a->col != b->col)
		return a->col < b->col ? -1 : 1;
	return a->off < b->off ? -1 : a->off > b->off;	/* stable */
}

static void sort_diag(struct lunar_diag *d)
{
	size_t flen = strlen(d->file), n = 0, off = 0, count = (size_t)d->count;
	const char *s = d->text.data;
	struct lunar_buf out = { 0 };
	struct diag_entry *e;

	if (!s || count < 2 || d->text.oom)
		return;
	e = calloc(count, sizeof(*e));
	if (!e)
		return;
	while (off < d->text.len && n < count) {
		const char *p, *nl;
		char *end;

		if (strncmp(s + off, d->file, flen) || s[off + flen] != ':')
			break;
		p = s + off + flen + 1;
		e[n].off = off;
		e[n].line = strtol(p, &end, 10);
		e[n].col = *end == ':' ? strtol(end + 1, NULL, 10) : 0;
		nl = strchr(p, '\n');
		while (nl && nl[1] && (strncmp(nl + 1, d->file, flen) || nl[1 + flen] != ':'))
			nl = strchr(nl + 1, '\n');
		e[n].len = nl ? (size_t)(nl + 1 - (s + off)) : d->text.len - off;
		off += e[n++].len;
	}
	if (n == count && off == d->text.len) {
		qsort(e, n, sizeof(*e), diag_entry_cmp);
		for (size_t i = 0; i < n; i++)
			lunar_buf_add(&out, s + e[i].off, e[i].len);
		if (!out.oom) {
			lunar_buf_free(&d->text);
			d->text = out;
			out = (struct lunar_buf){ 0 };
		}
	}
	lunar_buf_free(&out);
	free(e);
}

int lunar_config_load(const char *path, struct lunar_config **out, struct lunar_diag *d)
{
	static const char *const top_keys[] = { "version", "luns", "tcmu_netlink", "metrics",
		"reload_timeout", NULL };
	struct lunar_config *c = calloc(1, sizeof(*c));
	const struct lunar_value *luns, *v;
	char *tmp;
	uint64_t n;

	d->file = path;
	if (!c) {
		lunar_diag_add(d, 0, 0, "out of memory");
		return -1;
	}
	c->path = strdup(path);
	tmp = strdup(path);
	c->dir = tmp ? realpath(dirname(tmp), NULL) : NULL;
	free(tmp);
	if (!c->path || !c->dir) {
		lunar_diag_add(d, 0, 0, "cannot resolve the directory of the file");
		goto fail;
	}
	if (lunar_yaml_load(path, &c->root, d) < 0)
		goto fail;
	/* "---" alone is an empty document too: a null, not a scalar to complain about */
	if (!c->root || (c->root->kind == LUNAR_VAL_SCALAR && c->root->plain && !c->root->str[0])) {
		lunar_diag_add(d, 1, 1, "the file is empty: expected a 'luns:' list");
		goto fail;
	}
	if (!want_map(d, c->root, "the top level"))
		goto fail;
	check_keys(d, c->root, top_keys, "the top level");
	if (get_uint(d, c->root, "version", UINT64_MAX, &n) > 0 && n != 1) {
		v = lunar_value_get(c->root, "version");
		lunar_diag_add(d, v->line, v->col, "unsupported config version %" PRIu64 " (this lunar reads version 1)", n);
	}
	tmp = NULL;
	if (get_string(d, c->root, "tcmu_netlink", &tmp) > 0) {
		if (!strcmp(tmp, "own")) {
			c->tcmu_netlink_own = true;
		} else if (strcmp(tmp, "listen")) {
			v = lunar_value_get(c->root, "tcmu_netlink");
			lunar_diag_add(d, v->line, v->col,
				       "'tcmu_netlink' must be listen or own, not '%s'", tmp);
		}
	}
	free(tmp);
	c->reload_timeout_ns = 10ull * 1000000000u;
	if (get_duration(d, c->root, "reload_timeout", &c->reload_timeout_ns) > 0 &&
	    (c->reload_timeout_ns < 100000000u || c->reload_timeout_ns > 600ull * 1000000000u)) {
		v = lunar_value_get(c->root, "reload_timeout");
		lunar_diag_add(d, v->line, v->col, "'reload_timeout' must be between 100ms and 10m");
	}
	if ((v = lunar_value_get(c->root, "metrics")) && want_map(d, v, "'metrics'")) {
		static const char *const metrics_keys[] = { "listen", NULL };
		const struct lunar_value *l;

		check_keys(d, v, metrics_keys, "'metrics'");
		if (get_string(d, v, "listen", &c->metrics_listen) > 0 && !strchr(c->metrics_listen, ':')) {
			l = lunar_value_get(v, "listen");
			lunar_diag_add(d, l->line, l->col, "'listen' must be ADDRESS:PORT, not '%s'",
				       c->metrics_listen);
		} else if (!lunar_value_get(v, "listen")) {
			lunar_diag_add(d, v->line, v->col, "'metrics' needs 'listen: ADDRESS:PORT'");
		}
	}
	luns = lunar_value_get(c->root, "luns");
	if (!luns) {
		lunar_diag_add(d, c->root->line, c->root->col, "missing 'luns:' (a list of LUNs)");
		goto fail;
	}
	if (luns->kind != LUNAR_VAL_SEQ) {
		lunar_diag_add(d, luns->line, luns->col, "'luns' must be a list ('- name: ...' items), not %s",
			       lunar_value_kind_name(luns));
		goto fail;
	}
	if (luns->n > LUNAR_MAX_LUNS) {
		lunar_diag_add(d, luns->line, luns->col, "at most %d LUNs are supported", LUNAR_MAX_LUNS);
		goto fail;
	}
	c->luns = calloc(luns->n ? luns->n : 1, sizeof(*c->luns));
	if (!c->luns) {
		lunar_diag_add(d, 0, 0, "out of memory");
		goto fail;
	}
	for (size_t i = 0; i < luns->n; i++) {
		struct lunar_lun_config *l = &c->luns[c->nluns++];

		parse_lun(d, c, &luns->items[i], l);
		for (size_t j = 0; l->name && j + 1 < c->nluns; j++) {
			if (c->luns[j].name && !strcmp(c->luns[j].name, l->name)) {
				v = lunar_value_get(&luns->items[i], "name");
				lunar_diag_add(d, v->line, v->col,
					       "duplicate LUN name '%s' (first defined at line %d)",
					       l->name, c->luns[j].line);
				break;
			}
		}
	}
	if (d->count)
		goto fail;
	*out = c;
	return 0;
fail:
	sort_diag(d);
	lunar_config_free(c);
	return -1;
}
