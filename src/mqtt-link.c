/* SPDX-License-Identifier: Apache-2.0 */
/* mqtt-link.c — see mqtt-link.h. */
#include "mqtt-link.h"
#include "echo-filter.h"
#include "i18n.h"

#include <errno.h>
#include <gio/gio.h>
#include <mosquitto.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <string.h>
#include <unistd.h>

#define BACKOFF_MIN_MS      1000
#define BACKOFF_MAX_MS      60000
#define CONNECT_TIMEOUT_MS  20000
/* A connection only counts as good (the backoff starts over) once it has
 * stayed up this long: a server that closes right after CONNACK must not
 * be hammered at the shortest interval forever. */
#define STABLE_MS           30000
/* Sessions closed by the server this soon in a row before the log says a
 * second client may be using the same client id. */
#define SHORT_LIVED_HINT    3

typedef enum {
	LINK_STOPPED,
	LINK_WAITING,      /* backoff timer before the next attempt */
	LINK_RESOLVING,    /* the host name is being looked up, off the main loop */
	LINK_CONNECTING,   /* TCP/TLS handshake, CONNECT sent */
	LINK_SUBSCRIBING,  /* CONNACK received, SUBACKs outstanding */
	LINK_UP,
} LinkState;

typedef struct {
	GSource      source;
	gpointer     tag;
	GIOCondition events;   /* what the poll asks for now */
	TbgMqttLink *link;
} SocketSource;

struct _TbgMqttLink {
	TbgServerConfig       server;
	char                **subscriptions;
	guint                 max_inflight;
	TbgMqttLinkCallbacks  cb;
	gpointer              user_data;
	char                 *description;

	struct mosquitto     *mosq;
	GCancellable         *resolving;     /* the look-up in flight, if any */
	SSL_CTX              *ssl_ctx;       /* TLS to a looked-up address: checks the name */
	LinkState             state;
	SocketSource         *watch;
	guint                 misc_id;
	guint                 retry_id;
	guint                 timeout_id;
	guint                 teardown_id;
	guint                 attempt;
	GHashTable           *pending_subs;  /* mid → index in subscriptions + 1 */
	TbgEchoFilter         echoes;

	guint                 stable_id;      /* STABLE_MS after CONNACK */
	gint64                connacked_us;   /* 0: no CONNACK on this instance */
	gboolean              peer_closed;    /* the pending teardown: the server closed */
	gboolean              dropped;        /* the pending teardown: tbg_mqtt_link_drop() */
	guint                 short_lived;    /* sessions in a row closed before STABLE_MS */
	gboolean              hinted;         /* the same-client-id hint was logged */
	guint                 server_closes;  /* sessions in a row the server closed */
	gboolean              closed_by_server;  /* and the last one was one of them */
	guint64               refused_logged; /* bit i: subscriptions[i] refused, said once */
	char                 *last_error;     /* libmosquitto's last error line (TLS reasons) */
};

static void schedule_retry (TbgMqttLink *link);
static void teardown_later (TbgMqttLink *link, const char *reason);
static void teardown_rc (TbgMqttLink *link, int rc);

static gboolean
socket_prepare (GSource *source, gint *timeout)
{
	SocketSource *s = (SocketSource *) source;
	GIOCondition events = G_IO_IN | G_IO_HUP | G_IO_ERR;

	if (s->link->mosq != NULL && mosquitto_want_write (s->link->mosq))
		events |= G_IO_OUT;
	/* Every modification wakes the main context up (an eventfd write and
	 * read, and one more poll): only when the interest changes. */
	if (events != s->events) {
		g_source_modify_unix_fd (source, s->tag, events);
		s->events = events;
	}
	*timeout = -1;
	return FALSE;
}

static gboolean
socket_dispatch (GSource *source, GSourceFunc callback, gpointer user_data)
{
	SocketSource *s = (SocketSource *) source;
	TbgMqttLink *link = s->link;
	GIOCondition revents = g_source_query_unix_fd (source, s->tag);
	int rc = MOSQ_ERR_SUCCESS;

	if (link->mosq == NULL)
		return G_SOURCE_CONTINUE;
	/* A non-blocking connect reports completion or failure as writable. */
	if (revents & (G_IO_OUT | G_IO_ERR))
		rc = mosquitto_loop_write (link->mosq, 1);
	if (rc == MOSQ_ERR_SUCCESS && link->mosq != NULL &&
	    (revents & (G_IO_IN | G_IO_HUP | G_IO_ERR)))
		rc = mosquitto_loop_read (link->mosq, 1);
	if (rc != MOSQ_ERR_SUCCESS && link->state != LINK_WAITING && link->state != LINK_STOPPED)
		teardown_rc (link, rc);
	return G_SOURCE_CONTINUE;
}

