/* SPDX-License-Identifier: MIT */
#ifndef LUNAR_TCMU_JOURNAL_H
#define LUNAR_TCMU_JOURNAL_H

/*
 * What lunar created in configfs for one LUN, in creation order, so that
 * exactly that is removed, in reverse order, on a clean exit.  The journal
 * is also a file, /run/lunar/tcmu/<LUN>.journal, held with an exclusive
 * lock while a lunar serves the LUN: a lunar restarted after a crash finds
 * what its predecessor made (and removes it when it exits), and a second
 * lunar for the same LUN name is refused.  /run is gone after a reboot,
 * and so is everything configfs held.
 */

#include <stdbool.h>
#include <stddef.h>

#define LUNAR_TCMU_JOURNAL_DIR "/run/lunar/tcmu"

enum lunar_tcmu_step {
	LUNAR_TCMU_MKDIR,	/* undo: rmdir */
	LUNAR_TCMU_LINK,	/* undo: unlink */
	LUNAR_TCMU_NEXUS,	/* a tcm_loop nexus file we wrote; undo: "NULL" */
	LUNAR_TCMU_ENABLE,	/* an enable file we set to 1; undo: 0 */
};

struct lunar_tcmu_journal {
	int fd;
	char path[256];
	struct lunar_tcmu_entry_rec {
		enum lunar_tcmu_step step;
		char *path;
	} *e;
	size_t n, cap;
};

/*
 * Opens (creating) and locks the LUN's journal and reads what it holds.
 * -1 with err set; errno EWOULDBLOCK when another lunar holds it.
 */
int lunar_tcmu_journal_open(struct lunar_tcmu_journal *j, const char *lun, char *err,
			    size_t errlen);
/* Records a step that was done. */
void lunar_tcmu_journal_add(struct lunar_tcmu_journal *j, enum lunar_tcmu_step step,
			    const char *path);
/* Whether path is in the journal (as a directory or link we made). */
bool lunar_tcmu_journal_has(const struct lunar_tcmu_journal *j, const char *path);
/*
 * Undoes steps, newest first: those whose path does not start with
 * keep_prefix (NULL: all of them).  A step whose object is already gone
 * counts as undone; one that fails is logged and forgotten.
 */
void lunar_tcmu_journal_undo(struct lunar_tcmu_journal *j, const char *keep_prefix);
/* Unlocks; the file is removed when the journal is empty. */
void lunar_tcmu_journal_close(struct lunar_tcmu_journal *j);

#endif
