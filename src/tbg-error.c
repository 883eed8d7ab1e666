/* SPDX-License-Identifier: Apache-2.0 */
/* tbg-error.c — see tbg-error.h. */
#include "tbg-error.h"

G_DEFINE_QUARK (tbg-error-quark, tbg_error)
