/* config.h: things you may reasonably want to change.
 *
 * Defaults and bounds of the pipeline in one place (p0f's habit). Options
 * on the command line override the first group; the rest are compile-time.
 * Private to src/. */
#ifndef SMAUDIT_CONFIG_H
#define SMAUDIT_CONFIG_H

/* ---- flow table (overridden by --max-flows and --*-timeout) ------------ */
#define CFG_MAX_FLOWS      1000000 /* flows tracked at once; then the oldest is evicted */
#define CFG_TCP_TIMEOUT_S  300     /* idle TCP flow ends (Zeek: tcp_inactivity_timeout) */
#define CFG_UDP_TIMEOUT_S  60      /* idle UDP flow ends */
#define CFG_ICMP_TIMEOUT_S 60      /* idle ICMP and other flows end */
#define CFG_CLOSE_DELAY_S  5       /* after FIN both ways or RST (Zeek: tcp_close_delay) */
#define CFG_FRAG_SLOTS     4096    /* first fragments remembered for later ones */
#define CFG_BUCKETS_MIN    4096    /* flow hash buckets at start, doubled as flows outnumber them */
/* Lowest ephemeral (client) port: Linux uses 32768-60999, Windows and IANA
 * 49152-65535; a mid-stream TCP flow's side on such a port is the client. */
#define CFG_EPHEMERAL_LO 32768

/* ---- application detection -------------------------------------------- */
#define CFG_DPI_MAX_TCP_PKTS 80 /* give up after this many (ndpiReader -T) */
#define CFG_DPI_MAX_UDP_PKTS 24 /* ... for UDP and others (ndpiReader -U) */

/* ---- database ---------------------------------------------------------- */
#define CFG_STORE_BATCH 2000 /* rows per transaction (live: kept in memory to retry) */
#define CFG_STORE_BATCH_READ                                                                       \
	16000 /* rows per transaction in read, which keeps none to retry: fewer roll-up            \
	       * upserts and rewritten pages per row (writer instructions a flow: sm10k            \
	       * 42.5k at 2000, 39.2k at 8000; sm100k 36.6k at 8000, 35.6k at 16000) */
#define CFG_STORE_CACHE_KIB                                                                        \
	4096 /* SQLite page cache: holds one batch's pages (4 MiB: pwrites as with 16) */
#define CFG_STORE_PAGE_SIZE                                                                        \
	16384 /* bytes, new databases (SQLite's default 4096: 4x the pwrites and page splits,      \
	       * 1.4k more writer instructions a flow) */
#define CFG_STORE_WAL_KIB 40000 /* the WAL is checkpointed when it holds this much */
#define CFG_WRITER_QUEUE  4096  /* ended flows waiting for the writer thread */
#define CFG_STOP_GRACE_S  30.0  /* live: a stop waits this long for a failing store */
#define CFG_WRITER_BATCH  256   /* taken off the queue at once */

/* ---- runs ----------------------------------------------------------------- */
#define CFG_STALE_RUN_S                                                                            \
	(2 * 86400) /* a 'running' run of another host (or with no                                 \
	               pid) whose heartbeat is older: interrupted */

#define CFG_PRUNE_BATCH 2000 /* flows deleted per transaction by retention */
#define CFG_GAPS_TEXT   2048 /* runs.gaps text kept (about 40 gaps; later ones counted) */

/* ---- end-of-run findings ------------------------------------------------ */
#define CFG_FINDING_GROUPS 512 /* non-expected groups tallied in memory */
#define CFG_FINDINGS_SHOWN 10  /* groups printed per verdict */

/* ---- live alerts to syslog ----------------------------------------------- */
#define CFG_SYSLOG_QUEUE    512  /* lines held while the daemon's queue is full (1 KiB each) */
#define CFG_SYSLOG_DRAIN_MS 2000 /* at the end, the daemon may take this long to read them */

/* ---- EVE JSON (query --format eve) --------------------------------------- */
#define CFG_EVE_GID      1       /* alert.gid, as Suricata's own rules */
#define CFG_EVE_SID_BASE 1000000 /* alert.signature_id = base + verdict (local-use range) */

#endif
