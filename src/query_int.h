/* query_int.h: what the query engine (query.c) lends its exporters
 * (query_export.c). Private to src/. */
#ifndef SMAUDIT_QUERY_INT_H
#define SMAUDIT_QUERY_INT_H

#include <sqlite3.h>

#include "smaudit/query.h"

/* A non-expected flow of flows aliased f, in the words of the partial index
 * flows_anomaly's WHERE (db/schema.sql): SQLite uses that index only for a
 * query whose WHERE says so, even beside a list of the other verdicts. */
#define QUERY_NOT_EXPECTED "f.verdict <> 'expected'"

/* "SELECT cols FROM flows f" with the question's filters (kind: QUERY_FLOWS
 * or QUERY_ANOMALY_FLOWS), by start time, prepared with its values bound;
 * NULL with err. The caller finalizes. */
sqlite3_stmt *query_flow_stmt(sqlite3 *db, enum query_kind kind, const struct query_filter *f,
                              const char *cols, char *err, size_t errlen);

/* 1 if the roll-up view sm_rollup may be read instead of flows (every
 * database opened has a current flow roll-up), else 0. */
int query_has_rollup(sqlite3 *db);

/* 1 if the view sm_peer_ports (flow_peer_ports) may be read instead of
 * flows, as query_has_rollup. */
int query_has_peer_ports(sqlite3 *db);

/* Flows as Zeek's conn.log: TSV with its header, or (json) one JSON object
 * per line as Zeek's JSON writer. Returns the flows written, or -1 with err. */
int64_t query_zeek(sqlite3 *db, enum query_kind kind, const struct query_filter *f, int json,
                   FILE *out, char *err, size_t errlen);

/* Flows as Suricata EVE events (eve.h). Returns the flows written (not the
 * events), or -1 with err. */
int64_t query_eve(sqlite3 *db, enum query_kind kind, const struct query_filter *f, FILE *out,
                  char *err, size_t errlen);

#endif
