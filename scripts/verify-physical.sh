#!/bin/sh
# Restore verification of the newest physical backup (barman-cloud base backup + WAL archive):
# restores it into a scratch data directory inside this job, replays the archive to its end,
# checks that the server reached a consistent state and accepts connections, that the archive
# has no missing segment and that replay really reached its end, and that the recovery point is
# within RPO_SECONDS of now. Publishes the result on success and on failure. See scripts/README.md.

# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

require_cluster_name
setup_work_dir
VERIFY_KIND=physical
verification_begin

require_env BARMAN_DESTINATION BARMAN_SERVER_NAME RPO_SECONDS
require_uint RPO_SECONDS
VERIFY_TIMEOUT_SECONDS=${VERIFY_TIMEOUT_SECONDS:-3600}
require_uint VERIFY_TIMEOUT_SECONDS
case "$BARMAN_DESTINATION" in
    s3://?*) ;;
    *) die "BARMAN_DESTINATION must be an s3:// URL, got '$BARMAN_DESTINATION'" ;;
esac
BARMAN_DESTINATION=${BARMAN_DESTINATION%/}
archive_path=${BARMAN_DESTINATION#s3://}
archive_bucket=${archive_path%%/*}
archive_prefix=""
case "$archive_path" in
    */*) archive_prefix="${archive_path#*/}/" ;;
esac
# Results go next to the backups unless told otherwise.
S3_BUCKET=${S3_BUCKET:-$archive_bucket}
require_cmd aws jq barman-cloud-backup-list barman-cloud-restore barman-cloud-wal-restore pg_ctl psql
if [ -n "${PUSHGATEWAY_URL:-}" ]; then require_cmd curl; fi
if [ -n "${VERIFY_SQL_FILE:-}" ] && [ ! -r "$VERIFY_SQL_FILE" ]; then
    die "VERIFY_SQL_FILE $VERIFY_SQL_FILE is not a readable file"
fi

barman_cloud() {
    tool=$1
    shift
    if [ -n "${S3_ENDPOINT_URL:-}" ]; then
        "$tool" --endpoint-url "$S3_ENDPOINT_URL" "$@"
    else
        "$tool" "$@"
    fi
}

# WAL segment names <timeline><log id><segment>, 8 hex digits each, and segment numbers
# (log id * segments per log id + segment), in jq: its numbers are exact far beyond any LSN.
# shellcheck disable=SC2016 # jq variables, not shell ones
WAL_JQ='
def hex: ascii_upcase | explode | reduce .[] as $c (0; . * 16 + (if $c >= 65 then $c - 55 else $c - 48 end));
def hex8: . as $n | [range(7; -1; -1) as $i | (($n / pow(16; $i)) | floor) % 16] | map("0123456789ABCDEF"[.:.+1]) | add;
def segno: (.[8:16] | hex) * $per + (.[16:24] | hex);
def segname($tli): "\($tli | hex8)\((. / $per | floor) | hex8)\((. % $per) | hex8)";
def lsn_segno: split("/") as $p | ($p[0] | hex) * $per + ((($p[1] | hex) / $segsize) | floor);
'

# ---- 1. what there is to restore ----
step "listing base backups of $BARMAN_SERVER_NAME in $BARMAN_DESTINATION"
capture "barman-cloud-backup-list" "$WORK_DIR/backups.json" \
    barman_cloud barman-cloud-backup-list --format json "$BARMAN_DESTINATION" "$BARMAN_SERVER_NAME"
jq '[.backups_list[] | select(.status == "DONE")] | sort_by(.backup_id)' "$WORK_DIR/backups.json" \
    >"$WORK_DIR/done.json" 2>/dev/null || die "unexpected output of barman-cloud-backup-list (not JSON)"
[ "$(jq 'length' "$WORK_DIR/done.json")" -gt 0 ] ||
    die "no completed base backup of $BARMAN_SERVER_NAME in $BARMAN_DESTINATION"
jq '.[-1]' "$WORK_DIR/done.json" >"$WORK_DIR/backup.json"
backup_id=$(jq -r '.backup_id' "$WORK_DIR/backup.json")
backup_tli=$(jq -r '.timeline' "$WORK_DIR/backup.json")
segsize=$(jq -r '.xlog_segment_size // 16777216' "$WORK_DIR/backup.json")
per=$((4294967296 / segsize))
# The whole recovery window must be free of holes: check from the oldest backup's first segment.
window_start=$(jq -r '.[0].begin_wal' "$WORK_DIR/done.json")
detail_str backup_id "$backup_id"
detail_str backup_end_time "$(jq -r '.end_time' "$WORK_DIR/backup.json")"
log "newest base backup: $backup_id (timeline $backup_tli); oldest WAL needed: $window_start"

# Listed BEFORE the restore: every segment listed here was there while recovery ran, so replay
# must get at least as far as the newest of them.
step "listing the WAL archive"
s3_list_keys "$archive_bucket" "$archive_prefix$BARMAN_SERVER_NAME/wals/" "$WORK_DIR/wal-keys"
jq -R -s --argjson per "$per" --argjson segsize "$segsize" --arg start "$window_start" "$WAL_JQ"'
    ($start | segno) as $first
    | [split("\n")[] | capture("/(?<n>[0-9A-F]{24})(\\.(gz|bz2|snappy|xz|lz4|zst))?$")? | .n
       | {name: ., tli: (.[0:8] | hex), segno: segno} | select(.segno >= $first)] as $segs
    | ($segs | map(.segno) | unique) as $nums
    | (if ($nums | length) == 0 or $nums[0] > $first then $first
       else [range(1; $nums | length) | select($nums[.] - $nums[. - 1] > 1) | $nums[. - 1] + 1] | first
       end) as $missing
    | {count: ($segs | length),
       missing: (if $missing == null then null
                 else ([$segs[] | select(.segno == $missing - 1) | .tli] | max // ($start[0:8] | hex)) as $t
                      | $missing | segname($t) end),
       newest_by_tli: ($segs | group_by(.tli) | map({key: (.[0].tli | tostring), value: (max_by(.segno))}) | from_entries)}
' "$WORK_DIR/wal-keys" >"$WORK_DIR/wal.json" || die "cannot analyse the WAL archive listing"
detail_json archive_segments "$(jq '.count' "$WORK_DIR/wal.json")"
log "WAL archive: $(jq '.count' "$WORK_DIR/wal.json") segment(s) from $window_start on"

# ---- 2. restore and replay ----
step "restoring base backup $backup_id"
run "barman-cloud-restore of backup $backup_id" \
    barman_cloud barman-cloud-restore "$BARMAN_DESTINATION" "$BARMAN_SERVER_NAME" "$backup_id" "$WORK_DIR/pgdata"

scratch_pg_configure "$WORK_DIR/pgdata"
sh_quote() {
    printf "'%s'" "$(printf '%s' "$1" | sed "s/'/'\\\\''/g")"
}
restore_command="barman-cloud-wal-restore"
if [ -n "${S3_ENDPOINT_URL:-}" ]; then
    restore_command="$restore_command --endpoint-url $(sh_quote "$S3_ENDPOINT_URL")"
fi
restore_command="$restore_command $(sh_quote "$BARMAN_DESTINATION") $(sh_quote "$BARMAN_SERVER_NAME") %f %p"
{
    # No recovery target: replay everything the archive has, then promote.
    echo "restore_command = $(conf_quote "$restore_command")"
    echo "recovery_target = ''"
    echo "recovery_target_lsn = ''"
    echo "recovery_target_name = ''"
    echo "recovery_target_time = ''"
    echo "recovery_target_xid = ''"
    echo "recovery_target_timeline = 'latest'"
    echo "hot_standby = on"
} >>"$WORK_DIR/pgdata/postgresql.auto.conf"
rm -f "$WORK_DIR/pgdata/standby.signal" "$WORK_DIR/pgdata/postmaster.pid"
: >"$WORK_DIR/pgdata/recovery.signal"

step "replaying the WAL archive (up to VERIFY_TIMEOUT_SECONDS=$VERIFY_TIMEOUT_SECONDS)"
deadline=$(($(date -u +%s) + VERIFY_TIMEOUT_SECONDS))
recovered=no
if scratch_pg_start "$WORK_DIR/pgdata"; then
    # pg_ctl returns once read-only connections are possible; recovery ends with promotion.
    while scratch_pg_alive; do
        state=$(psql -X -A -t -d postgres -c 'SELECT pg_is_in_recovery()' 2>/dev/null || true)
        if [ "$state" = f ]; then
            recovered=yes
            break
        fi
        [ "$(date -u +%s)" -lt "$deadline" ] ||
            die "recovery did not finish within VERIFY_TIMEOUT_SECONDS=$VERIFY_TIMEOUT_SECONDS"
        sleep 2
    done
fi
pglog="$WORK_DIR/postgres.log"
grep -E 'restored log file|redo|recovery|consistent|timeline|FATAL|PANIC' "$pglog" || true

# ---- 3. how far did it get ----
redo_lsn=$(sed -n 's/.*redo done at \([0-9A-Fa-f]*\/[0-9A-Fa-f]*\).*/\1/p' "$pglog" | tail -n 1)
RECOVERY_POINT_AGE=""
if [ "$recovered" = yes ]; then
    capture "querying the restored server" "$WORK_DIR/point.txt" psql -X -A -t -d postgres -c \
        "SELECT coalesce(extract(epoch FROM pg_last_xact_replay_timestamp())::bigint::text, ''),
                coalesce(to_char(pg_last_xact_replay_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), ''),
                (SELECT count(*) FROM pg_database)"
    IFS='|' read -r point_epoch point_time n_databases <"$WORK_DIR/point.txt"
    if [ -z "$point_epoch" ]; then
        # No transaction after the backup: the data is as of the backup's end (barman writes it
        # in the backup host's local time, UTC in the CloudNativePG images).
        end_time=$(jq -r '.end_time' "$WORK_DIR/backup.json")
        echo "SELECT extract(epoch FROM (:'t'::timestamp AT TIME ZONE 'UTC'))::bigint;" >"$WORK_DIR/end.sql"
        capture "reading the backup end time '$end_time'" "$WORK_DIR/point.txt" \
            psql -X -A -t -v ON_ERROR_STOP=1 -d postgres -v t="$end_time" -f "$WORK_DIR/end.sql"
        point_epoch=$(cat "$WORK_DIR/point.txt")
        point_time="$end_time (backup end; no transaction replayed after it)"
    fi
    now=$(date -u +%s)
    RECOVERY_POINT_AGE=$((now - point_epoch))
    [ "$RECOVERY_POINT_AGE" -ge 0 ] || RECOVERY_POINT_AGE=0
    detail_str recovery_point_time "$point_time"
    detail_json recovery_point_age_seconds "$RECOVERY_POINT_AGE"
    detail_json rpo_seconds "$RPO_SECONDS"
    detail_json databases "$n_databases"
    log "recovered to $point_time (age ${RECOVERY_POINT_AGE}s), redo done at $redo_lsn"
fi
[ -z "$redo_lsn" ] || detail_str recovery_end_lsn "$redo_lsn"

# A missing segment makes PostgreSQL end recovery early and promote as if the archive ended
# there, so the archive itself is checked for holes first.
missing=$(jq -r '.missing // empty' "$WORK_DIR/wal.json")
if [ -n "$missing" ]; then
    detail_str missing_segment "$missing"
    die "gap in WAL archive: segment $missing missing (replay stopped at ${redo_lsn:-an unknown LSN})"
fi
[ "$recovered" = yes ] || die "recovery of backup $backup_id failed: $(scratch_pg_log_reason)"
grep -q 'consistent recovery state reached' "$pglog" ||
    die "the restored server never reported a consistent recovery state"
[ -n "$redo_lsn" ] || die "the restored server did not report where WAL replay ended (no 'redo done at' in its log)"

# The timeline replay ended on is the parent named in the newest history file.
history=$(find "$WORK_DIR/pgdata/pg_wal" -maxdepth 1 -name '*.history' | sort | tail -n 1)
end_tli=$backup_tli
if [ -n "$history" ]; then
    end_tli=$(grep -v '^#' "$history" | grep -v '^[[:space:]]*$' | tail -n 1 | cut -f 1)
fi
jq -r -n --argjson per "$per" --argjson segsize "$segsize" --arg lsn "$redo_lsn" --argjson tli "$end_tli" \
    --slurpfile wal "$WORK_DIR/wal.json" "$WAL_JQ"'
    ($lsn | lsn_segno) as $last
    | $wal[0].newest_by_tli[$tli | tostring] as $newest
    | [($last | segname($tli)), (if $newest == null then "" else $newest.name end),
       (if $newest != null and $newest.segno > $last then "early" else "ok" end)] | @tsv' \
    >"$WORK_DIR/replay.tsv" || die "cannot compare the replay end with the archive"
IFS="$(printf '\t')" read -r end_segment newest_segment verdict <"$WORK_DIR/replay.tsv"
detail_str recovery_end_segment "$end_segment"
detail_str archive_newest_segment "$newest_segment"
# A segment that is present but unreadable also stops replay early. (The only legitimate case
# is a single WAL record longer than a whole segment straddling the newest one: not seen in
# practice, and worth a look anyway.)
[ "$verdict" = ok ] ||
    die "WAL replay stopped early at segment $end_segment (LSN $redo_lsn) although the archive holds segments up to $newest_segment"

if [ -n "${VERIFY_SQL_FILE:-}" ]; then
    step "running VERIFY_SQL_FILE in database ${VERIFY_SQL_DATABASE:-postgres}"
    run_check_sql "${VERIFY_SQL_DATABASE:-postgres}" "$VERIFY_SQL_FILE"
fi

[ "$RECOVERY_POINT_AGE" -le "$RPO_SECONDS" ] ||
    die "recovery point age ${RECOVERY_POINT_AGE}s exceeds RPO_SECONDS=$RPO_SECONDS (recovered to $point_time, end of WAL $redo_lsn)"

log "verification of backup $backup_id passed: recovered to $point_time, ${RECOVERY_POINT_AGE}s ago (RPO ${RPO_SECONDS}s)"
