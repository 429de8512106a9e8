/* SPDX-License-Identifier: MIT */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "luavm.h"
#include "scaffold.h"
#include "util.h"

/*
 * `lunar new NAME`, in the spirit of the kernel's tcm_mod_builder: a new
 * handler with every op of its level written out (each doing what lunar
 * does when the op is absent), the YAML of a sim LUN serving it, and a
 * test that runs it.  The templates are the files of lua/lunar/scaffold/, found where
 * lunar finds its Lua modules (source tree or installed copy), so the
 * generated files never differ from what the docs describe.
 *
 * Inside a lunar source tree the files go where the build already looks:
 * examples/NAME.lua, examples/NAME.yaml and tests/integration/test_NAME.sh
 * (ctest's glob picks the test up, so scripts/test runs it).  Elsewhere,
 * or with --dir, all three go into one directory.
 */

enum { NFILES = 3 };

struct out_file {
	char path[PATH_MAX];
	const char *tmpl;	/* template file name in lua/lunar/scaffold */
	mode_t mode;
	struct lunar_buf text;
};

static void usage(FILE *f)
{
	fputs("usage: lunar new NAME [--level disk|raw] [--dir DIR]\n"
	      "  writes NAME.lua (a handler: every op of the level, each doing what lunar does\n"
	      "  without it), NAME.yaml (a sim LUN serving it) and test_NAME.sh (its test).\n"
	      "  In a lunar source tree: examples/NAME.{lua,yaml} and tests/integration/test_NAME.sh\n"
	      "  (scripts/test runs it); elsewhere, or with --dir: all three in DIR (default .).\n", f);
}

/*
 * A name is a LUN name, a file name and a ctest name at once: a letter,
 * then letters, digits, '-' or '_' (no '.': CMake cuts test names there).
 */
static bool valid_name(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 64 || !isalpha((unsigned char)s[0]))
		return false;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && *s != '-' && *s != '_')
			return false;
	return true;
}

/* snprintf into a path buffer; -1 (and a message) when it does not fit. */
static int pathf(char *out, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int pathf(char *out, size_t len, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(out, len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= len) {
		fprintf(stderr, "lunar new: a path is too long (%.60s...)\n", out);
		return -1;
	}
	return 0;
}

static bool exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
}

/* The lunar source tree holding dir (walking up), or false. */
static bool find_tree(const char *dir, char *root, size_t len)
{
	char p[PATH_MAX], probe[PATH_MAX], *slash;

	snprintf(p, sizeof(p), "%s", dir);
	for (;;) {
		if (pathf(probe, sizeof(probe), "%s/lua/lunar/dispatch.lua", p) == 0 && exists(probe) &&
		    pathf(probe, sizeof(probe), "%s/tests/integration/lib.sh", p) == 0 && exists(probe)) {
			snprintf(root, len, "%s", p);
			return true;
		}
		slash = strrchr(p, '/');
		if (!slash || slash == p)
			return false;
		*slash = 0;
	}
}

/* lua/lunar/scaffold of the Lua tree lunar runs (the first entry of its
 * package.path, "DIR/?.lua"). */
static void template_dir(char *out, size_t len)
{
	const char *path = lunar_lua_path();
	const char *end = strstr(path, "/?.lua");
	int n = end ? (int)(end - path) : (int)strlen(path);

	snprintf(out, len, "%.*s/lunar/scaffold", n, path);
}

static int read_file(const char *path, struct lunar_buf *b)
{
	char chunk[8192];
	size_t n;
	FILE *f = fopen(path, "re");

	if (!f)
		return -1;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		lunar_buf_add(b, chunk, n);
	fclose(f);
	lunar_buf_add(b, "", 1);
	b->len--;
	return b->oom ? -1 : 0;
}

/* tmpl with each @KEY@ of keys replaced by its value, into out. */
static void substitute(const char *tmpl, const char *const keys[][2], struct lunar_buf *out)
{
	const char *p = tmpl;

	while (*p) {
		const char *at = strchr(p, '@');
		bool done = false;

		if (!at) {
			lunar_buf_puts(out, p);
			break;
		}
		lunar_buf_add(out, p, (size_t)(at - p));
		for (int i = 0; keys[i][0]; i++) {
			size_t k = strlen(keys[i][0]);

			if (!strncmp(at + 1, keys[i][0], k) && at[1 + k] == '@') {
				lunar_buf_puts(out, keys[i][1]);
				p = at + k + 2;
				done = true;
				break;
			}
		}
		if (!done) {
			lunar_buf_add(out, "@", 1);
			p = at + 1;
		}
	}
}

/* path relative to cwd when it is inside it (for messages). */
static const char *shown(const char *path, const char *cwd)
{
	size_t n = strlen(cwd);

	if (!strncmp(path, cwd, n) && path[n] == '/')
		return path + n + 1;
	return path;
}

