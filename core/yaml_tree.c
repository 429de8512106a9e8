/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "yaml_tree.h"

enum {
	MAX_DEPTH = 64,
	MAX_NODES = 100000,	/* after alias expansion */
};

void lunar_diag_add(struct lunar_diag *d, int line, int col, const char *fmt, ...)
{
	va_list ap;

	lunar_buf_printf(&d->text, "%s:%d:%d: ", d->file, line, col);
	va_start(ap, fmt);
	lunar_buf_vprintf(&d->text, fmt, ap);
	va_end(ap);
	lunar_buf_puts(&d->text, "\n");
	d->count++;
}

struct conv {
	yaml_document_t *doc;
	struct lunar_diag *d;
	size_t nodes;
	bool failed;
};

static int convert(struct conv *c, yaml_node_t *n, struct lunar_value *v, int depth);
static void value_clear(struct lunar_value *v);

static int convert_map(struct conv *c, yaml_node_t *n, struct lunar_value *v, int depth)
{
	size_t cnt = (size_t)(n->data.mapping.pairs.top - n->data.mapping.pairs.start);

	v->kind = LUNAR_VAL_MAP;
	v->keys = calloc(cnt ? cnt : 1, sizeof(*v->keys));
	v->key_line = calloc(cnt ? cnt : 1, sizeof(int));
	v->key_col = calloc(cnt ? cnt : 1, sizeof(int));
	v->items = calloc(cnt ? cnt : 1, sizeof(*v->items));
	if (!v->keys || !v->items || !v->key_line || !v->key_col)
		return -1;
	for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
		yaml_node_t *k = yaml_document_get_node(c->doc, p->key);
		yaml_node_t *val = yaml_document_get_node(c->doc, p->value);
		int kl = (int)k->start_mark.line + 1, kc = (int)k->start_mark.column + 1;

		if (k->type != YAML_SCALAR_NODE) {
			lunar_diag_add(c->d, kl, kc, "a mapping key must be a plain string");
			c->failed = true;
			continue;
		}
		const char *ks = (const char *)k->data.scalar.value;
		bool dup = false;

		for (size_t i = 0; i < v->n; i++) {
			if (strcmp(v->keys[i], ks))
				continue;
			lunar_diag_add(c->d, kl, kc, "duplicate key '%s' (first at line %d)", ks,
				       v->key_line[i]);
			dup = true;
		}
		if (dup) {
			c->failed = true;
			continue;
		}
		v->keys[v->n] = strdup(ks);
		v->key_line[v->n] = kl;
		v->key_col[v->n] = kc;
		if (!v->keys[v->n] || convert(c, val, &v->items[v->n], depth + 1) < 0) {
			/*
			 * Not counted in v->n, so not freed with the rest: a value
			 * that failed half way (an alias bomb hitting the limits)
			 * holds whatever it had built.
			 */
			free(v->keys[v->n]);
			value_clear(&v->items[v->n]);
			return -1;
		}
		v->n++;
	}
	return 0;
}

static int convert(struct conv *c, yaml_node_t *n, struct lunar_value *v, int depth)
{
	memset(v, 0, sizeof(*v));
	v->line = (int)n->start_mark.line + 1;
	v->col = (int)n->start_mark.column + 1;
	if (depth > MAX_DEPTH || ++c->nodes > MAX_NODES) {
		lunar_diag_add(c->d, v->line, v->col,
			       "document too deep or too large (recursive or exploding aliases?)");
		return -1;
	}
	switch (n->type) {
	case YAML_SCALAR_NODE:
		v->kind = LUNAR_VAL_SCALAR;
		v->str = strndup((const char *)n->data.scalar.value, n->data.scalar.length);
		v->plain = n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
		if (v->str && strlen(v->str) != n->data.scalar.length) {
			lunar_diag_add(c->d, v->line, v->col, "strings must not contain NUL bytes");
			c->failed = true;
		}
		return v->str ? 0 : -1;
	case YAML_SEQUENCE_NODE: {
		size_t cnt = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);

		v->kind = LUNAR_VAL_SEQ;
		v->items = calloc(cnt ? cnt : 1, sizeof(*v->items));
		if (!v->items)
			return -1;
		for (yaml_node_item_t *i = n->data.sequence.items.start; i < n->data.sequence.items.top; i++) {
			if (convert(c, yaml_document_get_node(c->doc, *i), &v->items[v->n], depth + 1) < 0) {
				value_clear(&v->items[v->n]);	/* as in convert_map() */
				return -1;
			}
			v->n++;
		}
		return 0;
	}
	case YAML_MAPPING_NODE:
		return convert_map(c, n, v, depth);
	default:
		lunar_diag_add(c->d, v->line, v->col, "unsupported YAML node");
		return -1;
	}
}

