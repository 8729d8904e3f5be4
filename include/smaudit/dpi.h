/* dpi.h: application protocol detection with nDPI (Debian's libndpi 4.2).
 *
 * One detection module per thread (struct dpi_ctx). Per flow, nDPI state
 * exists only while detection runs: allocated at the first payload packet,
 * freed as soon as detection is final (found or given up after a bounded
 * number of packets); what the flow keeps (names, confidence, server name)
 * is copied into its struct flow_app first. */
#ifndef SMAUDIT_DPI_H
#define SMAUDIT_DPI_H

#include <stdint.h>

#include "smaudit/decode.h"
#include "smaudit/record.h"

struct dpi_ctx;
struct dpi_flow; /* per-flow nDPI state, private */

/* New detection module; NULL with err filled on failure. */
struct dpi_ctx *dpi_new(char *err, size_t errlen);

/* Free the module; every dpi_flow must have been ended first. */
void dpi_free(struct dpi_ctx *ctx);

/* Feed one packet of flow rec (both directions; from_orig says which).
 * *st starts NULL and is allocated when payload first appears. Returns 1
 * when detection is final: *st is then freed and NULL, and rec->app is
 * filled (app.done = 1); 2 the first time nDPI names the protocol while
 * it goes on learning (rec->app.proto and confidence filled, done = 0;
 * the final answer may still refine them); 0 otherwise. Never allocates
 * once done. */
int dpi_feed(struct dpi_ctx *ctx, struct dpi_flow **st, struct flow_record *rec,
             const struct pkt *p, int from_orig);

/* The flow ended: give up detection if still running, fill rec->app with
 * what is known, free *st and set it NULL. Safe with *st == NULL. */
void dpi_end(struct dpi_ctx *ctx, struct dpi_flow **st, struct flow_record *rec);

/* nDPI states currently allocated (for leak checks and the run summary). */
uint64_t dpi_live_states(const struct dpi_ctx *ctx);

/* The nDPI library's version text (for the run row). */
const char *dpi_version(void);

/* Every application protocol name nDPI can report ("TLS", "HTTP", "Jabber",
 * ...), read once from a detection module; static storage, never freed.
 * NULL with *n = 0 if nDPI could not start. Thread-safe. The module it
 * read them from is kept for the next dpi_new (one initialisation, not two). */
const char *const *dpi_app_names(size_t *n);

/* Free the module dpi_app_names kept, when no dpi_new will take it
 * (--no-dpi); nothing when there is none. Thread-safe. */
void dpi_spare_free(void);

#endif
