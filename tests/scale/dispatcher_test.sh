#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Scale-out of whole gateways (docs/scale-out-kamailio.md, part B): Kamailio
# (configs/kamailio-dispatcher.cfg, its dispatcher module, OPTIONS probes every
# second, two missed take a gateway out) in front of two mediagate B2BUA gateways, each on a virtual address
# that keepalived (configs/keepalived-gateway.conf.in) keeps on it while its
# mediagate-control lives and moves to the other gateway when it dies.
#
#   ns sc-T-a (caller)     ns sc-T-k: bridge br0 192.0.2.254        ns sc-T-b (callee)
#    192.0.2.10 ------------ Kamailio udp:192.0.2.254:5060 ------------ 192.0.2.20
#                              |                      |
#   ns sc-T-g1: 192.0.2.31 + VIP 192.0.2.41   ns sc-T-g2: 192.0.2.32 + VIP 192.0.2.42
#     mediagate-control (SIP on its VIP:5060)   the same; keepalived in each,
#     mediagate-dataplane (net_ring: sessions   VRRP unicast over br0
#     are real, SIPp sends no RTP)
#
# Every gateway routes bob to the callee (a SIPp UAS) directly.
#  1. keepalived gives each gateway its VIP (ip -j addr); Kamailio's
#     dispatcher.list shows both gateways active (FLAGS "AP").
#  2. N short calls (round-robin): every one completes, each gateway's
#     mgctl --json stats (calls.answered, before/after) took a share.
#  3. L long calls are held on both gateways (mgctl: calls.active); gateway 1
#     is killed (SIGKILL to mediagate-control and mediagate-dataplane) and at
#     once M more calls are placed: every one completes (failover in the
#     failure route while gateway 1 is not yet marked, the dispatcher's choice
#     after), gateway 2 answered all M; dispatcher.list says gateway 1 inactive
#     and gateway 2 active; ip -j addr shows gateway 1's VIP on gateway 2.
#     Both gateways publish their calls to one redis-server (nodes g1, g2);
#     Before the kill, `mgctl ha adopt g1` on gateway 2 is refused (gateway 1's
#     heartbeat mg:g1:alive is fresh): exit 1, ha.peer_alive_refused +1, no
#     call ended. keepalived's notify_master on gateway 2 (taking gateway 1's
#     VIP) runs `mgctl ha adopt g1` (again every 0.5 s while refused, until
#     the heartbeat expired): gateway 2 reads g1's call records and ends each of
#     those calls with a BYE on both legs (docs/ha-state.md). The long calls
#     (tests/scale/uac_held.xml: a BYE within 10 s is answered 200, else the
#     caller sends its own) all succeed: SIPp's counts of caller and callee,
#     gateway 2's mgctl --json stats (ha.peer_*: h1 calls, 2 x h1 BYEs
#     answered 2xx), and g1 has no call key left in Redis. Without the
#     adoption (SC_ADOPT=0) the calls gateway 1 held fail (their caller's BYE
#     gets 408) and those checks fail.
# The times from the kill to the dispatcher marking gateway 1 inactive and to
# the VIP appearing on gateway 2, and the setup times of the M calls, are
# printed as "# FAILOVER"/"# SETUP" lines (for the document, not asserted).
# SC_AFTER=late places the M calls only after the dispatcher marked gateway 1
# (the detection time is then the probes' alone).
# SC_KILL=node kills every process of gateway 1's namespace instead (keepalived
# too: a machine that dies; the peer takes the VIP when the adverts stop).
#   [BUILD=dir] [SRC=dir] [N=40] [L=10] [M=40] [SC_KILL=processes|node] [SC_AFTER=now|late] [SC_KEEP=1] dispatcher_test.sh
set -uo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SRC=${SRC:-$(cd "$HERE/../.." && pwd)}
BUILD=${BUILD:-$SRC/build}
NGD=$SRC/tests/ng
. "$SRC/tests/interop/call_lib.sh"
N=${N:-40} L=${L:-10} M=${M:-40}
CONTROL=$BUILD/control/mediagate-control
DATAPLANE=$BUILD/dataplane/mediagate-dataplane
DPCTL=$BUILD/dataplane/dpctl/mediagate-dpctl
MGCTL=$BUILD/control/mgctl/mgctl

