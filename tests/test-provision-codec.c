/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests of provision-codec.c (the request, ThingsBoard's answers as
 * its JsonConverter writes them) and credentials.c (which token wins, the
 * stored file). */
#include "credentials.h"
#include "gateway-codec.h"
#include "provision-codec.h"

#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>

static void
test_request (void)
{
	g_autoptr (GError) error = NULL;
	g_autofree char *req = tbg_provision_request ("Pump “house”", "KEY", "SEC\"RET", &error);
	g_autofree char *anonymous = NULL;
	json_t *j;

	g_assert_no_error (error);
	j = json_loads (req, 0, NULL);
	g_assert_nonnull (j);
	g_assert_cmpstr (json_string_value (json_object_get (j, "deviceName")), ==, "Pump “house”");
	g_assert_cmpstr (json_string_value (json_object_get (j, "provisionDeviceKey")), ==, "KEY");
	g_assert_cmpstr (json_string_value (json_object_get (j, "provisionDeviceSecret")), ==, "SEC\"RET");
	/* ThingsBoard reads "gateway" at the top level (DataConstants.GATEWAY_PARAMETER). */
	g_assert_true (json_is_true (json_object_get (j, "gateway")));
	g_assert_cmpuint (json_object_size (j), ==, 4);
	json_decref (j);

	anonymous = tbg_provision_request (NULL, "K", "S", &error);
	g_assert_no_error (error);
	g_assert_cmpstr (anonymous, ==, "{\"provisionDeviceKey\":\"K\",\"provisionDeviceSecret\":\"S\",\"gateway\":true}");
}

static void
test_request_bad (void)
{
	g_autoptr (GError) error = NULL;
	char *req = tbg_provision_request ("name", "", "S", &error);

	g_assert_null (req);
	g_assert_error (error, TBG_CODEC_ERROR, TBG_CODEC_ERROR_MISSING_FIELD);
	g_clear_error (&error);
	req = tbg_provision_request ("bad \xff name", "K", "S", &error);
	g_assert_null (req);
	g_assert_error (error, TBG_CODEC_ERROR, TBG_CODEC_ERROR_BAD_VALUE);
}

static void
test_success (void)
{
	g_autoptr (GError) error = NULL;
	const char *answer = "{\"credentialsValue\":\"sLzc0gDAZPkGMzFVTyUY\",\"credentialsType\":\"ACCESS_TOKEN\","
	                     "\"status\":\"SUCCESS\"}";
	TbgProvisionResponse r;

	g_assert_true (tbg_provision_response_parse (answer, strlen (answer), &r, &error));
	g_assert_no_error (error);
	g_assert_cmpint (r.status, ==, TBG_PROVISION_SUCCESS);
	g_assert_cmpstr (r.token, ==, "sLzc0gDAZPkGMzFVTyUY");
	g_assert_cmpstr (r.credentials_type, ==, "ACCESS_TOKEN");
	g_assert_null (r.error_msg);
	tbg_provision_response_clear (&r);
	g_assert_null (r.token);
}

typedef struct {
	const char *payload;
	TbgProvisionStatus status;
	const char *error_msg;
	const char *type;
} Answer;

/* What ThingsBoard's JsonConverter.toJson(ProvisionDeviceResponseMsg) writes. */
static const Answer answers[] = {
	{ "{\"errorMsg\":\"Provision data was not found!\",\"status\":\"NOT_FOUND\"}",
	  TBG_PROVISION_NOT_FOUND, "Provision data was not found!", NULL },
	{ "{\"errorMsg\":\"Failed to provision device!\",\"status\":\"FAILURE\"}",
	  TBG_PROVISION_FAILURE, "Failed to provision device!", NULL },
	{ "{\"status\":\"FAILURE\"}", TBG_PROVISION_FAILURE, NULL, NULL },
	{ "{\"credentialsValue\":{\"clientId\":\"c\",\"userName\":\"u\",\"password\":\"p\"},"
	  "\"credentialsType\":\"MQTT_BASIC\",\"status\":\"SUCCESS\"}", TBG_PROVISION_UNSUPPORTED, NULL, "MQTT_BASIC" },
	{ "{\"credentialsValue\":\"-----BEGIN CERTIFICATE-----\",\"credentialsType\":\"X509_CERTIFICATE\","
	  "\"status\":\"SUCCESS\"}", TBG_PROVISION_UNSUPPORTED, NULL, "X509_CERTIFICATE" },
	/* A message with a newline is shown escaped, on one log line. */
	{ "{\"errorMsg\":\"two\\nlines\",\"status\":\"NOT_FOUND\"}", TBG_PROVISION_NOT_FOUND, "two\\nlines", NULL },
};

