#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# systemd-units-verify: `systemd-analyze verify` on the units as generated for
# this build (systemd/meson.build). Fails on any message, not only on a
# non-zero exit: verify reports unknown keys and bad values as warnings and
# still exits 0. The Documentation= pages must be found among this tree's
# manual pages (MANPATH holds only them). Then proves it would notice: a copy
# with a misspelt key must be refused, or this test checks nothing.
#   verify-units.sh BUILD-DIR MAN-PAGE-DIR UNIT...
set -u
dir=$1
mandir=$2
shift 2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM
mkdir "$tmp/ok" "$tmp/broken" "$tmp/man"
for p in "$mandir"/*.[1-8]; do
	mkdir -p "$tmp/man/man${p##*.}"
	cp "$p" "$tmp/man/man${p##*.}/" || exit 1
done
export MANPATH="$tmp/man"
for u in "$@"; do
	cp "$dir/verify-$u" "$tmp/ok/$u" || exit 1
	cp "$dir/verify-$u" "$tmp/broken/$u" || exit 1
done

# SYSTEMD_LOG_COLOR=0 keeps the messages plain for the log.
verify() {
	(cd "$1" && shift && SYSTEMD_LOG_COLOR=0 systemd-analyze verify --man=yes "$@" 2>&1)
}

fail=0
out=$(verify "$tmp/ok" "$@")
rc=$?
if [ $rc -ne 0 ] || [ -n "$out" ]; then
	echo "FAIL: systemd-analyze verify $* (exit $rc):"
	echo "$out"
	fail=1
else
	echo "ok: systemd-analyze verify $*: no message"
fi

# the self-check: a typo in the first unit's [Service] section
sed -i 's/^ExecStart=/ExecStrat=/' "$tmp/broken/$1"
out=$(verify "$tmp/broken" "$@")
rc=$?
if [ $rc -eq 0 ] && [ -z "$out" ]; then
	echo "FAIL: a unit with ExecStrat= passed systemd-analyze verify: the test is blind"
	fail=1
else
	echo "ok: a broken $1 is refused (exit $rc): $(echo "$out" | head -n 2 | tr '\n' ' ')"
fi
exit $fail
