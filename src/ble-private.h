/* SPDX-License-Identifier: Apache-2.0 */
/* ble-private.h — what the files of the BLE source share.
 *
 * The BLE source is one TbgSource (source-ble.c: the BlueZ object manager
 * and the table) split by job: ble-config.c maps [ble:NAME] groups,
 * ble-device.c follows each device's link (connect with backoff, the
 * ThingsBoard device), ble-gatt.c turns characteristic values into
 * telemetry, ble-scan.c scans and handles advertisements, ble-write.c
 * carries RPCs and shared attributes to characteristics. Nothing here is
 * used outside the source.
 */
#pragma once

#include "gateway.h"
#include "gatt-codec.h"
#include "i18n.h"

#include <gio/gio.h>
#include <string.h>

#define BLUEZ           "org.bluez"
#define IFACE_ADAPTER   "org.bluez.Adapter1"
#define IFACE_DEVICE    "org.bluez.Device1"
#define IFACE_CHAR      "org.bluez.GattCharacteristic1"
#define IFACE_MONITOR_MANAGER "org.bluez.AdvertisementMonitorManager1"
#define MONITOR_ROOT    "/org/tbgw/ble_monitor"
#define BTHOME_UUID     "0000fcd2-0000-1000-8000-00805f9b34fb"
#define CALL_TIMEOUT_MS 10000
#define BACKOFF_MAX_S   60

extern const TbgSource tbg_source_ble;

/* "char.UUID = key format [scale [offset]]", "rpc.METHOD = UUID format",
 * "attribute.NAME = UUID format" */
typedef struct {
	char          *uuid;    /* normalised */
	char          *key;     /* telemetry key, RPC method or attribute name */
	TbgGattFormat  format;
	double         scale, offset;
} Mapping;

typedef struct {
	char      *name;
	char      *address;   /* upper case */
	char      *type;
	gboolean   rssi;
	guint      read_interval_s;
	GPtrArray *chars, *rpcs, *attributes;   /* Mapping */
} DeviceConfig;

typedef struct _BleSource BleSource;

typedef struct {
	BleSource    *src;
	char         *path;
	DeviceConfig *conf;        /* NULL: not in the config */
	TbgDevice    *dev;
	guint         retry_id;
	guint         backoff_s;
	gboolean      connecting;
	guint         read_id;
	guint8        last_packet;
	gboolean      have_packet;
	gboolean      over_gatt;   /* connected by us, not only advertising */
	gboolean      armed;       /* notifications started since services resolved */
	gboolean      add_failed;  /* the gateway refused it (name taken): said once */
	GList        *reads;       /* ReadValue calls in flight (ble-gatt.c) */
	GCancellable *cancellable; /* its calls to BlueZ; cancelled when it goes */
	struct _BleAdvDevice *adv; /* decoders= state (ble-adv-source.c) */
} BleDevice;

struct _BleSource {
	TbgGateway         *gw;
	GDBusObjectManager *om;
	GCancellable       *cancellable;
	char               *adapter_pref;   /* "hci0" or an address; NULL: first powered */
	char               *scan;           /* "active", "passive", "off" */
	gboolean            bthome;
	gboolean            rssi;
	GPtrArray          *configs;        /* DeviceConfig */
	GHashTable         *devices;        /* object path → BleDevice */
	char               *scanning_on;    /* adapter path discovery was started on */
	GDBusObjectManagerServer *monitors; /* scan=passive: our advertisement monitors */
	gboolean            bluez_up;
	struct _BleAdv     *adv;            /* decoders=, advertisers= (ble-adv-source.c) */
	gboolean            session_bus;    /* BlueZ on the session bus (tests) */
	guint               om_retry_id;    /* watching BlueZ failed: the next try */
	gboolean            om_failed;      /* and that was said */
};

/* ---- BlueZ objects (source-ble.c) ---- */
GDBusProxy  *tbg_ble_proxy_at (BleSource *src, const char *path, const char *iface);
gboolean     tbg_ble_bool_prop (GDBusProxy *p, const char *name);
char        *tbg_ble_string_prop (GDBusProxy *p, const char *name);
const char **tbg_ble_flags_of (GDBusProxy *ch);
GList       *tbg_ble_device_characteristics (BleSource *src, const char *dev_path);
GDBusProxy  *tbg_ble_find_characteristic (BleSource *src, const char *dev_path, const char *uuid);

/* ---- configuration (ble-config.c) ---- */
DeviceConfig  *tbg_ble_device_config_load (const TbgConfig *cfg, const char *name, GError **error);
void           tbg_ble_device_config_free (DeviceConfig *c);
DeviceConfig  *tbg_ble_config_for_address (BleSource *src, const char *address);
const Mapping *tbg_ble_mapping_for (GPtrArray *maps, const char *uuid);
const Mapping *tbg_ble_mapping_named (GPtrArray *maps, const char *key);

/* ---- one device's link (ble-device.c) ---- */
/* Ours: configured, or paired (connected by us when also trusted). Every
 * other device is a stranger: only its advertisements are heard. */
gboolean   tbg_ble_is_ours (BleSource *src, GDBusProxy *dev);
void       tbg_ble_device_added (BleSource *src, GDBusProxy *dev);
void       tbg_ble_device_free (BleDevice *bd);
void       tbg_ble_update_device (BleDevice *bd);
/* Fetches the device's state from BlueZ again and acts on what the cache
 * missed: a change that came while the object manager was starting. */
void       tbg_ble_device_refresh (BleDevice *bd);
TbgDevice *tbg_ble_ensure_gateway_device (BleDevice *bd, GDBusProxy *dev);

/* ---- characteristics (ble-gatt.c) ---- */
void tbg_ble_arm_notifications (BleDevice *bd);
/* A characteristic that appeared after the device was armed (BlueZ may
 * resolve services before it has exported them all, as after a restart):
 * its notifications and its first read, as arming would have done. */
void tbg_ble_arm_characteristic (BleDevice *bd, GDBusProxy *c);
/* A characteristic's Value changed (a notification, or a read). */
void tbg_ble_value_changed (BleDevice *bd, const char *char_path, const char *uuid, GVariant *value);

/* ---- scanning and advertisements (ble-scan.c) ---- */
gboolean tbg_ble_adapter_chosen (BleSource *src, GDBusProxy *adapter);
/* Whether the BlueZ object at @path (a device or below) is the chosen adapter's. */
gboolean tbg_ble_adapter_owns (BleSource *src, const char *path);
void     tbg_ble_start_discovery (BleSource *src, GDBusProxy *adapter);
/* The one entry point for what a device advertises: called when it
 * appears and whenever its ServiceData changed. */
void     tbg_ble_advertisement (BleDevice *bd, GDBusProxy *dev);
void     tbg_ble_rssi (BleDevice *bd, GDBusProxy *dev);

/* ---- RPCs and shared attributes (ble-write.c) ---- */
void tbg_ble_rpc (gpointer instance, TbgDevice *dev, TbgRpc *rpc);
void tbg_ble_shared_attributes (gpointer instance, TbgDevice *dev, json_t *changed,
                                const char * const *deleted);
