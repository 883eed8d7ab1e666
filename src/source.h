/* SPDX-License-Identifier: Apache-2.0 */
/* source.h — the table every device source implements.
 *
 * A source finds devices (BlueZ, udev ttys, GPIO lines, D-Bus clients),
 * registers them with the gateway and feeds their data through the device
 * API; the gateway routes downlink traffic for a device back to the source
 * that owns it. The core only knows this table (sources.c lists the ones
 * compiled in), never a source by name.
 */
#pragma once

#include <glib.h>
#include <jansson.h>

typedef struct _TbgGateway TbgGateway;
typedef struct _TbgDevice TbgDevice;
typedef struct _TbgRpc TbgRpc;
typedef struct _TbgConfig TbgConfig;

typedef struct _TbgSource TbgSource;
struct _TbgSource {
	/* "serial", "ble", "gpio", "dbus": also the Source property of its devices. */
	const char *name;
	/* Keys allowed in this source's "<name>:<device>" config groups, or
	 * NULL if it has no such groups. */
	const char * const *config_keys;
	/* Keys allowed in its own "[<name>]" group (settings of the source as
	 * a whole), or NULL if it has none. */
	const char * const *global_keys;

	/* Starts discovery; returns the source's instance state. A source that
	 * cannot work on this system (no BlueZ, no GPIO) logs why and returns
	 * an instance that does nothing; an error stops the daemon. */
	gpointer (*start) (TbgGateway *gw, const TbgConfig *cfg, GError **error);
	/* Removes its devices and frees the instance. */
	void     (*stop) (gpointer instance);
	/* Checks this source's groups of @cfg as start() and reconfigure()
	 * would (values, files, lines), changing nothing, so that a reload can
	 * refuse a bad file before anything stops. NULL: nothing to check
	 * beyond the config keys. */
	gboolean (*validate) (const TbgConfig *cfg, GError **error);
	/* Applies a validated @new_cfg to a running instance: a device whose
	 * "[<name>:DEVICE]" group is unchanged (tbg_config_group_equal) is
	 * left alone (no disconnect, no re-open, outputs keep their level), a
	 * changed one is re-created, a removed one removed, a new one added.
	 * A device that cannot work now (a busy line, a missing port) fails
	 * alone with a log line; the call cannot fail. NULL: the core stops
	 * and starts the source when any of its groups changed. */
	void     (*reconfigure) (gpointer instance, const TbgConfig *old_cfg,
	                         const TbgConfig *new_cfg);
	/* A server RPC for one of its devices: answer with tbg_rpc_reply*();
	 * the gateway answers with a timeout error if that takes too long. */
	void     (*rpc) (gpointer instance, TbgDevice *device, TbgRpc *rpc);
	/* Shared attributes of one of its devices changed on the server. */
	void     (*shared_attributes) (gpointer instance, TbgDevice *device,
	                               json_t *changed, const char * const *deleted);
};

/* NULL-terminated list of the sources compiled into tbgwd. */
extern const TbgSource * const tbg_sources[];