static GSourceFuncs socket_funcs = {
	.prepare = socket_prepare,
	.dispatch = socket_dispatch,
};

static void
remove_source (guint *id)
{
	if (*id != 0) {
		g_source_remove (*id);
		*id = 0;
	}
}

static void
drop_instance (TbgMqttLink *link)
{
	if (link->watch != NULL) {
		g_source_destroy (&link->watch->source);
		g_source_unref (&link->watch->source);
		link->watch = NULL;
	}
	remove_source (&link->misc_id);
	remove_source (&link->timeout_id);
	remove_source (&link->teardown_id);
	remove_source (&link->stable_id);
	link->dropped = FALSE;
	link->connacked_us = 0;
	g_clear_pointer (&link->last_error, g_free);
	g_hash_table_remove_all (link->pending_subs);
	if (link->resolving != NULL) {
		g_cancellable_cancel (link->resolving);
		g_clear_object (&link->resolving);
	}
	if (link->mosq != NULL) {
		mosquitto_destroy (link->mosq);
		link->mosq = NULL;
	}
	g_clear_pointer (&link->ssl_ctx, SSL_CTX_free);
}

static void
set_lost (TbgMqttLink *link, LinkState next)
{
	gboolean was_up = link->state == LINK_UP;

	link->state = next;
	if (was_up && link->cb.down != NULL)
		link->cb.down (link->user_data);
}

typedef struct {
	TbgMqttLink *link;
	char        *reason;
} Teardown;

/* What the end of a session says about the server: ThingsBoard closes the
 * connection on a payload it refuses, and a second client with the same
 * client id (or token) knocks this one off right after CONNACK. Neither a
 * failed connect nor a keepalive timeout says anything of the kind. */
static void
count_session_end (TbgMqttLink *link)
{
	gboolean short_lived = link->connacked_us != 0 &&
	                       g_get_monotonic_time () - link->connacked_us < STABLE_MS * 1000;

	link->closed_by_server = link->state == LINK_UP && link->peer_closed;
	if (link->closed_by_server)
		link->server_closes++;
	else
		link->server_closes = 0;
	if (!short_lived || !link->peer_closed) {
		link->short_lived = 0;
		return;
	}
	if (++link->short_lived >= SHORT_LIVED_HINT && !link->hinted) {
		link->hinted = TRUE;
		g_warning (_("%s closed the connection %u times in a row soon after accepting it; another "
		             "client may be using the same client id%s%s%s"),
		           link->description, link->short_lived,
		           link->server.client_id ? " (“" : "",
		           link->server.client_id ? link->server.client_id : " or access token",
		           link->server.client_id ? "”)" : "");
	}
}

static gboolean
teardown_cb (gpointer data)
{
	Teardown *t = data;
	TbgMqttLink *link = t->link;
	g_autofree char *reason = link->last_error != NULL
		? g_strdup_printf ("%s (%s)", t->reason, link->last_error) : g_strdup (t->reason);

	link->teardown_id = 0;
	/* Whoever dropped the connection has said why. */
	if (link->dropped)
		g_debug ("Closed the connection to %s: %s", link->description, reason);
	else if (link->state == LINK_UP)
		g_warning (_("Connection to %s lost: %s"), link->description, reason);
	else
		g_warning (_("Could not connect to %s: %s"), link->description, reason);
	count_session_end (link);
	link->peer_closed = FALSE;
	link->dropped = FALSE;
	drop_instance (link);
	set_lost (link, LINK_WAITING);
	schedule_retry (link);
	return G_SOURCE_REMOVE;
}

static void
teardown_free (gpointer data)
{
	Teardown *t = data;

	g_free (t->reason);
	g_free (t);
}

/* libmosquitto reports failures from inside its own calls; the instance
 * may only be destroyed once they have returned. */
