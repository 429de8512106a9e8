/* SPDX-License-Identifier: MIT */
#include "transports.h"

const struct lunar_transport_ops *lunar_transport_get(enum lunar_transport type)
{
	switch (type) {
	case LUNAR_TRANSPORT_SIM:
		return &lunar_sim_transport;
	case LUNAR_TRANSPORT_TCMU:
		return &lunar_tcmu_transport;
	case LUNAR_TRANSPORT_XEN:
#ifdef LUNAR_HAVE_XEN
		return &lunar_xen_transport;
#else
		return NULL;
#endif
	}
	return NULL;
}
