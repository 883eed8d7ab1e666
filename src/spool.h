/* SPDX-License-Identifier: Apache-2.0 */
/* spool.h — the durable outbox: SQLite in WAL mode under /var/lib/tbgw.
 *
 * Every record is written to the database before the main loop turns
 * again (what one turn accepted is one row, committed at the start of the
 * next turn, so a burst costs one insert and one commit; sync() forces it
 * for sources that acknowledge) and deleted only when its PUBACK has arrived;
 * after a crash or restart whatever is left is sent again, in order. Only
 * a bounded window of the oldest records is kept in memory, so an outage
 * of days costs disk, not RAM. When the database cannot be written (disk
 * full, read-only, corrupt) the spool says so once and goes on in memory.
 */
#pragma once

#include "outbox.h"

#define TBG_SPOOL_FILE "spool.db"

/* @dir: the state directory (created if missing). @max_records: beyond
 * it the oldest unsent record is dropped and counted. @ttl_s: records
 * older than this are dropped when they come up for sending (0: never). */
TbgOutbox *tbg_spool_open (const char *dir, guint64 max_records, guint64 ttl_s, GError **error);
/* Whether the spool lost its database and works from memory only. */
gboolean   tbg_spool_is_degraded (TbgOutbox *ob);
/* Records of @kind waiting in the spool file of @dir, read without
 * disturbing a tbgwd that has it open (for tests and diagnostics); -1 if
 * it cannot be read. */
gint64     tbg_spool_count_file (const char *dir, TbgRecordKind kind);