T=$(printf %x $$)
NS_K=sc-$T-k NS_A=sc-$T-a NS_B=sc-$T-b
W=$(mktemp -d "/tmp/sc-$T.XXXXXX")
PIDS=()
KAM=192.0.2.254 ADDR_A=192.0.2.10 ADDR_B=192.0.2.20
declare -A GW_OWN=([1]=192.0.2.31 [2]=192.0.2.32) GW_VIP=([1]=192.0.2.41 [2]=192.0.2.42)
declare -A CTL_PID DP_PID KA_PID
KAM_RPC=$W/kam/rpc.sock
# VRRP router ids: any pair works on this private bridge; from T for the logs.
VRID1=$((($$ % 120) + 1)) VRID2=$((($$ % 120) + 121))

if [ "$(id -u)" -ne 0 ]; then
	echo "scale: needs root (network namespaces)"
	exit 1
fi
for b in kamailio keepalived sipp python3 redis-server redis-cli; do
	command -v "$b" > /dev/null || { echo "scale: $b is not installed (scripts/setup)"; exit 1; }
done
for b in "$CONTROL" "$DATAPLANE" "$DPCTL" "$MGCTL"; do
	[ -x "$b" ] || { echo "scale: $b was not built (BUILD=$BUILD)"; exit 1; }
done

sc_cleanup() {
	local n p
	stop_pids
	for n in $NS_A $NS_B sc-$T-g1 sc-$T-g2 $NS_K; do
		for p in $(ip netns pids "$n" 2> /dev/null); do kill -9 "$p" 2> /dev/null; done
		ip netns del "$n" 2> /dev/null
	done
	for p in /var/run/dpdk/sc-$T-*; do [ -e "$p" ] && rm -rf "$p"; done
	if [ "${SC_KEEP:-0}" = 1 ] || [ "${fail:-0}" -ne 0 ]; then echo "# files kept in $W"; else rm -rf "$W"; fi
}
trap sc_cleanup EXIT
trap 'exit 1' INT TERM
finish() {
	echo "# scale/dispatcher: $pass passed, $fail failed"
	[ "$fail" -eq 0 ]
	exit $?
}
now_ms() { echo $(($(date +%s%N) / 1000000)); }

# ---- test bed ----------------------------------------------------------------
echo "# scale/dispatcher: work directory $W"
set -e
ip netns add $NS_K
ip -n $NS_K link set lo up
ip -n $NS_K link add br0 type bridge
ip -n $NS_K addr add $KAM/24 dev br0
ip -n $NS_K link set br0 up
# peer NS NAME ADDR BRNAME: NS joined to br0 by a veth (NAME in NS, BRNAME on br0)
peer() {
	ip netns add "$1"
	ip -n "$1" link set lo up
	ip -n $NS_K link add "$4" type veth peer name "$2" netns "$1"
	ip -n $NS_K link set "$4" master br0
	ip -n $NS_K link set "$4" up
	ip -n "$1" addr add "$3/24" dev "$2"
	ip -n "$1" link set "$2" up
}
peer $NS_A ea $ADDR_A va
peer $NS_B eb $ADDR_B vb
peer sc-$T-g1 eg ${GW_OWN[1]} vg1
peer sc-$T-g2 eg ${GW_OWN[2]} vg2
# each gateway also binds its peer's VIP before keepalived moves it there
ip netns exec sc-$T-g1 sysctl -qw net.ipv4.ip_nonlocal_bind=1
ip netns exec sc-$T-g2 sysctl -qw net.ipv4.ip_nonlocal_bind=1
set +e
cd "$W" || exit 1
redis_start "$W/redis.sock" "$W"
rcli() { redis-cli -s "$W/redis.sock" "$@"; }
cat > rules.xml << EOF
<?xml version="1.0" encoding="UTF-8"?>
<routing_rules>
<rule name="to_bob" outbound_interface="sip" qvalue="0.5">
  <condition param="sip.in.requestUri.user" expr="(bob)"/>
  <out_leg name="" media_type="sendrecv">
    <param name="sip.out.requestUri" expr="sip:%0@$ADDR_B:5060"/>
    <param name="sip.out.transport" expr="udp"/>
  </out_leg>
