/* SPDX-License-Identifier: Apache-2.0 */
/* Unit test of the log rate limiter, with a made-up clock. */
#include "ratelimit.h"

static void
test_burst_then_window (void)
{
	TbgRateLimit rl;
	guint64 before = 99;
	guint allowed = 0;

	tbg_rate_limit_init (&rl, 3, 1000);
	for (int i = 0; i < 10; i++) {
		allowed += tbg_rate_limit_allow (&rl, 100 + i, &before);
		g_assert_cmpuint (before, ==, 0);
	}
	g_assert_cmpuint (allowed, ==, 3);
	/* A new window: the 7 suppressed ones are reported once. */
	g_assert_true (tbg_rate_limit_allow (&rl, 2000, &before));
	g_assert_cmpuint (before, ==, 7);
	g_assert_true (tbg_rate_limit_allow (&rl, 2001, &before));
	g_assert_cmpuint (before, ==, 0);
}

static void
test_first_call_allowed (void)
{
	TbgRateLimit rl;
	guint64 before;

	tbg_rate_limit_init (&rl, 1, G_USEC_PER_SEC);
	g_assert_true (tbg_rate_limit_allow (&rl, 0, &before));
	g_assert_false (tbg_rate_limit_allow (&rl, 1, &before));
}

int
main (int argc, char **argv)
{
	g_test_init (&argc, &argv, NULL);
	g_test_add_func ("/ratelimit/burst-then-window", test_burst_then_window);
	g_test_add_func ("/ratelimit/first-call", test_first_call_allowed);
	return g_test_run ();
}
