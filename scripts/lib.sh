# Shared helpers of the backup job scripts (sourced, POSIX sh). See scripts/README.md.
#
# Conventions every script follows:
#   - progress and tool output go to stdout (the job log);
#   - a failure prints exactly ONE line on stderr, "<script>: <reason>", and exits non-zero;
#   - all temporary files live in $WORK_DIR, removed on exit (also on failure and SIGTERM).
# Functions that can fail call die(); they are never run inside $(...) because die() there
# would only end the subshell. They write results to files instead.

set -eu

# fd 3 is the job's real stderr, kept for the one failure line; everything else written to
# stderr (tool diagnostics) goes to stdout, the job log.
exec 3>&2 2>&1

SCRIPT_NAME=$(basename "$0" .sh)
STEP="starting"
FAIL_REASON=""
WORK_DIR=""
CHILD_PID=""
SCRATCH_PGDATA=""
# Optional hook a script sets to run on exit before cleanup (gets the exit code as $1).
EXIT_HOOK=""

log() {
    printf '%s %s: %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$SCRIPT_NAME" "$*"
}

step() {
    STEP=$1
    log "$1"
}

# The one stderr line. The EXIT trap does the cleanup (and publishing, for the verify scripts).
die() {
    FAIL_REASON=$*
    printf '%s: %s\n' "$SCRIPT_NAME" "$*" >&3
    exit 1
}

on_exit() {
    rc=$?
    set +e
    if [ -n "$CHILD_PID" ]; then
        # Interrupted (SIGTERM) while a supervised command ran: stop it too.
        kill "$CHILD_PID" 2>/dev/null
        wait "$CHILD_PID" 2>/dev/null
        CHILD_PID=""
    fi
    if [ "$rc" -ne 0 ] && [ -z "$FAIL_REASON" ]; then
        # set -e stopped us somewhere unexpected: still say where, on one line.
        FAIL_REASON="unexpected failure (exit $rc) while $STEP"
        printf '%s: %s\n' "$SCRIPT_NAME" "$FAIL_REASON" >&3
    fi
    if [ -n "$EXIT_HOOK" ]; then
        "$EXIT_HOOK" "$rc"
        rc=$?
    fi
    scratch_pg_stop
    if [ -n "$WORK_DIR" ]; then
        rm -rf "$WORK_DIR"
    fi
    exit "$rc"
}

# Kubernetes stops a job (activeDeadlineSeconds, eviction) with SIGTERM: leave through on_exit,
# so the scratch server is stopped and the failure is published.
on_signal() {
    FAIL_REASON="terminated by SIG$1 while $STEP"
    printf '%s: %s\n' "$SCRIPT_NAME" "$FAIL_REASON" >&3
    exit "$2"
}
trap on_exit EXIT
trap 'on_signal TERM 143' TERM
trap 'on_signal INT 130' INT

setup_work_dir() {
    WORK_DIR=$(mktemp -d "${TMPDIR:-/tmp}/drstack-$SCRIPT_NAME-XXXXXX") || die "cannot create a temporary directory under ${TMPDIR:-/tmp}"
}

require_env() {
    for name in "$@"; do
        eval "value=\${$name:-}"
        # shellcheck disable=SC2154 # assigned by the eval above
        [ -n "$value" ] || die "$name is required (see scripts/README.md)"
    done
}

require_cmd() {
    for cmd in "$@"; do
        command -v "$cmd" >/dev/null 2>&1 || die "required command '$cmd' not found on PATH"
    done
}

require_uint() {
    eval "value=\${$1:-}"
    case "$value" in
        '' | *[!0-9]*) die "$1 must be a whole number, got '$value'" ;;
    esac
}

# The most telling line of a tool's output: the last one mentioning an error, else the last line.
reason_line() {
    line=$(grep -i -E 'error|fatal|failed|denied|could not|unable' "$1" 2>/dev/null | tail -n 1)
    [ -n "$line" ] || line=$(grep -v '^[[:space:]]*$' "$1" 2>/dev/null | tail -n 1)
    printf '%s' "$line" | tr -d '\r' | cut -c1-400
}

