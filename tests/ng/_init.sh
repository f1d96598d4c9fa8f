# SPDX-License-Identifier: BSD-3-Clause
# Sourced by every tests/ng/*_test.sh scenario: Kamailio (configs/kamailio-ng.cfg,
# its unmodified rtpengine module) in front of one or two NG media relays,
# SIP peers in network namespaces of their own. The relay is chosen by
#
#   RELAY=mediagate   (default; what meson's suite `ng` runs) or RELAY=rtpengine
#   RELAY2=KIND       the second relay of the two-relay scenarios (default
#                     $RELAY: two mediagate media nodes; RELAY2=rtpengine is a mixed
#                     set, how a migration looks)
#   NG_KEEP=1         keep the work directory /tmp/ng-T.XXXXXX
#
# Test bed (T = this run's PID in hex; nothing is shared with another run):
#
#   ns ng-T-a (caller)            ns ng-T-gw                        ns ng-T-b (callee)
#    ea 192.0.2.10/24 --- va --[ bridge br0 192.0.2.254 ]-- vb --- eb 192.0.2.20/24
#                                  Kamailio udp:192.0.2.254:5060
#                                  relay N: NG 127.0.0.1:(2213+10N) (lo of ng-T-gw):
#                                           2223, 2233, ... (rtpengine takes port+1 too)
#                                           media 192.0.2.N
#   rtpengine: its media address is a kernel address on br0.
#   mediagate: a veth dpN (dataplane, net_af_packet, owns 192.0.2.N) <-> dpNb
#              on br0; mediagate-control beside it (relay_start_mediagate).
#
# Scenarios: `scenario_begin NAME`, checks with ok/bad/check (TAP-like lines,
# tests/interop/call_lib.sh), `scenario_end` (exit status = failed checks).
# Checks read structured data: NG replies as JSON (ng_client.py), Kamailio's
# JSON-RPC (kam_rpc.py), counters; not the wording of logs.

set -uo pipefail
NG_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SRC=${SRC:-$(cd "$NG_DIR/../.." && pwd)}
BUILD=${BUILD:-$SRC/build}
RELAY=${RELAY:-mediagate}
RELAY2=${RELAY2:-$RELAY}
. "$SRC/tests/interop/call_lib.sh"

T=$(printf %x $$)
NS_GW=ng-$T-gw NS_A=ng-$T-a NS_B=ng-$T-b
W=$(mktemp -d "/tmp/ng-$T.XXXXXX")
PIDS=()
KEEP=${NG_KEEP:-0}
SIP_KAM=192.0.2.254 ADDR_A=192.0.2.10 ADDR_B=192.0.2.20
KAM_RPC=$W/kam/rpc.sock
declare -A RELAY_PID RELAY_KIND

# relay_ng N / relay_media N: relay N's NG address and media address.
relay_ng() { echo "127.0.0.1:$((2213 + 10 * $1))"; }
relay_media() { echo "192.0.2.$1"; }

need() {
	if [ "$(id -u)" -ne 0 ]; then
		echo "ng: needs root (network namespaces)"
		exit 1
	fi
	local b
	for b in kamailio python3 "$@"; do
		command -v "$b" > /dev/null || { echo "ng: $b is not installed (scripts/setup)"; exit 1; }
	done
}

ng_cleanup() {
	local n p
	stop_pids
	for n in $NS_A $NS_B $NS_GW; do
		for p in $(ip netns pids "$n" 2> /dev/null); do kill -9 "$p" 2> /dev/null; done
		ip netns del "$n" 2> /dev/null
	done
	for p in /var/run/dpdk/ng-$T-*; do [ -e "$p" ] && rm -rf "$p"; done
	if [ "$KEEP" = 1 ] || [ "${fail:-0}" -ne 0 ]; then echo "# files kept in $W"; else rm -rf "$W"; fi
}

# scenario_begin NAME [PROGRAMS...]: root, programs, the test bed, the trap.
scenario_begin() {
	SCENARIO=$1
	shift
	need "$@"
	trap ng_cleanup EXIT
	trap 'exit 1' INT TERM
	echo "# ng/$SCENARIO: RELAY=$RELAY, work directory $W"
	set -e
	ip netns add $NS_GW
	ip netns add $NS_A
	ip netns add $NS_B
	ip -n $NS_GW link set lo up
	ip -n $NS_GW link add br0 type bridge
	ip -n $NS_GW addr add $SIP_KAM/24 dev br0
	ip -n $NS_GW link set br0 up
	local s a
	for s in a b; do
		[ $s = a ] && a=$ADDR_A || a=$ADDR_B
		ip -n ng-$T-$s link set lo up
		ip -n $NS_GW link add v$s type veth peer name e$s netns ng-$T-$s
		ip -n $NS_GW link set v$s master br0
		ip -n $NS_GW link set v$s up
		ip -n ng-$T-$s addr add $a/24 dev e$s
		ip -n ng-$T-$s link set e$s up
	done
	set +e
	mkdir -p "$W/kam"
}