static void
teardown_later (TbgMqttLink *link, const char *reason)
{
	Teardown *t;

	if (link->teardown_id != 0)
		return;
	t = g_new0 (Teardown, 1);
	t->link = link;
	t->reason = g_strdup (reason);
	link->teardown_id = g_idle_add_full (G_PRIORITY_HIGH, teardown_cb, t, teardown_free);
}

/* A libmosquitto failure; notes whether it means the server closed. */
static void
teardown_rc (TbgMqttLink *link, int rc)
{
	int err = errno;

	if (link->teardown_id != 0)
		return;
	link->peer_closed = rc == MOSQ_ERR_CONN_LOST ||
	                    (rc == MOSQ_ERR_ERRNO && (err == ECONNRESET || err == EPIPE));
	teardown_later (link, rc == MOSQ_ERR_ERRNO ? g_strerror (err) : mosquitto_strerror (rc));
}

static gboolean
stable_cb (gpointer data)
{
	TbgMqttLink *link = data;

	link->stable_id = 0;
	link->attempt = 0;
	link->short_lived = 0;
	return G_SOURCE_REMOVE;
}

static void
became_up (TbgMqttLink *link)
{
	link->state = LINK_UP;
	link->closed_by_server = FALSE;
	remove_source (&link->timeout_id);
	g_message (_("Connected to %s"), link->description);
	if (link->cb.up != NULL)
		link->cb.up (link->user_data);
}

static void
on_connect (struct mosquitto *mosq, void *obj, int rc)
{
	TbgMqttLink *link = obj;

	if (rc != 0) {
		g_autofree char *why = g_strdup_printf (_("server refused the connection: %s%s"),
		                                        mosquitto_connack_string (rc),
		                                        rc == 4 || rc == 5 ? _(" (check the access token)") : "");
		teardown_later (link, why);
		return;
	}
	link->state = LINK_SUBSCRIBING;
	link->connacked_us = g_get_monotonic_time ();
	remove_source (&link->stable_id);
	link->stable_id = g_timeout_add (STABLE_MS, stable_cb, link);
	/* ThingsBoard keeps no session: subscribe on every connect, and
	 * publish nothing before the subscriptions are acknowledged. */
	for (guint i = 0; link->subscriptions[i] != NULL; i++) {
		int mid = 0;

		rc = mosquitto_subscribe (mosq, &mid, link->subscriptions[i], 1);
		if (rc != MOSQ_ERR_SUCCESS) {
			teardown_later (link, mosquitto_strerror (rc));
			return;
		}
		g_hash_table_insert (link->pending_subs, GINT_TO_POINTER (mid), GUINT_TO_POINTER (i + 1));
	}
	if (g_hash_table_size (link->pending_subs) == 0)
		became_up (link);
}

static void
on_subscribe (struct mosquitto *mosq, void *obj, int mid, int qos_count, const int *granted)
{
	TbgMqttLink *link = obj;
	guint index = GPOINTER_TO_UINT (g_hash_table_lookup (link->pending_subs, GINT_TO_POINTER (mid)));

	/* ThingsBoard refuses a filter it does not serve and keeps the
	 * connection: so do we, with the other filters. */
	for (int i = 0; i < qos_count; i++) {
		if (granted[i] == 0x80 && index > 0 && index <= 64 &&
		    !(link->refused_logged & (G_GUINT64_CONSTANT (1) << (index - 1)))) {
			link->refused_logged |= G_GUINT64_CONSTANT (1) << (index - 1);
			g_warning (_("%s refused the subscription to %s; what comes on it will not be received"),
			           link->description, link->subscriptions[index - 1]);
		}
	}
	if (g_hash_table_remove (link->pending_subs, GINT_TO_POINTER (mid)) &&
	    g_hash_table_size (link->pending_subs) == 0 && link->state == LINK_SUBSCRIBING)
		became_up (link);
}

static void
on_disconnect (struct mosquitto *mosq, void *obj, int rc)
{
	TbgMqttLink *link = obj;

	if (link->state == LINK_STOPPED)
		return;
	teardown_rc (link, rc);
}

static void
on_publish (struct mosquitto *mosq, void *obj, int mid)
{
	TbgMqttLink *link = obj;

	if (link->cb.acked != NULL)
		link->cb.acked (mid, link->user_data);
}

