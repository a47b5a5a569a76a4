#!/bin/sh
# Fence check: a primary whose region returns after an emergency failover must not take writes.
# The promoted peer wrote s3://<its bucket>/fence/<peer cluster>.json; S3 replication carries
# it into this region's bucket. If that marker is newer than this cluster's own promotion
# (generation) and this stack is not declared standby, fence this cluster with CloudNativePG's
# fencing annotation (cnpg.io/fencedInstances: ["*"]). It never lifts a fence: that is a step of
# failback. It reads only this region's bucket and this cluster's API server, never the peer
# region (which may be gone). Contract: model/fence.ts; configuration: scripts/README.md.

# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

require_cluster_name
require_env PEER_CLUSTER_NAME CLUSTER_ROLE S3_BUCKET
case "$PEER_CLUSTER_NAME" in
    *[!A-Za-z0-9._-]*) die "PEER_CLUSTER_NAME may only contain letters, digits, '.', '_' and '-', got '$PEER_CLUSTER_NAME'" ;;
esac
[ "$PEER_CLUSTER_NAME" != "$CLUSTER_NAME" ] || die "PEER_CLUSTER_NAME must name the other stack's cluster, not this one ($CLUSTER_NAME)"
case "$CLUSTER_ROLE" in
    primary | standby) ;;
    *) die "CLUSTER_ROLE must be primary or standby (the stack's drstack:role), got '$CLUSTER_ROLE'" ;;
esac
require_uint PROMOTION_GENERATION
[ "${#PROMOTION_GENERATION}" -le 9 ] || die "PROMOTION_GENERATION must be below 1000000000, got $PROMOTION_GENERATION"
FENCE_PREFIX=${FENCE_PREFIX-fence/}
require_cmd aws jq curl
setup_work_dir

MARKER_FORMAT="drstack-fence/1"
FENCE_ANNOTATION="cnpg.io/fencedInstances"
marker_key="$FENCE_PREFIX$PEER_CLUSTER_NAME.json"
labels="cluster=\"$(prom_label "$CLUSTER_NAME")\""
peer_labels="$labels,peer=\"$(prom_label "$PEER_CLUSTER_NAME")\""
# Facts for the metrics; empty = not known (not published).
MARKER_GENERATION=""
MARKER_TIME=""
FENCED=""

# Published on success and on failure (exit hook), like the verify scripts' results.
fence_publish() {
    rc=$1
    [ -n "$WORK_DIR" ] || return "$rc"
    success=0
    [ "$rc" -ne 0 ] || success=1
    metrics="$WORK_DIR/metrics.prom"
    {
        prom_gauge drstack_fence_check_success "1 if the last fence check ran to the end, else 0." "$labels" "$success"
        prom_gauge drstack_fence_check_last_run_timestamp_seconds "When the fence check last finished." "$labels" "$(date -u +%s)"
        prom_gauge drstack_fence_promotion_generation \
            "This cluster's promotion generation (PROMOTION_GENERATION): markers up to it are stale." "$labels" "$PROMOTION_GENERATION"
        if [ -n "$MARKER_GENERATION" ]; then
            prom_gauge drstack_fence_marker_generation \
                "Generation of the peer's fence marker in this region's bucket (0: none)." "$peer_labels" "$MARKER_GENERATION"
        fi
        if [ -n "$MARKER_TIME" ]; then
            prom_gauge drstack_fence_marker_timestamp_seconds \
                "promotedAt of the peer's fence marker in this region's bucket." "$peer_labels" "$MARKER_TIME"
        fi
        if [ -n "$FENCED" ]; then
            prom_gauge drstack_fence_cluster_fenced \
                "1 if the whole cluster carries CloudNativePG's fence (cnpg.io/fencedInstances [\"*\"]), else 0." "$labels" "$FENCED"
        fi
    } >"$metrics"
    if ! publish_metrics "$metrics" drstack-fence-check "cluster/$CLUSTER_NAME" && [ "$rc" -eq 0 ]; then
        printf '%s: %s\n' "$SCRIPT_NAME" "fence check done but publishing its metrics failed (see the job log)" >&3
        return 1
    fi
    return "$rc"
}
EXIT_HOOK=fence_publish

# ---- the Kubernetes API, with the pod's service account and plain curl ----

