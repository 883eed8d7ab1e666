/* SPDX-License-Identifier: Apache-2.0 */
/* fake-bluez.h — a small bluetoothd stand-in on a test bus: the org.bluez
 * objects tbgwd uses (tests/fake-bluez.xml), driven by the test. There is
 * no radio on the machines the tests run on. */
#pragma once

#include <gio/gio.h>

typedef struct _FakeBluez FakeBluez;

/* Owns org.bluez on @address with adapter /org/bluez/hci0 (powered). */
FakeBluez  *fake_bluez_new (const char *address);
void        fake_bluez_free (FakeBluez *fb);
/* bluetoothd stops (objects and name go) and comes back with the same devices. */
void        fake_bluez_stop (FakeBluez *fb);
void        fake_bluez_restart (FakeBluez *fb);

/* Adds a device; returns its object path (owned by the fake). */
const char *fake_bluez_add_device (FakeBluez *fb, const char *address, const char *alias,
                                   gboolean paired_and_trusted);
/* The same on another adapter ("hci1", made with fake_bluez_add_adapter()). */
const char *fake_bluez_add_device_on (FakeBluez *fb, const char *adapter, const char *address,
                                      const char *alias, gboolean paired_and_trusted);
void        fake_bluez_add_adapter (FakeBluez *fb, const char *name, const char *address);
/* Another client of bluetoothd (bluetoothctl connect) brings the link up. */
void        fake_bluez_connect_other (FakeBluez *fb, const char *device_address);
/* From now on the device's Connected/ServicesResolved changes to true go
 * out as no signal (bluetoothd's "is already connected" path); the
 * properties themselves are right when asked. */
void        fake_bluez_lose_link_up_signals (FakeBluez *fb, const char *device_address);
/* While stalled, GetManagedObjects calls get no answer; how many came. */
void        fake_bluez_stall_object_manager (FakeBluez *fb, gboolean stalled);
guint       fake_bluez_stalled_calls (FakeBluez *fb);
/* The next GetManagedObjects call is held (counted with the stalled ones)
 * and answered on release with the objects as they were at the hold,
 * after the changes made meanwhile went out: a reply older than them. */
void        fake_bluez_hold_object_manager (FakeBluez *fb);
void        fake_bluez_release_object_manager (FakeBluez *fb);
/* A characteristic the device shows once connected (flags "read,notify", "write"). */
void        fake_bluez_add_characteristic (FakeBluez *fb, const char *device_address,
                                           const char *uuid, const char *flags,
                                           const guint8 *value, gsize len);
void        fake_bluez_set_value (FakeBluez *fb, const char *device_address, const char *uuid,
                                  const guint8 *value, gsize len);
void        fake_bluez_set_service_data (FakeBluez *fb, const char *device_address,
                                         const char *uuid, const guint8 *data, gsize len);
/* The link drops (as when the sensor goes out of range). */
void        fake_bluez_drop_link (FakeBluez *fb, const char *device_address);

guint       fake_bluez_connects (FakeBluez *fb, const char *device_address);
gboolean    fake_bluez_is_connected (FakeBluez *fb, const char *device_address);
guint       fake_bluez_reads (FakeBluez *fb, const char *device_address, const char *uuid);
guint       fake_bluez_start_notifies (FakeBluez *fb, const char *device_address, const char *uuid);
/* The last value written to a characteristic (NULL if none), and the
 * WriteValue "type" option it came with ("request" if none). */
GBytes     *fake_bluez_written (FakeBluez *fb, const char *device_address, const char *uuid);
const char *fake_bluez_write_type (FakeBluez *fb, const char *device_address, const char *uuid);
/* Without AdvertisementMonitorManager1, as bluetoothd without --experimental.
 * Call before the client looks. */
void        fake_bluez_remove_monitor_manager (FakeBluez *fb);
/* The registered advertisement monitors, as "TYPE POS,ADTYPE,HEX;…" lines,
 * read from the client's objects as bluetoothd does; NULL if none. */
const char *fake_bluez_monitors (FakeBluez *fb);
/* For tbg_test_wait_until() with a FakeBluez: some monitor is registered. */
gboolean    fake_bluez_has_monitors (gpointer fb);
/* How many DeviceFound calls the client's monitors answered (not with an
 * error). A monitor hears an advertisement its patterns match; with
 * monitors and no discovery, fake_bluez_advertise() drops one that none
 * matches, as bluetoothd scanning passively never hears it. A monitor with
 * more than 7 patterns makes RegisterMonitor fail, as bluetoothd 5.66 dies. */
guint       fake_bluez_devices_found (FakeBluez *fb);
gboolean    fake_bluez_discovering (FakeBluez *fb);
guint       fake_bluez_discovery_starts (FakeBluez *fb);
/* Powering the adapter off ends discovery, as in bluetoothd. */
void        fake_bluez_set_powered (FakeBluez *fb, gboolean powered);
/* Connect brings the link up but leaves the services unresolved (no GATT
 * objects) until fake_bluez_resolve_services(). */
void        fake_bluez_hold_services (FakeBluez *fb, const char *device_address);
void        fake_bluez_resolve_services (FakeBluez *fb, const char *device_address);
/* Connect says the services are resolved before their objects are
 * exported (by fake_bluez_export_characteristics()), as bluetoothd was
 * seen to do right after a restart. */
void        fake_bluez_resolve_before_export (FakeBluez *fb, const char *device_address);
void        fake_bluez_export_characteristics (FakeBluez *fb, const char *device_address);
/* Connect fails with org.bluez.Error.Failed this many times before it works. */
void        fake_bluez_fail_connects (FakeBluez *fb, const char *device_address, guint n);
/* An advertisement as bluetoothd reports it: the device's whole ServiceData
 * (a{sv}) and ManufacturerData (a{qv}) maps, each NULL to leave it as it is
 * (floating references are sunk), and its RSSI; one PropertiesChanged. */
void        fake_bluez_advertise (FakeBluez *fb, const char *device_address, GVariant *service_data,
                                  GVariant *manufacturer_data, gint16 rssi);
