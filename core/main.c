/* SPDX-License-Identifier: MIT */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "daemon.h"
#include "log.h"
#include "luavm.h"
#include "scaffold.h"
#ifdef LUNAR_HAVE_XEN
#include "xen/attach.h"
#endif

static void usage(FILE *f)
{
	fputs("usage: lunar run CONFIG [--ctl SOCKET] [--verbose] [--log text|json|journal|auto]\n"
	      "                                                      serve the LUNs of CONFIG\n"
	      "       lunar check CONFIG                             validate CONFIG and its handlers\n"
	      "       lunar selftest MODULE...                       run Lua selftests (lunar.scsi, ...)\n"
	      "       lunar lua SCRIPT [ARG...]                      run a Lua script with lunar's modules\n"
	      "       lunar new NAME [--level disk|raw] [--dir DIR]  a new handler, its YAML and its test\n"
	      "       lunar xen attach|detach DOMID [P-DEV...]       give a Xen guest LUNs (no xl needed)\n"
	      "       lunar version\n", f);
}

static int cmd_check(const char *path)
{
	struct lunar_diag d = { 0 };
	struct lunar_config *c;
	int bad = 0;

	if (lunar_config_load(path, &c, &d) < 0) {
		fputs(d.text.data ? d.text.data : "", stderr);
		lunar_buf_free(&d.text);
		return 1;
	}
	/* handler syntax: a typo should not wait for `run` */
	for (size_t i = 0; i < c->nluns; i++) {
		char err[1024];

		if (lunar_lua_check_syntax(c->luns[i].handler, err, sizeof(err)) < 0) {
			fprintf(stderr, "%s:%d:%d: handler of LUN '%s' does not compile: %s\n", path,
				c->luns[i].line, c->luns[i].col, c->luns[i].name, err);
			bad = 1;
		}
	}
	if (!bad)
		printf("%s: %zu LUN%s, valid\n", path, c->nluns, c->nluns == 1 ? "" : "s");
	lunar_config_free(c);
	return bad;
}

int main(int argc, char **argv)
{
	const char *cmd = argc > 1 ? argv[1] : "";

	if (!strcmp(cmd, "run")) {
		const char *config = NULL, *ctl = LUNAR_DEFAULT_CTL, *log = "auto";

		for (int i = 2; i < argc; i++) {
			if (!strcmp(argv[i], "--ctl") && i + 1 < argc)
				ctl = argv[++i];
			else if (!strcmp(argv[i], "--verbose") || !strcmp(argv[i], "-v"))
				lunar_log_set_level(LUNAR_LOG_DEBUG);
			else if (!strcmp(argv[i], "--log") && i + 1 < argc)
				log = argv[++i];
			else if (argv[i][0] != '-' && !config)
				config = argv[i];
			else {
				usage(stderr);
				return 2;
			}
		}
		if (!config) {
			usage(stderr);
			return 2;
		}
		if (lunar_log_set_format(log) < 0 && strcmp(log, "auto")) {
			if (!strcmp(log, "journal"))
				fprintf(stderr, "lunar: --log journal: cannot reach journald at "
					"/run/systemd/journal/socket\n");
			else
				fprintf(stderr, "lunar: --log must be text, json, journal or auto, "
					"not '%s'\n", log);
			return 2;
		}
		return lunar_daemon_run(config, ctl);
	}
	if (!strcmp(cmd, "check") && argc == 3)
		return cmd_check(argv[2]);
	if (!strcmp(cmd, "selftest") && argc >= 3) {
		int rc = 0;

		for (int i = 2; i < argc; i++)
			rc |= lunar_lua_selftest(argv[i]);
		return rc;
	}
	if (!strcmp(cmd, "new"))
		return lunar_scaffold(argc - 2, argv + 2);
	if (!strcmp(cmd, "lua") && argc >= 3)
		return lunar_lua_script(argv[2], argc - 3, argv + 3);
	if (!strcmp(cmd, "xen")) {
#ifdef LUNAR_HAVE_XEN
		return lunar_xen_cli(argc - 2, argv + 2);
#else
		fputs("lunar: built without the xen transport (install libxen-dev and rebuild)\n", stderr);
		return 1;
#endif
	}
	if (!strcmp(cmd, "version") || !strcmp(cmd, "--version")) {
		printf("lunar %s\n", LUNAR_VERSION);
		return 0;
	}
	if (!strcmp(cmd, "help") || !strcmp(cmd, "--help") || !strcmp(cmd, "-h")) {
		usage(stdout);
		return 0;
	}
	usage(stderr);
	return 2;
}
