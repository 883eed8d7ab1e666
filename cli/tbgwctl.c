/* SPDX-License-Identifier: Apache-2.0 */
/* tbgwctl — command-line client of tbgwd's D-Bus API (org.tbgw.Gateway1).
 *
 * Everything it does goes through the same API as any other client; it
 * keeps no state. Human output by default, --json for scripts. This file
 * holds main(): the global options, the command table, help, and each
 * command's own option parser; the commands live in tbgwctl-<area>.c.
 * Exit codes: 0 done, 1 tbgwd refused or failed (its message is printed),
 * 2 bad usage, 3 tbgwd cannot be reached.
 */
#include "build-config.h"
#include "tbgwctl-commands.h"
#include "i18n.h"

#include <locale.h>
#include <stdio.h>
#include <string.h>

static const TbgCtlCommand * const commands[] = {
	&tbg_ctl_cmd_status,
	&tbg_ctl_cmd_devices,
	&tbg_ctl_cmd_show,
	&tbg_ctl_cmd_create,
	&tbg_ctl_cmd_remove,
	&tbg_ctl_cmd_connect,
	&tbg_ctl_cmd_disconnect,
	&tbg_ctl_cmd_telemetry,
	&tbg_ctl_cmd_attributes,
	&tbg_ctl_cmd_request_attributes,
	&tbg_ctl_cmd_claim,
	&tbg_ctl_cmd_reconnect,
	&tbg_ctl_cmd_reload,
	&tbg_ctl_cmd_monitor,
	&tbg_ctl_cmd_rpc_handler,
};

static const TbgCtlCommand help_command = {
	.name = "help", .args = "[COMMAND]",
	.summary = N_("all commands, or one command's options"),
	.description = N_("Without COMMAND, a summary of all commands; with it, the same as "
	                  "“tbgwctl COMMAND --help”."),
	.min_args = 0, .max_args = 1, .no_bus = TRUE,
};

/* Options every command takes after its name as well as before it. */
static gboolean opt_session, opt_json;

static const GOptionEntry common_entries[] = {
	{ "session", 0, 0, G_OPTION_ARG_NONE, &opt_session, N_("use the session bus (tbgwd --session)"), NULL },
	{ "json", 0, 0, G_OPTION_ARG_NONE, &opt_json, N_("print JSON for scripts"), NULL },
	{ NULL }
};

/* Our own --help rather than GOption's, which would exit() from inside
 * the parser. */
static gboolean opt_help;

static const GOptionEntry help_entries[] = {
	{ "help", 'h', 0, G_OPTION_ARG_NONE, &opt_help, N_("show this command's usage and options"), NULL },
	{ NULL }
};

/* parse_command_line(): the command's help was asked for and printed */
#define HELP_SHOWN (-1)

static const TbgCtlCommand *
lookup (const char *name)
{
	if (g_str_equal (name, help_command.name))
		return &help_command;
	for (guint i = 0; i < G_N_ELEMENTS (commands); i++) {
		if (g_str_equal (name, commands[i]->name))
			return commands[i];
	}
	return NULL;
}

/* GOption prints a description as it is: break it into lines of at most
 * @width bytes at blanks (the texts are ASCII or nearly). */
static char *
wrap (const char *text, gsize width)
{
	g_auto (GStrv) words = g_strsplit (text, " ", -1);
	GString *out = g_string_new (NULL);
	gsize line = 0;

	for (guint i = 0; words[i] != NULL; i++) {
		gsize n = strlen (words[i]);

		if (line > 0 && line + 1 + n > width) {
			g_string_append_c (out, '\n');
			line = 0;
		} else if (line > 0) {
			g_string_append_c (out, ' ');
			line++;
		}
		g_string_append (out, words[i]);
		line += n;
	}
	return g_string_free (out, FALSE);
}

static GOptionContext *
command_context (const TbgCtlCommand *cmd)
{
	g_autofree char *usage = g_strdup_printf ("%s %s", cmd->name, cmd->args);
	GOptionContext *ctx = g_option_context_new (usage);
	GOptionEntry session_only[] = { common_entries[0], { NULL } };
	g_autofree char *description = wrap (_(cmd->description), 78);

	g_option_context_set_translation_domain (ctx, GETTEXT_PACKAGE);
	g_option_context_set_help_enabled (ctx, FALSE);
	g_option_context_set_summary (ctx, _(cmd->summary));
	g_option_context_set_description (ctx, description);
	if (cmd->entries != NULL)
		g_option_context_add_main_entries (ctx, cmd->entries, GETTEXT_PACKAGE);
	/* where --json is the command's input, the output format is chosen
	 * before the command's name */
	g_option_context_add_main_entries (ctx, cmd->json_is_input ? session_only : common_entries,
	                                   GETTEXT_PACKAGE);
	g_option_context_add_main_entries (ctx, help_entries, GETTEXT_PACKAGE);
	return ctx;
}

