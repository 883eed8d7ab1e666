/* SPDX-License-Identifier: Apache-2.0 */
/* tbgwctl-data.c — values to and from ThingsBoard: telemetry, attributes,
 * request-attributes, claim. */
#include "tbgwctl-commands.h"
#include "tbgwctl-values.h"
#include "dbus-json.h"
#include "i18n.h"

/* ---- telemetry, attributes --------------------------------------------------------- */

static char *opt_json_text, *opt_ts;

static const GOptionEntry telemetry_entries[] = {
	{ "json", 0, 0, G_OPTION_ARG_STRING, &opt_json_text, N_("the values as one JSON object"), N_("JSON") },
	{ "ts", 0, 0, G_OPTION_ARG_STRING, &opt_ts, N_("the sample's time in ms since the epoch (default: now)"), N_("MS") },
	{ NULL }
};

static const GOptionEntry attributes_entries[] = {
	{ "json", 0, 0, G_OPTION_ARG_STRING, &opt_json_text, N_("the attributes as one JSON object"), N_("JSON") },
	{ NULL }
};

/* Shared by telemetry and attributes: DEVICE KEY=VALUE... or --json TEXT. */
static int
parse_values (TbgCtl *ctl, int argc, char **argv, TbgDbusDevice **device, GVariant **values)
{
	g_autoptr (GError) error = NULL;
	json_t *obj = json_object ();
	int rc = TBG_CTL_EXIT_OK;

	for (int i = 1; i < argc && rc == TBG_CTL_EXIT_OK; i++) {
		if (!tbg_ctl_add_pair (obj, argv[i], &error))
			rc = tbg_ctl_usage_error (ctl, "%s", error->message);
	}
	if (rc == TBG_CTL_EXIT_OK && argc > 1 && opt_json_text != NULL)
		rc = tbg_ctl_usage_error (ctl, _("give KEY=VALUE pairs or --json, not both"));
	if (rc == TBG_CTL_EXIT_OK && opt_json_text != NULL) {
		json_error_t jerr;

		json_decref (obj);
		obj = json_loads (opt_json_text, 0, &jerr);
		if (!json_is_object (obj))
			rc = tbg_ctl_usage_error (ctl, _("--json wants an object: %s"),
			                          obj ? _("this is not one") : jerr.text);
	}
	if (rc == TBG_CTL_EXIT_OK && tbg_json_contains_null (obj))
		rc = tbg_ctl_usage_error (ctl, _("null cannot travel over D-Bus; leave the key out, or "
		                                 "write '\"null\"' for the string"));
	if (rc == TBG_CTL_EXIT_OK && json_object_size (obj) == 0)
		rc = tbg_ctl_usage_error (ctl, _("nothing to send (KEY=VALUE... or --json '{...}')"));
	if (rc == TBG_CTL_EXIT_OK) {
		*device = tbg_ctl_find_device (ctl, argv[0]);
		if (*device == NULL)
			rc = TBG_CTL_EXIT_FAILED;
		else
			*values = g_variant_ref_sink (tbg_json_to_vardict (obj));
	}
	json_decref (obj);
	return rc;
}

static int
run_telemetry (TbgCtl *ctl, int argc, char **argv)
{
	g_autoptr (TbgDbusDevice) d = NULL;
	g_autoptr (GVariant) values = NULL;
	g_autoptr (GError) error = NULL;
	guint64 ts = 0;
	gboolean ok;
	int rc;

	if (opt_ts != NULL && !g_ascii_string_to_unsigned (opt_ts, 10, 1, G_MAXINT64, &ts, NULL))
		return tbg_ctl_usage_error (ctl, _("--ts wants milliseconds since the epoch, not “%s”"), opt_ts);
	rc = parse_values (ctl, argc, argv, &d, &values);
	if (rc != TBG_CTL_EXIT_OK)
		return rc;
	ok = ts ? tbg_dbus_device_call_push_telemetry_at_sync (d, ts, values, NULL, &error)
	        : tbg_dbus_device_call_push_telemetry_sync (d, values, NULL, &error);
	return ok ? TBG_CTL_EXIT_OK : tbg_ctl_report ("telemetry", error);
}

