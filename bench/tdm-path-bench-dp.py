#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""tdm-path-bench-dp: the TDM thread inside the real dataplane (area tag tdmm).

Binds N bearer channels of the FUSE DAHDI emulator (four E1 spans, joined
1<->2 and 3<->4: every bearer is bound, each is the other's far end; up to
120 channels) to N SRTP sessions and reads, over DPDK telemetry, the TDM
thread's CPU over a measuring window, its late periods, and the worker's
busy share. TDM -> RTP only: every channel sends 50 packets/s, encrypted by
the worker, to a peer namespace that does not answer; nothing comes back
(the jitter buffers play silence). The emulator process costs far more than
the dataplane here (tdm.md), so the rows say what the TDM thread and the
worker cost, not what this machine's emulator can carry. Prints a table (or
--csv); never asserts. Needs root and /dev/fuse.

  tdm-path-bench-dp BUILD_DIR [--channels 30,60,120] [--seconds 5] [--csv]
"""
import argparse
import base64
import json
import os
import secrets
import subprocess
import sys
import time

ap = argparse.ArgumentParser()
ap.add_argument("build")
ap.add_argument("--channels", default="30,60,120")
ap.add_argument("--seconds", type=float, default=5)
ap.add_argument("--csv", action="store_true")
args = ap.parse_args()
BUILD = os.path.abspath(args.build)
SRC = os.path.dirname(os.path.realpath(__file__))
if "MG_TDM_EMU_DIR" not in os.environ:
    # run again under the emulator (4 E1 spans, 1<->2, 3<->4)
    here = os.path.realpath(__file__)
    srcdir = os.path.dirname(os.path.dirname(here))
    if not os.path.exists(os.path.join(srcdir, "tests/dahdi-emu/tdm-emu-run")):
        srcdir = os.path.join(BUILD, "..", "main")  # a copy in the build directory
    run = os.path.join(srcdir, "tests/dahdi-emu/tdm-emu-run")
    os.execv(run, [run, BUILD + "/tests/dahdi-emu/dahdi-emu", "-s", "4", "--",
                   sys.executable, here] + sys.argv[1:])

sys.argv = [sys.argv[0], BUILD]
sys.path.insert(0, os.path.join(os.path.dirname(SRC), "tests", "tdm"))
if not os.path.exists(os.path.join(sys.path[0], "tdmm_e2e.py")):
    sys.path[0] = os.path.join(BUILD, "..", "main", "tests", "tdm")
import tdmm_e2e as bed  # noqa: E402  (namespaces, config, dpctl, telemetry)

steps = [int(x) for x in args.channels.split(",")]
chans = [(span - 1) * 31 + t for span in (1, 2, 3, 4) for t in range(1, 32) if t != 16]
if max(steps) > len(chans):
    sys.exit("at most %d channels" % len(chans))


def start():
    bed.up()
    conf = bed.RUN + "/gw.properties"
    with open(conf, "w") as f:
        f.write("mediagate.log.level=warning\n"
                "mediagate.control.socket=%s\n"
                "mediagate.dataplane.eal=--no-huge -m 512 --no-shconf --no-pci "
                "--file-prefix %s -l 0,1 --log-level=*:notice\n"
                "mediagate.dataplane.workerLcores=1\n"
                "mediagate.dataplane.idleSleepUs=200\n"
                "mediagate.media.portRange=20000-21999\n"
                "mediagate.dataplane.port.0.device=net_af_packet0,iface=tdmm-a0\n"
                "mediagate.dataplane.port.0.addresses=%s/24\n"
                "mediagate.tdm.devicePath=%s\n"
                % (bed.SOCK, bed.PREFIX, bed.DP, os.environ["MG_TDM_EMU_DIR"]))
    log = open(bed.RUN + "/dataplane.log", "w")
    p = subprocess.Popen(["ip", "netns", "exec", bed.NS_DP, BUILD + "/dataplane/mediagate-dataplane",
                          "--config", conf], stdout=log, stderr=subprocess.STDOUT)
    for _ in range(100):
        if os.path.exists(bed.SOCK) and bed.dpctl("ping", check_rc=False).returncode == 0:
            return p
        time.sleep(0.1)
    raise RuntimeError("dataplane did not come up")


def figures():
    t = bed.telemetry("/mediagate/tdm")["/mediagate/tdm"]
    w = bed.telemetry("/mediagate/workers")["/mediagate/workers"]["worker0"]
    return t, w


def main():
    dp = start()
    rows = []
    try:
        bound = 0
        suite = "AES_CM_128_HMAC_SHA1_80"
        for n in steps:
            while bound < n:
                i = bound
                key = base64.b64encode(secrets.token_bytes(30)).decode()
                bed.dpctl("session", "add", str(100 + i),
                          "leg0", "local=%s:%d" % (bed.DP, 20000 + 4 * i),
                          "remote=%s:%d" % (bed.PEER, 30000 + 2 * i),
                          "tx=" + suite, "tx-key=" + key,
                          "leg1", "local=%s:%d" % (bed.DP, 20002 + 4 * i))
                bed.dpctl("tdm", "bind", str(100 + i), str(chans[i]), "leg=0", "law=pcmu")
                bound += 1
            time.sleep(1.5)  # past a snapshot (once a second) with all channels in
            t0, w0 = figures()
            time.sleep(args.seconds)
            t1, w1 = figures()
            wall = (t1["thread_wall_ns"] - t0["thread_wall_ns"]) / 1e9
            cpu = (t1["thread_cpu_ns"] - t0["thread_cpu_ns"]) / 1e9
            pk = w1["packets"] - w0["packets"]
            busy = w1["busy_tsc"] - w0["busy_tsc"]
            tsc_hz = json.loads(bed.dpctl("stats").stdout).get("tsc_hz", 0)
            rows.append({
                "channels": n,
                "expected_pps": 50 * n,
                "worker_pps": pk / wall if wall > 0 else 0,
                "tdm_cpu_pct": 100 * cpu / wall if wall > 0 else 0,
                "late_periods": t1["late_periods"] - t0["late_periods"],
                "worker_busy_pct": 100 * busy / tsc_hz / wall if tsc_hz and wall > 0 else 0,
            })
    finally:
        bed.stop(dp)
        bed.down()
    cols = ["channels", "expected_pps", "worker_pps", "tdm_cpu_pct", "late_periods",
            "worker_busy_pct"]
    if args.csv:
        print(",".join(cols))
        for r in rows:
            print(",".join("%.2f" % r[c] if isinstance(r[c], float) else str(r[c]) for c in cols))
    else:
        print("%9s %13s %11s %12s %13s %16s" % ("channels", "expected pps", "worker pps",
                                              "TDM CPU %", "late periods", "worker busy %"))
        for r in rows:
            print("%9d %13d %11.0f %12.2f %13d %16.2f" % (
                r["channels"], r["expected_pps"], r["worker_pps"], r["tdm_cpu_pct"],
                r["late_periods"], r["worker_busy_pct"]))


if __name__ == "__main__":
    main()