static void
print_command_help (const TbgCtlCommand *cmd)
{
	g_autoptr (GOptionContext) ctx = command_context (cmd);
	g_autofree char *text = g_option_context_get_help (ctx, TRUE, NULL);

	g_print ("%s", text);
}

static void
print_overview (void)
{
	const TbgCtlCommand *all[G_N_ELEMENTS (commands) + 1];

	g_print ("%s", _("Usage: tbgwctl [--session] [--json] COMMAND [ARGUMENTS]\n"
	                 "\n"
	                 "Talks to tbgwd, the ThingsBoard gateway, over D-Bus.\n"
	                 "\n"
	                 "Commands:\n"));
	memcpy (all, commands, sizeof commands);
	all[G_N_ELEMENTS (commands)] = &help_command;
	for (guint i = 0; i < G_N_ELEMENTS (all); i++) {
		g_autofree char *synopsis = g_strdup_printf ("%s %s", all[i]->name, all[i]->args);

		g_strchomp (synopsis);
		/* long synopses get a line of their own */
		if (strlen (synopsis) > 30)
			g_print ("  %s\n  %-30s %s\n", synopsis, "", _(all[i]->summary));
		else
			g_print ("  %-30s %s\n", synopsis, _(all[i]->summary));
	}
	g_print ("%s", _("\n"
	                 "Options:\n"
	                 "  --session    use the session bus (tbgwd --session) instead of the system bus\n"
	                 "  --json       print JSON for scripts\n"
	                 "  -h, --help   show this help\n"
	                 "  --version    show the version\n"
	                 "\n"
	                 "DEVICE is a device name or its object path. “tbgwctl help COMMAND” or\n"
	                 "“tbgwctl COMMAND --help” shows a command's options. See tbgwctl(1).\n"));
}

static int
run_help (TbgCtl *ctl, int argc, char **argv)
{
	const TbgCtlCommand *cmd;

	if (argc == 0) {
		print_overview ();
		return TBG_CTL_EXIT_OK;
	}
	cmd = lookup (argv[0]);
	if (cmd == NULL)
		return tbg_ctl_usage_error (ctl, _("no command “%s”"), argv[0]);
	print_command_help (cmd);
	return TBG_CTL_EXIT_OK;
}

/* `tbgwctl __complete WHAT [COMMAND]`: what the bash completion offers,
 * one a line, from the same table as the parser, so the two cannot drift. */
static int
run_complete (int argc, char **argv)
{
	const TbgCtlCommand *cmd;

	if (argc == 1 && g_str_equal (argv[0], "commands")) {
		for (guint i = 0; i < G_N_ELEMENTS (commands); i++)
			g_print ("%s\n", commands[i]->name);
		g_print ("%s\n", help_command.name);
		return TBG_CTL_EXIT_OK;
	}
	if (argc == 1 && g_str_equal (argv[0], "device-commands")) {
		for (guint i = 0; i < G_N_ELEMENTS (commands); i++) {
			if (commands[i]->takes_device)
				g_print ("%s\n", commands[i]->name);
		}
		return TBG_CTL_EXIT_OK;
	}
	if (argc == 2 && g_str_equal (argv[0], "options") && (cmd = lookup (argv[1])) != NULL) {
		/* options that take a value end in "=" */
		const GOptionEntry *lists[] = { cmd->entries, common_entries };

		for (guint l = 0; l < G_N_ELEMENTS (lists); l++) {
			for (const GOptionEntry *e = lists[l]; e != NULL && e->long_name != NULL; e++) {
				if (l == 1 && cmd->json_is_input && g_str_equal (e->long_name, "json"))
					continue;
				g_print ("--%s%s\n", e->long_name,
				         e->arg != G_OPTION_ARG_NONE ? "=" :
				         g_str_equal (e->long_name, "exec") ? "=" : "");
			}
		}
		g_print ("--help\n");
		return TBG_CTL_EXIT_OK;
	}
	g_printerr ("tbgwctl: __complete commands | device-commands | options COMMAND\n");
	return TBG_CTL_EXIT_USAGE;
}

/* Parses the command's own options; on return *argv holds only the
 * positional arguments. */
