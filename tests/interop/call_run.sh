#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# The README's run command as a user types it: from the source tree, with the
# build directory given relative to it (as `build/` is), placing the call
# (tests/interop/call_bed.sh does the checks and prints the summary).
#   call_run.sh BUILD_DIR SRC_DIR [SECONDS]
set -uo pipefail
BUILD=$1 SRC=$2 SECS=${3:-8}
cd "$SRC" || exit 1
rel=$(realpath --relative-to="$SRC" "$BUILD") || exit 1
MG_RUN_SKIP_SETUP=1 MG_BUILD_DIR=$rel MG_RUN_CALL_SECONDS=$SECS exec scripts/run
