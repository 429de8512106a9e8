/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "util.h"

#define JOURNAL_SOCKET "/run/systemd/journal/socket"

static int log_level = LUNAR_LOG_INFO;
static enum lunar_log_format log_format = LUNAR_LOGFMT_TEXT;
static int journal_fd = -1;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;

void lunar_log_set_level(int level)
{
	log_level = level;
}

enum lunar_log_format lunar_log_format(void)
{
	return log_format;
}

/* systemd sets $JOURNAL_STREAM to "DEV:INO" of the stream stderr goes to. */
static bool stderr_is_journal(void)
{
	const char *e = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;

	return e && sscanf(e, "%llu:%llu", &dev, &ino) == 2 && fstat(2, &st) == 0 &&
	       (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

/* $LUNAR_JOURNAL_SOCKET stands in for journald's socket (the tests' own). */
static int open_journal(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX, .sun_path = JOURNAL_SOCKET };
	const char *path = getenv("LUNAR_JOURNAL_SOCKET");
	int fd;

	if (path && strlen(path) < sizeof(sa.sun_path))
		snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

int lunar_log_set_format(const char *name)
{
	enum lunar_log_format f;

	if (!strcmp(name, "text"))
		f = LUNAR_LOGFMT_TEXT;
	else if (!strcmp(name, "json"))
		f = LUNAR_LOGFMT_JSON;
	else if (!strcmp(name, "journal"))
		f = LUNAR_LOGFMT_JOURNAL;
	else if (!strcmp(name, "auto"))
		f = stderr_is_journal() ? LUNAR_LOGFMT_JOURNAL : LUNAR_LOGFMT_TEXT;
	else
		return -1;
	if (f == LUNAR_LOGFMT_JOURNAL && journal_fd < 0) {
		journal_fd = open_journal();
		if (journal_fd < 0)
			return -1;
	}
	log_format = f;
	return 0;
}

static const char *level_name(int level)
{
	switch (level) {
	case LUNAR_LOG_ERR: return "error";
	case LUNAR_LOG_WARN: return "warning";
	case LUNAR_LOG_INFO: return "info";
	default: return "debug";
	}
}

/* One field of journald's native protocol; a value with a newline goes
 * length-prefixed, as the protocol asks. */
static void journal_field(struct lunar_buf *b, const char *key, const char *value)
{
	uint64_t len = strlen(value);
	unsigned char le[8];

	if (!strchr(value, '\n')) {
		lunar_buf_printf(b, "%s=%s\n", key, value);
		return;
	}
	for (int i = 0; i < 8; i++)
		le[i] = (unsigned char)(len >> (8 * i));
	lunar_buf_printf(b, "%s\n", key);
	lunar_buf_add(b, le, sizeof(le));
	lunar_buf_add(b, value, len);
	lunar_buf_printf(b, "\n");
}

static void emit(int level, const char *lun, const char *msg)
{
	char prio[4];
	struct lunar_buf b = { 0 };
	bool sent = false;
	struct timespec ts;
	struct tm tm;

	clock_gettime(CLOCK_REALTIME, &ts);
	switch (log_format) {
	case LUNAR_LOGFMT_JOURNAL:
		snprintf(prio, sizeof(prio), "%d", level);
		journal_field(&b, "MESSAGE", msg);
		journal_field(&b, "PRIORITY", prio);
		journal_field(&b, "SYSLOG_IDENTIFIER", "lunar");
		if (lun)
			journal_field(&b, "LUNAR_LUN", lun);
		/* journald away: the line still goes to stderr */
		sent = b.data && send(journal_fd, b.data, b.len, MSG_NOSIGNAL) >= 0;
		lunar_buf_free(&b);
		if (sent)
			break;
		/* fall through */
	case LUNAR_LOGFMT_TEXT:
		localtime_r(&ts.tv_sec, &tm);
		lunar_buf_printf(&b, "%02d:%02d:%02d.%03ld lunar %s: %s%s%s\n", tm.tm_hour,
				 tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000, level_name(level),
				 lun ? lun : "", lun ? ": " : "", msg);
		break;
	case LUNAR_LOGFMT_JSON:
		gmtime_r(&ts.tv_sec, &tm);
		lunar_buf_printf(&b, "{\"ts\":\"%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ\","
				 "\"level\":\"%s\"", tm.tm_year + 1900, tm.tm_mon + 1,
				 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
				 ts.tv_nsec / 1000000, level_name(level));
		if (lun) {
			lunar_buf_printf(&b, ",\"lun\":");
			lunar_buf_json_str(&b, lun);
		}
		lunar_buf_printf(&b, ",\"msg\":");
		lunar_buf_json_str(&b, msg);
		lunar_buf_printf(&b, "}\n");
		break;
	}
	if (!sent && b.data) {
		/* One write per message so lines from worker threads never interleave. */
		pthread_mutex_lock(&log_lock);
		fwrite(b.data, 1, b.len, stderr);
		fflush(stderr);
		pthread_mutex_unlock(&log_lock);
	}
	lunar_buf_free(&b);
}

static void vlog(int level, const char *lun, const char *fmt, va_list ap)
{
	char msg[2048];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	emit(level, lun, msg);
}

void lunar_logf(int level, const char *fmt, ...)
{
	va_list ap;

	if (level > log_level)
		return;
	va_start(ap, fmt);
	vlog(level, NULL, fmt, ap);
	va_end(ap);
}

void lunar_logf_lun(int level, const char *lun, const char *fmt, ...)
{
	va_list ap;

	if (level > log_level)
		return;
	va_start(ap, fmt);
	vlog(level, lun, fmt, ap);
	va_end(ap);
}

bool lunar_ratelimit(struct lunar_ratelimit *rl, uint64_t now_ns, unsigned *suppressed)
{
	*suppressed = 0;
	if (now_ns - rl->window_start >= rl->interval_ns || rl->window_start == 0) {
		rl->window_start = now_ns;
		rl->printed = 0;
	}
	if (rl->printed < rl->burst) {
		rl->printed++;
		*suppressed = rl->suppressed;
		rl->suppressed = 0;
		return true;
	}
	rl->suppressed++;
	return false;
}