</rule>
</routing_rules>
EOF

# vip_on G VIP: 1 if gateway G's namespace has VIP (ip -j addr), else 0
vip_on() {
	ip -j -n "sc-$T-g$1" addr show dev eg 2> /dev/null |
		jq_py "int(any(a.get('local')=='$2' for i in d for a in i.get('addr_info',[])))"
}
# keepalived_start G: keepalived (VRRP only) in gateway G's namespace
keepalived_start() {
	local g=$1 o=$((3 - $1)) d=$W/g$1
	mkdir -p "$d"
	# notify_master of the peer's VIP: its calls are ended from here, once
	# its heartbeat (mg:gO:alive, mediagate.redis.aliveTtl 3 s) has expired:
	# refused (exit 1) while it lives, so tried again every 0.5 s (20 s at most)
	cat > "$d/adopt.sh" << ADOPT
#!/bin/sh
i=0
while [ \$i -lt 40 ]; do
	$MGCTL --json --socket $d/cli.sock --timeout 5000 ha adopt g$o ${GW_VIP[$o]} >> $d/adopt.json 2>&1 && exit 0
	sleep 0.5
	i=\$((i + 1))
done
exit 1
ADOPT
	[ "${SC_ADOPT:-1}" = 1 ] || printf '#!/bin/sh\nexit 0\n' > "$d/adopt.sh"
	printf '#!/bin/sh\n# keepalived check: mediagate-control of gateway %s lives (no pid yet: starting)\n[ ! -s %s ] || kill -0 "$(cat %s)"\n' \
		"$g" "$d/ctl.pid" "$d/ctl.pid" > "$d/check.sh"
	chmod 755 "$d/check.sh"
	local vm=$VRID1 vp=$VRID2
	[ "$g" = 2 ] && vm=$VRID2 vp=$VRID1
	sed -e "s|@IFACE@|eg|g" -e "s|@SELF@|${GW_OWN[$g]}|g" -e "s|@PEER@|${GW_OWN[$o]}|g" \
		-e "s|@VIP_MINE@|${GW_VIP[$g]}/24|g" -e "s|@VIP_PEER@|${GW_VIP[$o]}/24|g" \
		-e "s|@VRID_MINE@|$vm|g" -e "s|@VRID_PEER@|$vp|g" -e "s|@CHECK@|/bin/sh $d/check.sh|g" \
		-e "s|@NOTIFY_PEER@|/bin/sh $d/adopt.sh|g" -e "s|@NAME@|sc_${T}_g$g|g" "$SRC/configs/keepalived-gateway.conf.in" > "$d/keepalived.conf"
	ip netns exec "sc-$T-g$g" keepalived -n -l -D -P -f "$d/keepalived.conf" -p "$d/ka.pid" -r "$d/ka-vrrp.pid" \
		-c "$d/ka-chk.pid" > "$d/keepalived.log" 2>&1 &
	KA_PID[$g]=$!
	PIDS+=($!)
}
# gw_start G: mediagate-dataplane (net_ring) and mediagate-control (SIP on VIP G)
gw_start() {
	local g=$1 d=$W/g$1
	cat > "$d/gw.properties" << EOF
# tests/scale gateway $g: a B2BUA behind Kamailio's dispatcher, SIP on its VIP.
# its own VIP, and the peer's (bound while not here: ip_nonlocal_bind), from
# which it ends the peer's calls when the VIP moves here (mgctl ha adopt)
netborder.sip.userAgent.IPAddress=${GW_VIP[$g]}:5060/udp,${GW_VIP[$((3 - g))]}:5060/udp
netborder.media.srtp.mode=as-needed
mediagate.routing.rulesFile=$W/rules.xml
mediagate.log.level=info
mediagate.control.socket=$d/dp.sock
mediagate.control.cliSocket=$d/cli.sock
mediagate.control.allowedUids=0
mediagate.dataplane.eal=--no-huge -m 256 --no-shconf --no-pci --no-telemetry -l 0,1 --file-prefix sc-$T-$g
mediagate.dataplane.port.0.device=net_ring0
mediagate.dataplane.port.0.addresses=198.51.100.$g/24
mediagate.dataplane.idleSleepUs=1000
mediagate.media.portRange=40000-40999
mediagate.redis.url=unix:$W/redis.sock
mediagate.redis.node=g$g
EOF
	ip netns exec "sc-$T-g$g" "$DATAPLANE" --config "$d/gw.properties" > "$d/dataplane.log" 2>&1 &
	DP_PID[$g]=$!
	PIDS+=($!)
	wait_dp "$d/dp.sock" || return 1
	ip netns exec "sc-$T-g$g" "$CONTROL" --config "$d/gw.properties" > "$d/control.log" 2>&1 &
	CTL_PID[$g]=$!
	PIDS+=($!)
	echo "${CTL_PID[$g]}" > "$d/ctl.pid"
	local t
	for ((t = 0; t < 100; t++)); do
		[ "$(gw_stat "$g" 'd["calls"]["active"]')" = 0 ] && return 0
		sleep 0.1
	done
	return 1
}
# gw_stat G EXPR: the number EXPR gives over gateway G's `mgctl --json stats`
# (d); -1 when mgctl got no answer
gw_stat() {
	local v
	v=$("$MGCTL" --json --socket "$W/g$1/cli.sock" --timeout 2000 stats 2> /dev/null | jq_py "$2")
	[[ $v =~ ^[0-9]+$ ]] || v=-1
	echo "$v"
}
kam_rpc() { python3 "$NGD/kam_rpc.py" "$KAM_RPC" "$@"; }
# ds_flags G: gateway G's FLAGS in dispatcher.list ("AP" active, "IP" inactive...)
ds_flags() {
	kam_rpc dispatcher.list | jq_py "[t['DEST']['FLAGS'] for r in d['RECORDS'] for t in r['SET']['TARGETS'] if t['DEST']['URI']=='sip:${GW_VIP[$1]}:5060'][0]"
}
# calls NAME CALLS HOLD_MS [SCENARIO]: SIPp caller (own port) through Kamailio, 20/s, in
# the background; rc in $W/NAME.rc, per-call setup times in $W/NAME/*_rtt.csv
SIPP_PORT=5060
calls() {
	local name=$1 n=$2 hold=$3 sf=${4:-$NGD/sipp/uac_call.xml}
	SIPP_PORT=$((SIPP_PORT + 1))
	mkdir -p "$W/$name"
	(
		cd "$W/$name" || exit 1
		ip netns exec $NS_A sipp $KAM:5060 -sf "$sf" -i $ADDR_A -p $SIPP_PORT -s bob \
			-d "$hold" -m "$n" -l "$n" -r 20 -timeout 60 -nostdin -cid_str "sc-$name-%u-%p@%s" \
			-trace_err -error_file "$W/$name.err" -trace_stat -stf "$W/$name.csv" -trace_rtt -rtt_freq 1 ${SC_TRACE:+-trace_msg -message_file "$W/$name.msg"} \
			> "$W/$name.out" 2>&1
		echo $? > "$W/$name.rc"
	) &
	PIDS+=($!)
}
calls_wait() {
	local t
	for ((t = 0; t < ${2:-300}; t++)); do
		[ -s "$W/$1.rc" ] && break
		sleep 0.1
	done
	cat "$W/$1.rc" 2> /dev/null
}
# sipp_count NAME COLUMN: a cumulative column of SIPp's last stat line
sipp_count() {
	python3 -c 'import csv,sys
r=list(csv.reader(open(sys.argv[1]),delimiter=";")); print(r[-1][r[0].index(sys.argv[2])])' "$W/$1.csv" "$2" 2> /dev/null
}
setup_times() {
	python3 - "$W/$1" << 'EOF'
import glob, statistics, sys
v = []
for f in glob.glob(sys.argv[1] + "/*_rtt.csv"):
    for l in open(f):
        p = l.strip().split(";")
        if len(p) >= 2 and p[1].replace(".", "", 1).isdigit():
            v.append(float(p[1]))
print("%d %.1f %.1f" % (len(v), statistics.median(v), max(v)) if v else "0 - -")
EOF
}

