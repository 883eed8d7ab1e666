/* SPDX-License-Identifier: Apache-2.0 */
/* bthome.h — BTHome v2 advertisement decoding (service data of UUID 0xFCD2,
 * unencrypted), per the spec at bthome.io. Pure: bytes in, JSON values out. */
#pragma once

#include <glib.h>
#include <jansson.h>

#define TBG_BTHOME_ERROR (tbg_bthome_error_quark ())
typedef enum {
	TBG_BTHOME_ERROR_TRUNCATED,     /* an object runs past the end */
	TBG_BTHOME_ERROR_ENCRYPTED,     /* needs a key we do not have */
	TBG_BTHOME_ERROR_VERSION,       /* not BTHome v2 */
	TBG_BTHOME_ERROR_UNKNOWN_OBJECT,/* an object id we cannot size, before any value */
	TBG_BTHOME_ERROR_EMPTY,
} TbgBthomeError;
GQuark tbg_bthome_error_quark (void);

typedef struct {
	json_t   *values;        /* object: key → number or boolean */
	gboolean  has_packet_id;
	guint8    packet_id;
	gboolean  trigger_based;
	guint     unknown_object_id;   /* decoding stopped here; 0 if not */
} TbgBthomePacket;

/* Decodes one service data payload (without the UUID). On success @out holds
 * at least one value or a packet id; clear it with tbg_bthome_packet_clear(). */
gboolean tbg_bthome_decode (const guint8 *data, gsize len, TbgBthomePacket *out, GError **error);
void     tbg_bthome_packet_clear (TbgBthomePacket *p);
/* BTHome devices repeat each packet several times: TRUE if @p has the packet
 * id seen last (kept in @last/@have_last, updated otherwise). */
gboolean tbg_bthome_is_duplicate (guint8 *last, gboolean *have_last, const TbgBthomePacket *p);
