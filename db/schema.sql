-- smaudit database schema: the contract users query with plain sqlite3.
--
-- One database holds many runs (each `smaudit read` or `smaudit live`).
-- Times in tables are epoch seconds (REAL, microsecond precision) for flows
-- and ISO 8601 UTC text for runs; the *_v views show readable times.
-- Schema version: PRAGMA user_version (the binary migrates older ones).
-- Addresses are text in their canonical form (inet_ntop).

PRAGMA user_version = 1;

-- What was captured, when, from where, with what loss.
CREATE TABLE IF NOT EXISTS runs (
  id            INTEGER PRIMARY KEY,
  mode          TEXT NOT NULL,            -- 'read' or 'live'
  source        TEXT NOT NULL,            -- file names (one per line) or interface
  filter        TEXT,                     -- BPF filter, NULL if none
  hosts         TEXT NOT NULL,            -- monitored hosts, comma separated CIDRs
  rules_files   TEXT,                     -- one "path sha256" per line, load order
  rules_sha256  TEXT,                     -- SHA-256 of the first (main) rules file
  started       TEXT NOT NULL,            -- ISO 8601 UTC, wall clock
  finished      TEXT,
  packets       INTEGER NOT NULL DEFAULT 0,
  bytes         INTEGER NOT NULL DEFAULT 0, -- wire bytes of all packets
  malformed     INTEGER NOT NULL DEFAULT 0, -- truncated or bad headers
  unknown_link  INTEGER NOT NULL DEFAULT 0,
  non_ip        INTEGER NOT NULL DEFAULT 0,
  dropped       INTEGER NOT NULL DEFAULT 0, -- pcap_stats drops (live)
  flows         INTEGER NOT NULL DEFAULT 0, -- flows stored
  flows_other   INTEGER NOT NULL DEFAULT 0, -- flows touching no monitored host (counted only)
  evicted       INTEGER NOT NULL DEFAULT 0,
  flows_lost    INTEGER NOT NULL DEFAULT 0, -- live: ended flows dropped, the oldest first, when
                                          -- the database could not take them and the most it
                                          -- may hold (--max-flows, at least 4096) were held in
                                          -- memory, and that have no row. Each flow that ended
                                          -- counts once, in flows or here: a flow whose end was
                                          -- dropped after its checkpoint row was written keeps
                                          -- that row (end_reason 'checkpoint', its counters of
                                          -- then) and counts in flows, not here; in a complete
                                          -- run, its rows with end_reason 'checkpoint' are those
                                          -- flows (the stop summary and error count them too)
  status        TEXT NOT NULL DEFAULT 'running'
                CHECK (status IN ('running', 'complete', 'interrupted', 'failed')),
  error         TEXT,                     -- first error or warning, with its place
  version       TEXT,                     -- smaudit version that wrote the run
  -- liveness (live and read): who writes the run, and when it last said so.
  -- finished stays NULL while status is 'running'; a run found 'running'
  -- whose process is gone is marked 'interrupted' by the next smaudit that
  -- writes the database, with finished = its last heartbeat.
  pid           INTEGER,                  -- process id of the writer
  hostname      TEXT,                     -- host the writer runs on
  heartbeat     TEXT,                     -- ISO 8601 UTC of the last checkpoint (or start)
  pruned        INTEGER NOT NULL DEFAULT 0, -- flows of this run deleted since by retention
                                          -- (live --retain, smaudit prune); flows counts them
  gaps          TEXT,                     -- live: times the interface was down or gone, one
                                          -- 'START END why' per line (ISO 8601 UTC); NULL: none
  ndpi_version  TEXT,                     -- nDPI library version that named the apps
  roles         TEXT,                     -- role addresses in force (live: since the last
                                          -- SIGHUP reload), one "role cidr,cidr" per
                                          -- line; a role without addresses is absent (its rules
                                          -- could not check the peer); NULL: not recorded
  encap         TEXT                      -- encapsulations seen and the packets each carried
                                          -- ('erspan2 488, mpls 3'); NULL when none
);

