/* SPDX-License-Identifier: Apache-2.0 */
/* ratelimit.h — "at most N log lines per window, count the rest": a
 * chatty device or a broken server must not flood the journal. Pure: the
 * caller passes the monotonic time. */
#pragma once

#include <glib.h>

typedef struct {
	guint   burst;
	gint64  window_us;
	gint64  window_start;
	guint   count;
	guint64 suppressed;
} TbgRateLimit;

void     tbg_rate_limit_init (TbgRateLimit *rl, guint burst, gint64 window_us);
/* TRUE: log this one. When a window ends that suppressed lines,
 * *@suppressed_before gets their number (else 0) so it can be reported. */
gboolean tbg_rate_limit_allow (TbgRateLimit *rl, gint64 now_us, guint64 *suppressed_before);