scenario_end() {
	echo "# ng/$SCENARIO: $pass passed, $fail failed (RELAY=$RELAY)"
	[ "$fail" -eq 0 ]
	exit $?
}

# ---- NG -------------------------------------------------------------------------
# ng N 'JSON' : relay N's reply as JSON on one line (empty + status 2: no reply)
ng() { ip netns exec $NS_GW python3 "$NG_DIR/ng_client.py" --compact --timeout 0.5 "$(relay_ng "$1")" "$2"; }
# ng_calls N: the call-ids relay N lists, one per line
ng_calls() { ng "$1" '{"command":"list"}' | jq_py '"\n".join(d["calls"])' | sed '/^$/d'; }
# ng_count N: how many calls relay N holds (-1: no answer)
ng_count() { local r; r=$(ng "$1" '{"command":"list"}') || { echo -1; return; }; echo "$r" | jq_py 'len(d["calls"])'; }
# wait_ng_count N COUNT [TENTHS]: until relay N holds COUNT calls
wait_ng_count() {
	local t
	for ((t = 0; t < ${3:-30}; t++)); do
		[ "$(ng_count "$1")" = "$2" ] && return 0
		sleep 0.1
	done
	return 1
}

# ---- relays -----------------------------------------------------------------------
# relay_start N [KIND [EXTRA...]]: relay N of KIND (default: $RELAY for 1,
# $RELAY2 for 2), NG on relay_ng N, media on relay_media N; waits for a pong.
relay_start() {
	local n=$1 kind=${2:-}
	[ -n "$kind" ] || { [ "$n" = 1 ] && kind=$RELAY || kind=$RELAY2; }
	shift 2 2> /dev/null || shift
	RELAY_KIND[$n]=$kind
	"relay_start_$kind" "$n" "$@" || return 1
	local t
	for ((t = 0; t < 100; t++)); do
		[ "$(ng "$n" '{"command":"ping"}' 2> /dev/null | jq_py 'd["result"]')" = pong ] && return 0
		kill -0 "${RELAY_PID[$n]}" 2> /dev/null || break
		sleep 0.1
	done
	echo "# relay $n ($kind) does not answer ping on $(relay_ng "$n")"
	tail -n 20 "$W/relay$n.log" | sed 's/^/#   | /'
	return 1
}
# relay_stop N: SIGTERM, 5 s, SIGKILL. relay_kill N: SIGKILL at once (a crash).
relay_stop() { "relay_stop_${RELAY_KIND[$1]}" "$1"; }
relay_kill() {
	kill -9 "${RELAY_PID[$1]}" 2> /dev/null
	wait "${RELAY_PID[$1]}" 2> /dev/null # reaped here: no "Killed" notice later
	! kill -0 "${RELAY_PID[$1]}" 2> /dev/null
}
# relay_pid N: the pid whose RSS is the relay's session memory
relay_pid() { echo "${RELAY_PID[$1]}"; }

# rtpengine-daemon, userspace only (no kernel table), in ng-T-gw.
# EXTRA: more options, e.g. --max-sessions=1.
relay_start_rtpengine() {
	local n=$1
	shift
	ip -n $NS_GW addr add "$(relay_media "$n")/24" dev br0
	ip netns exec $NS_GW rtpengine --config-file=none --table=-1 --foreground --log-stderr --log-level=${NG_RTPENGINE_LOG:-6} \
		--interface="$(relay_media "$n")" --listen-ng="$(relay_ng "$n")" \
		--port-min=$((30000 + n * 1000)) --port-max=$((30999 + n * 1000)) \
		--listen-cli="127.0.0.1:$((2214 + 10 * n))" --pidfile="$W/relay$n.pid" --delete-delay=0 --timeout=60 "$@" \
		> "$W/relay$n.log" 2>&1 &
	RELAY_PID[$n]=$!
	PIDS+=($!)
}
relay_stop_rtpengine() {
	kill -TERM "${RELAY_PID[$1]}" 2> /dev/null
	wait_gone "${RELAY_PID[$1]}" 50 || kill -9 "${RELAY_PID[$1]}" 2> /dev/null
}