# ---- 1. gateways on their VIPs, Kamailio probing them ------------------------
keepalived_start 1
keepalived_start 2
ok1=0
for ((t = 0; t < 100; t++)); do
	[ "$(vip_on 1 ${GW_VIP[1]})" = 1 ] && [ "$(vip_on 2 ${GW_VIP[2]})" = 1 ] && { ok1=1; break; }
	sleep 0.1
done
[ $ok1 = 1 ] && ok "keepalived: gateway 1 holds ${GW_VIP[1]}, gateway 2 holds ${GW_VIP[2]} (ip -j addr)" ||
	{ bad "keepalived gave each gateway its VIP" "$W/g1/keepalived.log"; finish; }
[ "$(vip_on 1 ${GW_VIP[2]})" = 0 ] && [ "$(vip_on 2 ${GW_VIP[1]})" = 0 ] && ok "  and neither holds the other's" ||
	bad "a VIP is on both gateways" "$W/g2/keepalived.log"
for g in 1 2; do
	gw_start $g && ok "gateway $g (mediagate-control + dataplane) up, 0 calls (mgctl --json stats)" ||
		{ bad "gateway $g up" "$W/g$g/control.log"; finish; }
done
printf '1 sip:%s:5060 0 0\n1 sip:%s:5060 0 0\n' "${GW_VIP[1]}" "${GW_VIP[2]}" > "$W/dispatcher.list"
mkdir -p "$W/kam"
ip netns exec $NS_K kamailio -f "$SRC/configs/kamailio-dispatcher.cfg" -DD -E -Y "$W/kam" -P "$W/kam/kamailio.pid" \
	-m 64 -M 8 -A "SIP_LISTEN=udp:$KAM:5060" -A "DS_LIST=\"$W/dispatcher.list\"" -A "DS_ALG=\"4\"" \
	-A "DS_PING_S=${DS_PING_S:-1}" -A "DS_FR_MS=${DS_FR_MS:-1000}" -A "DS_PROBE_THRESHOLD=${DS_PROBE_THRESHOLD:-2}" \
	-A "RUN_DIR=\"$W/kam\"" -A "CTL_URL=\"unix:$W/kam/kamailio_ctl\"" -A "RPC_SOCK=\"$KAM_RPC\"" \
	> "$W/kamailio.log" 2>&1 &
