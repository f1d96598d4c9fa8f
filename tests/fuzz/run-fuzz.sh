#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Run one libFuzzer target on its checked-in seed corpus without writing into
# the source tree: libFuzzer adds what it finds to its FIRST corpus directory,
# so a fresh temporary directory goes first and the seed directories after it.
# Crash/timeout/leak inputs go to $MG_FUZZ_ARTIFACTS (default: the current
# directory, which for meson test is the build directory).
#
#   run-fuzz.sh FUZZER [-flag=value...] SEED_DIR...
set -uo pipefail
fuzzer=$1; shift
flags=() seeds=()
for a in "$@"; do
	case "$a" in
	-*) flags+=("$a") ;;
	*) seeds+=("$a") ;;
	esac
done
for d in "${seeds[@]}"; do
	[ -d "$d" ] || { echo "run-fuzz.sh: no seed directory $d" >&2; exit 2; }
done
out=$(mktemp -d "${TMPDIR:-/tmp}/mg-fuzz.XXXXXX") || exit 2
trap 'rm -rf "$out"' EXIT
art=${MG_FUZZ_ARTIFACTS:-.}
mkdir -p "$art"
"$fuzzer" -artifact_prefix="$art/$(basename "$fuzzer")-" "${flags[@]}" "$out" "${seeds[@]}"
