#!/usr/bin/env bash
# The md5 of what a durable replay stored, without wall-clock columns, to
# show that a change to the write path stores the same rows
# (docs/BENCHMARKS.md, risk, "Durable"): events (id, type, ts, body,
# decision, body hash), locks (without created_ms), feature rows and
# entity rows (without updated_ms), and the row counts.
# usage: bash bench/store_rows_md5.sh DB.sqlite
set -euo pipefail
db=${1:?usage: store_rows_md5.sh DB}
q() { sqlite3 -readonly "$db" "$1" | md5sum | cut -c1-12; }
echo "events   $(q "SELECT account_id, event_id, type, ts_ms, body, decision, hex(body_hash) FROM events ORDER BY account_id, event_id")"
echo "locks    $(q "SELECT account_id, lock_id, reason, kind, evidence, state, expires_ms, lifted_ms, lifted_by, lift_method, incident_id FROM locks ORDER BY account_id, lock_id")"
echo "features $(q "SELECT account_id, hex(state) FROM features ORDER BY account_id")"
echo "entities $(q "SELECT kind, key, hex(state) FROM entity_features ORDER BY kind, key")"
echo "counts   $(sqlite3 -readonly "$db" "SELECT (SELECT count(*) FROM events), (SELECT count(*) FROM locks), (SELECT count(*) FROM features), (SELECT count(*) FROM entity_features)")"
