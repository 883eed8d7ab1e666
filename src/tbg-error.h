/* SPDX-License-Identifier: Apache-2.0 */
/* tbg-error.h — the errors the device model and the gateway return to
 * sources and clients; dbus-service.c maps each to a D-Bus error name. */
#pragma once

#include <glib.h>

#define TBG_ERROR (tbg_error_quark ())
typedef enum {
	TBG_ERROR_FAILED,
	TBG_ERROR_INVALID_ARGS,
	TBG_ERROR_NOT_FOUND,
	TBG_ERROR_NOT_CONNECTED,
	TBG_ERROR_TIMEOUT,
	TBG_ERROR_PERMISSION_DENIED,
	TBG_ERROR_EXISTS,
} TbgError;
GQuark tbg_error_quark (void);
