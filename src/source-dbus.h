/* SPDX-License-Identifier: Apache-2.0 */
/* source-dbus.h — the devices D-Bus clients create and the client objects
 * that answer their RPCs; what the D-Bus API (dbus-service.c) asks of them.
 */
#pragma once

#include <gio/gio.h>
#include "gateway.h"

extern const TbgSource tbg_source_dbus;

/* TRUE for a device made with CreateDevice. */
gboolean   tbg_dbus_clients_owns (TbgDevice *dev);
/* Adds a virtual device owned by @owner (the client's unique bus name) and
 * connects it. */
TbgDevice *tbg_dbus_clients_create (TbgGateway *gw, const char *name, const char *type,
                                    const char *owner, GError **error);
/* Disconnects and removes a device made with CreateDevice; drops its handler. */
void       tbg_dbus_clients_remove (TbgDevice *dev);
/* Client object @path of @sender on @bus answers @dev's RPCs from now on. */
gboolean   tbg_dbus_clients_register_handler (TbgDevice *dev, GDBusConnection *bus,
                                              const char *sender, const char *path,
                                              GError **error);
gboolean   tbg_dbus_clients_unregister_handler (TbgDevice *dev, const char *sender,
                                                const char *path, GError **error);
