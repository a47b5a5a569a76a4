#!/bin/sh
# Restore verification of the newest logical backup: checks every dump against the manifest
# (size, sha256), restores them into a scratch PostgreSQL started inside this job, compares the
# row count of every table with the manifest, runs pg_amcheck and the optional VERIFY_SQL_FILE,
# and publishes the result (metrics + JSON) on success and on failure. See scripts/README.md.

# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

require_cluster_name
setup_work_dir
VERIFY_KIND=logical
verification_begin

require_env S3_BUCKET
S3_PREFIX=${S3_PREFIX-logical/$CLUSTER_NAME/}
require_cmd aws jq sha256sum initdb pg_ctl pg_restore pg_amcheck psql createdb dropdb
if [ -n "${PUSHGATEWAY_URL:-}" ]; then require_cmd curl; fi
if [ -n "${VERIFY_SQL_FILE:-}" ] && [ ! -r "$VERIFY_SQL_FILE" ]; then
    die "VERIFY_SQL_FILE $VERIFY_SQL_FILE is not a readable file"
fi

step "finding the newest manifest under s3://$S3_BUCKET/$S3_PREFIX"
s3_list_keys "$S3_BUCKET" "$S3_PREFIX" "$WORK_DIR/keys"
# <prefix>YYYY-MM-DD/manifest.json: the dates sort as text. Dumps without a manifest (a run
# that crashed or is still running) are not a backup and are ignored.
manifest_key=$(while IFS= read -r key; do
    case "${key#"$S3_PREFIX"}" in
        [0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]/manifest.json) printf '%s\n' "$key" ;;
    esac
done <"$WORK_DIR/keys" | sort | tail -n 1)
[ -n "$manifest_key" ] || die "no backup found: no manifest under s3://$S3_BUCKET/$S3_PREFIX"
backup_dir=${manifest_key%/manifest.json}
detail_str manifest "s3://$S3_BUCKET/$manifest_key"
log "newest backup: s3://$S3_BUCKET/$backup_dir/"

s3_get "s3://$S3_BUCKET/$manifest_key" "$WORK_DIR/manifest.json"
jq -e '.format == "drstack-logical-backup/1" and (.databases | type == "array" and length > 0)' \
    "$WORK_DIR/manifest.json" >/dev/null 2>&1 ||
    die "s3://$S3_BUCKET/$manifest_key is not a drstack logical backup manifest with at least one database"
detail_str backup_date "$(jq -r '.date' "$WORK_DIR/manifest.json")"
detail_str backup_created_at "$(jq -r '.created_at' "$WORK_DIR/manifest.json")"
count=$(jq '.databases | length' "$WORK_DIR/manifest.json")