static void
on_message (struct mosquitto *mosq, void *obj, const struct mosquitto_message *msg)
{
	TbgMqttLink *link = obj;

	if (tbg_echo_filter_is_echo (&link->echoes, msg->topic, msg->payload, (gsize) msg->payloadlen,
	                             g_get_monotonic_time ())) {
		g_debug ("Ignoring our own publish on %s echoed by the broker", msg->topic);
		return;
	}
	if (link->cb.message != NULL)
		link->cb.message (msg->topic, msg->payload, msg->payloadlen, link->user_data);
}

static void
on_log (struct mosquitto *mosq, void *obj, int level, const char *str)
{
	TbgMqttLink *link = obj;

	if (level & (MOSQ_LOG_ERR | MOSQ_LOG_WARNING))
		g_debug ("libmosquitto: %s", str);
	/* The TLS reason (such as a failed host name check) only comes this
	 * way: the teardown warning carries the first one. */
	if ((level & MOSQ_LOG_ERR) && link->last_error == NULL)
		link->last_error = g_strdup (str);
}

static gboolean
misc_cb (gpointer data)
{
	TbgMqttLink *link = data;
	int rc;

	if (link->mosq == NULL)
		return G_SOURCE_CONTINUE;
	rc = mosquitto_loop_misc (link->mosq);
	if (rc != MOSQ_ERR_SUCCESS && rc != MOSQ_ERR_NO_CONN)
		teardown_later (link, mosquitto_strerror (rc));
	return G_SOURCE_CONTINUE;
}

static gboolean
timeout_cb (gpointer data)
{
	TbgMqttLink *link = data;

	link->timeout_id = 0;
	teardown_later (link, _("timed out waiting for the server"));
	return G_SOURCE_REMOVE;
}

/* libmosquitto only says "invalid arguments" for a file it cannot read. */
static gboolean
check_readable (const char *what, const char *path, GError **error)
{
	if (path != NULL && access (path, R_OK) != 0) {
		int err = errno;

		g_set_error (error, G_IO_ERROR, g_io_error_from_errno (err), "%s %s: %s", what, path,
		             g_strerror (err));
		return FALSE;
	}
	return TRUE;
}

static struct mosquitto *
new_instance (TbgMqttLink *link, GError **error)
{
	const TbgServerConfig *s = &link->server;
	struct mosquitto *mosq;
	int rc = MOSQ_ERR_SUCCESS;

	if (s->tls && (!check_readable ("ca-file", s->ca_file, error) ||
	               !check_readable ("cert-file", s->cert_file, error) ||
	               !check_readable ("key-file", s->key_file, error)))
		return NULL;
	mosq = mosquitto_new (s->client_id, true, link);
	if (mosq == NULL) {
		g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errno),
		             _("cannot create MQTT client: %s"), g_strerror (errno));
		return NULL;
	}
	mosquitto_int_option (mosq, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V311);
	mosquitto_int_option (mosq, MOSQ_OPT_SEND_MAXIMUM, link->max_inflight);
	/* RPC answers are small and awaited by a person: no Nagle delay. Bulk
	 * data is packed by the uplink already. */
	mosquitto_int_option (mosq, MOSQ_OPT_TCP_NODELAY, 1);
	if (s->access_token != NULL)
		rc = mosquitto_username_pw_set (mosq, s->access_token, NULL);
	if (rc == MOSQ_ERR_SUCCESS && s->tls) {
		/* Without a CA file the system store verifies the server; there
		 * is no code path that connects without TLS once tls=true. */
		rc = mosquitto_tls_set (mosq, s->ca_file, s->ca_file ? NULL : "/etc/ssl/certs",
		                        s->cert_file, s->key_file, NULL);
		if (rc == MOSQ_ERR_SUCCESS)
			rc = mosquitto_tls_opts_set (mosq, 1, NULL, NULL);
	}
	if (rc != MOSQ_ERR_SUCCESS) {
		g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
		             _("cannot set up the MQTT client for %s: %s"), link->description,
		             rc == MOSQ_ERR_ERRNO ? g_strerror (errno) : mosquitto_strerror (rc));
		mosquitto_destroy (mosq);
		return NULL;
	}
	mosquitto_connect_callback_set (mosq, on_connect);
	mosquitto_disconnect_callback_set (mosq, on_disconnect);
	mosquitto_subscribe_callback_set (mosq, on_subscribe);
	mosquitto_publish_callback_set (mosq, on_publish);
	mosquitto_message_callback_set (mosq, on_message);
	mosquitto_log_callback_set (mosq, on_log);
	return mosq;
}

