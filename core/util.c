/* SPDX-License-Identifier: MIT */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "util.h"

void lunar_buf_free(struct lunar_buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
	b->oom = false;
}

void lunar_buf_reset(struct lunar_buf *b)
{
	b->len = 0;
	if (b->data)
		b->data[0] = 0;
}

static bool buf_reserve(struct lunar_buf *b, size_t extra)
{
	size_t need = b->len + extra + 1;
	char *p;

	if (b->oom)
		return false;
	if (need <= b->cap)
		return true;
	size_t cap = b->cap ? b->cap : 256;
	while (cap < need)
		cap *= 2;
	p = realloc(b->data, cap);
	if (!p) {
		b->oom = true;
		return false;
	}
	b->data = p;
	b->cap = cap;
	return true;
}

void lunar_buf_add(struct lunar_buf *b, const void *data, size_t len)
{
	if (!buf_reserve(b, len))
		return;
	memcpy(b->data + b->len, data, len);
	b->len += len;
	b->data[b->len] = 0;
}

void lunar_buf_puts(struct lunar_buf *b, const char *s)
{
	lunar_buf_add(b, s, strlen(s));
}

void lunar_buf_vprintf(struct lunar_buf *b, const char *fmt, va_list ap)
{
	va_list aq;
	int n;

	va_copy(aq, ap);
	n = vsnprintf(NULL, 0, fmt, aq);
	va_end(aq);
	if (n < 0 || !buf_reserve(b, (size_t)n))
		return;
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	b->len += (size_t)n;
}

void lunar_buf_printf(struct lunar_buf *b, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	lunar_buf_vprintf(b, fmt, ap);
	va_end(ap);
}

