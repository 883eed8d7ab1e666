/* SPDX-License-Identifier: Apache-2.0 */
/* ble-adv-source.h — the BLE source's side of the advertisement decoders
 * (ble-advert.h): [ble] decoders= and advertisers=, [ble:NAME] bindkey=,
 * bindkey-file=, absent-after-s= and connect=, and what one device's
 * ServiceData / ManufacturerData / RSSI changes become. */
#pragma once

#include "ble-private.h"

typedef struct _BleAdv BleAdv;
typedef struct _BleAdvDevice BleAdvDevice;

/* Reads the keys into src->adv; an error names file:line. */
gboolean  tbg_ble_adv_start (BleSource *src, const TbgConfig *cfg, GError **error);
void      tbg_ble_adv_stop (BleSource *src);
/* Some format beyond plain BTHome is to be decoded: scan for it. */
gboolean  tbg_ble_adv_wanted (BleSource *src);
/* FALSE for a configured sensor that is only heard (connect=, by default
 * when decoders= is set and its group maps no characteristic). */
gboolean  tbg_ble_adv_connects (BleSource *src, const char *address);
/* Decodes what the device advertises now; TRUE when BTHome is decoded here
 * (decoders= names it), so that the plain BTHome path leaves it alone. */
gboolean  tbg_ble_adv_advertisement (BleDevice *bd, GDBusProxy *dev);
/* An RSSI change: the device is still there (beacons stay present). */
void      tbg_ble_adv_seen (BleDevice *bd, GDBusProxy *dev);
void      tbg_ble_adv_device_free (BleDevice *bd);
/* The or_patterns of a passive scan (ble-scan.c spreads them over
 * monitors): BTHome when @bthome, and every enabled format's service UUID
 * or company id. */
GVariant *tbg_ble_adv_monitor_patterns (BleSource *src, gboolean bthome);