static void parser_error(yaml_parser_t *parser, FILE *f, struct lunar_diag *d)
{
	const char *ctx = parser->context;
	int line = (int)parser->problem_mark.line + 1, col = (int)parser->problem_mark.column + 1;

	/*
	 * A reader error (bad UTF-8, a control character) comes with a byte
	 * offset and no mark: count lines and characters up to it ourselves,
	 * in the file's encoding (a UTF-16 file has '\n' bytes that are not
	 * line breaks).
	 */
	if (parser->error == YAML_READER_ERROR && fseek(f, 0, SEEK_SET) == 0) {
		bool le = parser->encoding == YAML_UTF16LE_ENCODING;
		bool be = parser->encoding == YAML_UTF16BE_ENCODING;

		line = col = 1;
		for (size_t off = 0; off < parser->problem_offset; off += le || be ? 2 : 1) {
			int ch = getc(f);

			if (ch != EOF && (le || be)) {
				int ch2 = getc(f);

				ch = ch2 == EOF ? EOF : le ? ch2 << 8 | ch : ch << 8 | ch2;
			}
			if (ch == EOF)
				break;
			if (ch == '\n') {
				line++;
				col = 1;
			} else if ((le || be) ? (ch & 0xfc00) != 0xdc00 && ch != 0xfeff
					      : (ch & 0xc0) != 0x80) {
				col++;
			}
		}
	}
	lunar_diag_add(d, line, col, "%s%s%s%s", parser->problem ? parser->problem : "YAML syntax error",
		       ctx ? " (" : "", ctx ? ctx : "", ctx ? ")" : "");
}

int lunar_yaml_load(const char *path, struct lunar_value **root, struct lunar_diag *d)
{
	yaml_parser_t parser;
	yaml_document_t doc;
	yaml_node_t *top;
	struct conv c = { .d = d };
	FILE *f = fopen(path, "rb");
	int rc = -1;

	*root = NULL;
	if (!f) {
		lunar_diag_add(d, 0, 0, "cannot open: %s", strerror(errno));
		return -1;
	}
	yaml_parser_initialize(&parser);
	yaml_parser_set_input_file(&parser, f);
	if (!yaml_parser_load(&parser, &doc)) {
		parser_error(&parser, f, d);
		goto out_parser;
	}
	top = yaml_document_get_root_node(&doc);
	if (top) {
		*root = calloc(1, sizeof(**root));
		c.doc = &doc;
		if (!*root || convert(&c, top, *root, 0) < 0 || c.failed) {
			if (!c.failed && !d->count)
				lunar_diag_add(d, 0, 0, "out of memory");
			lunar_value_free(*root);
			*root = NULL;
			goto out_doc;
		}
	}
	/*
	 * A second document would be silently ignored: refuse it, and report
	 * a syntax error after the first one too (libyaml stops at the end of
	 * a document, so it has not seen the rest of the file yet).
	 */
	{
		yaml_document_t more;
		yaml_node_t *m;
		bool bad = false;

		if (yaml_parser_load(&parser, &more)) {
			m = yaml_document_get_root_node(&more);
			if (m)
				lunar_diag_add(d, (int)m->start_mark.line + 1,
					       (int)m->start_mark.column + 1,
					       "only one YAML document is allowed");
			bad = m != NULL;
			yaml_document_delete(&more);
		} else {
			parser_error(&parser, f, d);
			bad = true;
		}
		if (bad) {
			lunar_value_free(*root);
			*root = NULL;
			goto out_doc;
		}
	}
	rc = 0;
out_doc:
	yaml_document_delete(&doc);
out_parser:
	yaml_parser_delete(&parser);
	fclose(f);
	return rc;
}

static void value_clear(struct lunar_value *v)
{
	free(v->str);
	for (size_t i = 0; i < v->n; i++) {
		if (v->keys)
			free(v->keys[i]);
		value_clear(&v->items[i]);
	}
	free(v->keys);
	free(v->key_line);
	free(v->key_col);
	free(v->items);
}

void lunar_value_free(struct lunar_value *v)
{
	if (!v)
		return;
	value_clear(v);
	free(v);
}

const struct lunar_value *lunar_value_get(const struct lunar_value *map, const char *key)
{
	if (!map || map->kind != LUNAR_VAL_MAP)
		return NULL;
	for (size_t i = 0; i < map->n; i++)
		if (!strcmp(map->keys[i], key))
			return &map->items[i];
	return NULL;
}

const char *lunar_value_kind_name(const struct lunar_value *v)
{
	switch (v->kind) {
	case LUNAR_VAL_MAP: return "a mapping";
	case LUNAR_VAL_SEQ: return "a list";
	default: return "a scalar";
	}
}