/* Length of the valid UTF-8 sequence at s, 0 if there is none. */
static size_t utf8_len(const unsigned char *s)
{
	size_t n = s[0] < 0x80 ? 1 : s[0] >= 0xc2 && s[0] < 0xe0 ? 2 :
		   s[0] >= 0xe0 && s[0] < 0xf0 ? 3 : s[0] >= 0xf0 && s[0] < 0xf5 ? 4 : 0;

	for (size_t i = 1; i < n; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	/* overlong 3-byte, surrogates, overlong 4-byte, beyond U+10FFFF */
	if ((n == 3 && ((s[0] == 0xe0 && s[1] < 0xa0) || (s[0] == 0xed && s[1] >= 0xa0))) ||
	    (n == 4 && ((s[0] == 0xf0 && s[1] < 0x90) || (s[0] == 0xf4 && s[1] >= 0x90))))
		return 0;
	return n;
}

/* Handler messages may hold any bytes; JSON may not: a byte that is not
 * part of valid UTF-8 becomes U+FFFD. */
void lunar_buf_json_str(struct lunar_buf *b, const char *s)
{
	lunar_buf_add(b, "\"", 1);
	while (*s) {
		unsigned char c = (unsigned char)*s;
		size_t n = 1;

		switch (c) {
		case '"': lunar_buf_add(b, "\\\"", 2); break;
		case '\\': lunar_buf_add(b, "\\\\", 2); break;
		case '\n': lunar_buf_add(b, "\\n", 2); break;
		case '\t': lunar_buf_add(b, "\\t", 2); break;
		case '\r': lunar_buf_add(b, "\\r", 2); break;
		default:
			if (c < 0x20 || c == 0x7f)
				lunar_buf_printf(b, "\\u%04x", c);
			else if ((n = utf8_len((const unsigned char *)s)) == 0) {
				lunar_buf_add(b, "\\ufffd", 6);
				n = 1;
			} else
				lunar_buf_add(b, s, n);
		}
		s += n;
	}
	lunar_buf_add(b, "\"", 1);
}

void lunar_buf_hex(struct lunar_buf *b, const uint8_t *p, size_t n)
{
	static const char digits[] = "0123456789abcdef";

	if (!buf_reserve(b, 2 * n))
		return;
	for (size_t i = 0; i < n; i++) {
		b->data[b->len++] = digits[p[i] >> 4];
		b->data[b->len++] = digits[p[i] & 15];
	}
	b->data[b->len] = 0;
}

void lunar_buf_hexdump(struct lunar_buf *b, const uint8_t *p, size_t n)
{
	for (size_t off = 0; off < n; off += 16) {
		size_t m = LUNAR_MIN((size_t)16, n - off);

		lunar_buf_printf(b, "%08zx  ", off);
		for (size_t i = 0; i < 16; i++) {
			if (i < m)
				lunar_buf_printf(b, "%02x ", p[off + i]);
			else
				lunar_buf_puts(b, "   ");
			if (i == 7)
				lunar_buf_puts(b, " ");
		}
		lunar_buf_puts(b, " |");
		for (size_t i = 0; i < m; i++) {
			char c = (char)p[off + i];

			lunar_buf_add(b, isprint((unsigned char)c) ? &c : ".", 1);
		}
		lunar_buf_puts(b, "|\n");
	}
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

long lunar_hex_decode(const char *s, uint8_t *out, size_t max)
{
	size_t n = 0;
	int hi = -1;

	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
		s += 2;
	for (; *s; s++) {
		int v;

		if (isspace((unsigned char)*s) || *s == ':' || *s == '-') {
			if (hi >= 0)
				return -1;	/* a separator splits a byte */
			continue;
		}
		v = hexval((unsigned char)*s);
		if (v < 0)
			return -1;
		if (hi < 0) {
			hi = v;
			continue;
		}
		if (n >= max)
			return -1;
		out[n++] = (uint8_t)(hi << 4 | v);
		hi = -1;
	}
	return hi >= 0 ? -1 : (long)n;
}

int lunar_parse_size(const char *s, uint64_t *out, const char **why)
{
	static const struct {
		const char *name;
		unsigned shift;
	} units[] = {
		{ "", 0 }, { "B", 0 }, { "KiB", 10 }, { "MiB", 20 }, { "GiB", 30 }, { "TiB", 40 },
	};
	uint64_t v = 0;
	const char *p = s;

	while (isspace((unsigned char)*p))
		p++;
	if (!isdigit((unsigned char)*p)) {
		*why = "expected a size such as 512, 4KiB, 64MiB or 2GiB";
		return -1;
	}
	for (; isdigit((unsigned char)*p); p++) {
		if (v > (UINT64_MAX - 9) / 10) {
			*why = "size is too large";
			return -1;
		}
		v = v * 10 + (uint64_t)(*p - '0');
	}
	while (*p == ' ')
		p++;
	for (size_t i = 0; i < LUNAR_ARRAY_SIZE(units); i++) {
		if (strcmp(p, units[i].name) != 0)
			continue;
		if (units[i].shift && v > (UINT64_MAX >> units[i].shift)) {
			*why = "size is too large";
			return -1;
		}
		*out = v << units[i].shift;
		return 0;
	}
	if (!strcasecmp(p, "k") || !strcasecmp(p, "kb") || !strcasecmp(p, "m") ||
	    !strcasecmp(p, "mb") || !strcasecmp(p, "g") || !strcasecmp(p, "gb") ||
	    !strcasecmp(p, "t") || !strcasecmp(p, "tb"))
		*why = "ambiguous unit: write KiB, MiB, GiB or TiB (powers of 1024)";
	else
		*why = "unknown unit: use B, KiB, MiB, GiB or TiB";
	return -1;
}

int lunar_parse_duration(const char *s, uint64_t *ns, const char **why)
{
	static const struct {
		const char *name;
		uint64_t ns;
	} units[] = {
		{ "", 1000000000u }, { "s", 1000000000u }, { "ms", 1000000u }, { "us", 1000u },
		{ "ns", 1 }, { "m", 60000000000ull }, { "min", 60000000000ull }, { "h", 3600000000000ull },
	};
	char *end;
	double v;

	while (isspace((unsigned char)*s))
		s++;
	if (!isdigit((unsigned char)*s)) {
		*why = "expected a duration such as 20s, 500ms or 2m";
		return -1;
	}
	v = strtod(s, &end);
	while (*end == ' ')
		end++;
	for (size_t i = 0; i < LUNAR_ARRAY_SIZE(units); i++) {
		if (strcmp(end, units[i].name))
			continue;
		if (v * (double)units[i].ns > 1e18) {
			*why = "duration is too long";
			return -1;
		}
		*ns = (uint64_t)(v * (double)units[i].ns);
		return 0;
	}
	*why = "unknown unit: use ms, s, m or h";
	return -1;
}

void lunar_format_size(uint64_t n, char *out, size_t outlen)
{
	static const char *names[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	unsigned u = 0;

	while (u < 4 && n && (n & 1023) == 0) {
		n >>= 10;
		u++;
	}
	snprintf(out, outlen, "%" PRIu64 "%s", n, names[u]);
}

uint64_t lunar_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int lunar_write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int lunar_mkdir_p(const char *dir)
{
	char tmp[PATH_MAX];

	snprintf(tmp, sizeof(tmp), "%s", dir);
	for (char *p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = 0;
		if (mkdir(tmp, 0755) < 0 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	return mkdir(tmp, 0755) < 0 && errno != EEXIST ? -1 : 0;
}
