/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "tcmu/attr.h"
#include "tcmu/journal.h"

static const char *const step_names[] = {
	[LUNAR_TCMU_MKDIR] = "mkdir",
	[LUNAR_TCMU_LINK] = "link",
	[LUNAR_TCMU_NEXUS] = "nexus",
	[LUNAR_TCMU_ENABLE] = "enable",
};

static int push(struct lunar_tcmu_journal *j, enum lunar_tcmu_step step, const char *path)
{
	if (j->n == j->cap) {
		size_t cap = j->cap ? 2 * j->cap : 16;
		struct lunar_tcmu_entry_rec *e = realloc(j->e, cap * sizeof(*e));

		if (!e)
			return -1;
		j->e = e;
		j->cap = cap;
	}
	j->e[j->n].step = step;
	j->e[j->n].path = strdup(path);
	if (!j->e[j->n].path)
		return -1;
	j->n++;
	return 0;
}

/* Rewrites the file from memory (after an undo). */
static void save(struct lunar_tcmu_journal *j)
{
	FILE *f;
	int fd;

	if (j->fd < 0 || ftruncate(j->fd, 0) < 0)
		return;
	fd = dup(j->fd);
	f = fd >= 0 ? fdopen(fd, "w") : NULL;
	if (!f) {
		if (fd >= 0)
			close(fd);
		return;
	}
	fseek(f, 0, SEEK_SET);
	for (size_t i = 0; i < j->n; i++)
		fprintf(f, "%s %s\n", step_names[j->e[i].step], j->e[i].path);
	fclose(f);
}

static void load(struct lunar_tcmu_journal *j)
{
	char line[1024];
	FILE *f;
	int fd = dup(j->fd);

	f = fd >= 0 ? fdopen(fd, "r") : NULL;
	if (!f) {
		if (fd >= 0)
			close(fd);
		return;
	}
	while (fgets(line, sizeof(line), f)) {
		char *sp = strchr(line, ' '), *nl = strchr(line, '\n');

		if (!sp || !nl || strncmp(sp + 1, "/sys/kernel/config/target/", 26))
			continue;	/* torn or foreign: never act on it */
		*sp = *nl = 0;
		for (size_t s = 0; s < sizeof(step_names) / sizeof(step_names[0]); s++)
			if (!strcmp(line, step_names[s]))
				push(j, (enum lunar_tcmu_step)s, sp + 1);
	}
	fclose(f);
}

int lunar_tcmu_journal_open(struct lunar_tcmu_journal *j, const char *lun, char *err,
			    size_t errlen)
{
	memset(j, 0, sizeof(*j));
	j->fd = -1;
	if ((mkdir("/run/lunar", 0755) < 0 && errno != EEXIST) ||
	    (mkdir(LUNAR_TCMU_JOURNAL_DIR, 0755) < 0 && errno != EEXIST)) {
		snprintf(err, errlen, "cannot create %s: %s", LUNAR_TCMU_JOURNAL_DIR, strerror(errno));
		return -1;
	}
	snprintf(j->path, sizeof(j->path), "%s/%s.journal", LUNAR_TCMU_JOURNAL_DIR, lun);
	j->fd = open(j->path, O_RDWR | O_CREAT | O_CLOEXEC | O_APPEND, 0644);
	if (j->fd < 0) {
		snprintf(err, errlen, "cannot open %s: %s", j->path, strerror(errno));
		return -1;
	}
	if (flock(j->fd, LOCK_EX | LOCK_NB) < 0) {
		int e = errno;

		snprintf(err, errlen, "another lunar serves LUN '%s' (it holds %s)", lun, j->path);
		close(j->fd);
		j->fd = -1;
		errno = e;
		return -1;
	}
	load(j);
	return 0;
}

void lunar_tcmu_journal_add(struct lunar_tcmu_journal *j, enum lunar_tcmu_step step,
			    const char *path)
{
	if (push(j, step, path) < 0)
		log_err("out of memory: lunar will not remove %s at exit", path);
	if (j->fd >= 0 && dprintf(j->fd, "%s %s\n", step_names[step], path) < 0)
		log_err("%s: %s", j->path, strerror(errno));
}

bool lunar_tcmu_journal_has(const struct lunar_tcmu_journal *j, const char *path)
{
	for (size_t i = 0; i < j->n; i++)
		if (!strcmp(j->e[i].path, path))
			return true;
	return false;
}

static int undo_one(const struct lunar_tcmu_entry_rec *e)
{
	switch (e->step) {
	case LUNAR_TCMU_MKDIR:
		return rmdir(e->path);
	case LUNAR_TCMU_LINK:
		return unlink(e->path);
	case LUNAR_TCMU_NEXUS:
		return lunar_attr_write(e->path, "NULL");
	case LUNAR_TCMU_ENABLE:
		return lunar_attr_write(e->path, "0");
	}
	return 0;
}

void lunar_tcmu_journal_undo(struct lunar_tcmu_journal *j, const char *keep_prefix)
{
	size_t kept = 0, n = j->n;

	for (size_t i = n; i-- > 0;) {
		struct lunar_tcmu_entry_rec *e = &j->e[i];

		if (keep_prefix && !strncmp(e->path, keep_prefix, strlen(keep_prefix)))
			continue;
		if (undo_one(e) < 0 && errno != ENOENT && errno != ENODEV)
			log_warn("could not undo '%s %s': %s", step_names[e->step], e->path,
				 strerror(errno));
		else
			log_debug("undid '%s %s'", step_names[e->step], e->path);
		free(e->path);
		e->path = NULL;
	}
	for (size_t i = 0; i < n; i++)
		if (j->e[i].path)
			j->e[kept++] = j->e[i];
	j->n = kept;
	save(j);
}

void lunar_tcmu_journal_close(struct lunar_tcmu_journal *j)
{
	if (j->fd >= 0) {
		if (j->n == 0)
			unlink(j->path);
		close(j->fd);
	}
	for (size_t i = 0; i < j->n; i++)
		free(j->e[i].path);
	free(j->e);
	memset(j, 0, sizeof(*j));
	j->fd = -1;
}