# supervise COMMAND...: runs it in the background and waits. A trapped signal interrupts `wait`
# at once (it would wait for a foreground command to finish first), and on_exit then stops the
# command. (Background commands read /dev/null: none of these reads stdin.)
supervise() {
    "$@" &
    CHILD_PID=$!
    supervised_rc=0
    wait "$CHILD_PID" || supervised_rc=$?
    CHILD_PID=""
    return "$supervised_rc"
}

# run DESCRIPTION COMMAND...: runs the command, copies its output to the job log and dies
# naming the description and the tool's own error line if it fails.
run() {
    desc=$1
    shift
    out="$WORK_DIR/command.log"
    rc=0
    supervise "$@" >"$out" 2>&1 || rc=$?
    cat "$out"
    [ "$rc" -eq 0 ] || die "$desc failed (exit $rc): $(reason_line "$out")"
}

# capture DESCRIPTION OUTFILE COMMAND...: like run, but keeps stdout (the data) apart from the
# tool's log on stderr.
capture() {
    desc=$1
    dest=$2
    shift 2
    rc=0
    supervise "$@" >"$dest" 2>"$WORK_DIR/capture.err" || rc=$?
    cat "$WORK_DIR/capture.err"
    [ "$rc" -eq 0 ] || die "$desc failed (exit $rc): $(reason_line "$WORK_DIR/capture.err")"
}

# Single-quoted literal for postgresql.conf.
conf_quote() {
    printf "'%s'" "$(printf '%s' "$1" | sed "s/'/''/g")"
}

# ---- S3 (aws CLI) ----

aws_cli() {
    if [ -n "${S3_ENDPOINT_URL:-}" ]; then
        aws --endpoint-url "$S3_ENDPOINT_URL" "$@"
    else
        aws "$@"
    fi
}

# s3_cp_encrypted FILE S3_URL: every object we write is under the bucket's KMS key. With
# S3_SSE_KMS_KEY_ID set, the upload names that key; without it, it sends no encryption header and
# S3 applies the bucket default (SSE-KMS with the bucket's key). Never `--sse aws:kms` alone: S3
# would use the AWS-managed aws/s3 key, which the bucket policy denies. Returns the aws exit code.
s3_cp_encrypted() {
    if [ -n "${S3_SSE_KMS_KEY_ID:-}" ]; then
        aws_cli s3 cp --only-show-errors --no-progress --sse aws:kms --sse-kms-key-id "$S3_SSE_KMS_KEY_ID" "$1" "$2"
    else
        aws_cli s3 cp --only-show-errors --no-progress "$1" "$2"
    fi
}

s3_put() {
    run "upload of $2" s3_cp_encrypted "$1" "$2"
}

s3_get() {
    run "download of $1" aws_cli s3 cp --only-show-errors --no-progress "$1" "$2"
}

# s3_exists BUCKET KEY: 0 if the object exists, 1 if not; dies if S3 cannot answer (an outage
# must not look like "no object").
s3_exists() {
    out="$WORK_DIR/head.log"
    if aws_cli s3api head-object --bucket "$1" --key "$2" >"$out" 2>&1; then
        return 0
    fi
    if grep -q -E '\(404\)|Not Found|NoSuchKey' "$out"; then
        return 1
    fi
    die "cannot check s3://$1/$2: $(reason_line "$out")"
}

# s3_list_keys BUCKET PREFIX OUTFILE: every key under the prefix, one per line (all pages).
s3_list_keys() {
    capture "listing s3://$1/$2" "$3.json" aws_cli s3api list-objects-v2 --bucket "$1" --prefix "$2" \
        --query 'Contents[].Key' --output json
    jq -r '.[]?' "$3.json" >"$3" || die "unexpected listing of s3://$1/$2 (not JSON)"
}

# A libpq connection string naming one database (a bare name containing '=' would be parsed
# as a connection string by the tools).
conninfo_db() {
    printf "dbname='%s'" "$(printf '%s' "$1" | sed -e 's/\\/\\\\/g' -e "s/'/\\\\'/g")"
}