/* Called before the ClientHello is built, when libmosquitto has set up
 * its context (CA, client certificate, its verify callback). The SNI is
 * the configured name, not the address libmosquitto was given, and the
 * certificate is verified by OpenSSL alone: the chain against the CA
 * libmosquitto loaded, and the name against the host set on the context
 * (X509_VERIFY_PARAM_set1_host, inherited by every SSL made from it);
 * tls_verify_cb only passes OpenSSL's verdict on (a NULL callback would
 * not replace libmosquitto's).
 * libmosquitto's own callback is left out: it would compare the name with
 * the address, and (2.0.11) fails every handshake on a context it did not
 * create itself, since its SSL ex_data index is only allocated then. */
static int
tls_verify_cb (int preverify_ok, X509_STORE_CTX *ctx)
{
	return preverify_ok;
}

static void
tls_info_cb (const SSL *ssl, int where, int ret)
{
	SSL *s = (SSL *) ssl;

	if ((where & SSL_CB_HANDSHAKE_START) && !SSL_is_init_finished (ssl)) {
		SSL_set_tlsext_host_name (s, (const char *) SSL_CTX_get_app_data (SSL_get_SSL_CTX (ssl)));
		SSL_set_verify (s, SSL_VERIFY_PEER, tls_verify_cb);
	}
}

/* TLS to an address we looked up: see tls_info_cb. Should the callback
 * not run, libmosquitto's verify callback refuses the handshake (it finds
 * no client on an SSL of a foreign context): this fails closed. */
static gboolean
verify_name_not_address (TbgMqttLink *link, GError **error)
{
	X509_VERIFY_PARAM *param;
	int rc;

	link->ssl_ctx = SSL_CTX_new (TLS_client_method ());
	if (link->ssl_ctx == NULL)
		goto fail;
	param = SSL_CTX_get0_param (link->ssl_ctx);
	X509_VERIFY_PARAM_set_hostflags (param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
	if (X509_VERIFY_PARAM_set1_host (param, link->server.host, 0) != 1)
		goto fail;
	SSL_CTX_set_app_data (link->ssl_ctx, link->server.host);
	SSL_CTX_set_info_callback (link->ssl_ctx, tls_info_cb);
	/* libmosquitto applies its usual settings (CA, client certificate,
	 * protocol versions) to this context. */
	rc = mosquitto_void_option (link->mosq, MOSQ_OPT_SSL_CTX, link->ssl_ctx);
	if (rc == MOSQ_ERR_SUCCESS)
		rc = mosquitto_int_option (link->mosq, MOSQ_OPT_SSL_CTX_WITH_DEFAULTS, 1);
	if (rc == MOSQ_ERR_SUCCESS)
		return TRUE;
fail:
	g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
	             _("cannot set up TLS for %s"), link->description);
	return FALSE;
}

/* Connects to @address (numeric) on behalf of the configured host. */
static void
connect_to (TbgMqttLink *link, const char *address)
{
	g_autoptr (GError) error = NULL;
	int rc;

	link->mosq = new_instance (link, &error);
	if (link->mosq != NULL && link->server.tls &&
	    !g_str_equal (address, link->server.host) && !verify_name_not_address (link, &error))
		g_clear_pointer (&link->mosq, mosquitto_destroy);
	if (link->mosq == NULL) {
		g_warning ("%s", error->message);
		drop_instance (link);
		link->state = LINK_WAITING;
		schedule_retry (link);
		return;
	}
	g_debug ("Connecting to %s at %s (attempt %u)", link->description, address, link->attempt + 1);
	link->state = LINK_CONNECTING;
	rc = mosquitto_connect_async (link->mosq, address, link->server.port,
	                              link->server.keepalive_s);
	if (rc != MOSQ_ERR_SUCCESS) {
		teardown_later (link, rc == MOSQ_ERR_ERRNO ? g_strerror (errno) : mosquitto_strerror (rc));
		return;
	}
	link->watch = (SocketSource *) g_source_new (&socket_funcs, sizeof (SocketSource));
	link->watch->link = link;
	link->watch->events = G_IO_IN | G_IO_OUT;
	link->watch->tag = g_source_add_unix_fd (&link->watch->source, mosquitto_socket (link->mosq),
	                                         link->watch->events);
	g_source_set_name (&link->watch->source, "tbg-mqtt-socket");
	g_source_attach (&link->watch->source, NULL);
	link->misc_id = g_timeout_add_seconds (1, misc_cb, link);
	if (link->timeout_id == 0)
		link->timeout_id = g_timeout_add (CONNECT_TIMEOUT_MS, timeout_cb, link);
}

