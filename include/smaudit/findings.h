/* findings.h: the end-of-run findings a person reads after `read` or `live`.
 *
 * Non-expected flows are tallied as they are judged into a fixed table of
 * groups (verdict, direction, peer, service port; ICMP by message type), so
 * a run of any size needs the same memory; groups beyond the table are
 * counted, and the printout points to the query that lists them all. The
 * tally is fed on the audit's writer thread and read once it has stopped. */
#ifndef SMAUDIT_FINDINGS_H
#define SMAUDIT_FINDINGS_H

#include <stdint.h>
#include <stdio.h>

#include "smaudit/record.h"
#include "smaudit/verdict.h"

struct findings;

/* New empty tally; NULL when out of memory. */
struct findings *findings_new(void);

/* Free the tally; safe with NULL. */
void findings_free(struct findings *fd);

/* Count one judged flow (expected flows are ignored). */
void findings_add(struct findings *fd, const struct flow_record *r, const struct verdict_result *v);

/* Print the verdict counts (verdicts[] indexed by enum verdict_kind,
 * peer_unchecked / app_unchecked = expected flows whose peer / application
 * was not checked, stored = flows stored) and the groups, worst verdict
 * first and the largest groups of each; the rest are pointed to with a
 * query on database db, run run_id. */
void findings_print(const struct findings *fd, const uint64_t *verdicts, uint64_t peer_unchecked,
                    uint64_t app_unchecked, uint64_t stored, const char *db, int64_t run_id,
                    FILE *out);

#endif