# SQL printing the exact row count of every ordinary table as one JSON array of
# {schema, table, rows}, sorted. Tables of extensions are left out: their contents come from
# CREATE EXTENSION, not from the dump. query_to_xml runs each count in the current snapshot.
table_counts_sql() {
    cat <<'SQL'
SELECT coalesce(json_agg(json_build_object('schema', n.nspname, 'table', c.relname, 'rows',
           (xpath('/row/c/text()',
                  query_to_xml(format('SELECT count(*) AS c FROM %I.%I', n.nspname, c.relname), false, true, '')
           ))[1]::text::bigint)
         ORDER BY n.nspname, c.relname), '[]')
  FROM pg_class c
  JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE c.relkind = 'r'
   AND n.nspname <> 'information_schema' AND n.nspname NOT LIKE 'pg\_%'
   AND NOT EXISTS (SELECT 1 FROM pg_depend d
                    WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e');
SQL
}

sha256_of() {
    sha256sum "$1" | cut -d ' ' -f 1
}

size_of() {
    wc -c <"$1" | tr -d ' '
}

# ---- scratch PostgreSQL (verify scripts): unix socket only, in $WORK_DIR, never reachable ----

# scratch_pg_configure DATADIR: settings appended to postgresql.auto.conf, which is read after
# postgresql.conf and its includes, so they win over anything a restored data directory carries
# (a restored production config must never archive into the production bucket, listen on the
# network, demand TLS files or wait for a synchronous standby).
scratch_pg_configure() {
    mkdir -p "$WORK_DIR/socket"
    printf 'local all all trust\n' >"$WORK_DIR/pg_hba.conf"
    : >"$WORK_DIR/pg_ident.conf"
    {
        echo "# drstack restore verification (scratch server)"
        echo "listen_addresses = ''"
        echo "port = 5432"
        echo "unix_socket_directories = $(conf_quote "$WORK_DIR/socket")"
        echo "hba_file = $(conf_quote "$WORK_DIR/pg_hba.conf")"
        echo "ident_file = $(conf_quote "$WORK_DIR/pg_ident.conf")"
        echo "archive_mode = off"
        echo "ssl = off"
        echo "logging_collector = off"
        echo "log_destination = 'stderr'"
        echo "log_min_messages = 'warning'"
        echo "lc_messages = 'C'"
        echo "log_timezone = 'UTC'"
        echo "synchronous_standby_names = ''"
        echo "primary_conninfo = ''"
        echo "primary_slot_name = ''"
        echo "shared_buffers = '128MB'"
        echo "huge_pages = off"
        echo "fsync = off"
        echo "full_page_writes = off"
        echo "synchronous_commit = off"
    } >>"$1/postgresql.auto.conf"
}

# scratch_pg_start DATADIR: starts the server (pg_ctl -w waits until it accepts connections,
# read-only ones during recovery) and points the libpq variables at it. Returns non-zero if it
# did not come up; the caller decides what that means (scratch_pg_log_reason says why).
scratch_pg_start() {
    SCRATCH_PGDATA=$1
    chmod 700 "$SCRATCH_PGDATA"
    # Nothing of the job's own connection settings may leak into the scratch connections.
    unset PGHOST PGHOSTADDR PGPORT PGUSER PGPASSWORD PGPASSFILE PGDATABASE PGSERVICE PGSSLMODE PGOPTIONS
    PGHOST="$WORK_DIR/socket"
    PGPORT=5432
    PGUSER=postgres
    export PGHOST PGPORT PGUSER
    rc=0
    supervise pg_ctl -D "$SCRATCH_PGDATA" -l "$WORK_DIR/postgres.log" -w -t 600 start >"$WORK_DIR/pg_ctl.log" 2>&1 || rc=$?
    cat "$WORK_DIR/pg_ctl.log"
    return "$rc"
}

scratch_pg_alive() {
    [ -n "$SCRATCH_PGDATA" ] && [ -f "$SCRATCH_PGDATA/postmaster.pid" ] &&
        kill -0 "$(head -n 1 "$SCRATCH_PGDATA/postmaster.pid")" 2>/dev/null
}

# Why the scratch server stopped: the last FATAL/PANIC line of its log, else pg_ctl's own words.
scratch_pg_log_reason() {
    line=$(grep -E 'FATAL|PANIC' "$WORK_DIR/postgres.log" 2>/dev/null | tail -n 1 | cut -c1-400)
    [ -n "$line" ] || line=$(reason_line "$WORK_DIR/pg_ctl.log")
    printf '%s' "$line"
}

scratch_pg_stop() {
    if scratch_pg_alive; then
        # Scratch data is thrown away: immediate is enough and never hangs on clients.
        pg_ctl -D "$SCRATCH_PGDATA" -m immediate -w -t 60 stop >/dev/null 2>&1 ||
            kill -9 "$(head -n 1 "$SCRATCH_PGDATA/postmaster.pid")" 2>/dev/null
    fi
    SCRATCH_PGDATA=""
}

# run_check_sql DATABASE FILE: the VERIFY_SQL_FILE contract (scripts/README.md). Dies if the
# file errors or any returned row has false in its first column.
run_check_sql() {
    out="$WORK_DIR/verify-sql.out"
    sep=$(printf '\037')
    rc=0
    supervise env PGDATABASE="$1" psql -X -q -A -t -F "$sep" -v ON_ERROR_STOP=1 -f "$2" >"$out" 2>"$out.err" || rc=$?
    cat "$out" "$out.err"
    [ "$rc" -eq 0 ] || die "VERIFY_SQL_FILE failed in database $1: $(reason_line "$out.err")"
    bad=$(awk -F "$sep" '$1 == "f" || $1 == "false" { print; exit }' "$out" | tr "$sep" ' ')
    [ -z "$bad" ] || die "VERIFY_SQL_FILE check failed in database $1: $bad"
}

# ---- publishing results where alert rules read them ----

# Prometheus label value: escape backslash, double quote and newline.
prom_label() {
    printf '%s' "$1" | sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' | tr '\n' ' '
}

# prom_gauge NAME HELP LABELS VALUE >> file
prom_gauge() {
    printf '# HELP %s %s\n# TYPE %s gauge\n%s{%s} %s\n' "$1" "$2" "$1" "$1" "$3" "$4"
}

# The value of a metric line with exactly these labels in an earlier metrics file.
prom_previous_value() {
    [ -f "$1" ] || return 0
    grep -F "$2{$3} " "$1" 2>/dev/null | tail -n 1 | awk '{ print $NF }'
}

# publish_metrics FILE JOB GROUPING_PATH: to $METRICS_FILE (atomically: a textfile collector may
# read it any time) and to $PUSHGATEWAY_URL. POST, not PUT: the Pushgateway then replaces only the
# metrics in this body, so a last-success timestamp from an earlier run survives a failed run.
# Returns non-zero (after logging why) if a configured destination could not be written.
publish_metrics() {
    ok=0
    if [ -n "${METRICS_FILE:-}" ]; then
        if cp "$1" "$METRICS_FILE.tmp.$$" 2>/dev/null && mv "$METRICS_FILE.tmp.$$" "$METRICS_FILE" 2>/dev/null; then
            log "metrics written to $METRICS_FILE"
        else
            log "warning: cannot write METRICS_FILE $METRICS_FILE"
            rm -f "$METRICS_FILE.tmp.$$"
            ok=1
        fi
    fi
    if [ -n "${PUSHGATEWAY_URL:-}" ]; then
        url="${PUSHGATEWAY_URL%/}/metrics/job/$2/$3"
        if curl -fsS --max-time 30 --retry 2 -X POST --data-binary "@$1" "$url" >"$WORK_DIR/push.log" 2>&1; then
            log "metrics pushed to $url"
        else
            log "warning: push to $url failed: $(reason_line "$WORK_DIR/push.log")"
            ok=1
        fi
    fi
    return "$ok"
}

# Names used in metric labels and S3 keys: keep them to what a Kubernetes name allows.
require_cluster_name() {
    require_env CLUSTER_NAME
    case "$CLUSTER_NAME" in
        *[!A-Za-z0-9._-]*) die "CLUSTER_NAME may only contain letters, digits, '.', '_' and '-', got '$CLUSTER_NAME'" ;;
    esac
}

