/* SPDX-License-Identifier: Apache-2.0 */
/* ble-adv.h — pure decoders of BLE sensor advertisements beyond plain
 * BTHome v2 (bthome.h): bytes of one service data or manufacturer data entry
 * in, typed values out. No D-Bus, no main loop; each one is fuzzed. The
 * formats, their keys and units are listed in doc/ble-advertisements.md. */
#pragma once

#include <glib.h>
#include <jansson.h>

#define TBG_ADV_ERROR (tbg_adv_error_quark ())
typedef enum {
	TBG_ADV_ERROR_INVALID,     /* not this format, or malformed */
	TBG_ADV_ERROR_NEEDS_KEY,   /* encrypted, and no bindkey is configured */
	TBG_ADV_ERROR_WRONG_KEY,   /* encrypted, and the bindkey does not authenticate it */
	TBG_ADV_ERROR_UNSUPPORTED, /* a documented variant we do not decode (e.g. MiBeacon v2/v3 encryption) */
} TbgAdvError;
GQuark tbg_adv_error_quark (void);

#define TBG_ADV_KEY_LEN 16

typedef struct {
	json_t   *values;        /* object: key → number or boolean, never empty on success */
	/* A packet id or frame counter: the same value is the same packet seen again. */
	gboolean  has_counter;
	guint32   counter;
	guint     counter_bits;  /* 8, 16 or 32: the width it wraps at */
	/* Authenticated by AES-CCM: the counter is trusted for replay checks. */
	gboolean  encrypted;
} TbgAdvPacket;

void tbg_adv_packet_clear (TbgAdvPacket *p);

/* @mac is the advertiser's address as printed: mac[0] is the first pair of
 * "A4:C1:38:…". @key is NULL or TBG_ADV_KEY_LEN bytes. */

/* BTHome v2 on 0xFCD2, plain or encrypted (AES-CCM, bthome.io/encryption). */
gboolean tbg_adv_bthome_decode (const guint8 mac[6], const guint8 *data, gsize len, const guint8 *key,
                                TbgAdvPacket *out, GError **error);
/* BTHome v1: 0x181C plain, 0x181E encrypted. */
gboolean tbg_adv_bthome_v1_decode (const guint8 mac[6], guint16 uuid, const guint8 *data, gsize len,
                                   const guint8 *key, TbgAdvPacket *out, GError **error);
/* ATC1441 and pvvx custom firmware on 0x181A, plain and encrypted. */
gboolean tbg_adv_atc_decode (const guint8 mac[6], const guint8 *data, gsize len, const guint8 *key,
                             TbgAdvPacket *out, GError **error);
/* Xiaomi MiBeacon on 0xFE95: plain, and encrypted v4/v5. */
gboolean tbg_adv_mibeacon_decode (const guint8 mac[6], const guint8 *data, gsize len, const guint8 *key,
                                  TbgAdvPacket *out, GError **error);
/* RuuviTag data format 5 (RAWv2), manufacturer 0x0499. */
gboolean tbg_adv_ruuvi_decode (const guint8 *data, gsize len, TbgAdvPacket *out, GError **error);
/* Govee thermo-hygrometers, manufacturer 0xEC88 (H5072/H5074/H5075) or 0x0001 (H5101/H5102/H5177). */
gboolean tbg_adv_govee_decode (guint16 company, const guint8 *data, gsize len, TbgAdvPacket *out,
                               GError **error);
/* SwitchBot Meter / Meter Plus, service data 0x0D00 or 0xFD3D. */
gboolean tbg_adv_switchbot_decode (const guint8 *data, gsize len, TbgAdvPacket *out, GError **error);
/* Qingping sensors, service data 0xFDCD (plain). */
gboolean tbg_adv_qingping_decode (const guint8 *data, gsize len, TbgAdvPacket *out, GError **error);
/* Inkbird IBS-TH1/TH2: its "company id" is the temperature; only with the
 * local name the sensor advertises ("sps" or "tps"). */
gboolean tbg_adv_inkbird_decode (const char *name, guint16 company, const guint8 *data, gsize len,
                                 TbgAdvPacket *out, GError **error);
/* Apple iBeacon (manufacturer 0x004C, type 0x02) and Eddystone (0xFEAA:
 * UID, URL, TLM): presence, plus battery and temperature from TLM. */
gboolean tbg_adv_ibeacon_decode (const guint8 *data, gsize len, TbgAdvPacket *out, GError **error);
gboolean tbg_adv_eddystone_decode (const guint8 *data, gsize len, TbgAdvPacket *out, GError **error);

/* AES-128-CCM through libcrypto. FALSE when the tag does not authenticate. */
gboolean tbg_adv_ccm_decrypt (const guint8 key[TBG_ADV_KEY_LEN], const guint8 *nonce, gsize nonce_len,
                              const guint8 *aad, gsize aad_len, const guint8 *ct, gsize ct_len,
                              const guint8 *tag, gsize tag_len, guint8 *out);
/* The inverse, for tests and the bench: @tag receives @tag_len bytes. */
gboolean tbg_adv_ccm_encrypt (const guint8 key[TBG_ADV_KEY_LEN], const guint8 *nonce, gsize nonce_len,
                              const guint8 *aad, gsize aad_len, const guint8 *pt, gsize pt_len,
                              guint8 *out, guint8 *tag, gsize tag_len);

/* Shared by the decoders: values scaled as sent (raw / 10^decimals). */
json_t  *tbg_adv_number (gint64 raw, gint decimals);
void     tbg_adv_set (TbgAdvPacket *p, const char *key, json_t *value);
gboolean tbg_adv_fail_empty (TbgAdvPacket *p, const char *format, GError **error);
