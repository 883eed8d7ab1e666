/* SPDX-License-Identifier: Apache-2.0 */
/* Messages a person reads go through gettext; keep the include in one place. */
#pragma once
#include "build-config.h"
#include "tbg-paths.h"
#include <glib/gi18n.h>