# ---- restore verification results (both verify scripts) ----
# A script sets VERIFY_KIND, calls verification_begin early and adds facts with detail_*;
# verification_publish runs from the exit hook, on success and on failure alike.

verification_begin() {
    VERIFY_STARTED=$(date -u +%s)
    echo '{}' >"$WORK_DIR/details.json"
    EXIT_HOOK=verification_publish
}

# detail_str KEY VALUE / detail_num KEY NUMBER: facts for the JSON result.
detail_str() {
    jq --arg k "$1" --arg v "$2" '.[$k] = $v' "$WORK_DIR/details.json" >"$WORK_DIR/details.tmp" &&
        mv "$WORK_DIR/details.tmp" "$WORK_DIR/details.json"
}

detail_json() {
    jq --arg k "$1" --argjson v "$2" '.[$k] = $v' "$WORK_DIR/details.json" >"$WORK_DIR/details.tmp" &&
        mv "$WORK_DIR/details.tmp" "$WORK_DIR/details.json"
}

verification_publish() {
    rc=$1
    [ -n "$WORK_DIR" ] && [ -f "$WORK_DIR/details.json" ] || return "$rc"
    now=$(date -u +%s)
    duration=$((now - VERIFY_STARTED))
    success=0
    [ "$rc" -ne 0 ] || success=1
    labels="kind=\"$VERIFY_KIND\",cluster=\"$(prom_label "$CLUSTER_NAME")\""
    metrics="$WORK_DIR/metrics.prom"
    {
        prom_gauge drstack_restore_verification_success \
            "1 if the newest backup was restored and verified, else 0." "$labels" "$success"
        prom_gauge drstack_restore_verification_last_run_timestamp_seconds \
            "When the restore verification last finished (success or not)." "$labels" "$now"
        last_success=$now
        if [ "$success" -eq 0 ]; then
            # Keep the earlier success time in a textfile so alert rules still see its age.
            last_success=$(prom_previous_value "${METRICS_FILE:-}" \
                drstack_restore_verification_last_success_timestamp_seconds "$labels")
        fi
        if [ -n "$last_success" ]; then
            prom_gauge drstack_restore_verification_last_success_timestamp_seconds \
                "When the restore verification last succeeded." "$labels" "$last_success"
        fi
        prom_gauge drstack_restore_verification_duration_seconds \
            "How long the last restore verification took." "$labels" "$duration"
        if [ -n "${RECOVERY_POINT_AGE:-}" ]; then
            prom_gauge drstack_restore_verification_recovery_point_age_seconds \
                "Age of the newest transaction a physical restore recovered, at verification time." \
                "$labels" "$RECOVERY_POINT_AGE"
        fi
    } >"$metrics"
    published=0
    publish_metrics "$metrics" drstack-restore-verification "kind/$VERIFY_KIND/cluster/$CLUSTER_NAME" || published=1

    result="$WORK_DIR/result.json"
    jq -n --arg kind "$VERIFY_KIND" --arg cluster "$CLUSTER_NAME" --argjson success "$success" \
        --arg reason "$FAIL_REASON" --argjson started "$VERIFY_STARTED" --argjson finished "$now" \
        --slurpfile details "$WORK_DIR/details.json" \
        '{kind: $kind, cluster: $cluster, success: ($success == 1),
          reason: (if $reason == "" then null else $reason end),
          started_at: ($started | todate), finished_at: ($finished | todate),
          duration_seconds: ($finished - $started)} + $details[0]' >"$result"
    cat "$result"
    key="${RESULTS_PREFIX:-verification/}$CLUSTER_NAME/$VERIFY_KIND-latest.json"
    if [ -n "${S3_BUCKET:-}" ]; then
        # Not run(): that would die() again; a publishing problem is logged and changes the exit code.
        if s3_cp_encrypted "$result" "s3://$S3_BUCKET/$key" >"$WORK_DIR/put.log" 2>&1; then
            log "result written to s3://$S3_BUCKET/$key"
        else
            log "warning: cannot upload the result to s3://$S3_BUCKET/$key: $(reason_line "$WORK_DIR/put.log")"
            published=1
        fi
    fi
    if [ "$rc" -eq 0 ] && [ "$published" -ne 0 ]; then
        printf '%s: %s\n' "$SCRIPT_NAME" "verification passed but publishing its result failed (see the job log)" >&3
        return 1
    fi
    return "$rc"
}