# ---- 1. the dumps are the bytes the backup wrote ----
i=0
while [ "$i" -lt "$count" ]; do
    jq ".databases[$i]" "$WORK_DIR/manifest.json" >"$WORK_DIR/$i.entry.json"
    file=$(jq -r '.file' "$WORK_DIR/$i.entry.json")
    case "$file" in
        '' | */* | .*) die "manifest entry $i names an invalid dump file '$file'" ;;
    esac
    step "downloading and checking $file"
    s3_get "s3://$S3_BUCKET/$backup_dir/$file" "$WORK_DIR/$i.dump"
    want_size=$(jq -r '.size_bytes' "$WORK_DIR/$i.entry.json")
    want_sha=$(jq -r '.sha256' "$WORK_DIR/$i.entry.json")
    got_size=$(size_of "$WORK_DIR/$i.dump")
    got_sha=$(sha256_of "$WORK_DIR/$i.dump")
    [ "$got_size" = "$want_size" ] ||
        die "size mismatch for $file: manifest $want_size bytes != downloaded $got_size bytes"
    [ "$got_sha" = "$want_sha" ] ||
        die "checksum mismatch for $file: manifest sha256 $want_sha != downloaded $got_sha"
    i=$((i + 1))
done
log "all $count dump(s) match the manifest's sizes and checksums"

# ---- 2. they restore, with every row ----
step "starting a scratch PostgreSQL server"
run "initdb of the scratch server" initdb -D "$WORK_DIR/pgdata" -U postgres -A trust -E UTF8 --no-locale --no-sync
scratch_pg_configure "$WORK_DIR/pgdata"
scratch_pg_start "$WORK_DIR/pgdata" || die "the scratch PostgreSQL server did not start: $(scratch_pg_log_reason)"

table_counts_sql >"$WORK_DIR/counts.sql"
i=0
tables_checked=0
while [ "$i" -lt "$count" ]; do
    db=$(jq -r '.name' "$WORK_DIR/$i.entry.json")
    file=$(jq -r '.file' "$WORK_DIR/$i.entry.json")
    step "restoring $file into database $db"
    # initdb made postgres and template1 already; template0 takes no connections.
    case "$db" in
        template0) die "template0 cannot be restored into (remove it from BACKUP_DATABASES)" ;;
        template1) ;;
        postgres)
            run "replacing the scratch database postgres" dropdb --maintenance-db=template1 postgres
            run "createdb $db" createdb --maintenance-db=template1 -T template0 "$db"
            ;;
        *) run "createdb $db" createdb -T template0 "$db" ;;
    esac
    # Roles and grants of the source do not exist here; ownership is not what is verified.
    run "pg_restore of $file" pg_restore --exit-on-error --no-owner --no-acl -d "$(conninfo_db "$db")" "$WORK_DIR/$i.dump"

    step "comparing row counts of database $db"
    capture "counting rows in database $db" "$WORK_DIR/$i.restored.json" \
        env PGDATABASE="$db" psql -X -q -A -t -v ON_ERROR_STOP=1 -f "$WORK_DIR/counts.sql"
    jq -r -n --slurpfile m "$WORK_DIR/$i.entry.json" --slurpfile r "$WORK_DIR/$i.restored.json" --arg file "$file" '
        def key: [.schema, .table] | tojson;
        def show: fromjson | "\(.[0]).\(.[1])";
        ($m[0].tables | map({key: key, value: .rows}) | from_entries) as $want
        | ($r[0] | map({key: key, value: .rows}) | from_entries) as $got
        | [($want | keys[]) as $k | select($got[$k] != $want[$k])
            | if ($got | has($k))
              then "row count mismatch for \($file): table \($k | show) has \($want[$k]) rows in the manifest but \($got[$k]) after restore"
              else "table \($k | show) of the manifest is missing after restoring \($file)" end]
          + [($got | keys[]) as $k | select($want | has($k) | not)
            | "table \($k | show) appears after restoring \($file) but is not in the manifest"]
        | first // empty' >"$WORK_DIR/$i.mismatch" || die "cannot compare the row counts of $file"
    [ ! -s "$WORK_DIR/$i.mismatch" ] || die "$(head -n 1 "$WORK_DIR/$i.mismatch")"
    n_tables=$(jq 'length' "$WORK_DIR/$i.restored.json")
    tables_checked=$((tables_checked + n_tables))
    log "database $db: $n_tables table(s), every row count matches the manifest"

    step "pg_amcheck of database $db"
    run "pg_amcheck of database $db (corruption found or check failed)" \
        env PGDATABASE="$db" pg_amcheck --install-missing --heapallindexed
    i=$((i + 1))
done
detail_json databases "$(jq -c '[.databases[] | {name, file, size_bytes, consistent_at, consistent_at_lsn}]' "$WORK_DIR/manifest.json")"
detail_json tables_checked "$tables_checked"

# ---- 3. the application's own checks ----
if [ -n "${VERIFY_SQL_FILE:-}" ]; then
    sql_db=${VERIFY_SQL_DATABASE:-$(jq -r '.name' "$WORK_DIR/0.entry.json")}
    step "running VERIFY_SQL_FILE in database $sql_db"
    run_check_sql "$sql_db" "$VERIFY_SQL_FILE"
fi

log "verification of s3://$S3_BUCKET/$backup_dir/ passed"