static void
test_answer (gconstpointer data)
{
	const Answer *a = data;
	g_autoptr (GError) error = NULL;
	TbgProvisionResponse r;

	g_assert_true (tbg_provision_response_parse (a->payload, strlen (a->payload), &r, &error));
	g_assert_no_error (error);
	g_assert_cmpint (r.status, ==, a->status);
	g_assert_cmpstr (r.error_msg, ==, a->error_msg);
	g_assert_cmpstr (r.credentials_type, ==, a->type);
	g_assert_null (r.token);
	tbg_provision_response_clear (&r);
}

static const char * const malformed[] = {
	"",
	"not json",
	"[\"SUCCESS\"]",
	"{}",
	"{\"status\":1}",
	"{\"status\":\"MAYBE\"}",
	"{\"status\":\"SUCCESS\"}",
	"{\"status\":\"SUCCESS\",\"credentialsType\":\"ACCESS_TOKEN\"}",
	"{\"status\":\"SUCCESS\",\"credentialsType\":\"ACCESS_TOKEN\",\"credentialsValue\":\"\"}",
	"{\"status\":\"SUCCESS\",\"credentialsType\":\"ACCESS_TOKEN\",\"credentialsValue\":42}",
	"{\"status\":\"SUCCESS\",\"credentialsType\":\"ACCESS_TOKEN\",\"credentialsValue\":\"a\\nb\"}",
	"{\"status\":\"SUCCESS\",\"credentialsType\":\"ACCESS_TOKEN\",\"credentialsValue\":\"a\\u0000b\"}",
	"{\"status\":\"SUCCESS\",\"credentialsType\":\"ACCESS_TOKEN\",\"credentialsValue\":\" pad\"}",
	"{\"status\":\"SUCCESS\",\"status\":\"FAILURE\"}",
};

static void
test_malformed (void)
{
	for (guint i = 0; i < G_N_ELEMENTS (malformed); i++) {
		g_autoptr (GError) error = NULL;
		TbgProvisionResponse r;

		if (tbg_provision_response_parse (malformed[i], strlen (malformed[i]), &r, &error))
			g_error ("“%s” was accepted", malformed[i]);
		g_assert_nonnull (error);
		g_assert_null (r.token);
		g_assert_null (r.credentials_type);
		g_assert_null (r.error_msg);
	}
}

static void
test_long_token (void)
{
	g_autofree char *token = g_strnfill (5000, 'a');
	g_autofree char *answer = g_strdup_printf ("{\"status\":\"SUCCESS\",\"credentialsType\":\"ACCESS_TOKEN\","
	                                           "\"credentialsValue\":\"%s\"}", token);
	g_autoptr (GError) error = NULL;
	TbgProvisionResponse r;

	g_assert_false (tbg_provision_response_parse (answer, strlen (answer), &r, &error));
	g_assert_error (error, TBG_CODEC_ERROR, TBG_CODEC_ERROR_BAD_VALUE);
}

static TbgConfig *
config_in (const char *dir, const char *token, const char *key)
{
	TbgConfig *cfg = tbg_config_new_default ();

	g_free (cfg->storage.path);
	cfg->storage.path = g_strdup (dir);
	if (token != NULL) {
		cfg->server.access_token = g_strdup (token);
		cfg->credentials = TBG_CREDENTIALS_ACCESS_TOKEN;
	}
	cfg->provision.device_key = g_strdup (key);
	return cfg;
}