static void
resolved_cb (GObject *obj, GAsyncResult *res, gpointer data)
{
	g_autoptr (GError) error = NULL;
	GList *addresses = g_resolver_lookup_by_name_finish (G_RESOLVER (obj), res, &error);
	TbgMqttLink *link = data;
	g_autofree char *address = NULL;

	/* Cancelled: the link may be gone already. */
	if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
		return;
	g_clear_object (&link->resolving);
	if (addresses == NULL) {
		g_autofree char *why = g_strdup_printf (_("cannot resolve %s: %s"), link->server.host,
		                                        error->message);

		teardown_later (link, why);
		return;
	}
	/* Successive attempts walk through the addresses. */
	address = g_inet_address_to_string (g_list_nth_data (addresses,
	                                                     link->attempt % g_list_length (addresses)));
	g_resolver_free_addresses (addresses);
	connect_to (link, address);
}

/* The host name is looked up with GResolver (a thread of its own), never
 * by libmosquitto on the main loop: a dead DNS server must not stall the
 * devices. The connect timeout covers a look-up that never answers. */
static void
connect_now (TbgMqttLink *link)
{
	g_autoptr (GResolver) resolver = NULL;

	drop_instance (link);
	if (g_hostname_is_ip_address (link->server.host)) {
		connect_to (link, link->server.host);
		return;
	}
	link->state = LINK_RESOLVING;
	link->resolving = g_cancellable_new ();
	link->timeout_id = g_timeout_add (CONNECT_TIMEOUT_MS, timeout_cb, link);
	resolver = g_resolver_get_default ();
	g_resolver_lookup_by_name_async (resolver, link->server.host, link->resolving, resolved_cb, link);
}

static gboolean
retry_cb (gpointer data)
{
	TbgMqttLink *link = data;

	link->retry_id = 0;
	connect_now (link);
	return G_SOURCE_REMOVE;
}

static void
schedule_retry (TbgMqttLink *link)
{
	/* The first retry comes no sooner than BACKOFF_MIN_MS. */
	guint64 cap = 2 * BACKOFF_MIN_MS;
	guint delay;

	for (guint i = 0; i < link->attempt && cap < BACKOFF_MAX_MS; i++)
		cap *= 2;
	cap = MIN (cap, BACKOFF_MAX_MS);
	/* "Equal jitter": never sooner than half the cap, so a fleet of
	 * gateways that lost the server together does not return in step. */
	delay = cap / 2 + g_random_int_range (0, cap / 2 + 1);
	link->attempt++;
	g_message (_("Reconnecting to %s in %.1f s"), link->description, delay / 1000.0);
	remove_source (&link->retry_id);
	link->retry_id = g_timeout_add (delay, retry_cb, link);
}

static char *
describe (const TbgServerConfig *s)
{
	if (strchr (s->host, ':') != NULL)
		return g_strdup_printf ("mqtt%s://[%s]:%u", s->tls ? "s" : "", s->host, s->port);
	return g_strdup_printf ("mqtt%s://%s:%u", s->tls ? "s" : "", s->host, s->port);
}

static void
copy_server (TbgServerConfig *dst, const TbgServerConfig *src)
{
	*dst = *src;
	dst->host = g_strdup (src->host);
	dst->access_token = g_strdup (src->access_token);
	dst->client_id = g_strdup (src->client_id);
	dst->ca_file = g_strdup (src->ca_file);
	dst->cert_file = g_strdup (src->cert_file);
	dst->key_file = g_strdup (src->key_file);
}

static void
clear_server (TbgServerConfig *s)
{
	g_free (s->host);
	if (s->access_token != NULL)
		explicit_bzero (s->access_token, strlen (s->access_token));
	g_free (s->access_token);
	g_free (s->client_id);
	g_free (s->ca_file);
	g_free (s->cert_file);
	g_free (s->key_file);
}

