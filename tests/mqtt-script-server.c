/* SPDX-License-Identifier: Apache-2.0 */
/* mqtt-script-server.c — see mqtt-script-server.h. */
#include "mqtt-script-server.h"

#include <gio/gio.h>
#include <string.h>

enum {
	MQTT_CONNECT = 1,
	MQTT_PUBLISH = 3,
	MQTT_SUBSCRIBE = 8,
	MQTT_PINGREQ = 12,
	MQTT_DISCONNECT = 14,
};

struct _TbgScriptServer {
	GSocketService    *service;
	guint16            port;
	GHashTable        *subacks;        /* filter → code */
	int                close_after_ms;
	char              *close_on;
	gboolean           withhold;
	GArray            *withheld;       /* guint16 packet ids not acknowledged yet */

	GSocketConnection *conn;           /* the current client */
	GSource           *read_source;
	GByteArray        *in;
	gboolean           connacked;
	guint              close_id;

	GArray            *connect_times;  /* gint64 */
	guint              closes;
	GQueue             messages;       /* TbgTestMessage, not yet taken */
	GPtrArray         *topics;         /* every PUBLISH topic seen */
};

static void
drop_client (TbgScriptServer *s)
{
	g_clear_handle_id (&s->close_id, g_source_remove);
	if (s->read_source != NULL) {
		g_source_destroy (s->read_source);
		g_clear_pointer (&s->read_source, g_source_unref);
	}
	if (s->conn != NULL) {
		g_io_stream_close (G_IO_STREAM (s->conn), NULL, NULL);
		g_clear_object (&s->conn);
	}
	g_byte_array_set_size (s->in, 0);
	g_array_set_size (s->withheld, 0);
	s->connacked = FALSE;
}

static void
send_bytes (TbgScriptServer *s, const guint8 *buf, gsize len)
{
	GSocket *sock;

	if (s->conn == NULL)
		return;
	sock = g_socket_connection_get_socket (s->conn);
	while (len > 0) {
		gssize n = g_socket_send_with_blocking (sock, (const char *) buf, len, TRUE, NULL, NULL);

		if (n <= 0)
			return;   /* the client went away; the read side notices */
		buf += n;
		len -= (gsize) n;
	}
}

/* A packet: fixed header byte, remaining length, body. */
static void
send_packet (TbgScriptServer *s, guint8 header, const guint8 *body, gsize len)
{
	g_autoptr (GByteArray) out = g_byte_array_new ();
	gsize rest = len;

	g_byte_array_append (out, &header, 1);
	do {
		guint8 b = rest % 128;

		rest /= 128;
		if (rest > 0)
			b |= 0x80;
		g_byte_array_append (out, &b, 1);
	} while (rest > 0);
	if (len > 0)
		g_byte_array_append (out, body, (guint) len);
	send_bytes (s, out->data, out->len);
}

static gboolean
close_cb (gpointer data)
{
	TbgScriptServer *s = data;

	s->close_id = 0;
	s->closes++;
	drop_client (s);
	return G_SOURCE_REMOVE;
}

static guint16
be16 (const guint8 *p)
{
	return (guint16) (p[0] << 8 | p[1]);
}

static void
handle_connect (TbgScriptServer *s)
{
	static const guint8 connack[] = { 0x00, 0x00 };
	gint64 now = g_get_monotonic_time ();

	g_array_append_val (s->connect_times, now);
	send_packet (s, 0x20, connack, sizeof connack);
	s->connacked = TRUE;
	if (s->close_after_ms >= 0)
		s->close_id = g_timeout_add (s->close_after_ms, close_cb, s);
}

/* Returns FALSE when the connection was closed by script. */
static gboolean
handle_publish (TbgScriptServer *s, guint8 flags, const guint8 *p, gsize len)
{
	guint qos = (flags >> 1) & 3;
	gsize tlen, off;
	guint16 id = 0;
	TbgTestMessage *m;

	if (len < 2 || (tlen = be16 (p)) + 2 > len)
		return FALSE;
	off = 2 + tlen;
	if (qos > 0) {
		if (off + 2 > len)
			return FALSE;
		id = be16 (p + off);
		off += 2;
	}
	m = g_new0 (TbgTestMessage, 1);
	m->topic = g_strndup ((const char *) p + 2, tlen);
	m->len = len - off;
	m->payload = g_strndup ((const char *) p + off, m->len);
	g_ptr_array_add (s->topics, g_strdup (m->topic));
	g_queue_push_tail (&s->messages, m);
	if (s->close_on != NULL && strstr (m->payload, s->close_on) != NULL) {
		s->closes++;
		drop_client (s);
		return FALSE;
	}
	if (qos == 1 && s->withhold) {
		g_array_append_val (s->withheld, id);
	} else if (qos == 1) {
		guint8 ack[] = { id >> 8, id & 0xff };

		send_packet (s, 0x40, ack, sizeof ack);
	}
	return TRUE;
}