kube_init() {
    sa_dir=/var/run/secrets/kubernetes.io/serviceaccount
    KUBE_TOKEN_FILE=${KUBE_TOKEN_FILE:-$sa_dir/token}
    KUBE_CA_FILE=${KUBE_CA_FILE:-$sa_dir/ca.crt}
    [ -r "$KUBE_TOKEN_FILE" ] || die "cannot read the service account token $KUBE_TOKEN_FILE (KUBE_TOKEN_FILE; automountServiceAccountToken must be on)"
    if [ -z "${KUBE_NAMESPACE:-}" ]; then
        KUBE_NAMESPACE=$(cat "$sa_dir/namespace" 2>/dev/null) || KUBE_NAMESPACE=""
        [ -n "$KUBE_NAMESPACE" ] || die "KUBE_NAMESPACE is unset and $sa_dir/namespace cannot be read"
    fi
    case "$KUBE_NAMESPACE" in
        *[!a-z0-9-]*) die "KUBE_NAMESPACE must be a Kubernetes namespace name, got '$KUBE_NAMESPACE'" ;;
    esac
    if [ -z "${KUBE_API_URL:-}" ]; then
        [ -n "${KUBERNETES_SERVICE_HOST:-}" ] ||
            die "KUBE_API_URL is unset and so is KUBERNETES_SERVICE_HOST (set in every pod): cannot find the API server"
        host=$KUBERNETES_SERVICE_HOST
        case "$host" in *:*) host="[$host]" ;; esac # IPv6
        KUBE_API_URL="https://$host:${KUBERNETES_SERVICE_PORT:-443}"
    fi
    KUBE_API_URL=${KUBE_API_URL%/}
    case "$KUBE_API_URL" in
        https://*) [ -r "$KUBE_CA_FILE" ] || die "cannot read the API server's CA $KUBE_CA_FILE (KUBE_CA_FILE)" ;;
        http://*) ;;
        *) die "KUBE_API_URL must start with https:// (or http:// for a local stand-in), got '$KUBE_API_URL'" ;;
    esac
    # CustomResourceDefinition clusters.postgresql.cnpg.io (CloudNativePG config/crd/bases), namespaced.
    cluster_path="/apis/postgresql.cnpg.io/v1/namespaces/$KUBE_NAMESPACE/clusters/$CLUSTER_NAME"
    cluster_ref="Cluster $KUBE_NAMESPACE/$CLUSTER_NAME"
}

# kube_request DESCRIPTION METHOD OUTFILE [CONTENT_TYPE BODYFILE]: the API's answer (JSON) goes to
# OUTFILE; dies naming the description, the HTTP status and the API's own message otherwise.
# The token is read at every call (kubelet rotates it) and passed in a header file, never on
# the command line (other processes could read that).
kube_request() {
    desc=$1
    method=$2
    out=$3
    old_umask=$(umask)
    umask 077
    printf 'Authorization: Bearer %s\n' "$(cat "$KUBE_TOKEN_FILE")" >"$WORK_DIR/auth.header"
    umask "$old_umask"
    if [ "$#" -ge 5 ]; then
        set -- -H "Content-Type: $4" --data-binary "@$5"
    else
        set --
    fi
    set -- "$@" -sS --connect-timeout 10 --max-time 30 -X "$method" -H "@$WORK_DIR/auth.header" \
        -H 'Accept: application/json' -o "$out" -w '%{http_code}'
    case "$KUBE_API_URL" in https://*) set -- "$@" --cacert "$KUBE_CA_FILE" ;; esac
    rc=0
    supervise curl "$@" "$KUBE_API_URL$cluster_path" >"$WORK_DIR/http.code" 2>"$WORK_DIR/curl.err" || rc=$?
    rm -f "$WORK_DIR/auth.header"
    [ "$rc" -eq 0 ] || die "$desc failed: cannot reach the Kubernetes API at $KUBE_API_URL (curl exit $rc): $(reason_line "$WORK_DIR/curl.err")"
    code=$(cat "$WORK_DIR/http.code")
    case "$code" in
        2??) ;;
        *)
            # A Kubernetes Status object carries the reason in .message.
            msg=$(jq -r '.message // empty' "$out" 2>/dev/null | head -n 1 | cut -c1-300)
            [ -n "$msg" ] || msg=$(reason_line "$out")
            die "$desc failed: HTTP $code from the Kubernetes API: $msg"
            ;;
    esac
}

# Writes 1 to FILE if the Cluster object in JSON fences every instance, else 0. An annotation
# that is not a JSON list counts as not fenced (CloudNativePG rejects it as invalid syntax).
whole_cluster_fenced() {
    jq -r --arg a "$FENCE_ANNOTATION" \
        '.metadata.annotations[$a] // "[]" | (try fromjson catch []) | if type == "array" and index("*") != null then 1 else 0 end' \
        "$1" >"$2" || die "unexpected answer for $cluster_ref (not a JSON object)"
}

# ---- 1. the peer's marker in this region's bucket ----

