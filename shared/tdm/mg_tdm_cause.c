/* SPDX-License-Identifier: BSD-3-Clause */
#include "mg_tdm_cause.h"

#include <stddef.h>

struct q850_entry {
	int cause;
	int sip;
	const char *name;
};

/* RFC 3398 8.2.6.1 (ISUP cause → SIP). */
static const struct q850_entry q850_table[] = {
	{1, 404, "unallocated number"},
	{2, 404, "no route to network"},
	{3, 404, "no route to destination"},
	{16, 0, "normal call clearing"},
	{17, 486, "user busy"},
	{18, 408, "no user responding"},
	{19, 480, "no answer from the user"},
	{20, 480, "subscriber absent"},
	{21, 403, "call rejected"},
	{22, 410, "number changed"},
	{23, 410, "redirection to new destination"},
	{26, 404, "non-selected user clearing"},
	{27, 502, "destination out of order"},
	{28, 484, "address incomplete"},
	{29, 501, "facility rejected"},
	{31, 480, "normal, unspecified"},
	{34, 503, "no circuit/channel available"},
	{38, 503, "network out of order"},
	{41, 503, "temporary failure"},
	{42, 503, "switching equipment congestion"},
	{47, 503, "resource unavailable, unspecified"},
	{55, 403, "incoming calls barred within CUG"},
	{57, 403, "bearer capability not authorized"},
	{58, 503, "bearer capability not presently available"},
	{63, 503, "service or option not available, unspecified"},
	{65, 488, "bearer capability not implemented"},
	{70, 488, "only restricted digital information bearer capability available"},
	{79, 501, "service or option not implemented, unspecified"},
	{87, 403, "user not member of CUG"},
	{88, 503, "incompatible destination"},
	{95, 500, "invalid message, unspecified"},
	{102, 504, "recovery on timer expiry"},
	{111, 500, "protocol error, unspecified"},
	{127, 500, "interworking, unspecified"},
};

struct sip_entry {
	int status;
	int cause;
};

/* RFC 3398 7.2.4.1 (SIP → ISUP cause). */
static const struct sip_entry sip_table[] = {
	{400, 41}, {401, 21}, {402, 21}, {403, 21}, {404, 1},   {405, 63},
	{406, 79}, {407, 21}, {408, 102}, {410, 22}, {413, 127}, {414, 127},
	{415, 79}, {416, 127}, {420, 127}, {421, 127}, {423, 127}, {480, 18},
	{481, 41}, {482, 25}, {483, 25}, {484, 28}, {485, 1},   {486, 17},
	{487, 127}, {488, 127}, {500, 41}, {501, 79}, {502, 38}, {503, 41},
	{504, 102}, {505, 127}, {513, 127}, {600, 17}, {603, 21}, {604, 1},
	{606, 127},
};

static const struct q850_entry *q850_find(int cause)
{
	for (size_t i = 0; i < sizeof(q850_table) / sizeof(q850_table[0]); i++)
		if (q850_table[i].cause == cause)
			return &q850_table[i];
	return NULL;
}

int mg_q850_to_sip(int cause, bool with_diagnostic)
{
	static const int class_unspecified[8] = {31, 31, 47, 63, 79, 95, 111, 127};
	const struct q850_entry *e;

	if (cause < 0 || cause > 127)
		return 0;
	if (cause == 22 && with_diagnostic)
		return 301;
	e = q850_find(cause);
	if (!e) {
		/* classes are 16 causes wide, 0-31 being one "normal" class */
		e = q850_find(class_unspecified[cause >> 4]);
	}
	return e ? e->sip : 500;
}

int mg_sip_to_q850(int status)
{
	if (status < 300)
		return 0;
	for (size_t i = 0; i < sizeof(sip_table) / sizeof(sip_table[0]); i++)
		if (sip_table[i].status == status)
			return sip_table[i].cause;
	return 127;
}

const char *mg_q850_name(int cause)
{
	const struct q850_entry *e = q850_find(cause);

	return e ? e->name : "unknown";
}
