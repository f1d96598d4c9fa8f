#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# mgctl without daemons (suite unit): the exit codes of usage errors (2) and
# of an unreachable daemon (3), --help naming every command, and the bash
# completion offering them. The commands against the daemons: tests/smoke/mgctl_test.sh.
#   mgctl_cli_test.sh MGCTL COMPLETION
set -u
MGCTL=$1 COMP=$2
fail=0
expect() { # NAME EXPECTED ACTUAL
	if [ "$2" = "$3" ]; then echo "ok - $1"; else echo "not ok - $1 (expected '$2', got '$3')"; fail=1; fi
}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
"$MGCTL" > /dev/null 2>&1
expect "no command: exit 2" 2 $?
"$MGCTL" frobnicate > /dev/null 2>&1
expect "unknown command: exit 2" 2 $?
"$MGCTL" --socket "$T/none.sock" calls show x > /dev/null 2>&1
expect "calls show with a bad id: exit 2 before connecting" 2 $?
"$MGCTL" --socket "$T/none.sock" maxcalls -1 > /dev/null 2>&1
expect "maxcalls -1: exit 2" 2 $?
"$MGCTL" --socket "$T/none.sock" --json version > "$T/out" 2> "$T/err"
expect "no control plane: exit 3" 3 $?
expect "  nothing on stdout" 0 "$(wc -c < "$T/out")"
"$MGCTL" --dp-socket "$T/none.sock" dp ping > /dev/null 2>&1
expect "no dataplane: mgctl dp exits 3 (mediagate-dpctl's meaning)" 3 $?
"$MGCTL" --help > "$T/help"
expect "--help: exit 0" 0 $?
# complete WORDS...: what bash completion offers for the last word
complete_words() {
	bash -c '. "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _mgctl; echo "${COMPREPLY[*]}"' _ "$COMP" "$@"
}
for c in version stats calls sessions drain maxcalls log ng capture dp; do
	grep -q "^  $c\b\|^  $c " "$T/help" || { echo "not ok - --help lists $c"; fail=1; }
	case " $(complete_words mgctl "") " in *" $c "*) ;; *) echo "not ok - completion offers $c"; fail=1 ;; esac
done
expect "completion: mgctl dr -> drain" drain "$(complete_words mgctl dr)"
expect "completion: mgctl --json calls t -> terminate" terminate "$(complete_words mgctl --json calls t)"
expect "completion: mgctl dp session l -> list" list "$(complete_words mgctl dp session l)"
expect "completion: mgctl log level d -> debug" debug "$(complete_words mgctl log level d)"
exit $fail
