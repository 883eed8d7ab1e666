/* SPDX-License-Identifier: Apache-2.0 */
/* ratelimit.c — see ratelimit.h. */
#include "ratelimit.h"

void
tbg_rate_limit_init (TbgRateLimit *rl, guint burst, gint64 window_us)
{
	rl->burst = burst;
	rl->window_us = window_us;
	rl->window_start = G_MININT64 / 2;
	rl->count = 0;
	rl->suppressed = 0;
}

gboolean
tbg_rate_limit_allow (TbgRateLimit *rl, gint64 now_us, guint64 *suppressed_before)
{
	*suppressed_before = 0;
	if (now_us - rl->window_start > rl->window_us) {
		*suppressed_before = rl->suppressed;
		rl->window_start = now_us;
		rl->count = 0;
		rl->suppressed = 0;
	}
	if (++rl->count > rl->burst) {
		rl->suppressed++;
		return FALSE;
	}
	return TRUE;
}