PIDS+=($!)
up=0
for ((t = 0; t < 100; t++)); do
	[ "$(ds_flags 1)" = AP ] && [ "$(ds_flags 2)" = AP ] && { up=1; break; }
	sleep 0.1
done
[ $up = 1 ] && ok "dispatcher.list: both gateways active and probed (AP)" ||
	{ bad "dispatcher.list: both gateways AP (now: $(ds_flags 1) $(ds_flags 2))" "$W/kamailio.log"; finish; }

# ---- 2. calls spread ----------------------------------------------------------
ip netns exec $NS_B sipp -sf "$HERE/uas.xml" -i $ADDR_B -p 5060 -trace_err -error_file "$W/callee.err" \
	-trace_stat -stf "$W/callee.csv" -fd 1 \
	-nostdin -bg > "$W/callee.out" 2>&1
p=$(sed -n 's/.*PID=\[\([0-9]*\)\].*/\1/p' "$W/callee.out" | head -n 1)
[ -n "$p" ] && PIDS+=($p)
b1=$(gw_stat 1 'd["calls"]["answered"]') b2=$(gw_stat 2 'd["calls"]["answered"]')
calls spread "$N" 200
[ "$(calls_wait spread)" = 0 ] && ok "$N calls through the dispatcher completed" || bad "$N calls completed" "$W/spread.err"
n1=$(($(gw_stat 1 'd["calls"]["answered"]') - b1)) n2=$(($(gw_stat 2 'd["calls"]["answered"]') - b2))
echo "# SPLIT gw1=$n1 gw2=$n2 of $N (round-robin)"
[ $((n1 + n2)) -eq "$N" ] && ok "the gateways answered $N calls between them ($n1 + $n2)" ||
	bad "the gateways answered $N calls (gw1 $n1, gw2 $n2)"
