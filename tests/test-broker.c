/* SPDX-License-Identifier: Apache-2.0 */
/* test-broker.c — see test-broker.h. */
#include "test-broker.h"

#include <arpa/inet.h>
#include <errno.h>
#include <glib/gstdio.h>
#include <netinet/in.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

struct _TbgTestBroker {
	char    *dir;
	char    *conf;
	char    *log;
	guint16  port;
	GPid     pid;
};

static const char *
mosquitto_path (void)
{
	static const char * const candidates[] = { "/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto", NULL };
	const char *env = g_getenv ("MOSQUITTO");

	if (env != NULL && *env != '\0')
		return env;
	for (guint i = 0; candidates[i] != NULL; i++) {
		if (g_file_test (candidates[i], G_FILE_TEST_IS_EXECUTABLE))
			return candidates[i];
	}
	return "mosquitto";
}

/* A port no other test is likely to pick at the same moment. Asking the
 * kernel for port 0 and closing it hands the same number to every test
 * that asks at about the same time (make check -j runs several), so the
 * port is drawn at random below the ephemeral range (where outgoing
 * connections never take it) and checked to be free now. */
guint16
tbg_test_free_port (void)
{
	/* Not g_random_*(): GTest seeds it from the clock, the same in tests
	 * started together. g_rand_new() reads /dev/urandom. */
	static GRand *rand;

	if (rand == NULL)
		rand = g_rand_new ();
	for (int attempt = 0; attempt < 100; attempt++) {
		struct sockaddr_in sa = { .sin_family = AF_INET };
		int fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		guint16 port = (guint16) g_rand_int_range (rand, 20000, 32768);
		gboolean ok;

		g_assert_cmpint (fd, >=, 0);
		sa.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
		sa.sin_port = htons (port);
		ok = bind (fd, (struct sockaddr *) &sa, sizeof sa) == 0;
		close (fd);
		if (ok)
			return port;
	}
	g_error ("no free TCP port on 127.0.0.1 in 20000-32767");
	return 0;
}

static gboolean
port_accepts (guint16 port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons (port) };
	int fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	gboolean ok;

	sa.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
	ok = connect (fd, (struct sockaddr *) &sa, sizeof sa) == 0;
	close (fd);
	return ok;
}

static void
child_setup (gpointer data)
{
	/* A crashed test must not leave brokers behind. */
	prctl (PR_SET_PDEATHSIG, SIGTERM);
}

static void
write_conf (TbgTestBroker *b)
{
	g_autofree char *text = g_strdup_printf (
		"listener %u 127.0.0.1\n"
		"allow_anonymous true\n"
		"persistence false\n"
		"user root\n"
		"log_dest file %s\n"
		"log_type all\n"
		"connection_messages true\n"
		"set_tcp_nodelay true\n"
		"log_timestamp false\n",
		b->port, b->log);
	g_autoptr (GError) error = NULL;

	g_file_set_contents (b->conf, text, -1, &error);
	g_assert_no_error (error);
}

/* How many times a broker has said "mosquitto version … running" in the
 * log (a restarted broker appends to it). */
static guint
log_running_count (TbgTestBroker *b)
{
	g_autofree char *text = NULL;
	guint n = 0;

	if (!g_file_get_contents (b->log, &text, NULL, NULL))
		return 0;
	for (const char *p = text; (p = strstr (p, " running\n")) != NULL; p++)
		n++;
	return n;
}

/* Returns FALSE if mosquitto exited (e.g. the port was taken meanwhile). */
static gboolean
spawn_and_wait (TbgTestBroker *b)
{
	g_autoptr (GError) error = NULL;
	const char *argv[] = { mosquitto_path (), "-c", b->conf, NULL };
	guint runs_before = log_running_count (b);

	if (!g_spawn_async (NULL, (char **) argv, NULL, G_SPAWN_DO_NOT_REAP_CHILD |
	                    G_SPAWN_STDOUT_TO_DEV_NULL | G_SPAWN_STDERR_TO_DEV_NULL,
	                    child_setup, NULL, &b->pid, &error))
		g_error ("cannot start mosquitto (%s): %s; install the mosquitto package",
		         argv[0], error->message);
	for (int i = 0; i < 500; i++) {
		int status;

		if (waitpid (b->pid, &status, WNOHANG) == b->pid) {
			b->pid = 0;
			return FALSE;
		}
		/* Another test's broker may answer on this port; only our own
		 * log's "running" line (written once the listener is bound)
		 * says that ours does. */
		if (log_running_count (b) > runs_before && port_accepts (b->port))
			return TRUE;
		g_usleep (10000);
	}
	g_error ("mosquitto did not listen on 127.0.0.1:%u within 5 s", b->port);
	return FALSE;
}

TbgTestBroker *
tbg_test_broker_start (void)
{
	g_autoptr (GError) error = NULL;
	TbgTestBroker *b = g_new0 (TbgTestBroker, 1);

	b->dir = g_dir_make_tmp ("tbgw-broker-XXXXXX", &error);
	g_assert_no_error (error);
	b->conf = g_build_filename (b->dir, "mosquitto.conf", NULL);
	b->log = g_build_filename (b->dir, "mosquitto.log", NULL);
	for (int attempt = 0; attempt < 10; attempt++) {
		b->port = tbg_test_free_port ();
		write_conf (b);
		if (spawn_and_wait (b))
			return b;
	}
	g_error ("mosquitto failed to start 10 times; see %s", b->log);
	return NULL;
}

guint16
tbg_test_broker_port (TbgTestBroker *b)
{
	return b->port;
}

const char *
tbg_test_broker_log_path (TbgTestBroker *b)
{
	return b->log;
}

char *
tbg_test_broker_read_log (TbgTestBroker *b)
{
	char *text = NULL;

	if (!g_file_get_contents (b->log, &text, NULL, NULL))
		return g_strdup ("");
	return text;
}

void
tbg_test_broker_stop (TbgTestBroker *b)
{
	pid_t reaped = 0;

	if (b->pid == 0)
		return;
	/* mosquitto sets its "run" flag only after it has installed its SIGTERM
	 * handler and already listens, so a SIGTERM that arrives in between
	 * (a broker stopped right after it came up) is overwritten and lost:
	 * repeat it until the broker is gone, and kill one that stays. */
	for (int i = 0; i < 1000 && (reaped = waitpid (b->pid, NULL, WNOHANG)) == 0; i++) {
		if (i % 10 == 0)
			kill (b->pid, SIGTERM);
		g_usleep (10000);
	}
	if (reaped == 0) {
		g_test_message ("mosquitto %d ignored SIGTERM for 10 s; killing it", (int) b->pid);
		kill (b->pid, SIGKILL);
		waitpid (b->pid, NULL, 0);
	}
	g_spawn_close_pid (b->pid);
	b->pid = 0;
}

void
tbg_test_broker_restart (TbgTestBroker *b)
{
	g_assert_cmpint (b->pid, ==, 0);
	/* The port may linger briefly after the old broker closed it. */
	for (int attempt = 0; attempt < 50; attempt++) {
		if (spawn_and_wait (b))
			return;
		g_usleep (100000);
	}
	g_error ("mosquitto could not listen on port %u again", b->port);
}

void
tbg_test_broker_free (TbgTestBroker *b)
{
	if (b == NULL)
		return;
	tbg_test_broker_stop (b);
	if (g_getenv ("TBG_TEST_KEEP") == NULL) {
		g_unlink (b->conf);
		g_unlink (b->log);
		g_rmdir (b->dir);
	}
	g_free (b->conf);
	g_free (b->log);
	g_free (b->dir);
	g_free (b);
}
