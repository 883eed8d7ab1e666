/* SPDX-License-Identifier: Apache-2.0 */
/* rpc.c — see rpc.h. */
#include "rpc.h"

struct _TbgRpc {
	gint             refs;
	char            *device;
	gint64           id;
	char            *method;
	json_t          *params;
	gboolean         done;
	TbgRpcReplyFunc  reply_func;
	gpointer         user_data;
};

TbgRpc *
tbg_rpc_new (const char *device, gint64 id, const char *method, json_t *params,
             TbgRpcReplyFunc reply_func, gpointer user_data)
{
	TbgRpc *rpc = g_new0 (TbgRpc, 1);

	rpc->refs = 1;
	rpc->device = g_strdup (device);
	rpc->id = id;
	rpc->method = g_strdup (method);
	rpc->params = params ? json_incref (params) : NULL;
	rpc->reply_func = reply_func;
	rpc->user_data = user_data;
	return rpc;
}

TbgRpc *
tbg_rpc_ref (TbgRpc *rpc)
{
	g_atomic_int_inc (&rpc->refs);
	return rpc;
}

void
tbg_rpc_unref (TbgRpc *rpc)
{
	if (rpc == NULL || !g_atomic_int_dec_and_test (&rpc->refs))
		return;
	g_free (rpc->device);
	g_free (rpc->method);
	json_decref (rpc->params);
	g_free (rpc);
}

const char *
tbg_rpc_get_device (TbgRpc *rpc)
{
	return rpc->device;
}

gint64
tbg_rpc_get_id (TbgRpc *rpc)
{
	return rpc->id;
}

const char *
tbg_rpc_get_method (TbgRpc *rpc)
{
	return rpc->method;
}

json_t *
tbg_rpc_get_params (TbgRpc *rpc)
{
	return rpc->params;
}

gboolean
tbg_rpc_is_done (TbgRpc *rpc)
{
	return rpc->done;
}

void
tbg_rpc_cancel (TbgRpc *rpc)
{
	rpc->done = TRUE;
	rpc->reply_func = NULL;
}

gboolean
tbg_rpc_reply (TbgRpc *rpc, json_t *data)
{
	json_t *empty = NULL;

	if (rpc->done) {
		g_debug ("RPC %" G_GINT64_FORMAT " of “%s” already answered; reply dropped",
		         rpc->id, rpc->device ? rpc->device : "gateway");
		return FALSE;
	}
	rpc->done = TRUE;
	if (data == NULL)
		data = empty = json_object ();
	if (rpc->reply_func != NULL)
		rpc->reply_func (rpc, data, rpc->user_data);
	json_decref (empty);
	return TRUE;
}

gboolean
tbg_rpc_reply_error (TbgRpc *rpc, const char *format, ...)
{
	g_autofree char *msg = NULL;
	json_t *data;
	gboolean ok;
	va_list ap;

	va_start (ap, format);
	msg = g_strdup_vprintf (format, ap);
	va_end (ap);
	data = json_pack ("{s:s}", "error", msg);
	ok = tbg_rpc_reply (rpc, data);
	json_decref (data);
	return ok;
}