step "looking for the peer's fence marker s3://$S3_BUCKET/$marker_key"
fence_needed=0
if s3_exists "$S3_BUCKET" "$marker_key"; then
    s3_get "s3://$S3_BUCKET/$marker_key" "$WORK_DIR/marker.json"
    # The contract (model/fence.ts): anything else is refused rather than guessed at.
    problem=$(jq -r --arg format "$MARKER_FORMAT" --arg peer "$PEER_CLUSTER_NAME" --arg self "$CLUSTER_NAME" '
        if type != "object" then "is not a JSON object"
        elif .format != $format then "has format \(.format | tojson), expected \($format)"
        elif .promotedCluster != $peer then "names promotedCluster \(.promotedCluster | tojson), expected \($peer) (its key)"
        elif .fencedCluster != $self then "fences \(.fencedCluster | tojson), not this cluster \($self): check PEER_CLUSTER_NAME"
        elif (.generation | type) != "number" or .generation != (.generation | floor) or .generation < 1 or .generation > 999999999
            then "has generation \(.generation | tojson), expected a whole number from 1 to 999999999"
        elif (.promotedAt | type) != "string" or ((.promotedAt | try fromdate catch null) == null)
            then "has promotedAt \(.promotedAt | tojson), expected UTC like 2026-11-24T11:00:00Z"
        else empty end' "$WORK_DIR/marker.json" 2>"$WORK_DIR/jq.err") ||
        die "fence marker s3://$S3_BUCKET/$marker_key is not valid JSON: $(reason_line "$WORK_DIR/jq.err")"
    [ -z "$problem" ] || die "fence marker s3://$S3_BUCKET/$marker_key $problem"
    jq -r '[.generation, (.promotedAt | fromdate), .promotedAt, (.reason // "" | tostring | gsub("[\r\n\t]"; " "))] | @tsv' \
        "$WORK_DIR/marker.json" >"$WORK_DIR/marker.tsv"
    IFS=$(printf '\t') read -r MARKER_GENERATION MARKER_TIME promoted_at reason <"$WORK_DIR/marker.tsv"
    log "marker: $PEER_CLUSTER_NAME promoted at $promoted_at, generation $MARKER_GENERATION, reason: $reason"
    if [ "$CLUSTER_ROLE" = standby ]; then
        log "this stack is declared standby: a standby takes no writes, nothing to fence"
    elif [ "$MARKER_GENERATION" -le "$PROMOTION_GENERATION" ]; then
        log "stale marker: generation $MARKER_GENERATION <= this cluster's promotion generation $PROMOTION_GENERATION (promoted after it): ignored"
    else
        log "the marker is newer than this cluster's promotion (generation $PROMOTION_GENERATION): $CLUSTER_NAME must be fenced"
        fence_needed=1
    fi
else
    MARKER_GENERATION=0
    log "no fence marker from $PEER_CLUSTER_NAME"
fi

# ---- 2. this cluster (primary role only: a standby stack's cluster may not even exist yet) ----

if [ "$CLUSTER_ROLE" = standby ]; then
    log "declared standby: the cluster is not read"
    exit 0
fi
kube_init
step "reading $cluster_ref"
kube_request "reading $cluster_ref" GET "$WORK_DIR/cluster.json"
whole_cluster_fenced "$WORK_DIR/cluster.json" "$WORK_DIR/fenced"
FENCED=$(cat "$WORK_DIR/fenced")
current=$(jq -r --arg a "$FENCE_ANNOTATION" '.metadata.annotations[$a] // "(none)"' "$WORK_DIR/cluster.json")
log "$cluster_ref: $FENCE_ANNOTATION = $current"

if [ "$fence_needed" -eq 1 ]; then
    if [ "$FENCED" -eq 1 ]; then
        log "$cluster_ref is already fenced: nothing to do (lifting the fence is a failback step)"
    else
        step "fencing $cluster_ref"
        # A JSON merge patch (RFC 7386) of one annotation: custom resources take no strategic
        # merge patch, and CloudNativePG's own `kubectl cnpg fencing on` sends a merge patch too
        # (pkg/utils/fencing.go @v1.30.0, client.MergeFrom). ["*"] replaces a list of single
        # instances, as the plugin does.
        jq -n --arg a "$FENCE_ANNOTATION" '{metadata: {annotations: {($a): (["*"] | tojson)}}}' >"$WORK_DIR/patch.json"
        kube_request "fencing $cluster_ref" PATCH "$WORK_DIR/patched.json" application/merge-patch+json "$WORK_DIR/patch.json"
        whole_cluster_fenced "$WORK_DIR/patched.json" "$WORK_DIR/fenced"
        [ "$(cat "$WORK_DIR/fenced")" -eq 1 ] || die "fencing $cluster_ref: the API accepted the patch but the answer does not carry $FENCE_ANNOTATION [\"*\"]"
        FENCED=1
        log "FENCED $cluster_ref ($FENCE_ANNOTATION = [\"*\"]): CloudNativePG stops its PostgreSQL; marker generation $MARKER_GENERATION from $PEER_CLUSTER_NAME"
    fi
fi
