# SPDX-License-Identifier: BSD-3-Clause
# Sourced by the call tests (call_bed.sh, call_sipp.sh, call_pstn.sh,
# tdm/tdme_two_gateways.sh):
# TAP-like result lines, waiting for a log line or the dataplane, SIPp in
# the background, the two-peer test bed, and stopping what a test started.

pass=0 fail=0
ok() { pass=$((pass + 1)); echo "ok - $1"; }
# bad NAME [FILE]: a failed check, with the end of FILE to show why
bad() { fail=$((fail + 1)); echo "not ok - $1"; [ -n "${2:-}" ] && [ -f "$2" ] && tail -n 30 "$2" | sed 's/^/    | /'; }
# check NAME FILE REGEX: the file matches
check() { if grep -Eq -- "$3" "$2"; then ok "$1"; else bad "$1 (no /$3/ in $(basename "$2"))" "$2"; fi; }

# The pids in the array PIDS, newest first: SIGTERM, 5 s to exit, then SIGKILL.
stop_pids() {
	local i p
	for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
		p=${PIDS[i]}
		kill -TERM "$p" 2> /dev/null || continue
		wait_gone "$p" 50
		kill -9 "$p" 2> /dev/null && echo "pid $p did not stop in 5 s: killed"
	done
	wait 2> /dev/null
}

# count FILE REGEX: the lines of FILE that match REGEX (grep -E); 0 if none
# or no FILE.
count() { local n; n=$(grep -Ec -- "$2" "$1" 2> /dev/null); echo "${n:-0}"; }
# wait_until TENTHS CMD [ARG...]: until CMD succeeds, at most TENTHS times
# 0.1 s; 1 if it never did. Not a check: the check that follows says what
# was expected.
wait_until() {
	local t n=$1
	shift
	for ((t = 0; t < n; t++)); do
		"$@" && return 0
		sleep 0.1
	done
	return 1
}