static void
handle_subscribe (TbgScriptServer *s, const guint8 *p, gsize len)
{
	g_autoptr (GByteArray) ack = g_byte_array_new ();
	gsize off = 2;

	if (len < 2)
		return;
	g_byte_array_append (ack, p, 2);   /* packet id */
	while (off + 2 <= len) {
		gsize flen = be16 (p + off);
		g_autofree char *filter = NULL;
		gpointer code;
		guint8 c = 0x01;

		if (off + 2 + flen + 1 > len)
			break;
		filter = g_strndup ((const char *) p + off + 2, flen);
		if (g_hash_table_lookup_extended (s->subacks, filter, NULL, &code))
			c = (guint8) GPOINTER_TO_UINT (code);
		g_byte_array_append (ack, &c, 1);
		off += 2 + flen + 1;
	}
	send_packet (s, 0x90, ack->data, ack->len);
}

/* Handles every whole packet in the buffer. */
static void
parse_input (TbgScriptServer *s)
{
	while (s->conn != NULL && s->in->len >= 2) {
		gsize rem = 0, pos = 1;
		guint shift = 0;
		guint8 header = s->in->data[0];
		const guint8 *body;

		for (;;) {
			if (pos >= s->in->len)
				return;   /* length not complete yet */
			rem |= (gsize) (s->in->data[pos] & 0x7f) << shift;
			shift += 7;
			if ((s->in->data[pos++] & 0x80) == 0)
				break;
			if (shift > 21) {
				drop_client (s);
				return;
			}
		}
		if (s->in->len < pos + rem)
			return;
		body = s->in->data + pos;
		switch (header >> 4) {
		case MQTT_CONNECT:
			handle_connect (s);
			break;
		case MQTT_PUBLISH:
			if (!handle_publish (s, header & 0x0f, body, rem))
				return;   /* closed: the buffer is gone */
			break;
		case MQTT_SUBSCRIBE:
			handle_subscribe (s, body, rem);
			break;
		case MQTT_PINGREQ:
			send_packet (s, 0xd0, NULL, 0);
			break;
		case MQTT_DISCONNECT:
			drop_client (s);
			return;
		default:
			break;   /* PUBACK for our QoS 0 never comes; ignore the rest */
		}
		if (s->conn == NULL)
			return;
		g_byte_array_remove_range (s->in, 0, (guint) (pos + rem));
	}
}

static gboolean
readable_cb (GSocket *sock, GIOCondition cond, gpointer data)
{
	TbgScriptServer *s = data;
	guint8 buf[4096];
	gssize n = g_socket_receive_with_blocking (sock, (char *) buf, sizeof buf, FALSE, NULL, NULL);

	if (n <= 0) {
		if (n < 0 && !(cond & (G_IO_HUP | G_IO_ERR)))
			return G_SOURCE_CONTINUE;   /* would block */
		/* drop_client() destroys this source; keep it alive until we return */
		g_clear_pointer (&s->read_source, g_source_unref);
		drop_client (s);
		return G_SOURCE_REMOVE;
	}
	g_byte_array_append (s->in, buf, (guint) n);
	parse_input (s);
	return G_SOURCE_CONTINUE;
}

static gboolean
incoming_cb (GSocketService *service, GSocketConnection *conn, GObject *source, gpointer data)
{
	TbgScriptServer *s = data;
	GSocket *sock = g_socket_connection_get_socket (conn);

	drop_client (s);
	s->conn = g_object_ref (conn);
	s->read_source = g_socket_create_source (sock, G_IO_IN | G_IO_HUP | G_IO_ERR, NULL);
	g_source_set_callback (s->read_source, (GSourceFunc) (void (*) (void)) readable_cb, s, NULL);
	g_source_attach (s->read_source, NULL);
	return TRUE;
}

TbgScriptServer *
tbg_script_server_new (void)
{
	return tbg_script_server_new_on_port (0);
}

TbgScriptServer *
tbg_script_server_new_on_port (guint16 port)
{
	TbgScriptServer *s = g_new0 (TbgScriptServer, 1);
	g_autoptr (GInetAddress) lo = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
	g_autoptr (GSocketAddress) addr = g_inet_socket_address_new (lo, port);
	g_autoptr (GSocketAddress) bound = NULL;
	g_autoptr (GError) error = NULL;

	s->service = g_socket_service_new ();
	if (!g_socket_listener_add_address (G_SOCKET_LISTENER (s->service), addr, G_SOCKET_TYPE_STREAM,
	                                    G_SOCKET_PROTOCOL_TCP, NULL, &bound, &error))
		g_error ("script server: cannot listen on 127.0.0.1: %s", error->message);
	s->port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound));
	s->subacks = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
	s->close_after_ms = -1;
	s->in = g_byte_array_new ();
	s->withheld = g_array_new (FALSE, FALSE, sizeof (guint16));
	s->connect_times = g_array_new (FALSE, FALSE, sizeof (gint64));
	s->topics = g_ptr_array_new_with_free_func (g_free);
	g_queue_init (&s->messages);
	g_signal_connect (s->service, "incoming", G_CALLBACK (incoming_cb), s);
	g_socket_service_start (s->service);
	return s;
}

