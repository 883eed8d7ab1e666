/* SPDX-License-Identifier: Apache-2.0 */
/* echo-filter.c — see echo-filter.h. */
#include "echo-filter.h"

#include <string.h>

/* FNV-1a, 64 bit: the set holds at most 64 entries for seconds, so a
 * collision would need a server message byte-identical in hash to one of
 * ours within that window. */
static guint64
fnv1a (guint64 h, const void *data, gsize len)
{
	const guchar *p = data;

	for (gsize i = 0; i < len; i++) {
		h ^= p[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

static guint64
message_hash (const char *topic, const void *payload, gsize len)
{
	guint64 h = 0xcbf29ce484222325ULL;

	h = fnv1a (h, topic, strlen (topic) + 1);   /* the NUL separates topic and payload */
	return fnv1a (h, payload, len);
}

void
tbg_echo_filter_init (TbgEchoFilter *f, gint64 ttl_us)
{
	memset (f, 0, sizeof *f);
	f->ttl_us = ttl_us;
}

void
tbg_echo_filter_sent (TbgEchoFilter *f, const char *topic, const void *payload, gsize len,
                      gint64 now_us)
{
	/* Oldest first out: a busy link only forgets echoes that are long due. */
	f->slot[f->next].hash = message_hash (topic, payload, len);
	f->slot[f->next].expires_us = now_us + f->ttl_us;
	f->next = (f->next + 1) % TBG_ECHO_FILTER_SLOTS;
}

gboolean
tbg_echo_filter_is_echo (TbgEchoFilter *f, const char *topic, const void *payload, gsize len,
                         gint64 now_us)
{
	guint64 h = message_hash (topic, payload, len);

	for (guint i = 0; i < TBG_ECHO_FILTER_SLOTS; i++) {
		TbgEchoSlot *s = &f->slot[i];

		if (s->expires_us == 0)
			continue;
		if (s->expires_us < now_us) {
			s->expires_us = 0;
			continue;
		}
		if (s->hash == h) {
			s->expires_us = 0;
			return TRUE;
		}
	}
	return FALSE;
}