-- The capture files a `read` run read, one row per file in the order given
-- (stdin is 'stdin'). A file whose SHA-256 is already here for an earlier
-- complete run was read before: read warns, and --skip-seen skips it.
CREATE TABLE IF NOT EXISTS inputs (
  run_id     INTEGER NOT NULL REFERENCES runs(id),
  seq        INTEGER NOT NULL,          -- position on the command line, from 1
  path       TEXT NOT NULL,             -- as given; 'stdin' for '-'
  sha256     TEXT,                      -- of the whole file (sha256sum); NULL: a stream not read to its end
  size       INTEGER,                   -- bytes (a stream: bytes read)
  link_type  INTEGER,                   -- pcap link type (DLT) of its first interface
  packets    INTEGER NOT NULL DEFAULT 0, -- packets read from it (after the filter)
  first_ts   REAL,                      -- epoch seconds of its first and last packet read
  last_ts    REAL,                      -- (NULL: no packet)
  skipped    INTEGER,                   -- run id it was already read in (--skip-seen), else NULL
  PRIMARY KEY (run_id, seq)
);
CREATE INDEX IF NOT EXISTS inputs_sha256 ON inputs(sha256);
-- read --skip-seen hashes up front only the files whose size an earlier input had
CREATE INDEX IF NOT EXISTS inputs_size ON inputs(size);

-- The rules in force for a run (so coverage needs nothing but the database).
CREATE TABLE IF NOT EXISTS run_rules (
  run_id       INTEGER NOT NULL REFERENCES runs(id),
  rule_id      TEXT NOT NULL,
  row          INTEGER,                   -- row of Cisco's table; NULL for site rules
  direction    TEXT NOT NULL,             -- 'in' or 'out'
  proto        TEXT NOT NULL,             -- 'tcp', 'udp', 'icmp' or 'icmp6'
  port         INTEGER NOT NULL,          -- icmp/icmp6: the message type (8 = echo request)
  peer         TEXT NOT NULL,             -- role or 'any'
  apps         TEXT,                      -- allowed app protocols, comma separated
  description  TEXT,
  source       TEXT,                      -- file:line
  -- live: a SIGHUP reload records the new rule set beside the old one (query coverage
  -- lists both; a rule a reload changed shows its new definition)
  in_force_from  TEXT,                    -- ISO 8601 UTC of the reload that put it in force;
                                          -- NULL: from the run's start
  in_force_until TEXT,                    -- ISO 8601 UTC of the reload that removed it;
                                          -- NULL: in force until the run's end
  PRIMARY KEY (run_id, rule_id)
);

