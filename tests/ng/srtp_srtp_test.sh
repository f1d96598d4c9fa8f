#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# SRTP caller <-> SRTP callee through Kamailio + the relay, each leg with its
# own SDES keys (the relay decrypts and re-encrypts; SPEC §6: SRTP<->SRTP
# re-keyed). rtpengine 10.5 does not re-key: it offers the callee the
# caller's own key for the caller's suite (its documented SDES default, no
# flag turns it off; SDES-no-<that suite> leaves the caller without an
# answer key), so with RELAY=rtpengine the shared key is reported, not
# failed (NG_DISTINCT_KEYS=1 makes it a failure). Kamailio asks for
# RTP/SAVP on both legs; baresip alice and bob both mediaenc=srtp-mand, for
# NG_SECS (6) seconds. Media checked at both ends and at the relay; BYE
# deletes the session; Kamailio's $rtpstat at the BYE shows the packets.
#   [RELAY=rtpengine|mediagate] [BUILD=dir] srtp_srtp_test.sh
. "$(dirname "$0")/_init.sh"
. "$NG_DIR/ng_call_lib.sh"
scenario_begin srtp_srtp baresip
# baresip 1.0 cannot key AEAD_AES_256_GCM (keylen 42, wants 44) and takes
# the first suite offered: no AEAD suites; no DTLS fingerprint.
S="SDES-no-AEAD_AES_256_GCM SDES-no-AEAD_AES_128_GCM DTLS=off"
F="replace-origin replace-session-connection ICE=remove"
ng_media_call ";mediaenc=srtp-mand" ";mediaenc=srtp-mand" "RTP/SAVP $S $F" "RTP/SAVP $S $F" "${NG_SECS:-6}" 1 1
scenario_end