# Round-robin alternates; only a gateway taken out for missed probes (see
# DS_PROBE_THRESHOLD in the cfg) skews it.
[ "$n1" -ge $((N / 4)) ] && [ "$n2" -ge $((N / 4)) ] && ok "each gateway took at least a quarter ($n1, $n2)" ||
	bad "the calls were not spread over both gateways ($n1, $n2)"

# ---- 3. gateway 1 dies -----------------------------------------------------------
calls long "$L" 0 "$HERE/uac_held.xml"
held=0
for ((t = 0; t < 100; t++)); do
	h1=$(gw_stat 1 'd["calls"]["active"]') h2=$(gw_stat 2 'd["calls"]["active"]')
	[ $((h1 + h2)) -eq "$L" ] && { held=1; break; }
	sleep 0.1
done
[ $held = 1 ] && ok "$L long calls up: gateway 1 holds $h1, gateway 2 holds $h2" || bad "$L long calls up ($h1 + $h2)"
b2=$(gw_stat 2 'd["calls"]["answered"]')
pc0=$(gw_stat 2 'd["ha"]["peer_calls_ended"]') pok0=$(gw_stat 2 'd["ha"]["peer_byes_ok"]')
pf0=$(gw_stat 2 'd["ha"]["peer_byes_failed"]')
k1=$(rcli --scan --pattern 'mg:g1:call:*' | wc -l)
[ "$k1" -eq "$h1" ] && ok "Redis holds gateway 1's $h1 call records (mg:g1:call:*)" || bad "gateway 1's call keys in Redis: $k1, it holds $h1"
# While gateway 1 lives (its heartbeat mg:g1:alive is refreshed), an adoption
# of its calls (a VRRP transition without a death: lost adverts, split brain)
# is refused: non-zero exit, JSON error, counted; nothing ended.
ar0=$(gw_stat 2 'd["ha"]["peer_alive_refused"]') bs0=$(gw_stat 2 'd["ha"]["peer_byes_sent"]')
"$MGCTL" --json --socket "$W/g2/cli.sock" --timeout 5000 ha adopt g1 "${GW_VIP[1]}" > "$W/adopt_alive.json" 2> "$W/adopt_alive.err"
arc=$?
ares=$(jq_py 'd["result"]' < "$W/adopt_alive.json")
apt=$(rcli pttl mg:g1:alive)
[ "$apt" -gt 0 ] 2> /dev/null && ok "gateway 1's heartbeat mg:g1:alive is in Redis (PTTL $apt ms)" ||
	bad "gateway 1's heartbeat key: PTTL $apt"
[ "$arc" -ne 0 ] && [ "$ares" = error ] && [ "$(gw_stat 2 'd["ha"]["peer_alive_refused"]')" = $((ar0 + 1)) ] &&
	ok "mgctl ha adopt g1 on gateway 2 while gateway 1 lives: refused (exit $arc, result error, ha.peer_alive_refused +1)" ||
	bad "ha adopt of a live gateway: exit $arc, result $ares, peer_alive_refused $ar0 -> $(gw_stat 2 'd["ha"]["peer_alive_refused"]')" "$W/adopt_alive.json"