# ==== mediagate (for the integrator) ===========================================
# relay_start_mediagate N [max-calls]: mediagate-dataplane on a veth dpN whose
# other end dpNb is on br0 (net_af_packet; the dataplane owns relay_media N:
# ARP, ICMP, RTP), then mediagate-control with the NG listener on relay_ng N.
# Both in ng-T-gw: the NG address is that namespace's loopback, like
# rtpengine's. Binaries from $BUILD (meson build dir). The pid given to
# relay_pid (RSS per session in ng-bench) is mediagate-control's.
# Expects: mediagate.ng.listen (SPEC §8), mediagate.calls.maxCalls for the
# load-limit scenario, media ports in 30000+N*1000..+999 like rtpengine.
# MG_EXTRA_CONF: more gw.properties lines (dp_restart_test.sh); MG_PORT_RANGE: the
# media port range instead (a standby pair shares one: ha_standby_test.sh).
# MG_SIP_UA / MG_RULES: the SIP user agents and the routing rules instead;
# MG_CTL_NS: the namespace of mediagate-control instead of ng-T-gw (the B2BUA
# standby pair of ha_standby_calls_test.sh: each on its own SIP address).
relay_start_mediagate() {
	local n=$1 max=${2:-0}
	local dp=$BUILD/dataplane/mediagate-dataplane ctl=$BUILD/control/mediagate-control
	DPCTL=$BUILD/dataplane/dpctl/mediagate-dpctl
	local b
	for b in "$dp" "$ctl" "$DPCTL"; do
		[ -x "$b" ] || { echo "# relay_start_mediagate: $b was not built (BUILD=$BUILD)"; return 1; }
	done
	case "$max" in --max-sessions=*) max=${max#--max-sessions=} ;; esac
	local d=$W/mg$n
	mkdir -p "$d"
	ip -n $NS_GW link add dp$n type veth peer name dp${n}b
	ip netns exec $NS_GW sysctl -qw "net.ipv6.conf.dp$n.disable_ipv6=1"
	ip -n $NS_GW link set dp${n}b master br0
	ip -n $NS_GW link set dp${n}b up
	ip -n $NS_GW link set dp$n up
	cat > "$d/gw.properties" << EOF
# tests/ng relay $n: mediagate as an NG media relay behind Kamailio.
# SIP of its own is not used here: loopback of the gateway's namespace.
netborder.sip.userAgent.IPAddress=${MG_SIP_UA:-127.0.0.1:$((5070 + n))/udp}
netborder.media.srtp.mode=as-needed
mediagate.routing.rulesFile=${MG_RULES:-$SRC/configs/routing-rules.xml}
mediagate.log.level=info
mediagate.control.socket=$d/dp.sock
mediagate.control.allowedUids=0
mediagate.dataplane.eal=--no-huge -m 256 --no-shconf --no-pci --no-telemetry -l 0,1 --file-prefix ng-$T-$n
mediagate.dataplane.port.0.device=net_af_packet0,iface=dp$n
mediagate.dataplane.port.0.addresses=$(relay_media "$n")/24
mediagate.dataplane.idleSleepUs=1000
mediagate.media.portRange=${MG_PORT_RANGE:-$((30000 + n * 1000))-$((30999 + n * 1000))}
mediagate.ng.listen=$(relay_ng "$n")/udp
mediagate.calls.maxCalls=$max
${MG_EXTRA_CONF:-}
EOF
	ip netns exec $NS_GW "$dp" --config "$d/gw.properties" > "$d/dataplane.log" 2>&1 &
	RELAY_DP_PID[$n]=$!
	PIDS+=($!)
	wait_dp "$d/dp.sock" || { echo "# mediagate-dataplane $n did not answer"; return 1; }
	ip netns exec "${MG_CTL_NS:-$NS_GW}" "$ctl" --config "$d/gw.properties" > "$W/relay$n.log" 2>&1 &
	RELAY_PID[$n]=$!
	PIDS+=($!)
	wait_log "$W/relay$n.log" "connected to dataplane" 1 100
}
relay_stop_mediagate() {
	local p
	for p in "${RELAY_PID[$1]}" "${RELAY_DP_PID[$1]}"; do
		kill -TERM "$p" 2> /dev/null
		wait_gone "$p" 50 || kill -9 "$p" 2> /dev/null
	done
}
declare -A RELAY_DP_PID
# ================================================================================