void
tbg_script_server_free (TbgScriptServer *s)
{
	if (s == NULL)
		return;
	drop_client (s);
	g_socket_service_stop (s->service);
	g_socket_listener_close (G_SOCKET_LISTENER (s->service));
	g_object_unref (s->service);
	g_hash_table_unref (s->subacks);
	g_free (s->close_on);
	g_byte_array_unref (s->in);
	g_array_unref (s->withheld);
	g_array_unref (s->connect_times);
	g_ptr_array_unref (s->topics);
	g_queue_clear_full (&s->messages, (GDestroyNotify) tbg_test_message_free);
	g_free (s);
}

guint16
tbg_script_server_port (TbgScriptServer *s)
{
	return s->port;
}

void
tbg_script_server_set_suback (TbgScriptServer *s, const char *filter, guint8 code)
{
	g_hash_table_insert (s->subacks, g_strdup (filter), GUINT_TO_POINTER (code));
}

void
tbg_script_server_set_close_after_connack (TbgScriptServer *s, int delay_ms)
{
	s->close_after_ms = delay_ms;
}

void
tbg_script_server_set_close_on (TbgScriptServer *s, const char *needle)
{
	g_free (s->close_on);
	s->close_on = g_strdup (needle);
}

void
tbg_script_server_set_withhold_pubacks (TbgScriptServer *s, gboolean withhold)
{
	s->withhold = withhold;
	for (guint i = 0; !withhold && i < s->withheld->len; i++) {
		guint16 id = g_array_index (s->withheld, guint16, i);
		guint8 ack[] = { id >> 8, id & 0xff };

		send_packet (s, 0x40, ack, sizeof ack);
	}
	if (!withhold)
		g_array_set_size (s->withheld, 0);
}

guint
tbg_script_server_connects (TbgScriptServer *s)
{
	return s->connect_times->len;
}

gint64
tbg_script_server_connect_time (TbgScriptServer *s, guint i)
{
	g_assert_cmpuint (i, <, s->connect_times->len);
	return g_array_index (s->connect_times, gint64, i);
}

guint
tbg_script_server_closes (TbgScriptServer *s)
{
	return s->closes;
}

gboolean
tbg_script_server_has_client (TbgScriptServer *s)
{
	return s->conn != NULL && s->connacked;
}

void
tbg_script_server_drop_client (TbgScriptServer *s)
{
	drop_client (s);
}

static TbgTestMessage *
take (TbgScriptServer *s, const char *topic)
{
	for (GList *l = s->messages.head; l != NULL; l = l->next) {
		TbgTestMessage *m = l->data;

		if (topic == NULL || g_str_equal (m->topic, topic)) {
			g_queue_delete_link (&s->messages, l);
			return m;
		}
	}
	return NULL;
}

TbgTestMessage *
tbg_script_server_wait (TbgScriptServer *s, const char *topic, guint timeout_ms)
{
	gint64 end = g_get_monotonic_time () + (gint64) timeout_ms * 1000;
	TbgTestMessage *m;

	while ((m = take (s, topic)) == NULL && g_get_monotonic_time () < end)
		tbg_test_run_main_loop_for (20);
	return m;
}

TbgTestMessage *
tbg_script_server_expect (TbgScriptServer *s, const char *topic, guint timeout_ms)
{
	TbgTestMessage *m = tbg_script_server_wait (s, topic, timeout_ms);

	if (m == NULL) {
		g_autoptr (GString) seen = g_string_new (NULL);

		for (GList *l = s->messages.head; l != NULL; l = l->next)
			g_string_append_printf (seen, "\n  %s %s", ((TbgTestMessage *) l->data)->topic,
			                        ((TbgTestMessage *) l->data)->payload);
		g_error ("script server: nothing on %s within %u ms; queued:%s", topic ? topic : "any topic",
		         timeout_ms, seen->len ? seen->str : " nothing");
	}
	return m;
}

guint
tbg_script_server_count (TbgScriptServer *s, const char *topic)
{
	guint n = 0;

	for (guint i = 0; i < s->topics->len; i++)
		n += topic == NULL || g_str_equal (g_ptr_array_index (s->topics, i), topic);
	return n;
}

gboolean
tbg_script_server_publish (TbgScriptServer *s, const char *topic, const char *payload)
{
	g_autoptr (GByteArray) body = g_byte_array_new ();
	gsize tlen = strlen (topic);
	guint8 len16[] = { tlen >> 8, tlen & 0xff };

	if (!tbg_script_server_has_client (s))
		return FALSE;
	g_byte_array_append (body, len16, 2);
	g_byte_array_append (body, (const guint8 *) topic, (guint) tlen);
	g_byte_array_append (body, (const guint8 *) payload, (guint) strlen (payload));
	send_packet (s, 0x30, body->data, body->len);
	return TRUE;
}