sleep 0.5
[ "$(gw_stat 1 'd["calls"]["active"]')" = "$h1" ] && [ "$(rcli --scan --pattern 'mg:g1:call:*' | wc -l)" -eq "$h1" ] &&
	[ "$(gw_stat 2 'd["ha"]["peer_byes_sent"]')" = "$bs0" ] &&
	ok "  gateway 1 still holds its $h1 calls, their records are in Redis, gateway 2 sent no BYE" ||
	bad "a refused adoption ended calls: gateway 1 holds $(gw_stat 1 'd["calls"]["active"]') of $h1, BYEs sent $bs0 -> $(gw_stat 2 'd["ha"]["peer_byes_sent"]')"
t0=$(now_ms)
if [ "${SC_KILL:-processes}" = node ]; then
	# stopped first: no process of the "machine" acts on its neighbours' deaths
	# (keepalived's VRRP child would otherwise see its parent go and send its
	# goodbye adverts, which a dead machine never does)
	kill -STOP $(ip netns pids sc-$T-g1) 2> /dev/null
	kill -9 $(ip netns pids sc-$T-g1) 2> /dev/null
	wait "${KA_PID[1]}" 2> /dev/null
else
	kill -9 "${CTL_PID[1]}" "${DP_PID[1]}" 2> /dev/null
fi
wait "${CTL_PID[1]}" "${DP_PID[1]}" 2> /dev/null
! kill -0 "${CTL_PID[1]}" 2> /dev/null && ! kill -0 "${DP_PID[1]}" 2> /dev/null &&
	ok "gateway 1 killed (mediagate-control and mediagate-dataplane, SIGKILL)" || bad "gateway 1 killed"
# SC_AFTER=late: the M calls only once the dispatcher has marked gateway 1,
# so that the time measured is the probes' alone (no call's failure route).
[ "${SC_AFTER:-now}" = late ] || calls after "$M" 200
t_ds="" t_vip="" t_adopt=""
[ "${SC_ADOPT:-1}" = 1 ] || t_adopt=off
for ((t = 0; t < 150; t++)); do
	[ -z "$t_ds" ] && [ "$(ds_flags 1)" = IP ] && t_ds=$(($(now_ms) - t0))
	[ -z "$t_vip" ] && [ "$(vip_on 2 ${GW_VIP[1]})" = 1 ] && t_vip=$(($(now_ms) - t0))
	# gateway 2 sent a BYE on both legs of each of gateway 1's calls
	[ -z "$t_adopt" ] && [ "$(gw_stat 2 'd["ha"]["peer_calls_ended"]')" = $((pc0 + h1)) ] && t_adopt=$(($(now_ms) - t0))
	[ -n "$t_ds" ] && [ -n "$t_vip" ] && [ -n "$t_adopt" ] && break
	# the moved VIP answers the probes from gateway 2: the dispatcher may
	# never mark it (or mark it active again)
	[ -n "$t_vip" ] && [ -n "$t_adopt" ] && [ $(($(now_ms) - t0 - t_vip)) -gt 3000 ] && break
	sleep 0.1
done
[ "${SC_AFTER:-now}" = late ] && calls after "$M" 200
echo "# FAILOVER kill=${SC_KILL:-processes} after=${SC_AFTER:-now} ds_inactive_ms=${t_ds:-none} vip_moved_ms=${t_vip:-none} peer_calls_ended_ms=${t_adopt:-none} (probe every ${DS_PING_S:-1} s, ${DS_PROBE_THRESHOLD:-2} missed, fr_timer ${DS_FR_MS:-1000} ms, VRRP advert 1 s, check 1 s)"
[ -n "$t_ds" ] && ok "dispatcher.list: gateway 1 inactive (IP) after the kill" ||
	{ [ -n "$t_vip" ] && [ "$(ds_flags 1)" = AP ] && ok "dispatcher.list: gateway 1's VIP answered the probes from gateway 2 at once (AP)"; } ||
	bad "gateway 1 inactive" "$W/kamailio.log"
