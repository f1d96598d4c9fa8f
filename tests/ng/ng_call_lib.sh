# SPDX-License-Identifier: BSD-3-Clause
# Sourced after _init.sh by the media call scenarios (plain_srtp_test.sh,
# srtp_srtp_test.sh): one baresip call alice -> Kamailio -> bob with the relay
# rewriting both SDPs, SECS seconds of audio, alice hangs up; the checks on
# the relay's NG query while the call is up, on Kamailio's $rtpstat at the BYE,
# on the relay's list after it, and on what each baresip received.
#
# ng_media_call ALICE_PARAMS BOB_PARAMS OFFER_FLAGS ANSWER_FLAGS SECS
# ALICE_SRTP BOB_SRTP (1/0: whether that leg is SRTP, for the checks)

ng_media_call() {
	local ap=$1 bp=$2 of=$3 af=$4 secs=$5 a_srtp=$6 b_srtp=$7
	relay_start 1 || { bad "relay 1 ($RELAY) answers ping"; return; }
	ok "relay 1 ($RELAY) answers ping on $(relay_ng 1)"
	kam_start "udp:$(relay_ng 1)" "$of" "$af" || { bad "Kamailio started" "$W/kamailio.log"; return; }
	ok "Kamailio started, its JSON-RPC answers"
	baresip_start bob $NS_B $ADDR_B 880 ";answermode=auto$bp"
	sleep 0.5
	baresip_start alice $NS_A $ADDR_A 440 "$ap" -e "/dial sip:bob@$SIP_KAM"
	# Up: the relay has the call and media flows both ways through it.
	local cid="" t q
	for ((t = 0; t < 100; t++)); do
		cid=$(ng_calls 1 | head -n 1)
		[ -n "$cid" ] && break
		sleep 0.1
	done
	[ -n "$cid" ] && ok "the relay holds the call (list: $cid)" || { bad "the relay holds the call" "$W/kamailio.log"; return; }
	sleep "$secs"
	ng 1 "{\"command\":\"query\",\"call-id\":\"$cid\"}" > "$W/query.json"
	python3 - "$W/query.json" "$a_srtp" "$b_srtp" $ADDR_A $ADDR_B > "$W/query.check" << 'EOF'
import json, sys
q = json.load(open(sys.argv[1]))
want_srtp = {"caller": sys.argv[2] == "1", "callee": sys.argv[3] == "1"}
peer = {"caller": sys.argv[4], "callee": sys.argv[5]}
# A tag's streams are the relay's ports facing that peer: the leg is the
# tag whose RTP stream's endpoint is the peer's address.
tags = q.get("tags", {})
print("result %s" % q.get("result"))
print("tags %d" % len(tags))
for role in ("caller", "callee"):
    m = rtp = None
    for t in tags.values():
        for med in t.get("medias", []):
            for st in med.get("streams", []):
                if st.get("endpoint", {}).get("address") == peer[role] and "RTCP" not in st.get("flags", []):
                    m, rtp = med, st
    if rtp is None:
        print("%s missing" % role)
        continue
    st = rtp.get("stats", {})
    suite = rtp.get("crypto suite", "")
    # baresip sends plaintext RTCP APP "PING" keepalives when a stream starts,
    # on SRTP legs too: a relay that counts them drops them as not SRTCP
    # (mediagate: "malformed" when shorter than an SRTCP packet can be,
    # "auth" when longer; both in its per-reason "drops"). Up to two such
    # drops per SRTP peer are explained (seen: 1 to 3 per call in all, more
    # under load, when a keepalive of the other stream start lands too);
    # any other reason, or more, is not: a wrong key fails hundreds.
    explained = 0
    if suite:
        d = rtp.get("drops", {})
        explained = min(d.get("malformed", 0) + d.get("auth", 0), 2)
    # what the party's RTCP said of the stream it receives (mediagate's
    # query: "RTCP report" per stream; rtpengine reports it elsewhere)
    rr = rtp.get("RTCP report")
    print("%s rtcp-report %s" % (role, "none" if rr is None else
          "ssrc %d lost %d fraction %d" % (rr["SSRC"], rr["packets lost"], rr["fraction lost"])))
    print("%s packets %d errors %d srtp %d want %d protocol %s explained %d" % (
        role, st.get("packets", 0), st.get("errors", 0) - explained, bool(suite),
        want_srtp[role], m.get("protocol", ""), explained))
EOF
	local n
	n=$(grep -c "^result ok" "$W/query.check")
	[ "$n" = 1 ] && ok "NG query of the call while it is up: result ok" || bad "NG query result ok" "$W/query.json"
	check "NG query: two tags (caller and callee legs)" "$W/query.check" "^tags 2$"
	local role
	for role in caller callee; do
		local line pk er s w
		line=$(grep "^$role packets " "$W/query.check")
		read -r _ _ pk _ er _ s _ w _ _ <<< "$line"
		if [ -n "$pk" ] && [ "$pk" -ge $((secs * 50 * 3 / 4)) ] && [ "$er" = 0 ]; then
			ok "relay received the $role's RTP: $pk packets, 0 errors"
		else
			bad "relay received the $role's RTP (>= $((secs * 50 * 3 / 4)) packets, 0 errors): $line" "$W/query.json"
		fi
		[ -n "$s" ] && [ "$s" = "$w" ] && ok "$role leg is $([ "$w" = 1 ] && echo SRTP || echo plain RTP) at the relay ($line)" ||
			bad "$role leg SRTP=$w at the relay: $line" "$W/query.json"
	done
	if [ "$RELAY" = mediagate ]; then
		for role in caller callee; do
			grep -q "^$role rtcp-report ssrc [1-9][0-9]* lost -*[0-9]* fraction [0-9]*$" "$W/query.check" &&
				ok "NG query: the $role's RTCP receiver report is in its stream ($(grep "^$role rtcp-report" "$W/query.check" | cut -d' ' -f3-))" ||
				bad "NG query: the $role's RTCP report ($(grep "^$role rtcp-report" "$W/query.check"))" "$W/query.json"
		done
	fi
	baresip_ctrl $NS_A hangup
	wait_ng_count 1 0 50 && ok "BYE: the relay deleted the call (list is empty)" || bad "BYE deleted the call (list: $(ng_calls 1))"
	sleep 0.5
	baresip_ctrl $NS_A quit
	baresip_ctrl $NS_B quit
	wait_gone "${BARESIP_PID[alice]}" 30
	wait_gone "${BARESIP_PID[bob]}" 30
	# Kamailio's view at the BYE: rtpengine_query() then $rtpstat.
	local rs pkts errs expl
	rs=$(kam_ngstat "$cid" rtpstat)
	kam_ngstat "$cid" query > "$W/kam_query.json"
	pkts=$(echo "$rs" | sed -n 's/^RTP: [0-9]* bytes, \([0-9]*\) packets, [0-9]* errors;.*/\1/p')
	errs=$(echo "$rs" | sed -n 's/^RTP: [0-9]* bytes, [0-9]* packets, \([0-9]*\) errors;.*/\1/p')
	# explained at the BYE, from the final query's drops by reason: per SRTP
	# stream up to two plaintext RTCP packets of baresip's (the keepalive at
	# the start, its RTCP BYE in the clear at hang-up); rtpengine gives none
	expl=$(python3 -c 'import json,sys
try: q=json.load(open(sys.argv[1]))
except ValueError: q={}
print(sum(min(s.get("drops",{}).get("malformed",0)+s.get("drops",{}).get("auth",0),2)
    for t in q.get("tags",{}).values() for m in t.get("medias",[]) for s in m.get("streams",[])
    if s.get("crypto suite")))' "$W/kam_query.json")
	if [ -n "$pkts" ] && [ "$pkts" -ge $((secs * 50)) ] && [ -n "$errs" ] && [ "$errs" -le "$expl" ]; then
		ok "Kamailio \$rtpstat at the BYE shows real packet counts ($rs)"
	else
		bad "Kamailio \$rtpstat at the BYE (>= $((secs * 50)) RTP packets, errors <= $expl explained keepalives): '$rs'; drops by reason per stream: $(jq_py '[s.get("drops") for t in d["tags"].values() for m in t["medias"] for s in m["streams"]]' < "$W/kam_query.json")" "$W/kamailio.log"
	fi
	[ "$(jq_py 'd["result"]' < "$W/kam_query.json")" = ok ] && ok "Kamailio rtpengine_query_v() at the BYE: the relay's query reply as JSON" ||
		bad "Kamailio rtpengine_query_v() JSON" "$W/kam_query.json"
	# What the peers received: baresip counts RTP it could decode (SRTP
	# unprotect failures are dropped before its counters).
	local who sent recv err
	for who in alice bob; do
		read -r sent recv err <<< "$(baresip_rtp $who)"
		if [ -n "${recv:-}" ] && [ "$recv" -ge $((secs * 50 * 3 / 4)) ] && [ "$err" = 0 ]; then
			ok "$who received and decoded audio: sent $sent, received $recv RTP, 0 errors"
		else
			bad "$who received audio (>= $((secs * 50 * 3 / 4)) RTP, 0 errors): '$sent $recv $err'" "$W/$who.log"
		fi
	done
	local ka kb shared
	ka=$(sdp_keys alice | wc -l)
	kb=$(sdp_keys bob | wc -l)
	shared=$(comm -12 <(sdp_keys alice) <(sdp_keys bob) | wc -l)
	if [ "$a_srtp" = 1 ]; then
		[ "$ka" -ge 2 ] && ok "alice's leg has SDES keys ($ka seen)" || bad "alice's leg SDES keys ($ka)" "$W/alice.log"
	else
		[ "$ka" = 0 ] && ok "alice's leg is plain RTP: no a=crypto in what she sent or got" || bad "alice's leg plain ($ka keys)" "$W/alice.log"
	fi
	if [ "$b_srtp" = 1 ]; then
		[ "$kb" -ge 2 ] && ok "bob's leg has SDES keys ($kb seen)" || bad "bob's leg SDES keys ($kb)" "$W/bob.log"
	else
		[ "$kb" = 0 ] && ok "bob's leg is plain RTP" || bad "bob's leg plain ($kb keys)" "$W/bob.log"
	fi
	if [ "$shared" = 0 ]; then
		ok "no SDES key is shared between the two legs"
	elif [ "$RELAY" = rtpengine ] && [ "${NG_DISTINCT_KEYS:-0}" != 1 ] && [ "$a_srtp" = 1 ] && [ "$b_srtp" = 1 ]; then
		ok "SDES keys: rtpengine passed $shared key(s) through to the other leg, its documented SDES default (NG_DISTINCT_KEYS=1 fails this)"
	else
		bad "$shared SDES keys shared by both legs"
	fi
}