# ---- Kamailio -------------------------------------------------------------------
# kam_start SOCKS OFFER_FLAGS ANSWER_FLAGS: configs/kamailio-ng.cfg on
# $SIP_KAM:5060 in ng-T-gw, every INVITE to the callee ($ADDR_B:5060), the
# relay set SOCKS ("udp:127.0.0.1:2223" or "udp:...:2223=5 udp:...:2224=1").
# Waits until its JSON-RPC socket answers.
kam_start() {
	ip netns exec $NS_GW kamailio -f "$SRC/configs/kamailio-ng.cfg" -DD -E -Y "$W/kam" -P "$W/kam/kamailio.pid" \
		-m 64 -M 8 \
		-A "SIP_LISTEN=udp:$SIP_KAM:5060" -A "CALLEE=\"sip:$ADDR_B:5060\"" \
		-A "RTPENGINE_SOCK=\"$1\"" -A "OFFER_FLAGS=\"$2\"" -A "ANSWER_FLAGS=\"$3\"" \
		-A "RUN_DIR=\"$W/kam\"" -A "CTL_URL=\"unix:$W/kam/kamailio_ctl\"" -A "RPC_SOCK=\"$KAM_RPC\"" \
		-A "NG_TOUT_MS=${NG_TOUT_MS:-300}" -A "NG_RETR=${NG_RETR:-1}" -A "NG_DISABLE_S=${NG_DISABLE_S:-3}" \
		> "$W/kamailio.log" 2>&1 &
	KAM_PID=$!
	PIDS+=($!)
	local t
	for ((t = 0; t < 100; t++)); do
		kam_rpc core.version > /dev/null 2>&1 && return 0
		kill -0 $KAM_PID 2> /dev/null || break
		sleep 0.1
	done
	echo "# Kamailio did not start"
	tail -n 20 "$W/kamailio.log" | sed 's/^/#   | /'
	return 1
}
# kam_rpc METHOD [PARAMS...]: the JSON-RPC result as JSON
kam_rpc() { python3 "$NG_DIR/kam_rpc.py" "$KAM_RPC" "$@"; }
# kam_relay_disabled URL: 0 or 1 as rtpengine.show says, "" if not listed
kam_relay_disabled() {
	kam_rpc rtpengine.show all | jq_py "[e.get('disabled') for e in (d if isinstance(d,list) else [d]) if e.get('url')=='$1'][0]"
}
# kam_ngstat CALLID FIELD: what the BYE route stored (rtpstat | query)
kam_ngstat() {
	kam_rpc htable.get ngstat "$1::$2" | jq_py "d.get('item',{}).get('value') if isinstance(d,dict) else d"
}

# ---- SIP peers ------------------------------------------------------------------
# baresip_start NAME NS ADDR TONE ACCOUNT-PARAMS [EXTRA baresip args]: baresip
# with a sine of TONE Hz, ctrl_tcp on 127.0.0.1:4444 of NS, SIP trace on,
# log in $W/NAME.log; pid in BARESIP_PID[NAME].
declare -A BARESIP_PID
baresip_start() {
	local name=$1 ns=$2 addr=$3 tone=$4 params=$5
	shift 5
	mkdir -p "$W/$name"
	cat > "$W/$name/config" << EOF
poll_method		epoll
sip_listen		$addr:5060
audio_source		ausine,$tone
ausrc_srate		48000
auplay_srate		48000
ausrc_channels		2
auplay_channels		2
audio_player		aubridge,$name-out
audio_alert		aubridge,$name-alert
module_path		/usr/lib/baresip/modules
module			menu.so
module			g711.so
module			ausine.so
module			aubridge.so
module			srtp.so
module			ctrl_tcp.so
module			account.so
ctrl_tcp_listen		127.0.0.1:4444
rtp_stats		yes
EOF
	echo "<sip:$name@$addr>;regint=0;audio_codecs=PCMU$params" > "$W/$name/accounts"
	: > "$W/$name/contacts"
	ip netns exec "$ns" baresip -s -f "$W/$name" "$@" > "$W/$name.log" 2>&1 &
	BARESIP_PID[$name]=$!
	PIDS+=($!)
}
# baresip_ctrl NS COMMAND: a ctrl_tcp command to the baresip in NS (ctrl_tcp of call_lib.sh)
baresip_ctrl() { ctrl_tcp "$1" 4444 "$2" > /dev/null; }
# baresip_rtp NAME: "sent received rxerrors" from baresip's end-of-call RTP table
baresip_rtp() {
	python3 - "$W/$1.log" << 'EOF'
import re, sys
t = open(sys.argv[1], errors="replace").read()
m = re.search(r"packets:\s+(\d+)\s+(\d+)", t)
e = re.search(r"errors:\s+(\d+)\s+(\d+)", t)
print("%s %s %s" % (m.group(1), m.group(2), e.group(2) if e else -1) if m else "")
EOF
}
# sdp_keys NAME: the distinct SDES keys in NAME's SIP trace, one per line
sdp_keys() { grep -aoE "a=crypto:[0-9]+ [A-Z0-9_]+ inline:[A-Za-z0-9+/=]+" "$W/$1.log" | sed 's/.*inline://' | sort -u; }

