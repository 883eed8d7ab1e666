/* test-util.c — see test-util.h. */
#include "test-util.h"

#include <signal.h>

void
tbg_test_stop_daemon (GSubprocess *daemon)
{
	if (g_subprocess_get_identifier (daemon) != NULL)
		g_subprocess_send_signal (daemon, SIGTERM);
	g_subprocess_wait (daemon, NULL, NULL);
	g_assert_true (g_subprocess_get_if_exited (daemon));
	g_assert_cmpint (g_subprocess_get_exit_status (daemon), ==, 0);
}

TbgGateway *
tbg_test_gateway_new (const char *conf_path, guint16 port, const char *groups,
                      const char * const *prefixes, const TbgSource * const *sources, GError **error)
{
	g_autofree char *text = g_strdup_printf ("[storage]\npath=memory\n[server]\nport=%u\n"
	                                         "[gateway]\nstats-interval-s=0\n%s", port, groups);
	TbgConfig *cfg;
	TbgGateway *gw;

	if (!g_file_set_contents (conf_path, text, -1, error))
		return NULL;
	cfg = tbg_config_load (conf_path, prefixes, error);
	if (cfg == NULL)
		return NULL;
	gw = tbg_gateway_new (cfg, sources, error);
	if (gw == NULL)
		return NULL;
	if (!tbg_gateway_start (gw, error)) {
		g_object_unref (gw);
		return NULL;
	}
	return gw;
}

gboolean
tbg_test_gateway_link_is_up (gpointer gateway)
{
	return tbg_gateway_get_link_up (gateway);
}
