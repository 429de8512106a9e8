/* SPDX-License-Identifier: MIT */
#ifndef LUNAR_SIM_TRANSPORT_H
#define LUNAR_SIM_TRANSPORT_H

#include <stddef.h>

struct lunar_lun;
struct lunar_sim;

/* Gives the LUN an in-process TCMU ring (lun->port, lun->transport). */
int lunar_sim_transport_open(struct lunar_lun *lun, char *err, size_t errlen);
struct lunar_sim_params;
/* The same with explicit ring parameters (tests: other mailbox caps). */
int lunar_sim_transport_open_with(struct lunar_lun *lun, const struct lunar_sim_params *p,
				  char *err, size_t errlen);
void lunar_sim_transport_close(struct lunar_lun *lun);
/* The initiator side, for lunarctl cdb and tests. */
struct lunar_sim *lunar_sim_of(struct lunar_lun *lun);

#endif