# sipp_in NS OUT ARGS...: SIPp in NS in the background (sipp_bg of call_lib.sh)
sipp_in() {
	local ns=$1 out=$2
	shift 2
	ip netns exec "$ns" sipp "$@" -nostdin -bg > "$out" 2>&1
	SIPP_PID=$(sed -n 's/.*PID=\[\([0-9]*\)\].*/\1/p' "$out" | head -n 1)
	[ -n "$SIPP_PID" ] && PIDS+=($SIPP_PID)
	return 0
}
# sipp_fg NS ARGS...: SIPp in NS in the foreground; its exit status
sipp_fg() {
	local ns=$1
	shift
	ip netns exec "$ns" sipp "$@" -nostdin > /dev/null 2>&1
}

# ---- SIPp peers (signalling only: SDP, no media) ------------------------------
# callee_sipp XML [EXTRA...]: SIPp callee in ng-T-b on $ADDR_B:5060 running
# tests/ng/sipp/XML for every call, in the background until the end.
callee_sipp() {
	local xml=$1
	shift
	sipp_in $NS_B "$W/callee.out" -sf "$NG_DIR/sipp/$xml" -i $ADDR_B -p 5060 \
		-trace_err -error_file "$W/callee.err" "$@"
}
# sipp_call NAME XML HOLD_MS CALLS [EXTRA...]: SIPp caller in ng-T-a (its own
# port) placing CALLS calls (10/s, all at once at most) of tests/ng/sipp/XML to
# bob through Kamailio, each held HOLD_MS; in the background. sipp_wait NAME
# [TENTHS] waits for it and prints its exit status (0: every call as the
# scenario expects; 1: some failed; "" still running).
SIPP_PORT=5060
sipp_call() {
	local name=$1 xml=$2 hold=$3 n=$4
	shift 4
	SIPP_PORT=$((SIPP_PORT + 1))
	(
		ip netns exec $NS_A sipp $SIP_KAM:5060 -sf "$NG_DIR/sipp/$xml" -i $ADDR_A -p $SIPP_PORT -s bob \
			-d "$hold" -m "$n" -l "$n" -r 10 -timeout 60 -nostdin \
			-cid_str "ng-$name-%u@%s" -trace_err -error_file "$W/$name.err" -trace_stat -stf "$W/$name.csv" "$@" > "$W/$name.out" 2>&1
		echo $? > "$W/$name.rc"
	) &
	PIDS+=($!)
}
sipp_wait() {
	local t
	for ((t = 0; t < ${2:-100}; t++)); do
		[ -s "$W/$1.rc" ] && break
		sleep 0.1
	done
	cat "$W/$1.rc" 2> /dev/null
}

# srtp_drops NODE: "SESSIONS DROPS" of NODE's dataplane, DROPS the SRTP
# auth + replay drops summed over every session's legs, both directions
# (the test's own dpctl NODE ... reaches the node)
srtp_drops() {
	dpctl "$1" session list | jq_py '" ".join(str(s["id"]) for s in d["sessions"])' | tr ' ' '\n' |
		while read -r id; do dpctl "$1" session stats "$id"; done |
		python3 -c 'import json,sys
t, n = 0, 0
for line in sys.stdin:
    d = json.loads(line)
    n += 1
    for l in d["legs"]:
        for x in ("rx", "tx"):
            t += l[x]["drops"]["auth"] + l[x]["drops"]["replay"]
print(n, t)'
}
