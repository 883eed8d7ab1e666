/* test-util.h — small helpers the integration tests share. */
#pragma once

#include "gateway.h"

#include <gio/gio.h>

/* SIGTERM, then asserts that the daemon exited by itself with status 0. */
void        tbg_test_stop_daemon (GSubprocess *daemon);

/* Writes a config for a broker on @port with @groups appended to @conf_path,
 * loads it (groups named after @prefixes) and starts a gateway with
 * @sources in this process. NULL + @error if any step fails. */
TbgGateway *tbg_test_gateway_new (const char *conf_path, guint16 port, const char *groups,
                                  const char * const *prefixes, const TbgSource * const *sources,
                                  GError **error);
/* For tbg_test_wait_until(). */
gboolean    tbg_test_gateway_link_is_up (gpointer gateway);
