/* SPDX-License-Identifier: Apache-2.0 */
/* rpc.h — one server-side RPC on its way to a device and back.
 *
 * The gateway creates it, hands it to the device's source, and answers the
 * server with an error carrying the same id if no reply comes in time. A
 * reply after that (or a second reply) is ignored, so a source never has to
 * know whether it was too late.
 */
#pragma once

#include <glib.h>
#include <jansson.h>

typedef struct _TbgRpc TbgRpc;

typedef void (*TbgRpcReplyFunc) (TbgRpc *rpc, json_t *data, gpointer user_data);

TbgRpc     *tbg_rpc_new (const char *device, gint64 id, const char *method, json_t *params,
                         TbgRpcReplyFunc reply_func, gpointer user_data);
TbgRpc     *tbg_rpc_ref (TbgRpc *rpc);
void        tbg_rpc_unref (TbgRpc *rpc);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (TbgRpc, tbg_rpc_unref)

const char *tbg_rpc_get_device (TbgRpc *rpc);
gint64      tbg_rpc_get_id (TbgRpc *rpc);
const char *tbg_rpc_get_method (TbgRpc *rpc);
/* Borrowed; may be NULL when the server sent no params. */
json_t     *tbg_rpc_get_params (TbgRpc *rpc);
gboolean    tbg_rpc_is_done (TbgRpc *rpc);
/* The gateway is going away: later replies are dropped without a word. */
void        tbg_rpc_cancel (TbgRpc *rpc);

/* Sends {"device":..,"id":..,"data":@data} (data borrowed; NULL → {}).
 * Returns FALSE (and sends nothing) if the RPC was already answered. */
gboolean    tbg_rpc_reply (TbgRpc *rpc, json_t *data);
/* Sends data {"error": message}. */
gboolean    tbg_rpc_reply_error (TbgRpc *rpc, const char *format, ...) G_GNUC_PRINTF (2, 3);
