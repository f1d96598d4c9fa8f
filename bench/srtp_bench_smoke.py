#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""srtp-bench smoke (suite unit): a tiny run of the issue's goal row must
exit 0 (srtp-bench exits 1 when a packet of a row or a part's burst
call failed) and write CSV rows for the NSS baseline and each mediagate
backend asked for, each with a positive time; with ipsec-mb the goal row's parts come
as part:* rows (the 16-lane HMAC where the CPU runs it, the library's HMAC
and AES-CTR); an unknown option exits 2. Measures nothing: no time is
compared with anything.
    srtp_bench_smoke.py SRTP_BENCH HAVE_IPSECMB(0|1)"""
import csv
import os
import subprocess
import sys
import tempfile

bench, have_imb = sys.argv[1], sys.argv[2] == "1"
fails = []


def check(ok, what):
    if not ok:
        fails.append(what)


with tempfile.TemporaryDirectory(prefix="mg-srtp-bench-") as d:
    out = os.path.join(d, "srtp.csv")
    impls = ["scalar"] + (["ipsec-mb"] if have_imb else [])
    args = [bench, "--ms", "2", "--bytes", "172", "--burst", "32", "--op", "protect",
            "--suite", "AES_CM_128_HMAC_SHA1_80", "--csv", out]
    for i in impls:
        args += ["--impl", i]
    p = subprocess.run(args, capture_output=True, text=True, timeout=120)
    # exit 1 = a packet of a row or a part's burst call failed (srtp-bench)
    check(p.returncode == 0, "exit %d: %s" % (p.returncode, p.stderr[-500:]))
    rows = list(csv.DictReader(open(out))) if os.path.exists(out) else []
    by = {r["impl"]: r for r in rows}
    for i in ["libsrtp2-nss"] + impls:
        r = by.get(i)
        check(r is not None and float(r["ns_per_pkt"]) > 0 and r["op"] == "protect" and r["bytes"] == "172",
              "no timed row for %s: %s" % (i, r))
    if have_imb:
        x16 = open("/proc/cpuinfo").read()
        x16 = " avx512f " in x16 and " avx512bw " in x16
        parts = [r["impl"] for r in rows if r["impl"].startswith("part:")]
        check(any(n.startswith("part:aes-128-ctr-ipsec-mb-") for n in parts), "no AES-CTR part: %s" % parts)
        check(any(n.startswith("part:hmac-sha1-ipsec-mb-") for n in parts), "no library HMAC part: %s" % parts)
        check(("part:hmac-sha1-x16" in parts) == x16, "x16 HMAC part %s on a CPU %s AVX-512 F+BW" %
              ("present" if "part:hmac-sha1-x16" in parts else "missing", "with" if x16 else "without"))
        check(all(float(r["ns_per_pkt"]) > 0 and r["op"] == "protect-part" for r in rows
                  if r["impl"].startswith("part:")), "a part row without a time")
    else:
        check(not any(r["impl"].startswith("part:") for r in rows), "part rows without ipsec-mb")
    p = subprocess.run([bench, "--no-such-option"], capture_output=True, text=True, timeout=30)
    check(p.returncode == 2, "unknown option exited %d, not 2" % p.returncode)

for f in fails:
    print("FAIL:", f)
print("srtp-bench smoke: %s" % ("FAILED" if fails else "ok"))
sys.exit(1 if fails else 0)
