/* SPDX-License-Identifier: BSD-3-Clause */
/* DPDK telemetry commands /mediagate/... (dp_telemetry.c). */
#ifndef DP_TELEMETRY_H
#define DP_TELEMETRY_H

/* Register the /mediagate/... commands; 0 or -errno. */
int dp_telemetry_register(void);

#endif
