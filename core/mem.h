/* SPDX-License-Identifier: MIT */
#ifndef LUNAR_MEM_H
#define LUNAR_MEM_H

struct lunar_lun;

/* Frees every lunar_mem() region of the LUN (when the LUN goes away). */
void lunar_mem_free_all(struct lunar_lun *lun);

#endif
