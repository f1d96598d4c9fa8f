#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Tone check of tdme_two_gateways.sh on baresip's sndfile recordings.

  tdme_audio.py BOB_SND_DIR ALICE_SND_DIR

Each directory holds baresip's dump-*-dec.wav (what that end received and
decoded). bob must hear alice's 440 Hz and alice bob's 880 Hz: in 100 ms
blocks (after the first 0.5 s), Goertzel power of the expected tone against
the other one and a few unrelated bins (DTMF rows/columns, 1 kHz, 2 kHz); the
tone must dominate by 25 dB in at least 80 % of the blocks and the file must
not be silence. Exit status: number of failed checks.
"""
import glob
import math
import os
import struct
import sys
import wave

OTHERS = [697, 770, 1000, 1209, 1336, 2000]
# 25 dB: G.711 twice and baresip's resampling leave > 30 dB here; a far end
# injected by the echo canceller (the bug fixed in f0e24c4) was at 17 dB.
MARGIN_DB = int(os.environ.get("TDME_MARGIN_DB", "25"))


def goertzel(x, rate, f):
    k = 2.0 * math.cos(2.0 * math.pi * f / rate)
    s1 = s2 = 0.0
    for v in x:
        s0 = v + k * s1 - s2
        s2, s1 = s1, s0
    return s1 * s1 + s2 * s2 - k * s1 * s2


def samples(path):
    with wave.open(path, "rb") as w:
        rate, ch, width, n = w.getframerate(), w.getnchannels(), w.getsampwidth(), w.getnframes()
        raw = w.readframes(n)
    if width != 2:
        raise ValueError("%s: %d-byte samples, want 16-bit" % (path, width))
    x = struct.unpack("<%dh" % (len(raw) // 2), raw)
    # baresip resamples the 8 kHz call to 48 kHz: every 6th sample of one
    # channel is the 8 kHz signal again (nothing above 4 kHz to alias).
    step = rate // 8000 if rate % 8000 == 0 else 1
    return rate // step, list(x[::ch * step])


def check(d, want, other):
    files = sorted(glob.glob(os.path.join(d, "*dec.wav")))
    if not files:
        print("not ok - no *dec.wav in %s: %s" % (d, os.listdir(d) if os.path.isdir(d) else "missing"))
        return 1
    rate, x = samples(files[-1])
    blk = rate // 10
    x = x[rate // 2:]
    n = good = 0
    ratios = []
    rms = math.sqrt(sum(v * v for v in x) / len(x)) if x else 0.0
    for i in range(0, len(x) - blk + 1, blk):
        b = x[i:i + blk]
        p = goertzel(b, rate, want)
        q = max(goertzel(b, rate, f) for f in [other] + OTHERS)
        n += 1
        r = 10 * math.log10(p / q) if p > 0 and q > 0 else (99.0 if p > 0 else -99.0)
        ratios.append(r)
        if r > MARGIN_DB:
            good += 1
    frac = good / n if n else 0.0
    ok = n >= 10 and frac >= 0.8 and rms > 300
    ratios.sort()
    print("%s - %s: %d Hz above the other bins by > %d dB in %d of %d blocks of 100 ms "
          "(%.0f%%; median %.1f dB), rms %.0f, %.1f s at %d Hz"
          % ("ok" if ok else "not ok", os.path.basename(files[-1]), want, MARGIN_DB, good, n,
             100 * frac, ratios[len(ratios) // 2] if ratios else 0, rms, len(x) / rate, rate))
    return 0 if ok else 1


sys.exit(check(sys.argv[1], 440, 880) + check(sys.argv[2], 880, 440))
