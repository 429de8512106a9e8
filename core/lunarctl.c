/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "util.h"

/*
 * lunarctl is a thin client: it sends its arguments to the daemon and
 * prints the answer.  The one thing done here is reading --data-out FILE,
 * since the daemon may not see the caller's files.
 */

#define DEFAULT_CTL "/run/lunar/ctl.sock"
#define MAX_DATA_OUT (16u << 20)

static void usage(FILE *f)
{
	fputs("usage: lunarctl [--ctl SOCKET] COMMAND [--json]\n"
	      "  status                                  LUNs, transport, handler, state, counters\n"
	      "  stats [LUN]                             commands, errors by sense, latency\n"
	      "                                          percentiles, Lua memory\n"
	      "  trace LUN [--count N]                   each command as it completes: CDB,\n"
	      "                                          status, sense, latency (Ctrl-C ends)\n"
	      "  top [--interval MS] [--count N]         IOPS, MB/s and latency per LUN, live\n"
	      "  reload [LUN]                            the configuration (or one LUN's handler)\n"
	      "                                          again; exit 1 and why when refused\n"
	      "  cdb LUN HEXCDB [--data-out FILE|--data-out-hex HEX] [--read N] [--timeout MS]\n"
	      "                                          send a CDB to a sim LUN, show status,\n"
	      "                                          sense and data-in\n"
	      "  version\n", f);
}

static int add_arg(struct lunar_buf *b, const char *s)
{
	lunar_buf_add(b, s, strlen(s) + 1);
	return b->oom ? -1 : 0;
}

static int add_file_hex(struct lunar_buf *b, const char *path)
{
	FILE *f = fopen(path, "rb");
	uint8_t chunk[65536];
	size_t n, total = 0;

	if (!f) {
		fprintf(stderr, "lunarctl: %s: %s\n", path, strerror(errno));
		return -1;
	}
	add_arg(b, "--data-out-hex");
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
		total += n;
		if (total > MAX_DATA_OUT) {
			fprintf(stderr, "lunarctl: %s: more than %u bytes\n", path, MAX_DATA_OUT);
			fclose(f);
			return -1;
		}
		lunar_buf_hex(b, chunk, n);
	}
	fclose(f);
	lunar_buf_add(b, "", 1);
	return b->oom ? -1 : 0;
}

int main(int argc, char **argv)
{
	const char *ctl = getenv("LUNAR_CTL") ? getenv("LUNAR_CTL") : DEFAULT_CTL;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct lunar_buf req = { 0 };
	int i = 1, fd = -1, status = -1;
	char buf[65536];
	ssize_t n;

	if (i + 1 < argc && !strcmp(argv[i], "--ctl")) {
		ctl = argv[i + 1];
		i += 2;
	}
	if (i >= argc || !strcmp(argv[i], "--help") || !strcmp(argv[i], "-h") || !strcmp(argv[i], "help")) {
		usage(i >= argc ? stderr : stdout);
		return i >= argc ? 2 : 0;
	}
	for (; i < argc; i++) {
		if (!strcmp(argv[i], "--data-out") && i + 1 < argc) {
			if (add_file_hex(&req, argv[++i]) < 0)
				goto fail;
		} else if (add_arg(&req, argv[i]) < 0) {
			fprintf(stderr, "lunarctl: out of memory\n");
			goto fail;
		}
	}
	if (strlen(ctl) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "lunarctl: socket path too long\n");
		goto fail;
	}
	strcpy(sa.sun_path, ctl);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		fprintf(stderr, "lunarctl: cannot reach lunar at %s: %s (is `lunar run` running?)\n", ctl,
			strerror(errno));
		goto fail;
	}
	if (lunar_write_all(fd, req.data, req.len) < 0 || shutdown(fd, SHUT_WR) < 0) {
		fprintf(stderr, "lunarctl: sending the request: %s\n", strerror(errno));
		goto fail;
	}
	lunar_buf_free(&req);
	while ((n = read(fd, buf, sizeof(buf))) != 0) {
		char *p = buf;

		if (n < 0) {
			if (errno == EINTR)
				continue;
			fprintf(stderr, "lunarctl: reading the answer: %s\n", strerror(errno));
			return 1;
		}
		if (status < 0) {
			status = (unsigned char)*p++;
			n--;
		}
		/* flushed per chunk: trace and top stream into pipes and files */
		if (fwrite(p, 1, (size_t)n, status ? stderr : stdout) != (size_t)n ||
		    fflush(status ? stderr : stdout) != 0)
			return 1;
	}
	close(fd);
	if (status < 0) {
		fprintf(stderr, "lunarctl: the daemon closed the connection without an answer\n");
		return 1;
	}
	return status;

fail:
	/* freed so a sanitizer build reports nothing on the way out */
	lunar_buf_free(&req);
	if (fd >= 0)
		close(fd);
	return 1;
}