# ctrl_tcp NS PORT COMMAND [PARAMS]: a command to the ctrl_tcp module of the
# baresip in NS on 127.0.0.1:PORT (netstrings of JSON); prints its response
# (events on the connection are passed over), at most 3 s for each read; 1
# if none came. Returning on the response, not after a fixed pause: the
# command has been carried out.
ctrl_tcp() {
	local j="{\"command\":\"$3\",\"params\":\"${4:-}\",\"token\":\"t\"}"
	ip netns exec "$1" env LC_ALL=C bash -c 'exec 3<>/dev/tcp/127.0.0.1/$1 || exit 1
printf "%d:%s," ${#2} "$2" >&3
while IFS= read -r -t 3 -d : n <&3; do
	IFS= read -r -t 3 -N $((n + 1)) m <&3 || exit 1
	case $m in *\"response\":true*) printf "%s\n" "${m%,}"; exit 0 ;; esac
done
exit 1' ctrl_tcp "$2" "$j" 2> /dev/null
}

# wait_log FILE REGEX [N [TENTHS]]: until at least N (default 1) lines of
# FILE match REGEX, at most TENTHS (default 30) times 0.1 s; 1 if they never
# did.
log_has() { [ "$(count "$1" "$2")" -ge "$3" ]; }
wait_log() { wait_until "${4:-30}" log_has "$1" "$2" "${3:-1}"; }

# wait_gone PID [TENTHS]: until process PID has exited, at most TENTHS
# (default 30) times 0.1 s; 1 if it still runs.
gone() { ! kill -0 "$1" 2> /dev/null; }
wait_gone() { wait_until "${2:-30}" gone "$1"; }

# wait_dp SOCKET: until the dataplane answers a ping on SOCKET ($DPCTL), at
# most 20 s (an EAL start on a loaded machine); 1 if it never did. The
# check on the control's log that follows says whether the gateway is up.
dp_pings() { "$DPCTL" --socket "$1" ping > /dev/null 2>&1; }
wait_dp() { wait_until 200 dp_pings "$1"; }

# sipp_bg OUT ARGS...: start "sipp ARGS -nostdin -bg" (SIPp forks itself
# into the background and prints "PID=[n]"), its output in OUT; that pid is
# added to PIDS (stopped at exit) and left in SIPP_PID (empty if none).
sipp_bg() {
	local out=$1
	shift
	sipp "$@" -nostdin -bg > "$out" 2>&1
	SIPP_PID=$(sed -n 's/.*PID=\[\([0-9]*\)\].*/\1/p' "$out" | head -n 1)
	[ -n "$SIPP_PID" ] && PIDS+=($SIPP_PID)
	return 0
}

# bed_up P: the two-peer test bed of $BED_TAG (call_bed.sh,
# tdme_two_gateways.sh): namespaces $BED_TAG-gw (the gateway), $BED_TAG-a and
# $BED_TAG-b (the peers); per peer s (a, b) a media veth Pms (IPv6 off: no
# stray packets on the dataplane's port) and a SIP veth Pss in the gateway's
# namespace, their ends Pms1 and Pss1 in the peer's; all up, lo up too.
# Addresses and routes are the caller's. Run it under set -e.
bed_up() {
	local s
	ip netns add "$BED_TAG-gw"
	ip -n "$BED_TAG-gw" link set lo up
	for s in a b; do
		ip netns add "$BED_TAG-$s"
		ip -n "$BED_TAG-gw" link add "$1-m$s" type veth peer name "$1-m${s}1" netns "$BED_TAG-$s"
		ip -n "$BED_TAG-gw" link add "$1-s$s" type veth peer name "$1-s${s}1" netns "$BED_TAG-$s"
		ip netns exec "$BED_TAG-gw" sysctl -qw "net.ipv6.conf.$1-m$s.disable_ipv6=1"
		ip -n "$BED_TAG-gw" link set "$1-m$s" up
		ip -n "$BED_TAG-gw" link set "$1-s$s" up
		ip -n "$BED_TAG-$s" link set lo up
		ip -n "$BED_TAG-$s" link set "$1-m${s}1" up
		ip -n "$BED_TAG-$s" link set "$1-s${s}1" up
	done
}

# bed_down TAG: remove a two-peer test bed (call_bed.sh, tdme_two_gateways.sh):
# namespaces TAG-a, TAG-b (the peers) and TAG-gw (the gateway), with their
# veths (made inside them, never in the host's namespace). TAG carries the
# run's PID (call-<pid hex>, tdme-<pid hex>), so this touches nothing of
# another run. Whatever still runs in them was started by this run: killed.
bed_down() {
	local n p
	for n in "$1-a" "$1-b" "$1-gw"; do
		for p in $(ip netns pids "$n" 2> /dev/null); do kill -9 "$p" 2> /dev/null; done
		ip netns del "$n" 2> /dev/null
	done
	return 0
}

# The EXIT trap of every call test: stop_pids (newest first: peers, then
# control, which hangs up and removes its sessions while the dataplane still
# answers, then the dataplane); the test bed of $BED_TAG if set; each EAL
# runtime directory /var/run/dpdk/P for P in $PREFIX; the work directory $W,
# kept when $KEEP (default $CALL_KEEP) is 1.
call_cleanup() {
	local p
	stop_pids
	[ -n "${BED_TAG:-}" ] && bed_down "$BED_TAG"
	for p in $PREFIX; do rm -rf "/var/run/dpdk/$p"; done
	if [ "${KEEP:-${CALL_KEEP:-0}}" = 1 ]; then echo "files kept in $W"; else rm -rf "$W"; fi
}

# ---- structured state (mgctl --json, mediagate-dpctl JSON) --------------------
# js EXPR: EXPR (Python; d is the JSON object on stdin's first line) printed,
# JSON for a dict or list, "None" when the input or EXPR does not hold.
js() {
	python3 -c 'import json,sys
try: d=json.loads(sys.stdin.readline())
except ValueError: d=None
try: v=eval(sys.argv[1])
except Exception: v=None
print(json.dumps(v) if isinstance(v,(dict,list)) else v)' "$1"
}
# jq_py EXPR: like js, on the whole of stdin (one JSON document, any lines)
jq_py() { python3 -c 'import json,sys
try: d=json.load(sys.stdin)
except ValueError: d=None
try: v=eval(sys.argv[1])
except Exception: v=None
print(json.dumps(v) if isinstance(v,(dict,list)) else v)' "$1"; }
# mgj CONFIG ARGS...: mgctl --json ARGS on the gateway of CONFIG (its
# mediagate.control.cliSocket); $BUILD is the build directory.
mgj() { "$BUILD/control/mgctl/mgctl" --config "$1" --json "${@:2}"; }
# gw_state CONFIG: "calls=A sessions=S dp=D" now: the calls the control plane
# has (mgctl stats calls.active), its media sessions (media.sessions) and
# the sessions its dataplane holds (dataplane.sessions, as DP_STATS says).
gw_state() {
	mgj "$1" stats 2> /dev/null |
		js '"calls=%d sessions=%d dp=%d" % (d["calls"]["active"], d["media"]["sessions"], d["dataplane"]["sessions"])'
}
# gw_stat CONFIG KEY: one counter of mgctl stats' "calls" ("ended", "failed",
# "overload", ...)
gw_stat() { mgj "$1" stats 2> /dev/null | js "d['calls']['$2']"; }
# wait_gw_idle CONFIG [TENTHS]: until gw_state says 0, 0, 0, at most TENTHS
# (default 100) times 0.1 s; 1 if it never did (the state is in GW_STATE).
wait_gw_idle() {
	local t
	for ((t = 0; t < ${2:-100}; t++)); do
		GW_STATE=$(gw_state "$1")
		[ "$GW_STATE" = "calls=0 sessions=0 dp=0" ] && return 0
		sleep 0.1
	done
	return 1
}
# wait_gw_calls CONFIG STATE [TENTHS]: until "mgctl calls list" gives
# "N STATE..." (e.g. "1 active"), at most TENTHS (default 100) times 0.1 s;
# 1 if it never did (what it gave last is in GW_CALLS).
wait_gw_calls() {
	local t
	for ((t = 0; t < ${3:-100}; t++)); do
		GW_CALLS=$(mgj "$1" calls list 2> /dev/null |
			js '"%d %s" % (len(d["calls"]), " ".join(c["state"] for c in d["calls"]))')
		[ "$GW_CALLS" = "$2" ] && return 0
		sleep 0.1
	done
	return 1
}
# dp_total SOCKET: the number of sessions mediagate-dpctl lists ($DPCTL)
dp_total() { "$DPCTL" --socket "$1" session list 2> /dev/null | python3 -c 'import json,sys
try: print(json.load(sys.stdin)["total"])
except Exception: print("None")'; }
# log_since FILE N OUT: the lines of FILE after line N, into OUT (what a
# step logged: checks on it see that step only)
log_since() { tail -n +$(($2 + 1)) "$1" > "$3"; }
# redis_start SOCKET DIR: a throw-away redis-server (no TCP port, no
# persistence) on the unix socket SOCKET, its files and redis.log in DIR;
# its pid added to PIDS and left in REDIS_PID; then until it answers PING,
# at most 5 s; 1 if it never did.
redis_start() {
	local t
	redis-server --port 0 --unixsocket "$1" --unixsocketperm 700 --save '' --appendonly no \
		--dir "$2" > "$2/redis.log" 2>&1 &
	REDIS_PID=$!
	PIDS+=($!)
	for ((t = 0; t < 50; t++)); do redis-cli -s "$1" ping 2> /dev/null | grep -q PONG && return 0; sleep 0.1; done
	return 1
}
