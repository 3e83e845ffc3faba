#!/usr/bin/env bash
# The serving load test of bench/README.md ("Serving"): runner -mode serve
# and bench/loadtest as separate processes on this machine.
#
#   bench/serve.sh TRANSLATION_RUN CAPTIONING_RUN [OUT]
#
# TRANSLATION_RUN and CAPTIONING_RUN are trained run folders (the models'
# names are their base names). Results go to OUT (default bench/out/serve,
# ignored by git): results.jsonl (one line per run, from loadtest -out),
# tables.md (the same as Markdown tables), machine.log (uptime and top
# before every run), rss-*.tsv (the server's VmRSS over the long runs) and
# the servers' logs.
#
# Steps, each ROUNDS times (interleaved, so that other work on the machine
# spreads over both rounds):
#   scaling   translation and captioning at CLIENTS clients, DURATION each
#   overload  OVERLOAD_CLIENTS clients against a server with -queue
#             OVERLOAD_QUEUE: only 503s may fail; once with clients that
#             send again at once after a 503, once with clients that wait
#             as its Retry-After says
#   rss       RSS_CLIENTS clients for LONG against a fresh server while its
#             VmRSS is sampled every RSS_EVERY
#   capacity  one client whose requests carry PER_REQUEST inputs each, to a
#             server with -batch-size 64: the model's inputs/s by batch
#             size, without the batcher gathering requests (what batching
#             can gain at most)
# Environment (defaults): ROUNDS (2), DURATION (30s), WARMUP (2s), CLIENTS
# ("1 8 64"), OVERLOAD_CLIENTS (256), OVERLOAD_QUEUE (16), LONG (5m),
# RSS_CLIENTS (64), RSS_EVERY (5s), RSS_TASKS ("translation captioning"),
# PER_REQUEST ("1 8 32 64"), STEPS ("scaling overload rss capacity"), ADDR (127.0.0.1:18080), SERVE_FLAGS (extra
# flags for runner -mode serve, e.g. "-batch-size 64 -batch-wait 5ms"),
# RUNNER (a runner binary to use instead of building ./cmd/runner).
set -euo pipefail

if [[ $# -lt 2 ]]; then
	sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
	exit 2
fi
cd "$(dirname "$0")/.."
TRANSLATION=$(realpath "$1")
CAPTIONING=$(realpath "$2")
OUT=${3:-bench/out/serve}
ROUNDS=${ROUNDS:-2}
DURATION=${DURATION:-30s}
WARMUP=${WARMUP:-2s}
CLIENTS=${CLIENTS:-"1 8 64"}
OVERLOAD_CLIENTS=${OVERLOAD_CLIENTS:-256}
OVERLOAD_QUEUE=${OVERLOAD_QUEUE:-16}
LONG=${LONG:-5m}
RSS_CLIENTS=${RSS_CLIENTS:-64}
RSS_EVERY=${RSS_EVERY:-5s}
RSS_TASKS=${RSS_TASKS:-"translation captioning"}
PER_REQUEST=${PER_REQUEST:-"1 8 32 64"}
STEPS=${STEPS:-"scaling overload rss capacity"}
ADDR=${ADDR:-127.0.0.1:18080}
SERVE_FLAGS=${SERVE_FLAGS:-}

for d in "$TRANSLATION" "$CAPTIONING"; do
	[[ -f $d/best.safetensors ]] || { echo "serve.sh: $d has no best.safetensors" >&2; exit 2; }
done
mkdir -p "$OUT/bin"
OUT=$(realpath "$OUT")
if [[ -n ${RUNNER:-} ]]; then
	cp "$RUNNER" "$OUT/bin/runner"
	echo "runner: $RUNNER" >"$OUT/build.txt"
else
	go build -o "$OUT/bin/runner" ./cmd/runner
	echo "runner: commit $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- . ':!bench' || echo ' with uncommitted changes')" >"$OUT/build.txt"
fi
go build -o "$OUT/bin/loadtest" ./bench/loadtest

# One English sentence per line, from the shipped Tatoeba pairs: distinct
# sources of at most 10 words (the model's training filter), every 96th.
zcat data/translation/eng-fra.txt.gz |
	awk -F'\t' '!seen[$1]++ && split($1, w, " ") <= 10 { if (n++ % 96 == 0) print $1 }' >"$OUT/sentences.txt"
IMAGES=data/flickr8k-demo/images_64x64

request() { # task: sets REQ to loadtest's flags for the task's request
	case $1 in
	translation) REQ=(-json '{"inputs": [{{line}}]}' -lines "$OUT/sentences.txt") ;;
	captioning) REQ=(-image "$IMAGES") ;;
	esac
}
declare -A MODEL
MODEL[translation]=$(basename "$TRANSLATION")
MODEL[captioning]=$(basename "$CAPTIONING")