TbgMqttLink *
tbg_mqtt_link_new (const TbgServerConfig *server, const char * const *subscriptions,
                   guint max_inflight, const TbgMqttLinkCallbacks *callbacks,
                   gpointer user_data, GError **error)
{
	static gsize lib_init = 0;
	TbgMqttLink *link;
	struct mosquitto *probe;

	if (g_once_init_enter (&lib_init)) {
		mosquitto_lib_init ();
		g_once_init_leave (&lib_init, 1);
	}
	link = g_new0 (TbgMqttLink, 1);
	copy_server (&link->server, server);
	link->subscriptions = g_strdupv ((char **) subscriptions);
	link->max_inflight = max_inflight;
	tbg_echo_filter_init (&link->echoes, 10 * G_USEC_PER_SEC);
	link->cb = *callbacks;
	link->user_data = user_data;
	link->description = describe (server);
	link->pending_subs = g_hash_table_new (NULL, NULL);
	/* Catch unreadable certificates and the like at start-up, not at
	 * the first reconnect. */
	probe = new_instance (link, error);
	if (probe == NULL) {
		tbg_mqtt_link_free (link);
		return NULL;
	}
	mosquitto_destroy (probe);
	return link;
}

void
tbg_mqtt_link_start (TbgMqttLink *link)
{
	g_return_if_fail (link->state == LINK_STOPPED);
	g_message (_("Connecting to %s as %s"), link->description,
	           g_strcmp0 (link->server.access_token, "provision") == 0 ? _("a device to provision")
	           : link->server.access_token ? _("its access token") : _("anonymous"));
	connect_now (link);
}

gboolean
tbg_mqtt_link_is_up (TbgMqttLink *link)
{
	/* A teardown pending means libmosquitto already saw the connection go. */
	return link->state == LINK_UP && link->teardown_id == 0;
}

gboolean
tbg_mqtt_link_publish (TbgMqttLink *link, const char *topic, const void *payload,
                       gsize len, int *mid, GError **error)
{
	int rc;

	if (!tbg_mqtt_link_is_up (link)) {
		g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_CONNECTED, _("not connected to %s"),
		             link->description);
		return FALSE;
	}
	rc = mosquitto_publish (link->mosq, mid, topic, (int) len, payload, 1, false);
	if (rc != MOSQ_ERR_SUCCESS) {
		const char *why = rc == MOSQ_ERR_ERRNO ? g_strerror (errno) : mosquitto_strerror (rc);

		g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, _("publish on %s failed: %s"),
		             topic, why);
		if (rc == MOSQ_ERR_NO_CONN || rc == MOSQ_ERR_CONN_LOST || rc == MOSQ_ERR_ERRNO)
			teardown_later (link, why);
		return FALSE;
	}
	if (g_strv_contains ((const char * const *) link->subscriptions, topic))
		tbg_echo_filter_sent (&link->echoes, topic, payload, len, g_get_monotonic_time ());
	return TRUE;
}

void
tbg_mqtt_link_reconnect (TbgMqttLink *link)
{
	g_message (_("Reconnecting to %s on request"), link->description);
	remove_source (&link->retry_id);
	drop_instance (link);
	set_lost (link, LINK_WAITING);
	link->attempt = 0;
	connect_now (link);
}

void
tbg_mqtt_link_drop (TbgMqttLink *link, const char *reason)
{
	if (link->state == LINK_STOPPED || link->state == LINK_WAITING || link->teardown_id != 0)
		return;
	link->dropped = TRUE;
	teardown_later (link, reason);
}

void
tbg_mqtt_link_stop (TbgMqttLink *link)
{
	remove_source (&link->retry_id);
	if (link->mosq != NULL && link->state == LINK_UP) {
		mosquitto_disconnect (link->mosq);
		/* Flush the DISCONNECT packet; the socket is non-blocking. */
		mosquitto_loop_write (link->mosq, 1);
	}
	drop_instance (link);
	set_lost (link, LINK_STOPPED);
}

guint
tbg_mqtt_link_server_closes (TbgMqttLink *link)
{
	return link->closed_by_server ? link->server_closes : 0;
}

const char *
tbg_mqtt_link_describe (TbgMqttLink *link)
{
	return link->description;
}

void
tbg_mqtt_link_free (TbgMqttLink *link)
{
	if (link == NULL)
		return;
	link->cb.down = NULL;
	tbg_mqtt_link_stop (link);
	g_hash_table_unref (link->pending_subs);
	g_strfreev (link->subscriptions);
	g_free (link->description);
	clear_server (&link->server);
	g_free (link);
}
