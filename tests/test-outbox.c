/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests of the in-memory outbox: order, PUBACK-only removal, rewind, limits. */
#include "outbox.h"

#include <string.h>

static TbgRecord *
rec (const char *device, const char *payload)
{
	return tbg_record_new (TBG_RECORD_TELEMETRY, device, g_strdup (payload), strlen (payload));
}

static guint64
send_next (TbgOutbox *ob, const char *expect_payload)
{
	const TbgRecord *r = tbg_outbox_peek_unsent (ob);

	g_assert_nonnull (r);
	g_assert_cmpstr (r->payload, ==, expect_payload);
	tbg_outbox_mark_sent (ob, r->seq);
	return r->seq;
}

static void
test_order_and_ack (void)
{
	TbgOutbox *ob = tbg_memory_outbox_new (100);
	guint64 s1, s2, s3;

	g_assert_true (tbg_outbox_append (ob, rec ("A", "1"), NULL));
	g_assert_true (tbg_outbox_append (ob, rec ("A", "2"), NULL));
	g_assert_true (tbg_outbox_append (ob, rec ("B", "3"), NULL));
	g_assert_cmpuint (tbg_outbox_length (ob), ==, 3);
	s1 = send_next (ob, "1");
	s2 = send_next (ob, "2");
	s3 = send_next (ob, "3");
	g_assert_null (tbg_outbox_peek_unsent (ob));
	g_assert_cmpuint (s1, <, s2);
	g_assert_cmpuint (s2, <, s3);
	/* Out-of-order PUBACKs: nothing is lost or double-freed. */
	tbg_outbox_ack (ob, s2);
	/* The length counts what is not yet acknowledged, as the spool's. */
	g_assert_cmpuint (tbg_outbox_length (ob), ==, 2);
	tbg_outbox_ack (ob, s1);
	g_assert_cmpuint (tbg_outbox_length (ob), ==, 1);
	tbg_outbox_ack (ob, s3);
	g_assert_cmpuint (tbg_outbox_length (ob), ==, 0);
	tbg_outbox_ack (ob, 12345);  /* unknown: ignored */
	tbg_outbox_free (ob);
}

static void
test_rewind (void)
{
	TbgOutbox *ob = tbg_memory_outbox_new (100);
	guint64 s1, s2;

	tbg_outbox_append (ob, rec ("A", "1"), NULL);
	tbg_outbox_append (ob, rec ("A", "2"), NULL);
	tbg_outbox_append (ob, rec ("A", "3"), NULL);
	s1 = send_next (ob, "1");
	s2 = send_next (ob, "2");
	tbg_outbox_ack (ob, s2);  /* acked behind an unacked one */
	tbg_outbox_rewind (ob);
	/* 1 was never acknowledged: resent first; 2 was: not again; then 3. */
	g_assert_cmpuint (send_next (ob, "1"), ==, s1);
	send_next (ob, "3");
	g_assert_null (tbg_outbox_peek_unsent (ob));
	g_assert_cmpuint (tbg_outbox_length (ob), ==, 2);
	tbg_outbox_free (ob);
}

static void
test_limit_drops_oldest_unsent (void)
{
	TbgOutbox *ob = tbg_memory_outbox_new (3);

	tbg_outbox_append (ob, rec ("A", "1"), NULL);
	send_next (ob, "1");               /* in flight: kept */
	tbg_outbox_append (ob, rec ("A", "2"), NULL);
	tbg_outbox_append (ob, rec ("A", "3"), NULL);
	tbg_outbox_append (ob, rec ("A", "4"), NULL);  /* full: "2" goes */
	g_assert_cmpuint (ob->dropped, ==, 1);
	g_assert_cmpuint (tbg_outbox_length (ob), ==, 3);
	send_next (ob, "3");
	send_next (ob, "4");
	tbg_outbox_free (ob);
}

static void
test_kinds (void)
{
	g_assert_cmpstr (tbg_record_kind_topic (TBG_RECORD_CONNECT), ==, "v1/gateway/connect");
	g_assert_cmpstr (tbg_record_kind_topic (TBG_RECORD_CLAIM), ==, "v1/gateway/claim");
	g_assert_cmpstr (tbg_record_kind_topic (TBG_RECORD_OWN_TELEMETRY), ==, "v1/devices/me/telemetry");
	/* the number of a kind that is gone is no kind */
	g_assert_null (tbg_record_kind_topic ((TbgRecordKind) 6));
	g_assert_cmpstr (tbg_record_kind_to_string ((TbgRecordKind) 6), ==, "invalid");
	g_assert_cmpstr (tbg_record_kind_to_string (TBG_RECORD_ATTRIBUTE_REQUEST), ==,
	                 "attribute-request");
	g_assert_null (tbg_record_kind_topic (TBG_RECORD_N_KINDS));
}

int
main (int argc, char **argv)
{
	g_test_init (&argc, &argv, NULL);
	g_test_add_func ("/outbox/order-and-ack", test_order_and_ack);
	g_test_add_func ("/outbox/rewind", test_rewind);
	g_test_add_func ("/outbox/limit", test_limit_drops_oldest_unsent);
	g_test_add_func ("/outbox/kinds", test_kinds);
	return g_test_run ();
}
