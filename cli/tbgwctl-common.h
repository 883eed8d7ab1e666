/* SPDX-License-Identifier: Apache-2.0 */
/* tbgwctl-common.h — what every tbgwctl command shares: the command table's
 * entry, the connection to tbgwd, finding a device, reporting errors.
 *
 * The files depend in one direction only: tbgwctl.c (main, help,
 * dispatch) → tbgwctl-<area>.c (the commands) → tbgwctl-common.c →
 * tbgwctl-output.c. */
#pragma once

#include "tbg-dbus.h"
#include "tbgwctl-output.h"

#include <gio/gio.h>

#define TBG_CTL_BUS_NAME     "org.tbgw.Gateway1"
#define TBG_CTL_MANAGER_PATH "/org/tbgw/Gateway1"

/* Exit statuses, as tbgwctl(1) documents them. */
enum {
	TBG_CTL_EXIT_OK = 0,
	TBG_CTL_EXIT_FAILED = 1,       /* tbgwd refused or failed */
	TBG_CTL_EXIT_USAGE = 2,        /* bad command line */
	TBG_CTL_EXIT_UNREACHABLE = 3,  /* no bus, or tbgwd not running */
};

/* Calls that wait on ThingsBoard (RequestAttributes) get their answer or
 * tbgwd's Timeout error well within this. */
#define TBG_CTL_CALL_TIMEOUT_MS 60000

typedef struct _TbgCtlCommand TbgCtlCommand;

typedef struct {
	gboolean             session;
	gboolean             json;
	const TbgCtlCommand *cmd;      /* the one running, for its usage */
	char               **exec;     /* what follows --exec, for commands with exec_tail */
	GDBusObjectManager  *om;
	TbgDbusManager      *manager;
} TbgCtl;

struct _TbgCtlCommand {
	const char         *name;
	const char         *args;      /* synopsis after the name: "DEVICE [--type TYPE]" */
	const char         *summary;   /* one line, for `tbgwctl help` */
	const char         *description;
	/* positional arguments: at least min_args, at most max_args (-1: any) */
	int                 min_args;
	int                 max_args;
	gboolean            takes_device;   /* the first argument is a DEVICE */
	gboolean            json_is_input;  /* --json TEXT is its input, not the output format */
	gboolean            no_bus;         /* runs without tbgwd */
	gboolean            may_wait;       /* starts even when tbgwd is not running (yet) */
	gboolean            exec_tail;      /* --exec takes the rest of the command line */
	const GOptionEntry *entries;        /* its options, NULL-terminated; may be NULL */
	/* @argv: the positional arguments only (NULL-terminated), options parsed */
	int               (*run) (TbgCtl *ctl, int argc, char **argv);
};

/* A one-line error, then the running command's usage; returns the usage
 * exit status. */
int            tbg_ctl_usage_error (TbgCtl *ctl, const char *format, ...) G_GNUC_PRINTF (2, 3);
void           tbg_ctl_print_usage (const TbgCtlCommand *cmd, FILE *to);

/* A D-Bus error as a person reads it: tbgwd's message without the error
 * name; returns the exit status it means. */
int            tbg_ctl_report (const char *what, GError *error);

/* Connects to tbgwd: with @must_run, a tbgwd that is not running (and
 * cannot be started by D-Bus) is an error. */
int            tbg_ctl_connect (TbgCtl *ctl, gboolean must_run);
void           tbg_ctl_disconnect (TbgCtl *ctl);

/* All device proxies, sorted by name. */
GList         *tbg_ctl_list_devices (TbgCtl *ctl);
/* A device by name or object path; says so on stderr when there is none. */
TbgDbusDevice *tbg_ctl_find_device (TbgCtl *ctl, const char *which);

/* A device as `devices --json` and `show --json` print it. */
json_t        *tbg_ctl_device_json (TbgDbusDevice *d);
/* An a{sv} as compact JSON text ("{}" for NULL). */
char          *tbg_ctl_vardict_text (GVariant *dict);

/* A D-Bus string property that this client's XML may not know yet:
 * NULL when tbgwd does not have it. */
char          *tbg_ctl_optional_string (GDBusProxy *proxy, const char *property);
