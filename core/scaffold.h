/* SPDX-License-Identifier: MIT */
#ifndef LUNAR_SCAFFOLD_H
#define LUNAR_SCAFFOLD_H

/*
 * `lunar new NAME [--level disk|raw] [--dir DIR]`: writes a handler, its
 * YAML and its test from the templates in lua/lunar/scaffold/.  argv[0] is
 * the first argument after "new".  Returns the exit status.
 */
int lunar_scaffold(int argc, char **argv);

#endif
