#!/bin/sh
# query_bench.sh: how fast `smaudit query` answers on a large database.
#
# Generates (once; REGEN=1 to redo) a database of N flows (default 5 000 000)
# spread evenly over the last 30 days, ~1% of them anomalies, with the real
# schema (db/schema.sql): rows are inserted by one recursive-CTE statement in
# one transaction with the indexes created afterwards, which is the fast way.
# Written behind smaudit's back, its flow roll-up (flow_rollup) is stale, as
# in a database from an smaudit before the roll-up: a `read` of the demo
# capture into it migrates it (builds the roll-up once; timed). Then times a
# few questions (wall clock: median, best and worst of RUNS runs), prints
# issue 13's query targets, each ok or MISSED, and the query plans.
#
#   sh tests/bench/query_bench.sh            # from the repository root
#   N=1000000 RUNS=5 DB=/tmp/q.db sh tests/bench/query_bench.sh
#   PEERS=5000 sh tests/bench/query_bench.sh   # expected flows from 5000 peers, not 10
#   BIN=/path/to/older/smaudit sh tests/bench/query_bench.sh   # before/after
#   PAGE_SIZE=4096 DB=/tmp/q4k.db sh tests/bench/query_bench.sh  # as databases made before
#                                               # smaudit chose 16 KiB pages
set -eu

BIN=${BIN:-build/smaudit}
N=${N:-5000000}
RUNS=${RUNS:-3}
PEERS=${PEERS:-10}
PAGE_SIZE=${PAGE_SIZE:-16384}
DB=${DB:-build/bench/query-$N-$PEERS.db}

[ -x "$BIN" ] || { echo "query_bench: $BIN not built (make)" >&2; exit 2; }
command -v sqlite3 >/dev/null || { echo "query_bench: needs the sqlite3 shell" >&2; exit 2; }
mkdir -p "$(dirname "$DB")"

ms() { echo $(( $(date +%s%N) / 1000000 )); }

if [ ! -s "$DB" ] || [ "${REGEN:-0}" = 1 ]; then
	rm -f "$DB" "$DB-wal" "$DB-shm"
	now=$(date +%s)
	t0=$(ms)
	{
		# the page size smaudit gives a new database (CFG_STORE_PAGE_SIZE)
		echo "PRAGMA page_size=$PAGE_SIZE;"
		echo "PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF; PRAGMA cache_size=-262144;"
		# tables and views first, indexes after the rows (one sort each; an
		# index's statement may go on over several lines, to its ';')
		awk '/^CREATE INDEX/ { skip = 1 } skip { if (/;/) skip = 0; next } { print }' \
			db/schema.sql
		cat <<EOF
BEGIN;
INSERT INTO runs (id, mode, source, hosts, started, status, flows)
  VALUES (1, 'live', 'eth0', '127.0.0.10',
          strftime('%Y-%m-%dT%H:%M:%SZ', $now - 30 * 86400, 'unixepoch'), 'running', $N);
INSERT INTO run_rules (run_id, rule_id, row, direction, proto, port, peer, apps) VALUES
  (1, 'https-in', 1, 'in', 'tcp', 443, 'any', 'TLS,HTTP'),
  (1, 'smtp-to-mail', 5, 'out', 'tcp', 25, 'mail', 'SMTP'),
  (1, 'xmpp-in', 7, 'in', 'tcp', 5222, 'xmpp', 'Jabber');
WITH RECURSIVE c(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM c WHERE i < $N - 1),
g AS (SELECT i, $now - 30 * 86400 + i * (30.0 * 86400 / $N) AS ts,
             CASE WHEN i % 100 = 0 THEN 1 WHEN i % 1000 = 550 THEN 2 ELSE 0 END AS bad,
             CASE WHEN i % 100 = 0 THEN '127.0.0.' || (66 + (i / 100) % 4)
                  ELSE '127.0.' || (i % $PEERS / 200) || '.' || (50 + i % $PEERS % 200)
             END AS peer
      FROM c)
INSERT INTO flows (run_id, uid, ts_start, ts_end, proto, orig_addr, orig_port, resp_addr,
                   resp_port, direction, peer_addr, orig_pkts, orig_ip_bytes, orig_bytes,
                   resp_pkts, resp_ip_bytes, resp_bytes, conn_state, end_reason, app_proto,
                   app_confidence, rule_id, verdict, reason)
SELECT 1, 'C' || i, ts, ts + 1.5, 'tcp', peer, 30000 + i % 30000, '127.0.0.10',
       CASE bad WHEN 1 THEN 4000 + (i / 100) % 40 WHEN 2 THEN 25 ELSE 443 END,
       'in', peer, 10, 2000, 1480, 12, 9000, 8520, 'SF', 'closed', 'TLS', 'dpi',
       CASE bad WHEN 1 THEN NULL WHEN 2 THEN 'smtp-to-mail' ELSE 'https-in' END,
       CASE bad WHEN 1 THEN 'unexpected-port' WHEN 2 THEN 'unexpected-direction'
                ELSE 'expected' END,
       CASE bad WHEN 1 THEN 'no rule for tcp/' || (4000 + (i / 100) % 40) || ' inbound'
                WHEN 2 THEN 'tcp/25 is allowed outbound only' END
FROM g;
COMMIT;
EOF
		# now the indexes (and anything else the schema adds)
		cat db/schema.sql
		echo "PRAGMA journal_mode=WAL;"
	} | sqlite3 "$DB" >/dev/null
	t1=$(ms)
	echo "generated $N flows in $(( (t1 - t0) / 1000 )).$(( (t1 - t0) % 1000 / 100 )) s:" \
	     "$(du -h "$DB" | cut -f1) at $DB"