-- One row per flow (Zeek conn.log semantics for the shared columns). The CHECK
-- lists are the names of include/smaudit/record.h (tests/test_record.c); they are
-- OR chains, not IN lists, which SQLite codes as a temporary table built for
-- every row (twice the cost of the whole insert).
CREATE TABLE IF NOT EXISTS flows (
  id                 INTEGER PRIMARY KEY,
  run_id             INTEGER NOT NULL REFERENCES runs(id),
  uid                TEXT NOT NULL,
  ts_start           REAL NOT NULL,       -- epoch seconds
  ts_end             REAL NOT NULL,
  proto              TEXT NOT NULL,       -- 'tcp', 'udp', 'icmp', 'icmp6', or a number
  orig_addr          TEXT NOT NULL,
  orig_port          INTEGER NOT NULL,    -- ICMP: type
  resp_addr          TEXT NOT NULL,
  resp_port          INTEGER NOT NULL,    -- ICMP: code, or the reply's type
  vlan               INTEGER,             -- NULL when untagged
  direction          TEXT NOT NULL        -- seen from the monitored host; when both ends are
                                          -- monitored, the side the matrix explains is the host
                                          -- ('local': it explains neither side better)
                     CHECK (direction = 'in' OR direction = 'out' OR direction = 'local'),
  direction_inferred INTEGER NOT NULL DEFAULT 0, -- 1: originator guessed (mid-stream)
  peer_addr          TEXT NOT NULL,       -- the remote end (orig_addr for 'local': judged as inbound)
  orig_pkts          INTEGER NOT NULL,
  orig_ip_bytes      INTEGER NOT NULL,    -- IP bytes: whole IP packets (header included)
  orig_bytes         INTEGER NOT NULL,    -- bytes: application payload (TCP: from sequence numbers)
  resp_pkts          INTEGER NOT NULL,
  resp_ip_bytes      INTEGER NOT NULL,
  resp_bytes         INTEGER NOT NULL,
  conn_state         TEXT,                -- Zeek's conn_state (TCP, and UDP: SF S0 SHR OTH; ICMP: OTH)
  history            TEXT,                -- Zeek's history letters (G/g: content gap, data acked never seen)
  missed_bytes       INTEGER,             -- bytes of those content gaps, both directions (Zeek's
                                          -- missed_bytes; 0 for UDP/ICMP). NULL: a row written
                                          -- before smaudit counted them (added for older
                                          -- databases by the binary; not measured, read as 0
                                          -- in Zeek exports)
  end_reason         TEXT NOT NULL
                     CHECK (end_reason = 'closed' OR end_reason = 'timeout' OR
                            end_reason = 'evicted' OR end_reason = 'capture-end' OR
                            end_reason = 'shutdown' OR end_reason = 'checkpoint'),
  app_proto          TEXT,                -- nDPI's name ('TLS', 'HTTP', 'SMTPS', ...)
  app_confidence     TEXT                 -- dpi: from the payload; port/ip: a guess
                     CHECK (app_confidence = 'none' OR app_confidence = 'port' OR
                            app_confidence = 'ip' OR app_confidence = 'dpi'),
  server_name        TEXT,                -- TLS SNI, HTTP Host; SMTP: the server's banner name (nDPI 4.2)
  rule_id            TEXT,                -- matched rule, NULL if none
  verdict            TEXT
                     CHECK (verdict = 'expected' OR verdict = 'unexpected-port' OR
                            verdict = 'unexpected-direction' OR verdict = 'unexpected-peer' OR
                            verdict = 'protocol-mismatch'),
  unchecked          TEXT                 -- expected flows only: what the verdict could not check,
                                          -- 'peer' (the rule's role had no addresses), 'app' (the
                                          -- rule restricts the application and DPI did not confirm
                                          -- it: no payload, a port guess, DPI off) or 'peer,app';
                                          -- NULL: everything checked
                     CHECK (unchecked = 'peer' OR unchecked = 'app' OR unchecked = 'peer,app'),
  reason             TEXT,                -- why, in words a person can act on
  tunnel             TEXT,                -- what the flow came through, NULL if nothing:
                                          -- encapsulations crossed, then the innermost IP
                                          -- tunnel's outer addresses and id, e.g.
                                          -- 'erspan2 192.0.2.1>192.0.2.2 session 1' (part of
                                          -- the flow's key, like Zeek's tunnel_parents)
  community_id       TEXT                 -- Community ID v1 (seed 0, base64), as Zeek and
                                          -- Suricata write it; NULL for SCTP. Added for
                                          -- older databases by the binary, which computes
                                          -- it for their rows.
);

CREATE INDEX IF NOT EXISTS flows_ts      ON flows(ts_start);
-- Anomalies only (a partial index): an expected flow, most of them, costs the writer no
-- entry here. A query uses it when its WHERE says "verdict <> 'expected'" in those words.
-- (It replaced flows_verdict, on every verdict, which the binary drops from older databases.)
CREATE INDEX IF NOT EXISTS flows_anomaly ON flows(verdict, ts_start)
  WHERE verdict <> 'expected';
CREATE INDEX IF NOT EXISTS flows_rule    ON flows(rule_id, ts_start);
CREATE INDEX IF NOT EXISTS flows_peer    ON flows(peer_addr);
-- No index on run_id (flows_run, which the binary drops from older databases: it cost
-- the writer ~1.7k instructions a row): `smaudit query --run N` finds a run's flows through
-- flows_ts, between the first and last hour flow_rollup holds for the run.

