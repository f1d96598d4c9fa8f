/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file mg_tdm_limits.h
 * @brief Limits of DAHDI channel numbering, the one definition both the
 * TDM code (system.conf, the TDM thread, the emulator) and the control ↔
 * dataplane wire protocol (TDM_BIND / TDM_UNBIND validation) use.
 *
 * Header only, no dependencies: shared/proto includes it without linking
 * mg_tdm.
 */
#ifndef MG_TDM_LIMITS_H
#define MG_TDM_LIMITS_H

/**
 * Highest DAHDI channel number: 1023. DAHDI's dahdi/user.h sets
 * DAHDI_MAX_CHANNELS to 1024 ("Max, 1024 channels"); dahdi_cfg, which reads
 * the same system.conf we do, refuses channel numbers outside
 * 1..DAHDI_MAX_CHANNELS - 1 and keeps its per-channel tables in arrays of
 * that size, and DAHDI 2.x kernels had the same bound (valid_channo()).
 * Numbers from 0x8000 up are the kernel's pseudo channels, which are not
 * opened by number. mg_tdm_dahdi.c checks this value against the header at
 * build time.
 */
#define MG_TDM_MAX_CHANNO 1023

#endif