fi

if [ "$(sqlite3 "$DB" "SELECT count(*) FROM sqlite_master
                       WHERE name IN ('rollup_state', 'peer_ports_state')")" = 2 ] &&
   [ "$(sqlite3 "$DB" "SELECT count(*) FROM rollup_state WHERE flows_max_id IS
                       (SELECT max(id) FROM flows) AND flows_max_id IS
                       (SELECT flows_max_id FROM peer_ports_state)")" = 1 ]; then
	echo "roll-up: current"
else
	# the migration a `read` or `live` does on an older database (once)
	t0=$(ms)
	"$BIN" read -q --host 127.0.0.10 --site rules/demo.site --db "$DB" pcaps/demo.pcap
	t1=$(ms)
	echo "migration (read of the demo capture into the stale database): $((t1 - t0)) ms"
fi

rows=$(sqlite3 "$DB" "SELECT count(*) FROM flows")
anom=$(sqlite3 "$DB" "SELECT count(*) FROM flows WHERE verdict <> 'expected'")
groups=$(sqlite3 "$DB" "SELECT (SELECT count(*) FROM flow_rollup) || ' + ' || (SELECT count(*) FROM flow_peers)" 2>/dev/null || echo 0)
ports=$(sqlite3 "$DB" "SELECT count(*) FROM flow_peer_ports" 2>/dev/null || echo 0)
echo "database: $rows flows, $anom anomalies, $groups roll-up rows (flow_rollup + flow_peers), $ports flow_peer_ports rows"

# stats MS...: best, worst and median ($best $worst $med) of the times.
stats() {
	set -- $(for t in "$@"; do echo "$t"; done | sort -n)
	best=$1
	eval "worst=\${$#}"
	eval "med=\${$(( ($# + 1) / 2 ))}"
}

# time_q LABEL ARGS...: median, best and worst wall time of RUNS runs, and
# the rows; the median is left in $med (ms).
time_q() {
	label=$1; shift
	times=""
	i=0
	while [ $i -lt "$RUNS" ]; do
		t0=$(ms)
		"$BIN" query "$@" --db "$DB" --format csv > "$DB.out"
		t1=$(ms)
		times="$times $((t1 - t0))"
		i=$((i + 1))
	done
	stats $times
	n=$(( $(wc -l < "$DB.out") - 1 ))
	printf '%-44s %6d ms median %6d best %6d worst %8d rows\n' "$label" "$med" "$best" \
	       "$worst" "$n"
}

# target LABEL LIMIT_MS: the last time_q's median against issue 13's target.
targets=""
target() {
	if [ "$med" -lt "$2" ]; then verdict=ok; else verdict=MISSED; fi
	targets="$targets$(printf '  %-42s %6d ms  < %5d ms  %s' "$1" "$med" "$2" "$verdict")
"
}

time_q "anomalies --since 24h" anomalies --since 24h
target "anomalies --since 24h" 50
time_q "anomalies --since 24h --fail-on-anomaly" anomalies --since 24h --fail-on-anomaly || true
time_q "anomalies --since 24h --flows" anomalies --since 24h --flows
time_q "anomalies --since 7d" anomalies --since 7d
time_q "anomalies --peer 127.0.0.66 --since 24h" anomalies --peer 127.0.0.66 --since 24h
time_q "anomalies --peer 127.0.0.64/30 --since 24h" anomalies --peer 127.0.0.64/30 --since 24h
time_q "flows --since 1h" flows --since 1h
time_q "coverage --since 24h" coverage --since 24h
time_q "coverage --since 30d" coverage --since 30d
target "coverage --since 30d" 200
time_q "coverage --since 7d --peer 127.0.0.66" coverage --since 7d --peer 127.0.0.66
time_q "runs --since 24h" runs --since 24h
# one run's flows (no index on run_id: through flows_ts in the run's hours)
time_q "flows --run 2 (the demo read: 30 flows)" flows --run 2
time_q "anomalies --run 1 --since 24h" anomalies --run 1 --since 24h
time_q "anomalies (all 30 days)" anomalies
time_q "coverage (all 30 days)" coverage
target "coverage (all 30 days)" 200
# the report (HTML) for 30 days, when this build has the subcommand
report_target="  report for 30 days < 2 s: no 'report' subcommand in $BIN
"
if "$BIN" report --help >/dev/null 2>&1; then
	times=""
	i=0
	while [ $i -lt "$RUNS" ]; do
		t0=$(ms)
		"$BIN" report --since 30d --db "$DB" -o "$DB.html"
		t1=$(ms)
		times="$times $((t1 - t0))"
		i=$((i + 1))
	done
	stats $times
	printf '%-44s %6d ms median %6d best %6d worst %8d bytes\n' "report --since 30d" \
	       "$med" "$best" "$worst" "$(wc -c < "$DB.html")"
	report_target=""
	target "report --since 30d" 2000
	rm -f "$DB.html"
fi
rm -f "$DB.out"

echo "issue 13's query targets (median of $RUNS):"
printf '%s' "$targets"
printf '%s' "$report_target"

echo "plan of 'query anomalies --since 24h':"
"$BIN" query anomalies --since 24h --db "$DB" --explain | sed 's/^/  /'
echo "plan of 'query coverage':"
"$BIN" query coverage --db "$DB" --explain | sed 's/^/  /'
