/* SPDX-License-Identifier: Apache-2.0 */
/* outbox.c — records and their kinds. */
#include "outbox.h"
#include "topics.h"

TbgRecord *
tbg_record_new (TbgRecordKind kind, const char *device, char *payload, gsize len)
{
	TbgRecord *rec = g_slice_new0 (TbgRecord);

	rec->kind = kind;
	rec->device = g_strdup (device);
	rec->payload = payload;
	rec->len = len;
	return rec;
}

void
tbg_record_free (TbgRecord *rec)
{
	if (rec == NULL)
		return;
	g_free (rec->device);
	g_free (rec->payload);
	g_slice_free (TbgRecord, rec);
}

static const struct {
	const char *name;
	const char *topic;
} kinds[TBG_RECORD_N_KINDS] = {
	[TBG_RECORD_CONNECT] = { "connect", TBG_TOPIC_CONNECT },
	[TBG_RECORD_DISCONNECT] = { "disconnect", TBG_TOPIC_DISCONNECT },
	[TBG_RECORD_TELEMETRY] = { "telemetry", TBG_TOPIC_TELEMETRY },
	[TBG_RECORD_ATTRIBUTES] = { "attributes", TBG_TOPIC_ATTRIBUTES },
	[TBG_RECORD_CLAIM] = { "claim", TBG_TOPIC_CLAIM },
	[TBG_RECORD_ATTRIBUTE_REQUEST] = { "attribute-request", TBG_TOPIC_ATTRIBUTES_REQUEST },
	[TBG_RECORD_OWN_TELEMETRY] = { "own-telemetry", TBG_TOPIC_OWN_TELEMETRY },
	[TBG_RECORD_OWN_ATTRIBUTES] = { "own-attributes", TBG_TOPIC_OWN_ATTRIBUTES },
};

const char *
tbg_record_kind_to_string (TbgRecordKind kind)
{
	return kind < TBG_RECORD_N_KINDS && kinds[kind].name ? kinds[kind].name : "invalid";
}

const char *
tbg_record_kind_topic (TbgRecordKind kind)
{
	return kind < TBG_RECORD_N_KINDS ? kinds[kind].topic : NULL;   /* NULL in a gap */
}
