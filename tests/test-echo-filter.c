/* SPDX-License-Identifier: Apache-2.0 */
/* The echo filter: our own publishes are recognised once, within their
 * lifetime, on the same topic only; anything else passes. */
#include "echo-filter.h"

#include <string.h>

#define T "v1/gateway/attributes"
#define P "{\"Thermo 1\":{\"fw\":\"1.0\"}}"

static void
test_echo_once (void)
{
	TbgEchoFilter f;

	tbg_echo_filter_init (&f, 1000);
	tbg_echo_filter_sent (&f, T, P, strlen (P), 0);
	g_assert_true (tbg_echo_filter_is_echo (&f, T, P, strlen (P), 10));
	/* Each publish matches once: a second identical message is the server's. */
	g_assert_false (tbg_echo_filter_is_echo (&f, T, P, strlen (P), 20));
}

static void
test_other_messages_pass (void)
{
	TbgEchoFilter f;
	const char *server = "{\"device\":\"Thermo 1\",\"data\":{\"fw\":\"1.0\"}}";

	tbg_echo_filter_init (&f, 1000);
	tbg_echo_filter_sent (&f, T, P, strlen (P), 0);
	g_assert_false (tbg_echo_filter_is_echo (&f, T, server, strlen (server), 10));
	g_assert_false (tbg_echo_filter_is_echo (&f, "v1/gateway/rpc", P, strlen (P), 10));
	/* a prefix of ours is not ours */
	g_assert_false (tbg_echo_filter_is_echo (&f, T, P, strlen (P) - 1, 10));
	g_assert_true (tbg_echo_filter_is_echo (&f, T, P, strlen (P), 10));
}

static void
test_expiry (void)
{
	TbgEchoFilter f;

	tbg_echo_filter_init (&f, 1000);
	tbg_echo_filter_sent (&f, T, P, strlen (P), 0);
	g_assert_false (tbg_echo_filter_is_echo (&f, T, P, strlen (P), 1001));
}

static void
test_ring_forgets_oldest (void)
{
	TbgEchoFilter f;
	char buf[32];

	tbg_echo_filter_init (&f, G_MAXINT32);
	for (int i = 0; i < TBG_ECHO_FILTER_SLOTS + 1; i++) {
		g_snprintf (buf, sizeof buf, "{\"n\":%d}", i);
		tbg_echo_filter_sent (&f, T, buf, strlen (buf), 0);
	}
	g_assert_false (tbg_echo_filter_is_echo (&f, T, "{\"n\":0}", 7, 1));
	g_assert_true (tbg_echo_filter_is_echo (&f, T, "{\"n\":1}", 7, 1));
	g_snprintf (buf, sizeof buf, "{\"n\":%d}", TBG_ECHO_FILTER_SLOTS);
	g_assert_true (tbg_echo_filter_is_echo (&f, T, buf, strlen (buf), 1));
}

int
main (int argc, char **argv)
{
	g_test_init (&argc, &argv, NULL);
	g_test_add_func ("/echo-filter/once", test_echo_once);
	g_test_add_func ("/echo-filter/other-messages-pass", test_other_messages_pass);
	g_test_add_func ("/echo-filter/expiry", test_expiry);
	g_test_add_func ("/echo-filter/ring-forgets-oldest", test_ring_forgets_oldest);
	return g_test_run ();
}