int lunar_scaffold(int argc, char **argv)
{
	const char *name = NULL, *level = "disk", *dir = NULL;
	char cwd[PATH_MAX], root[PATH_MAX], tdir[PATH_MAX], outdir[PATH_MAX], testdir[PATH_MAX];
	char product[17], tpath[PATH_MAX];
	struct out_file f[NFILES] = { { .tmpl = NULL } };
	const char *yamldir;
	bool tree = false;
	int i, made = 0, rc = 1;

	for (i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "--level") && i + 1 < argc) {
			level = argv[++i];
		} else if (!strcmp(argv[i], "--dir") && i + 1 < argc) {
			dir = argv[++i];
		} else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			usage(stdout);
			return 0;
		} else if (argv[i][0] != '-' && !name) {
			name = argv[i];
		} else {
			usage(stderr);
			return 2;
		}
	}
	if (!name) {
		usage(stderr);
		return 2;
	}
	if (!valid_name(name)) {
		fprintf(stderr, "lunar new: '%s' is not a valid name: a letter, then letters, digits, "
			"'-' or '_' (at most 64)\n", name);
		return 1;
	}
	if (strcmp(level, "disk") && strcmp(level, "raw")) {
		fprintf(stderr, "lunar new: --level must be disk or raw, not '%s'\n", level);
		return 1;
	}
	if (!getcwd(cwd, sizeof(cwd))) {
		fprintf(stderr, "lunar new: cannot tell the current directory: %s\n", strerror(errno));
		return 1;
	}

	/* where the three files go */
	if (dir) {
		if (pathf(outdir, sizeof(outdir), "%s%s%s", dir[0] == '/' ? "" : cwd,
			  dir[0] == '/' ? "" : "/", dir) < 0)
			return 1;
		memcpy(testdir, outdir, sizeof(testdir));
		yamldir = ".";
	} else if ((tree = find_tree(cwd, root, sizeof(root)))) {
		if (pathf(outdir, sizeof(outdir), "%s/examples", root) < 0 ||
		    pathf(testdir, sizeof(testdir), "%s/tests/integration", root) < 0)
			return 1;
		yamldir = "../../examples";
	} else {
		memcpy(outdir, cwd, sizeof(outdir));
		memcpy(testdir, cwd, sizeof(testdir));
		yamldir = ".";
	}
	if (pathf(f[0].path, sizeof(f[0].path), "%s/%s.lua", outdir, name) < 0 ||
	    pathf(f[1].path, sizeof(f[1].path), "%s/%s.yaml", outdir, name) < 0 ||
	    pathf(f[2].path, sizeof(f[2].path), "%s/test_%s.sh", testdir, name) < 0)
		return 1;
	f[0].tmpl = !strcmp(level, "raw") ? "raw.lua" : "disk.lua";
	f[0].mode = 0644;
	f[1].tmpl = "lun.yaml";
	f[1].mode = 0644;
	f[2].tmpl = "test.sh";
	f[2].mode = 0755;
	for (i = 0; i < NFILES; i++) {
		if (exists(f[i].path)) {
			fprintf(stderr, "lunar new: %s already exists: not overwriting it\n",
				shown(f[i].path, cwd));
			return 1;
		}
	}

	/* the texts, all of them before any file is written */
	snprintf(product, sizeof(product), "%s", name);
	const char *const keys[][2] = {
		{ "NAME", name }, { "PRODUCT", product }, { "LEVEL", level }, { "YAMLDIR", yamldir },
		{ NULL, NULL },
	};
	template_dir(tdir, sizeof(tdir));
	for (i = 0; i < NFILES; i++) {
		struct lunar_buf t = { 0 };

		if (pathf(tpath, sizeof(tpath), "%s/%s", tdir, f[i].tmpl) < 0)
			goto out;
		if (read_file(tpath, &t) < 0) {
			fprintf(stderr, "lunar new: cannot read the template %s: %s\n", tpath,
				strerror(errno ? errno : ENOMEM));
			lunar_buf_free(&t);
			goto out;
		}
		substitute(t.data, keys, &f[i].text);
		lunar_buf_free(&t);
		if (f[i].text.oom) {
			fprintf(stderr, "lunar new: out of memory\n");
			goto out;
		}
	}

	if (lunar_mkdir_p(outdir) < 0 || lunar_mkdir_p(testdir) < 0) {
		fprintf(stderr, "lunar new: cannot create %s: %s\n", dir ? dir : outdir, strerror(errno));
		goto out;
	}
	for (i = 0; i < NFILES; i++) {
		/* O_EXCL: a file that appeared since the check is not overwritten either */
		int fd = open(f[i].path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, f[i].mode);

		if (fd < 0 || lunar_write_all(fd, f[i].text.data, f[i].text.len) < 0) {
			fprintf(stderr, "lunar new: cannot write %s: %s\n", shown(f[i].path, cwd),
				strerror(errno));
			if (fd >= 0) {
				close(fd);
				unlink(f[i].path);
			}
			goto out;
		}
		close(fd);
		made++;
	}
	printf("wrote %s (a %s-level handler)\n", shown(f[0].path, cwd), level);
	printf("wrote %s (a sim LUN serving it)\n", shown(f[1].path, cwd));
	printf("wrote %s (its test)\n", shown(f[2].path, cwd));
	if (tree)
		printf("next: scripts/test -R test_%s   (or: bash %s with lunar in PATH)\n", name,
		       shown(f[2].path, cwd));
	else
		printf("next: bash %s   (lunar and lunarctl in PATH, or LUNAR=... LUNARCTL=...)\n",
		       shown(f[2].path, cwd));
	rc = 0;
out:
	/* all or nothing: a half-made scaffold would block the next try */
	for (i = 0; rc && i < made; i++)
		unlink(f[i].path);
	for (i = 0; i < NFILES; i++)
		lunar_buf_free(&f[i].text);
	return rc;
}