static void
test_store_and_resolve (void)
{
	g_autoptr (GError) error = NULL;
	g_autofree char *dir = g_dir_make_tmp ("tbgw-cred-XXXXXX", &error);
	g_autofree char *state = g_build_filename (dir, "state", NULL);
	g_autofree char *path = g_build_filename (state, TBG_PROVISIONED_TOKEN_NAME, NULL);
	g_autofree char *text = NULL;
	TbgConfig *cfg;
	struct stat st;

	g_assert_no_error (error);
	/* Nothing stored: provisioning if a key is configured, else none. */
	cfg = config_in (state, NULL, "KEY");
	tbg_credentials_resolve (cfg);
	g_assert_cmpint (cfg->credentials, ==, TBG_CREDENTIALS_PROVISIONING);
	g_assert_null (cfg->server.access_token);
	tbg_config_free (cfg);
	cfg = config_in (state, NULL, NULL);
	tbg_credentials_resolve (cfg);
	g_assert_cmpint (cfg->credentials, ==, TBG_CREDENTIALS_NONE);
	tbg_config_free (cfg);

	/* The state directory is made if needed; the file is 0600. */
	g_assert_true (tbg_credentials_store (state, "TOKEN-1", &error));
	g_assert_no_error (error);
	g_assert_cmpint (g_stat (path, &st), ==, 0);
	g_assert_cmpint (st.st_mode & 07777, ==, 0600);
	g_assert_true (g_file_get_contents (path, &text, NULL, NULL));
	g_assert_cmpstr (text, ==, "TOKEN-1\n");
	/* Replaced whole, still 0600. */
	g_assert_true (tbg_credentials_store (state, "TOKEN-2", &error));
	g_assert_cmpint (g_stat (path, &st), ==, 0);
	g_assert_cmpint (st.st_mode & 07777, ==, 0600);

	/* Stored wins over provisioning ... */
	cfg = config_in (state, NULL, "KEY");
	tbg_credentials_resolve (cfg);
	g_assert_cmpint (cfg->credentials, ==, TBG_CREDENTIALS_PROVISIONED);
	g_assert_cmpstr (cfg->server.access_token, ==, "TOKEN-2");
	g_assert_cmpstr (tbg_credentials_source_to_string (cfg->credentials), ==, "provisioned");
	tbg_config_free (cfg);
	/* ... and a configured token over both. */
	cfg = config_in (state, "MINE", "KEY");
	tbg_credentials_resolve (cfg);
	g_assert_cmpint (cfg->credentials, ==, TBG_CREDENTIALS_ACCESS_TOKEN);
	g_assert_cmpstr (cfg->server.access_token, ==, "MINE");
	tbg_config_free (cfg);

	/* An empty file is no token (and a warning). */
	g_assert_true (g_file_set_contents (path, "\n", -1, NULL));
	cfg = config_in (state, NULL, "KEY");
	tbg_credentials_resolve (cfg);
	g_assert_cmpint (cfg->credentials, ==, TBG_CREDENTIALS_PROVISIONING);
	tbg_config_free (cfg);

	g_unlink (path);
	g_rmdir (state);
	g_rmdir (dir);
}

int
main (int argc, char **argv)
{
	g_test_init (&argc, &argv, NULL);
	g_log_set_always_fatal (G_LOG_FATAL_MASK | G_LOG_LEVEL_CRITICAL);
	g_test_add_func ("/provision-codec/request", test_request);
	g_test_add_func ("/provision-codec/request-bad", test_request_bad);
	g_test_add_func ("/provision-codec/success", test_success);
	g_test_add_func ("/provision-codec/malformed", test_malformed);
	g_test_add_func ("/provision-codec/long-token", test_long_token);
	for (guint i = 0; i < G_N_ELEMENTS (answers); i++) {
		g_autofree char *name = g_strdup_printf ("/provision-codec/answer/%u", i);

		g_test_add_data_func (name, &answers[i], test_answer);
	}
	g_test_add_func ("/credentials/store-and-resolve", test_store_and_resolve);
	return g_test_run ();
}