[ "$(ds_flags 2)" = AP ] && ok "dispatcher.list: gateway 2 still active (AP)" || bad "gateway 2 active ($(ds_flags 2))"
[ -n "$t_vip" ] && ok "keepalived moved ${GW_VIP[1]} to gateway 2 (ip -j addr)" || bad "VIP moved" "$W/g2/keepalived.log"
# (A dead machine would not hold it either; here its namespace lives on.)
[ "${SC_KILL:-processes}" = node ] || { [ "$(vip_on 1 ${GW_VIP[1]})" = 0 ] && ok "  and gateway 1 released it (FAULT)" ||
	bad "gateway 1 still holds ${GW_VIP[1]}" "$W/g1/keepalived.log"; }
[ "$(calls_wait after 600)" = 0 ] && ok "all $M calls placed after the kill completed" || bad "the $M calls after the kill completed" "$W/after.err"
a2=$(gw_stat 2 'd["calls"]["answered"]')
[ $((a2 - b2)) -eq "$M" ] && ok "gateway 2 answered all $M" || bad "gateway 2 answered $((a2 - b2)) of $M"
echo "# SETUP after-kill $(setup_times after) (count median max ms; a call sent to gateway 1 before it was marked waits fr_timer)"
echo "# SETUP before-kill $(setup_times spread)"
[ -n "$(calls_wait long 300)" ] || bad "the SIPp of the long calls finished (some call still waits)" "$W/long.err"
lf=$(sipp_count long "FailedCall(C)") ls=$(sipp_count long "SuccessfulCall(C)")
echo "# LONG long calls: $ls of $L succeeded, $lf failed (gateway 1 held $h1, gateway 2 $h2)"
[ "$lf" = 0 ] && [ "$ls" = "$L" ] && ok "all $L long calls ended with 200 on the caller's side, the $h1 of gateway 1 too (SIPp)" ||
	bad "long calls: $ls succeeded, $lf failed of $L (gateway 1 held $h1)" "$W/long.err"
for ((t = 0; t < 100; t++)); do
	[ "$(gw_stat 2 'd["ha"]["peer_byes_pending"]')" = 0 ] && break
	sleep 0.1
done
pc=$(($(gw_stat 2 'd["ha"]["peer_calls_ended"]') - pc0)) pok=$(($(gw_stat 2 'd["ha"]["peer_byes_ok"]') - pok0))
pf=$(($(gw_stat 2 'd["ha"]["peer_byes_failed"]') - pf0))
echo "# ADOPT gateway 2 ended $pc of gateway 1's calls: $pok BYEs answered 2xx, $pf not ($(tail -n 1 "$W/g2/adopt.json" 2> /dev/null))"
[ "$pc" = "$h1" ] && ok "gateway 2 ended gateway 1's $h1 calls (mgctl: ha.peer_calls_ended)" ||
	bad "gateway 2 ended $pc of gateway 1's $h1 calls" "$W/g2/control.log"
[ "$pok" = $((2 * h1)) ] && [ "$pf" = 0 ] && ok "  its $((2 * h1)) BYEs (both legs) answered 2xx (ha.peer_byes_ok)" ||
	bad "BYEs of gateway 2 for gateway 1's calls: $pok 2xx, $pf failed (of $((2 * h1)))" "$W/g2/control.log"
k1=$(rcli --scan --pattern 'mg:g1:call:*' | wc -l)
[ "$k1" = 0 ] && ok "no call record of gateway 1 left in Redis" || bad "$k1 call records of gateway 1 left in Redis"
# the callee's side: every call ended with a BYE answered 200 (its stat file
# is written every second)
want=$((N + L + M)) cs="" cf=""
for ((t = 0; t < 50; t++)); do
	cs=$(sipp_count callee "SuccessfulCall(C)") cf=$(sipp_count callee "FailedCall(C)")
	[ "$cs" = "$want" ] && break
	sleep 0.1
done
[ "$cs" = "$want" ] && [ "$cf" = 0 ] && ok "the callee's $want calls all ended with a BYE answered 200 (SIPp)" ||
	bad "callee: $cs of $want calls succeeded, $cf failed" "$W/callee.err"
[ "$(gw_stat 2 'd["calls"]["active"]')" = 0 ] && ok "gateway 2 holds 0 calls at the end" || bad "gateway 2 holds calls at the end"
finish