static int
parse_command_line (TbgCtl *ctl, const TbgCtlCommand *cmd, int argc, char **argv, GStrv *out)
{
	g_autoptr (GOptionContext) ctx = command_context (cmd);
	g_autoptr (GError) error = NULL;
	g_autoptr (GPtrArray) words = g_ptr_array_new_with_free_func (g_free);
	GStrv args;
	int n;

	g_ptr_array_add (words, g_strdup ("tbgwctl"));
	for (int i = 0; i < argc; i++) {
		if (cmd->exec_tail && g_str_equal (argv[i], "--exec")) {
			/* the rest is the handler's command line, options and all */
			if (i + 1 == argc)
				return tbg_ctl_usage_error (ctl, _("--exec needs a COMMAND"));
			ctl->exec = &argv[i + 1];
			break;
		}
		g_ptr_array_add (words, g_strdup (argv[i]));
	}
	g_ptr_array_add (words, NULL);
	args = (GStrv) g_ptr_array_steal (words, NULL);
	if (!g_option_context_parse_strv (ctx, &args, &error)) {
		g_strfreev (args);
		return tbg_ctl_usage_error (ctl, "%s", error->message);
	}
	if (opt_help) {
		g_autofree char *text = g_option_context_get_help (ctx, TRUE, NULL);

		g_print ("%s", text);
		g_strfreev (args);
		return HELP_SHOWN;
	}
	ctl->session |= opt_session;
	ctl->json |= opt_json;
	n = (int) g_strv_length (args) - 1;
	if (n < cmd->min_args) {
		g_autofree char *first = g_strdup (cmd->args);
		int rc;

		first[strcspn (first, " ")] = '\0';
		rc = tbg_ctl_usage_error (ctl, _("missing %s"), first);
		g_strfreev (args);
		return rc;
	}
	if (cmd->max_args >= 0 && n > cmd->max_args) {
		int rc = cmd->max_args == 0
		         ? tbg_ctl_usage_error (ctl, _("takes no arguments (got “%s”)"), args[1])
		         : tbg_ctl_usage_error (ctl, _("unexpected argument “%s” (quote names with spaces)"),
		                                args[cmd->max_args + 1]);

		g_strfreev (args);
		return rc;
	}
	*out = args;
	return TBG_CTL_EXIT_OK;
}

int
main (int argc, char **argv)
{
	TbgCtl ctl = { 0 };
	const TbgCtlCommand *cmd;
	g_auto (GStrv) args = NULL;
	int i, rc;

	setlocale (LC_ALL, "");
	bindtextdomain (GETTEXT_PACKAGE, LOCALEDIR);
	bind_textdomain_codeset (GETTEXT_PACKAGE, "UTF-8");
	textdomain (GETTEXT_PACKAGE);
	g_set_prgname ("tbgwctl");
	/* Global options come before the command. */
	for (i = 1; i < argc && argv[i][0] == '-'; i++) {
		if (g_str_equal (argv[i], "--session")) {
			ctl.session = TRUE;
		} else if (g_str_equal (argv[i], "--json")) {
			ctl.json = TRUE;
		} else if (g_str_equal (argv[i], "-h") || g_str_equal (argv[i], "--help")) {
			print_overview ();
			return TBG_CTL_EXIT_OK;
		} else if (g_str_equal (argv[i], "--version")) {
			g_print ("tbgwctl %s\n", PACKAGE_VERSION);
			return TBG_CTL_EXIT_OK;
		} else {
			return tbg_ctl_usage_error (&ctl, _("unknown option “%s”"), argv[i]);
		}
	}
	if (i >= argc)
		return tbg_ctl_usage_error (&ctl, _("no COMMAND given"));
	if (g_str_equal (argv[i], "__complete"))
		return run_complete (argc - i - 1, argv + i + 1);
	cmd = lookup (argv[i]);
	if (cmd == NULL)
		return tbg_ctl_usage_error (&ctl, _("unknown command “%s”"), argv[i]);
	ctl.cmd = cmd;
	rc = parse_command_line (&ctl, cmd, argc - i - 1, argv + i + 1, &args);
	if (rc == HELP_SHOWN)
		return TBG_CTL_EXIT_OK;
	if (rc != TBG_CTL_EXIT_OK)
		return rc;
	if (cmd == &help_command)
		return run_help (&ctl, (int) g_strv_length (args) - 1, args + 1);
	rc = tbg_ctl_connect (&ctl, !cmd->may_wait);
	if (rc == TBG_CTL_EXIT_OK)
		rc = cmd->run (&ctl, (int) g_strv_length (args) - 1, args + 1);
	tbg_ctl_disconnect (&ctl);
	return rc;
}
