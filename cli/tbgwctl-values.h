/* SPDX-License-Identifier: Apache-2.0 */
/* tbgwctl-values.h — KEY=VALUE words of the command line → JSON. Pure, so
 * it is fuzzed alone (tests/fuzz/fuzz-ctl-values.c). */
#pragma once

#include <glib.h>
#include <jansson.h>

/* Adds @arg ("KEY=VALUE") to the object @values. VALUE is JSON when it
 * parses as JSON and a string otherwise; a number JSON cannot carry here
 * (beyond int64 or a double) is refused rather than sent as a string. */
gboolean tbg_ctl_add_pair (json_t *values, const char *arg, GError **error);
