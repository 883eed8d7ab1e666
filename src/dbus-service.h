/* SPDX-License-Identifier: Apache-2.0 */
/* dbus-service.h — tbgwd's D-Bus API (dbus/org.tbgw.Gateway1.xml): the
 * manager object and one object per device of any source.
 *
 * The daemon owns the bus name once for its whole life and hands the
 * connection to this service (as ModemManager's main.c hands it to its
 * manager); sources never see the bus name, so a reload cannot release it.
 */
#pragma once

#include <gio/gio.h>
#include "gateway.h"

#define TBG_DBUS_NAME          "org.tbgw.Gateway1"
#define TBG_DBUS_MANAGER_PATH  "/org/tbgw/Gateway1"

typedef struct _TbgDbusService TbgDbusService;

/* Reads the config file again and applies it (Manager.Reload). */
typedef gboolean (*TbgDbusReloadFunc) (gpointer user_data, GError **error);

/* Exports the API on @bus for @gw (referenced); NULL + @error if the
 * manager object cannot be exported. */
TbgDbusService *tbg_dbus_service_new (GDBusConnection *bus, TbgGateway *gw,
                                      TbgDbusReloadFunc reload, gpointer reload_data,
                                      GError **error);
/* Unexports everything. */
void            tbg_dbus_service_free (TbgDbusService *svc);
