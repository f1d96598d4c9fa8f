#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Plain RTP caller <-> SRTP callee through Kamailio + the relay: Kamailio asks
# for RTP/SAVP on the callee's leg and RTP/AVP back to the caller
# (replace-origin replace-session-connection ICE=remove); baresip alice (no
# SRTP) calls baresip bob (mediaenc=srtp-mand) for NG_SECS (6) seconds.
# Media checked at both ends and at the relay; BYE deletes the session;
# Kamailio's $rtpstat at the BYE shows the packets.
#   [RELAY=rtpengine|mediagate] [BUILD=dir] plain_srtp_test.sh
. "$(dirname "$0")/_init.sh"
. "$NG_DIR/ng_call_lib.sh"
scenario_begin plain_srtp baresip
# baresip 1.0 cannot key AEAD_AES_256_GCM (keylen 42, wants 44) and takes
# the first suite offered: no AEAD suites; no DTLS fingerprint.
S="SDES-no-AEAD_AES_256_GCM SDES-no-AEAD_AES_128_GCM DTLS=off"
F="replace-origin replace-session-connection ICE=remove"
ng_media_call "" ";mediaenc=srtp-mand" "RTP/SAVP $S $F" "RTP/AVP $F" "${NG_SECS:-6}" 0 1
scenario_end