-- Per-hour roll-up of flows, kept by smaudit's store in the same transaction
-- as the flows it sums, so `smaudit query coverage` reads one row per group
-- instead of every flow. flow_rollup: the flows of one run, rule and verdict
-- that started in one hour; flow_peers: which peers those flows came from,
-- one row per day (distinct peers cannot be summed, so they are kept apart,
-- by day, with the hours as bits). A checkpoint row replaced by the flow's
-- final row is counted once. Plain sqlite3 users should query flows (or the
-- coverage view), which give the same numbers.
CREATE TABLE IF NOT EXISTS flow_rollup (
  hour       INTEGER NOT NULL,          -- the flows started in [hour * 3600, hour * 3600 + 3600)
  rule_id    TEXT NOT NULL,             -- flows.rule_id; '' when no rule matched
  run_id     INTEGER NOT NULL,
  verdict    TEXT NOT NULL,             -- flows.verdict; '' when none
  flows      INTEGER NOT NULL,          -- count(*)
  expected   INTEGER NOT NULL,          -- flows with verdict 'expected'
  unchecked  INTEGER NOT NULL,          -- flows with flows.unchecked set
  bytes      INTEGER NOT NULL,          -- sum(orig_bytes + resp_bytes)
  ts_first   REAL NOT NULL,             -- min(ts_start)
  ts_last    REAL NOT NULL,             -- max(ts_end)
  PRIMARY KEY (hour, rule_id, run_id, verdict)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS flow_peers (
  day        INTEGER NOT NULL,          -- hours [day * 24, day * 24 + 24) of flow_rollup
  rule_id    TEXT NOT NULL,
  run_id     INTEGER NOT NULL,
  peer_addr  TEXT NOT NULL,
  verdict    TEXT NOT NULL,
  hours      INTEGER NOT NULL,          -- bit h set: a flow started in hour day * 24 + h
  PRIMARY KEY (day, rule_id, run_id, peer_addr, verdict)
) WITHOUT ROWID;

-- The peer map of `smaudit report`: flows per day, run, peer, direction,
-- service port and verdict (whole days of a window come from here, the
-- partial days at its ends from flows). Kept by the store with flow_rollup;
-- in step with flows when peer_ports_state says so (like rollup_state: an
-- smaudit from before this table leaves it out of step, and the next
-- `read` or `live` of this one rebuilds both).
CREATE TABLE IF NOT EXISTS flow_peer_ports (
  day        INTEGER NOT NULL,          -- the flows started in hours [day * 24, day * 24 + 24)
  run_id     INTEGER NOT NULL,
  peer_addr  TEXT NOT NULL,             -- flows.peer_addr
  direction  TEXT NOT NULL,             -- flows.direction
  resp_port  INTEGER NOT NULL,          -- flows.resp_port
  verdict    TEXT NOT NULL,             -- flows.verdict; '' when none
  flows      INTEGER NOT NULL,          -- count(*)
  PRIMARY KEY (day, run_id, peer_addr, direction, resp_port, verdict)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS peer_ports_state (
  id            INTEGER PRIMARY KEY CHECK (id = 1),
  flows_max_id  INTEGER                 -- as rollup_state.flows_max_id, for flow_peer_ports
);
CREATE TRIGGER IF NOT EXISTS flows_ports_stale_delete AFTER DELETE ON flows
  BEGIN UPDATE peer_ports_state SET flows_max_id = -1; END;
CREATE TRIGGER IF NOT EXISTS flows_ports_stale_update
  AFTER UPDATE OF id, run_id, ts_start, peer_addr, direction, resp_port, verdict ON flows
  BEGIN UPDATE peer_ports_state SET flows_max_id = -1; END;

-- Which flows the roll-up accounts for: max(flows.id) at the last commit by
-- smaudit. Anything else (-1 after flows were deleted or edited by hand, a
-- database written by an older smaudit) means stale: `query` then reads
-- flows, and the next `read` or `live` rebuilds the roll-up.
CREATE TABLE IF NOT EXISTS rollup_state (
  id            INTEGER PRIMARY KEY CHECK (id = 1),
  flows_max_id  INTEGER
);
CREATE TRIGGER IF NOT EXISTS flows_rollup_stale_delete AFTER DELETE ON flows
  BEGIN UPDATE rollup_state SET flows_max_id = -1; END;
CREATE TRIGGER IF NOT EXISTS flows_rollup_stale_update
  AFTER UPDATE OF id, run_id, ts_start, ts_end, peer_addr, orig_bytes, resp_bytes, rule_id,
                  verdict ON flows
  BEGIN UPDATE rollup_state SET flows_max_id = -1; END;
-- flow_rollup.unchecked counts flows.unchecked (a trigger of its own: the one above
-- exists already in older databases, and IF NOT EXISTS leaves it as it was)
CREATE TRIGGER IF NOT EXISTS flows_rollup_stale_unchecked AFTER UPDATE OF unchecked ON flows
  BEGIN UPDATE rollup_state SET flows_max_id = -1; END;

-- Readable times for people.
CREATE VIEW IF NOT EXISTS flows_v AS
  SELECT id, run_id, uid,
         strftime('%Y-%m-%d %H:%M:%f', ts_start, 'unixepoch') AS start_utc,
         round(ts_end - ts_start, 6) AS duration,
         proto, orig_addr, orig_port, resp_addr, resp_port, vlan, direction,
         direction_inferred, peer_addr, orig_pkts, orig_ip_bytes, orig_bytes,
         resp_pkts, resp_ip_bytes, resp_bytes, conn_state, history, missed_bytes, end_reason,
         app_proto, app_confidence, server_name, rule_id, verdict, reason, community_id
  FROM flows;

-- ---------------------------------------------------------------------------
-- Views for audit questions (owned by the query module). `smaudit query
-- anomalies` and `smaudit query coverage` give the same answers with
-- filters applied to the flows before grouping; these views have none.
-- Bytes are application payload both ways (orig_bytes + resp_bytes); the
-- port is the responder's (service) port; times are ISO 8601 UTC text.

-- Non-expected flows grouped by what an auditor acts on: one row per
-- verdict, direction, peer, service port, protocol and app protocol, with
-- the flow count, bytes, first and last seen, and one representative reason.
CREATE VIEW IF NOT EXISTS anomalies AS
  SELECT verdict, direction, peer_addr AS peer, resp_port AS port, proto,
         app_proto AS app, count(*) AS flows,
         sum(orig_bytes + resp_bytes) AS bytes,
         strftime('%Y-%m-%dT%H:%M:%fZ', min(ts_start), 'unixepoch') AS first_seen,
         strftime('%Y-%m-%dT%H:%M:%fZ', max(ts_end), 'unixepoch') AS last_seen,
         min(reason) AS reason
  FROM flows
  WHERE verdict IN ('unexpected-port', 'unexpected-direction', 'unexpected-peer',
                    'protocol-mismatch')
  GROUP BY verdict, direction, peer_addr, resp_port, proto, app_proto
  ORDER BY verdict, direction, peer_addr, resp_port, proto, app_proto;

-- Every rule in force in any run (union by rule_id; the definition comes from
-- the latest run that had it) with the flows it matched: flows, expected
-- flows, distinct peers, bytes, first and last seen. seen is 'never' when no
-- flow matched the rule (a documented port nothing used: a candidate to
-- close), 'anomalous-only' when only non-expected flows matched it, else
-- 'yes'.
CREATE VIEW IF NOT EXISTS coverage AS
  WITH rules AS (
    SELECT max(run_id) AS run_id, rule_id, row, direction, proto, port, peer,
           apps, description
    FROM run_rules GROUP BY rule_id),
  st AS (
    SELECT rule_id, count(*) AS n, total(verdict = 'expected') AS e,
           count(DISTINCT peer_addr) AS p, total(orig_bytes + resp_bytes) AS b,
           min(ts_start) AS t0, max(ts_end) AS t1
    FROM flows WHERE rule_id IN (SELECT rule_id FROM rules) GROUP BY rule_id)
  SELECT r.rule_id AS rule, r.row, r.direction, r.proto, r.port, r.peer, r.apps,
         CASE WHEN st.n IS NULL THEN 'never'
              WHEN st.e = 0 THEN 'anomalous-only'
              ELSE 'yes' END AS seen,
         ifnull(st.n, 0) AS flows,
         CAST(ifnull(st.e, 0) AS INTEGER) AS expected,
         ifnull(st.p, 0) AS peers,
         CAST(ifnull(st.b, 0) AS INTEGER) AS bytes,
         strftime('%Y-%m-%dT%H:%M:%fZ', st.t0, 'unixepoch') AS first_seen,
         strftime('%Y-%m-%dT%H:%M:%fZ', st.t1, 'unixepoch') AS last_seen,
         r.description
  FROM rules r LEFT JOIN st ON st.rule_id = r.rule_id
  ORDER BY r.row IS NULL, r.row, r.rule_id;
