#!/bin/sh
# Logical backup: pg_dump -Fc of each database in BACKUP_DATABASES, uploaded to
#   s3://$S3_BUCKET/$S3_PREFIX<UTC date>/<db>.dump
# and then manifest.json, uploaded LAST: the manifest is the commit marker. A day with a
# manifest is complete (a second start of the same schedule exits 0); dumps without one are
# left-overs of a crashed run and are overwritten. Configuration: scripts/README.md.

# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

require_env S3_BUCKET BACKUP_DATABASES
require_cluster_name
S3_PREFIX=${S3_PREFIX-logical/$CLUSTER_NAME/}
require_cmd psql pg_dump aws jq sha256sum
setup_work_dir

day=$(date -u +%Y-%m-%d)
dest="$S3_PREFIX$day"
labels="cluster=\"$(prom_label "$CLUSTER_NAME")\""

# publish_backup_metrics SUCCESS_EPOCH TOTAL_BYTES
publish_backup_metrics() {
    {
        prom_gauge drstack_logical_backup_last_success_timestamp_seconds \
            "When the newest complete logical backup (manifest written) finished." "$labels" "$1"
        prom_gauge drstack_logical_backup_size_bytes \
            "Total size of the dumps of the newest complete logical backup." "$labels" "$2"
    } >"$WORK_DIR/metrics.prom"
    publish_metrics "$WORK_DIR/metrics.prom" drstack-logical-backup "cluster/$CLUSTER_NAME" ||
        die "backup complete but publishing its metrics failed (see the job log)"
}

step "checking for s3://$S3_BUCKET/$dest/manifest.json"
if s3_exists "$S3_BUCKET" "$dest/manifest.json"; then
    log "the backup of $day is already complete (its manifest exists): nothing to do"
    # Re-publish, so a run whose publishing failed is repaired by the retry.
    s3_get "s3://$S3_BUCKET/$dest/manifest.json" "$WORK_DIR/manifest.json"
    jq -r '[(.created_at | fromdate), ([.databases[].size_bytes] | add)] | @tsv' \
        "$WORK_DIR/manifest.json" >"$WORK_DIR/existing.tsv" ||
        die "existing manifest s3://$S3_BUCKET/$dest/manifest.json is not valid"
    read -r created total <"$WORK_DIR/existing.tsv"
    publish_backup_metrics "$created" "$total"
    exit 0
fi

# One psql session per database holds a REPEATABLE READ transaction open while pg_dump runs on
# its exported snapshot (\! runs pg_dump from inside the session). The LSN and time are read in
# the statement that exports the snapshot, and the row counts in the same transaction, so
# the manifest describes exactly the data in the dump.
cat >"$WORK_DIR/dump.sql" <<'SQL'
SET statement_timeout = 0;
SET idle_in_transaction_session_timeout = 0;
BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY;
SELECT pg_export_snapshot() AS snapshot,
       (CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() ELSE pg_current_wal_lsn() END)::text AS lsn,
       to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS consistent_at
\gset
\setenv DRSTACK_SNAPSHOT :snapshot
\! pg_dump -Fc --snapshot="$DRSTACK_SNAPSHOT" --file="$DRSTACK_DUMP_FILE" >"$DRSTACK_DUMP_LOG" 2>&1; echo $? >"$DRSTACK_DUMP_STATUS"
\o :meta_file
SELECT json_build_object('consistent_at', :'consistent_at', 'consistent_at_lsn', :'lsn',
                         'server_version', current_setting('server_version'),
                         'server_version_num', current_setting('server_version_num')::int);
\o :tables_file
SQL
table_counts_sql >>"$WORK_DIR/dump.sql"
printf '%s\n' '\o' 'COMMIT;' >>"$WORK_DIR/dump.sql"

DRSTACK_DUMP_LOG="$WORK_DIR/pg_dump.log"
DRSTACK_DUMP_STATUS="$WORK_DIR/pg_dump.status"
export DRSTACK_DUMP_LOG DRSTACK_DUMP_STATUS

# Database names are split on spaces; never glob-expand them.
set -f
i=0
total=0
for db in $BACKUP_DATABASES; do
    case "$db" in
        */* | .*) die "database name '$db' cannot be used as an S3 object name" ;;
    esac
    i=$((i + 1))
    n=$(printf '%04d' "$i")
    if grep -qxF "$db" "$WORK_DIR/names" 2>/dev/null; then
        die "database $db is listed twice in BACKUP_DATABASES"
    fi
    printf '%s\n' "$db" >>"$WORK_DIR/names"

    step "dumping database $db"
    DRSTACK_DUMP_FILE="$WORK_DIR/$n.dump"
    export DRSTACK_DUMP_FILE
    rm -f "$DRSTACK_DUMP_STATUS"
    rc=0
    supervise env PGDATABASE="$db" psql -X -q -A -t -v ON_ERROR_STOP=1 \
        -v meta_file="$WORK_DIR/$n.meta.json" -v tables_file="$WORK_DIR/$n.tables.json" \
        -f "$WORK_DIR/dump.sql" >"$WORK_DIR/psql.log" 2>&1 || rc=$?
    cat "$WORK_DIR/psql.log" "$DRSTACK_DUMP_LOG" 2>/dev/null || true
    if [ ! -f "$DRSTACK_DUMP_STATUS" ]; then
        die "cannot open a snapshot in database $db: $(reason_line "$WORK_DIR/psql.log")"
    fi
    [ "$(cat "$DRSTACK_DUMP_STATUS")" = 0 ] || die "pg_dump of database $db failed: $(reason_line "$DRSTACK_DUMP_LOG")"
    [ "$rc" -eq 0 ] || die "counting rows of database $db failed: $(reason_line "$WORK_DIR/psql.log")"

    size=$(size_of "$DRSTACK_DUMP_FILE")
    sha=$(sha256_of "$DRSTACK_DUMP_FILE")
    total=$((total + size))
    step "uploading $db.dump ($size bytes, sha256 $sha)"
    s3_put "$DRSTACK_DUMP_FILE" "s3://$S3_BUCKET/$dest/$db.dump"
    jq -n --arg name "$db" --arg file "$db.dump" --argjson size "$size" --arg sha "$sha" \
        --slurpfile meta "$WORK_DIR/$n.meta.json" --slurpfile tables "$WORK_DIR/$n.tables.json" \
        '{name: $name, file: $file, size_bytes: $size, sha256: $sha} + $meta[0] + {tables: $tables[0]}' \
        >"$WORK_DIR/$n.entry.json" || die "cannot build the manifest entry of database $db"
done
set +f
[ "$i" -gt 0 ] || die "BACKUP_DATABASES names no database"

step "writing the manifest (commit marker) s3://$S3_BUCKET/$dest/manifest.json"
created=$(date -u +%s)
dump_version=$(pg_dump --version)
jq -s --arg cluster "$CLUSTER_NAME" --arg day "$day" --argjson created "$created" --arg tool "$dump_version" \
    '{format: "drstack-logical-backup/1", cluster: $cluster, date: $day,
      created_at: ($created | todate), dump_tool: $tool,
      server_version: .[0].server_version, databases: .}' \
    "$WORK_DIR"/*.entry.json >"$WORK_DIR/manifest.json" || die "cannot build the manifest"
s3_put "$WORK_DIR/manifest.json" "s3://$S3_BUCKET/$dest/manifest.json"
log "backup of $day complete: $i database(s), $total bytes"
publish_backup_metrics "$created" "$total"
