/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file mg_tdm_cause.h
 * @brief Q.850 release causes ↔ SIP response status codes (RFC 3398
 * sections 7.2.4.1 and 8.2.6.1), both directions, table driven.
 */
#ifndef MG_TDM_CAUSE_H
#define MG_TDM_CAUSE_H

#include <stdbool.h>

/** Q.850 causes the gateway names in code (the tables cover many more). */
enum mg_q850_cause {
	MG_Q850_UNALLOCATED_NUMBER = 1,
	MG_Q850_NORMAL_CLEARING = 16,
	MG_Q850_USER_BUSY = 17,
	MG_Q850_NO_USER_RESPONDING = 18,
	MG_Q850_NO_ANSWER = 19,
	MG_Q850_CALL_REJECTED = 21,
	MG_Q850_NORMAL_UNSPECIFIED = 31,
	MG_Q850_NO_CIRCUIT_AVAILABLE = 34,
	MG_Q850_TEMPORARY_FAILURE = 41,
	MG_Q850_RECOVERY_ON_TIMER_EXPIRY = 102,
	MG_Q850_INTERWORKING = 127,
};

/**
 * SIP final response for a PSTN release with Q.850 @p cause (RFC 3398 8.2.6.1).
 * @p with_diagnostic: cause 22 (number changed) carried a diagnostic with the
 * new number, which maps to 301 instead of 410. A cause the table does not
 * list maps as the unspecified cause of its class (ITU-T Q.850 rule):
 * 0-31 → 31, 32-47 → 47, 48-63 → 63, 64-79 → 79, 80-95 → 95,
 * 96-111 → 111, 112-127 → 127. Returns 0 for cause 16 (normal clearing:
 * that is a BYE, not an error response) and for causes outside 0..127.
 */
int mg_q850_to_sip(int cause, bool with_diagnostic);

/**
 * Q.850 cause for a SIP final response @p status (RFC 3398 7.2.4.1).
 * Statuses the RFC leaves to the Warning header (487, 488, 606) and
 * unlisted ones map to 127 (interworking, unspecified); 2xx and 1xx,
 * which release nothing, return 0.
 */
int mg_sip_to_q850(int status);

/**
 * ITU-T Q.850 name of @p cause in lower case ("user busy"); every cause
 * Q.850 assigns is named, "unknown" for the unassigned ones.
 */
const char *mg_q850_name(int cause);

#endif
