/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: the configuration loader (core/config.c over
 * core/yaml_tree.c and libyaml) fed whatever an operator, a tool or a
 * half-written editor buffer can leave in a lunar.yaml.
 *
 * Input: the bytes of the config file.  They are written to lunar.yaml in a
 * private directory made once, next to the handler files the seed configs
 * name (handler paths are relative to the file's directory), so valid
 * configs load and the whole validation runs.
 *
 * Properties, each an abort() when broken:
 *  - no crash, no undefined behaviour, no leak (the sanitizers);
 *  - a load that succeeds returns a config and no diagnostic, and every LUN
 *    in it has what the daemon takes for granted (a name, an absolute
 *    handler path, a non-zero size that is a multiple of its block size, a
 *    queue depth in range);
 *  - a load that fails leaves the output alone and reports at least one
 *    diagnostic, and each one says FILE:LINE:COL with LINE between 1 and
 *    the number of lines of the input + 1 (libyaml puts the end of a file
 *    without a final newline on the line after its last) and COL between
 *    1 and the input's length + 1: a message that points nowhere, or at
 *    line 0, sends the operator looking in the wrong place.
 */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* What the seed configs name, relative to the config file. */
static const char *const handlers[] = {
	"h.lua", "disk0.lua", "ram.lua", "lab.lua",
	"examples/hello.lua", "examples/ramdisk.lua", "examples/file.lua",
};

static char dir[64];
static char path[96];
static int fd = -1;

static void cleanup(void)
{
	char p[160];

	if (fd >= 0)
		close(fd);
	unlink(path);
	for (size_t i = 0; i < sizeof(handlers) / sizeof(handlers[0]); i++) {
		snprintf(p, sizeof(p), "%s/%s", dir, handlers[i]);
		unlink(p);
	}
	snprintf(p, sizeof(p), "%s/examples", dir);
	rmdir(p);
	rmdir(dir);
}

static void die(const char *what)
{
	perror(what);
	abort();
}

/* The private directory with its handlers, and the file the input goes to. */
static void setup(void)
{
	char p[160];

	snprintf(dir, sizeof(dir), "/tmp/lunar-fuzz-config.XXXXXX");
	if (!mkdtemp(dir))
		die("mkdtemp");
	atexit(cleanup);
	snprintf(p, sizeof(p), "%s/examples", dir);
	if (mkdir(p, 0700) < 0)
		die(p);
	for (size_t i = 0; i < sizeof(handlers) / sizeof(handlers[0]); i++) {
		FILE *f;

		snprintf(p, sizeof(p), "%s/%s", dir, handlers[i]);
		f = fopen(p, "w");
		if (!f || fputs("return {}\n", f) < 0 || fclose(f))
			die(p);
	}
	snprintf(path, sizeof(path), "%s/lunar.yaml", dir);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		die(path);
}

static void put_input(const uint8_t *data, size_t size)
{
	size_t off = 0;

	if (ftruncate(fd, 0) < 0)
		die("ftruncate");
	while (off < size) {
		ssize_t n = pwrite(fd, data + off, size - off, (off_t)off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			die("pwrite");
		off += (size_t)n;
	}
}

/*
 * Lines in the input: its line breaks + 1.  Every CR, LF, NEL, LS and PS
 * is a break (a CR LF pair is one, counted as two here, so this errs on
 * the generous side), in the encoding the byte order mark says (UTF-8
 * without one).
 */
static size_t count_lines(const uint8_t *p, size_t n)
{
	size_t lines = 1;

	if (n >= 2 && ((p[0] == 0xff && p[1] == 0xfe) || (p[0] == 0xfe && p[1] == 0xff))) {
		bool le = p[0] == 0xff;

		for (size_t i = 2; i + 1 < n; i += 2) {
			unsigned u = le ? p[i] | p[i + 1] << 8 : p[i] << 8 | p[i + 1];

			lines += u == '\n' || u == '\r' || u == 0x85 || u == 0x2028 || u == 0x2029;
		}
		return lines;
	}
	for (size_t i = 0; i < n; i++) {
		if (p[i] == '\n' || p[i] == '\r')
			lines++;
		else if (p[i] == 0xc2 && i + 1 < n && p[i + 1] == 0x85)
			lines++;
		else if (p[i] == 0xe2 && i + 2 < n && p[i + 1] == 0x80 &&
			 (p[i + 2] == 0xa8 || p[i + 2] == 0xa9))
			lines++;
	}
	return lines;
}

/* Where the entry at s ("FILE:LINE:COL: message") points; -1 if not one. */
static int entry_pos(const char *s, size_t flen, long *line, long *col)
{
	char *end;

	if (strncmp(s, path, flen) || s[flen] != ':')
		return -1;
	*line = strtol(s + flen + 1, &end, 10);
	if (*end != ':')
		return -1;
	*col = strtol(end + 1, &end, 10);
	return *end == ':' ? 0 : -1;
}

/* The next entry after the one at s, or NULL: a line that starts with "FILE:". */
static const char *next_entry(const char *s, size_t flen)
{
	const char *nl = strchr(s, '\n');

	while (nl && nl[1] && (strncmp(nl + 1, path, flen) || nl[1 + flen] != ':'))
		nl = strchr(nl + 1, '\n');
	return nl && nl[1] ? nl + 1 : NULL;
}

static void check_entry(const char *s, size_t flen, size_t lines, size_t size)
{
	long line, col;

	if (entry_pos(s, flen, &line, &col) < 0) {
		fprintf(stderr, "diagnostic not FILE:LINE:COL: %.200s\n", s);
		abort();
	}
	if (line < 1 || (size_t)line > lines + 1 || col < 1 || (size_t)col > size + 1) {
		fprintf(stderr, "diagnostic at %ld:%ld, outside an input of %zu lines, %zu bytes: %.200s\n",
			line, col, lines, size, s);
		abort();
	}
}

/*
 * A message may quote the input, newlines and all, so a line that looks
 * like an entry may be part of one.  The first entry is always real; the
 * others are checked when the text splits into exactly d->count entries
 * (as sort_diag() in config.c trusts it).
 */
static void check_diag(const struct lunar_diag *d, const uint8_t *data, size_t size)
{
	size_t flen = strlen(path), lines = count_lines(data, size);
	const char *s = d->text.data;
	int n = 0;

	if (d->count < 1 || !s || d->text.oom) {
		fprintf(stderr, "load failed with %d diagnostics\n", d->count);
		abort();
	}
	check_entry(s, flen, lines, size);
	for (const char *p = s; p; p = next_entry(p, flen))
		n++;
	if (n != d->count)
		return;
	for (const char *p = next_entry(s, flen); p; p = next_entry(p, flen))
		check_entry(p, flen, lines, size);
}

static void check_config(const struct lunar_config *c)
{
	if (c->nluns > LUNAR_MAX_LUNS)
		abort();
	for (size_t i = 0; i < c->nluns; i++) {
		const struct lunar_lun_config *l = &c->luns[i];

		if (!l->name || !l->handler || l->handler[0] != '/' || !l->size ||
		    !l->block_size || l->size % l->block_size || !l->queue_depth ||
		    l->queue_depth > LUNAR_MAX_QUEUE_DEPTH) {
			fprintf(stderr, "LUN %zu loaded incomplete\n", i);
			abort();
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct lunar_diag d = { 0 };
	struct lunar_config *c = NULL;
	int rc;

	if (fd < 0)
		setup();
	put_input(data, size);
	rc = lunar_config_load(path, &c, &d);
	if (rc == 0) {
		if (!c || d.count) {
			fprintf(stderr, "load succeeded with %d diagnostics\n", d.count);
			abort();
		}
		check_config(c);
		lunar_config_free(c);
	} else {
		if (rc != -1 || c)
			abort();
		check_diag(&d, data, size);
	}
	lunar_buf_free(&d.text);
	return 0;
}
