/* SPDX-License-Identifier: MIT */
#ifndef LUNAR_UTIL_H
#define LUNAR_UTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LUNAR_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define LUNAR_MIN(a, b) ((a) < (b) ? (a) : (b))
#define LUNAR_MAX(a, b) ((a) > (b) ? (a) : (b))

/* A growable, always NUL-terminated byte buffer. */
struct lunar_buf {
	char *data;
	size_t len;
	size_t cap;
	bool oom;	/* an append failed; contents are truncated */
};

void lunar_buf_free(struct lunar_buf *b);
void lunar_buf_reset(struct lunar_buf *b);
void lunar_buf_add(struct lunar_buf *b, const void *data, size_t len);
void lunar_buf_puts(struct lunar_buf *b, const char *s);
void lunar_buf_printf(struct lunar_buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void lunar_buf_vprintf(struct lunar_buf *b, const char *fmt, va_list ap);
/* A JSON string literal, quotes included. */
void lunar_buf_json_str(struct lunar_buf *b, const char *s);
/* Lowercase hex, no separators. */
void lunar_buf_hex(struct lunar_buf *b, const uint8_t *p, size_t n);
/* Classic 16-bytes-per-line dump with offsets and ASCII. */
void lunar_buf_hexdump(struct lunar_buf *b, const uint8_t *p, size_t n);

/*
 * Decode hex digits (whitespace, ':' and '-' between bytes are ignored).
 * Returns the byte count, or -1 on a bad digit, an odd count, or more than
 * max bytes.
 */
long lunar_hex_decode(const char *s, uint8_t *out, size_t max);

/*
 * "64MiB", "512", "1 GiB", "4KiB" -> bytes.  Units: B, KiB, MiB, GiB, TiB.
 * Returns 0 or -1 with *why set to a static message.
 */
int lunar_parse_size(const char *s, uint64_t *out, const char **why);
/*
 * "20s", "500ms", "2m", "1h", "250us" -> nanoseconds.  A plain number is
 * seconds.  Returns 0 or -1 with *why set.
 */
int lunar_parse_duration(const char *s, uint64_t *ns, const char **why);
/* Formats a byte count with the largest exact binary unit ("64MiB"). */
void lunar_format_size(uint64_t n, char *out, size_t outlen);

uint64_t lunar_now_ns(void);

/* Write all of buf to fd, retrying on EINTR and short writes. */
int lunar_write_all(int fd, const void *buf, size_t len);
/* mkdir -p DIR (mode 0755); 0, or -1 with errno. */
int lunar_mkdir_p(const char *dir);

#endif