static int
run_attributes (TbgCtl *ctl, int argc, char **argv)
{
	g_autoptr (TbgDbusDevice) d = NULL;
	g_autoptr (GVariant) values = NULL;
	g_autoptr (GError) error = NULL;
	int rc = parse_values (ctl, argc, argv, &d, &values);

	if (rc != TBG_CTL_EXIT_OK)
		return rc;
	if (!tbg_dbus_device_call_push_attributes_sync (d, values, NULL, &error))
		return tbg_ctl_report ("attributes", error);
	return TBG_CTL_EXIT_OK;
}

#define VALUES_HELP N_("A VALUE is read as JSON when it is JSON (21.5, 40, true, \"42\", [1,2], " \
                       "{\"a\":1}) and as a string otherwise; a number beyond a 64-bit integer " \
                       "or a double is refused.")

const TbgCtlCommand tbg_ctl_cmd_telemetry = {
	.name = "telemetry", .args = "DEVICE KEY=VALUE... | DEVICE --json JSON  [--ts MS]",
	.summary = N_("push one telemetry sample"),
	.description = VALUES_HELP,
	.min_args = 1, .max_args = -1, .takes_device = TRUE, .json_is_input = TRUE,
	.entries = telemetry_entries,
	.run = run_telemetry,
};

const TbgCtlCommand tbg_ctl_cmd_attributes = {
	.name = "attributes", .args = "DEVICE KEY=VALUE... | DEVICE --json JSON",
	.summary = N_("push client attributes"),
	.description = VALUES_HELP,
	.min_args = 1, .max_args = -1, .takes_device = TRUE, .json_is_input = TRUE,
	.entries = attributes_entries,
	.run = run_attributes,
};

/* ---- request-attributes ------------------------------------------------------------ */

static char **opt_client, **opt_shared;

static const GOptionEntry request_entries[] = {
	{ "client", 0, 0, G_OPTION_ARG_STRING_ARRAY, &opt_client, N_("a client attribute to fetch (repeatable)"), N_("KEY") },
	{ "shared", 0, 0, G_OPTION_ARG_STRING_ARRAY, &opt_shared, N_("a shared attribute to fetch (repeatable)"), N_("KEY") },
	{ NULL }
};

static int
run_request_attributes (TbgCtl *ctl, int argc, char **argv)
{
	static const char * const none[] = { NULL };
	g_autoptr (TbgDbusDevice) d = NULL;
	g_autoptr (GVariant) got_client = NULL, got_shared = NULL;
	g_autoptr (GError) error = NULL;

	if (opt_client == NULL && opt_shared == NULL)
		return tbg_ctl_usage_error (ctl, _("name keys with --client KEY or --shared KEY"));
	d = tbg_ctl_find_device (ctl, argv[0]);
	if (d == NULL)
		return TBG_CTL_EXIT_FAILED;
	if (!tbg_dbus_device_call_request_attributes_sync (
		d, opt_client ? (const char * const *) opt_client : none,
		opt_shared ? (const char * const *) opt_shared : none,
		&got_client, &got_shared, NULL, &error)) {
		g_autofree char *remote = g_dbus_error_get_remote_error (error);
		int rc = tbg_ctl_report ("request-attributes", error);

		/* A plain broker (or a ThingsBoard that does not know the device)
		 * never answers: say what an answer would have been. */
		if (g_strcmp0 (remote, "org.tbgw.Gateway1.Error.Timeout") == 0)
			g_printerr (_("tbgwctl: request-attributes: waited for ThingsBoard to publish on "
			              "v1/gateway/attributes/response an answer such as "
			              "{\"id\":1,\"device\":\"%s\",\"value\":…} (one key) or "
			              "{\"id\":1,\"device\":\"%s\",\"values\":{…}}; a broker that is not "
			              "ThingsBoard never answers\n"),
			            tbg_dbus_device_get_name (d), tbg_dbus_device_get_name (d));
		return rc;
	}
	if (ctl->json) {
		json_t *j = json_pack ("{s:o,s:o}", "client", tbg_vardict_to_json (got_client, NULL),
		                       "shared", tbg_vardict_to_json (got_shared, NULL));

		tbg_ctl_print_json (j);
		json_decref (j);
	} else {
		g_autofree char *c = tbg_ctl_vardict_text (got_client), *s = tbg_ctl_vardict_text (got_shared);

		g_print (_("client: %s\nshared: %s\n"), c, s);
	}
	return TBG_CTL_EXIT_OK;
}

