/* SPDX-License-Identifier: MIT */
#ifndef LUNAR_YAML_TREE_H
#define LUNAR_YAML_TREE_H

#include <stdbool.h>
#include <stddef.h>

#include "util.h"

/*
 * A YAML document as a small tree that remembers where each node was
 * written, so every later complaint can say file:line:col.  Aliases are
 * expanded (with limits, against recursive and exponential aliases).
 */
enum lunar_value_kind {
	LUNAR_VAL_SCALAR,
	LUNAR_VAL_MAP,
	LUNAR_VAL_SEQ,
};

struct lunar_value {
	enum lunar_value_kind kind;
	int line, col;			/* 1-based */
	char *str;			/* SCALAR */
	bool plain;			/* SCALAR written without quotes */
	size_t n;			/* MAP and SEQ: number of items */
	char **keys;			/* MAP: keys */
	int *key_line, *key_col;	/* MAP: where each key is */
	struct lunar_value *items;	/* MAP values, SEQ items */
};

/* Diagnostics collected while loading: "file:line:col: message" lines. */
struct lunar_diag {
	struct lunar_buf text;
	int count;
	const char *file;
};

void lunar_diag_add(struct lunar_diag *d, int line, int col, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Parses path into *root (NULL for an empty document).  Returns 0, or -1
 * after adding diagnostics. */
int lunar_yaml_load(const char *path, struct lunar_value **root, struct lunar_diag *d);
void lunar_value_free(struct lunar_value *v);

/* MAP lookup; NULL when absent. */
const struct lunar_value *lunar_value_get(const struct lunar_value *map, const char *key);
const char *lunar_value_kind_name(const struct lunar_value *v);

#endif