SRV=
start_server() { # tag, extra runner flags...
	local tag=$1
	shift
	# shellcheck disable=SC2086
	"$OUT/bin/runner" -mode serve -run "$TRANSLATION" -run "$CAPTIONING" -addr "$ADDR" $SERVE_FLAGS "$@" \
		>"$OUT/server-$tag.log" 2>&1 &
	SRV=$!
}
stop_server() {
	[[ -n $SRV ]] || return 0
	kill -TERM "$SRV" 2>/dev/null || true
	wait "$SRV" || echo "serve.sh: server $SRV exited $?" >&2
	SRV=
}
trap stop_server EXIT

machine() { # label: what else runs on the machine before a run
	{
		echo "== $(date -u +%FT%TZ) $1"
		uptime
		top -bn1 -w 160 | sed -n '7,13p'
	} >>"$OUT/machine.log"
}

measure() { # label task clients duration [loadtest flags...]
	local label=$1 task=$2 clients=$3 duration=$4
	shift 4
	machine "$label"
	echo "--- $label" >&2
	request "$task"
	"$OUT/bin/loadtest" -url "http://$ADDR/v1/models/${MODEL[$task]}/predict" "${REQ[@]}" \
		-c "$clients" -d "$duration" -warmup "$WARMUP" -wait 5m -pid "$SRV" -label "$label" \
		-out "$OUT/results.jsonl" "$@" || echo "serve.sh: $label: loadtest exited $?" >&2
}

for round in $(seq 1 "$ROUNDS"); do
	if [[ " $STEPS " == *" scaling "* ]]; then
		start_server "scaling-$round"
		for task in translation captioning; do
			for c in $CLIENTS; do
				measure "$task c=$c round $round" "$task" "$c" "$DURATION"
			done
		done
		stop_server
	fi
	if [[ " $STEPS " == *" overload "* ]]; then
		start_server "overload-$round" -queue "$OVERLOAD_QUEUE"
		for task in translation captioning; do
			measure "$task overload c=$OVERLOAD_CLIENTS queue=$OVERLOAD_QUEUE round $round" "$task" \
				"$OVERLOAD_CLIENTS" "$DURATION"
			measure "$task overload c=$OVERLOAD_CLIENTS queue=$OVERLOAD_QUEUE retry-after round $round" "$task" \
				"$OVERLOAD_CLIENTS" "$DURATION" -retry-after
		done
		stop_server
	fi
	if [[ " $STEPS " == *" rss "* ]]; then
		for task in $RSS_TASKS; do
			start_server "rss-$task-$round"
			measure "$task $LONG c=$RSS_CLIENTS round $round" "$task" "$RSS_CLIENTS" "$LONG" \
				-rss-every "$RSS_EVERY" -rss-log "$OUT/rss-$task-$round.tsv"
			stop_server
		done
	fi
	if [[ " $STEPS " == *" capacity "* ]]; then
		start_server "capacity-$round" -batch-size 64
		for n in $PER_REQUEST; do
			slots='{{line}}'
			for ((i = 1; i < n; i++)); do slots+=',{{line}}'; done
			measure "translation $n per request round $round" translation 1 "$DURATION" -json "{\"inputs\": [$slots]}"
			measure "captioning $n per request round $round" captioning 1 "$DURATION" -per-request "$n"
		done
		stop_server
	fi
done

"$OUT/bin/loadtest" -table "$OUT/results.jsonl" | tee "$OUT/tables.md"
# The long runs' VmRSS: at the start (models just loaded), then from 30 s
# on (the working set), where a leak would show as growth.
for f in "$OUT"/rss-*.tsv; do
	[[ -f $f ]] || continue
	awk -v name="$(basename "$f" .tsv)" '
		NR == 1 { start = $2 }
		$1 >= 30 { if (!n++) { first = lo = hi = $2 }; lo = $2 < lo ? $2 : lo; hi = $2 > hi ? $2 : hi; last = $2; t = $1 }
		END { printf "%s: VmRSS %.1f MiB at start; %.1f MiB at 30 s, %.1f MiB at %.0f s (min %.1f, max %.1f over %d samples)\n",
			name, start / 1024, first / 1024, last / 1024, t, lo / 1024, hi / 1024, n }' "$f"
done | tee -a "$OUT/tables.md"