const TbgCtlCommand tbg_ctl_cmd_request_attributes = {
	.name = "request-attributes", .args = "DEVICE [--client KEY]... [--shared KEY]...",
	.summary = N_("fetch attribute values from ThingsBoard"),
	.description = N_("Asks ThingsBoard for attribute values and prints its answer, client and "
	                  "shared attributes apart. Without an answer within tbgwd's "
	                  "attribute-request-timeout-ms the exit status is 1."),
	.min_args = 1, .max_args = 1, .takes_device = TRUE,
	.entries = request_entries,
	.run = run_request_attributes,
};

/* ---- claim ------------------------------------------------------------------------- */

static char *opt_secret, *opt_duration;

static const GOptionEntry claim_entries[] = {
	{ "secret", 0, 0, G_OPTION_ARG_STRING, &opt_secret, N_("the secret the user types in ThingsBoard"), N_("SECRET") },
	{ "duration", 0, 0, G_OPTION_ARG_STRING, &opt_duration, N_("how long the claim is open: 500ms, 60s, 5m, 1h, 1d"), N_("TIME") },
	{ NULL }
};

/* "60s", "5m", "1h", "1d", "500ms"; a bare number is seconds. */
static gboolean
parse_duration_ms (const char *text, guint64 *ms)
{
	static const struct { const char *suffix; guint64 factor; } units[] = {
		{ "ms", 1 }, { "s", 1000 }, { "m", 60000 }, { "min", 60000 }, { "h", 3600000 },
		{ "d", 86400000 }, { "", 1000 },
	};
	char *end = NULL;
	guint64 n;

	if (!g_ascii_isdigit (*text))
		return FALSE;
	n = g_ascii_strtoull (text, &end, 10);
	for (guint i = 0; i < G_N_ELEMENTS (units); i++) {
		if (g_str_equal (end, units[i].suffix)) {
			if (n > G_MAXUINT64 / units[i].factor)
				return FALSE;
			*ms = n * units[i].factor;
			return TRUE;
		}
	}
	return FALSE;
}

static int
run_claim (TbgCtl *ctl, int argc, char **argv)
{
	g_autoptr (TbgDbusDevice) d = NULL;
	g_autoptr (GError) error = NULL;
	guint64 duration = 0;

	if (opt_duration != NULL && !parse_duration_ms (opt_duration, &duration))
		return tbg_ctl_usage_error (ctl, _("“%s” is not a duration (e.g. 60s, 5m, 1h)"), opt_duration);
	d = tbg_ctl_find_device (ctl, argv[0]);
	if (d == NULL)
		return TBG_CTL_EXIT_FAILED;
	if (!tbg_dbus_device_call_claim_sync (d, opt_secret ? opt_secret : "", duration, NULL, &error))
		return tbg_ctl_report ("claim", error);
	return TBG_CTL_EXIT_OK;
}

const TbgCtlCommand tbg_ctl_cmd_claim = {
	.name = "claim", .args = "DEVICE [--secret SECRET] [--duration TIME]",
	.summary = N_("let a ThingsBoard user claim the device"),
	.description = N_("Opens a claim: a ThingsBoard user can claim the device with SECRET within "
	                  "TIME (a bare number is seconds; the server's default when omitted)."),
	.min_args = 1, .max_args = 1, .takes_device = TRUE,
	.entries = claim_entries,
	.run = run_claim,
};
