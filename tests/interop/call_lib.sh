# SPDX-License-Identifier: BSD-3-Clause
# Sourced by the call tests (call_bed.sh, call_sipp.sh, call_pstn.sh,
# tdm/tdme_two_gateways.sh):
# TAP-like result lines and stopping the processes a test started.

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
		for _ in $(seq 50); do kill -0 "$p" 2> /dev/null || break; sleep 0.1; done
		kill -9 "$p" 2> /dev/null && echo "pid $p did not stop in 5 s: killed"
	done
	wait 2> /dev/null
}

# The EXIT trap of the loopback call tests (call_sipp.sh, call_pstn.sh):
# stop_pids, then remove the dataplane's EAL runtime directory
# (/var/run/dpdk/$PREFIX) and the work directory $W (kept with CALL_KEEP=1).
call_cleanup() {
	stop_pids
	rm -rf "/var/run/dpdk/$PREFIX"
	if [ "${CALL_KEEP:-0}" = 1 ]; then echo "files kept in $W"; else rm -rf "$W"; fi
}
