/* SPDX-License-Identifier: BSD-3-Clause */
#include "mg_tdm_cause.h"

#include <stddef.h>

/* No row in RFC 3398 8.2.6.1: the cause maps as its class's unspecified cause. */
#define SIP_BY_CLASS (-1)

struct q850_entry {
	int cause;
	int sip;          /* RFC 3398 8.2.6.1 (ISUP cause → SIP), or SIP_BY_CLASS */
	const char *name; /* ITU-T Q.850 Table 1, lower case */
};

/* Every cause ITU-T Q.850 (05/98, with Amendment 1) assigns, so any cause a
 * peer or libpri reports has its name in the logs. */
static const struct q850_entry q850_table[] = {
	{1, 404, "unallocated (unassigned) number"},
	{2, 404, "no route to specified transit network"},
	{3, 404, "no route to destination"},
	{4, SIP_BY_CLASS, "send special information tone"},
	{5, SIP_BY_CLASS, "misdialled trunk prefix"},
	{6, SIP_BY_CLASS, "channel unacceptable"},
	{7, SIP_BY_CLASS, "call awarded and being delivered in an established channel"},
	{8, SIP_BY_CLASS, "preemption"},
	{9, SIP_BY_CLASS, "preemption - circuit reserved for reuse"},
	{14, SIP_BY_CLASS, "QoR: ported number"},
	{16, 0, "normal call clearing"},
	{17, 486, "user busy"},
	{18, 408, "no user responding"},
	{19, 480, "no answer from user (user alerted)"},
	{20, 480, "subscriber absent"},
	{21, 403, "call rejected"},
	{22, 410, "number changed"},
	{23, 410, "redirection to new destination"},
	{24, SIP_BY_CLASS, "call rejected due to feature at the destination"},
	{25, SIP_BY_CLASS, "exchange routing error"},
	{26, 404, "non-selected user clearing"},
	{27, 502, "destination out of order"},
	{28, 484, "invalid number format (address incomplete)"},
	{29, 501, "facility rejected"},
	{30, SIP_BY_CLASS, "response to STATUS ENQUIRY"},
	{31, 480, "normal, unspecified"},
	{34, 503, "no circuit/channel available"},
	{38, 503, "network out of order"},
	{39, SIP_BY_CLASS, "permanent frame mode connection out of service"},
	{40, SIP_BY_CLASS, "permanent frame mode connection operational"},
	{41, 503, "temporary failure"},
	{42, 503, "switching equipment congestion"},
	{43, SIP_BY_CLASS, "access information discarded"},
	{44, SIP_BY_CLASS, "requested circuit/channel not available"},
	{46, SIP_BY_CLASS, "precedence call blocked"},
	{47, 503, "resource unavailable, unspecified"},
	{49, SIP_BY_CLASS, "quality of service not available"},
	{50, SIP_BY_CLASS, "requested facility not subscribed"},
	{53, SIP_BY_CLASS, "outgoing calls barred within CUG"},
	{55, 403, "incoming calls barred within CUG"},
	{57, 403, "bearer capability not authorized"},
	{58, 503, "bearer capability not presently available"},
	{62, SIP_BY_CLASS,
	 "inconsistency in designated outgoing access information and subscriber class"},
	{63, 503, "service or option not available, unspecified"},
	{65, 488, "bearer capability not implemented"},
	{66, SIP_BY_CLASS, "channel type not implemented"},
	{69, SIP_BY_CLASS, "requested facility not implemented"},
	{70, 488, "only restricted digital information bearer capability is available"},
	{79, 501, "service or option not implemented, unspecified"},
	{81, SIP_BY_CLASS, "invalid call reference value"},
	{82, SIP_BY_CLASS, "identified channel does not exist"},
	{83, SIP_BY_CLASS, "a suspended call exists, but this call identity does not"},
	{84, SIP_BY_CLASS, "call identity in use"},
	{85, SIP_BY_CLASS, "no call suspended"},
	{86, SIP_BY_CLASS, "call having the requested call identity has been cleared"},
	{87, 403, "user not member of CUG"},
	{88, 503, "incompatible destination"},
	{90, SIP_BY_CLASS, "non-existent CUG"},
	{91, SIP_BY_CLASS, "invalid transit network selection"},
	{95, 500, "invalid message, unspecified"},
	{96, SIP_BY_CLASS, "mandatory information element is missing"},
	{97, SIP_BY_CLASS, "message type non-existent or not implemented"},
	{98, SIP_BY_CLASS,
	 "message not compatible with call state or message type non-existent or not implemented"},
	{99, SIP_BY_CLASS, "information element/parameter non-existent or not implemented"},
	{100, SIP_BY_CLASS, "invalid information element contents"},
	{101, SIP_BY_CLASS, "message not compatible with call state"},
	{102, 504, "recovery on timer expiry"},
	{103, SIP_BY_CLASS, "parameter non-existent or not implemented - passed on"},
	{110, SIP_BY_CLASS, "message with unrecognized parameter discarded"},
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
	if (!e || e->sip == SIP_BY_CLASS) {
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
