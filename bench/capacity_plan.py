# SPDX-License-Identifier: BSD-3-Clause
"""Capacity plan from measured per-core figures (bench/capacity-sim).

Reads bench/capacity-figures.txt ("key value" lines, '#' comments) and
turns a target (sessions, calls/s) into worker cores and nodes with N+1
spare. Pure arithmetic, no I/O beyond reading the figures file.
"""
import math

# What one media session is: two directions of G.711 at 20 ms.
WIRE_OVERHEAD = 8 + 20 + 14 + 4 + 20  # UDP, IPv4, Ethernet + FCS, preamble + IFG


def load_figures(path):
    """{key: float} from a figures file; a bad line is an error naming it."""
    figs = {}
    with open(path) as f:
        for n, line in enumerate(f, 1):
            text = line.split("#", 1)[0].strip()
            if not text:
                continue
            parts = text.split()
            if len(parts) != 2:
                raise ValueError("%s:%d: expected 'key value', got %r" % (path, n, text))
            try:
                figs[parts[0]] = float(parts[1])
            except ValueError:
                raise ValueError("%s:%d: %s: %r is not a number" % (path, n, parts[0], parts[1]))
    return figs


# Dataplane profiles: (name, figures key, what it is). Cycles per packet are
# the worker's own cost over full bursts; "carried" is what one shared vCPU
# carried and verified, taken as that core's packet rate.
PROFILES = [
    ("srtp-srtp", "cycles_srtp_srtp", "SRTP both legs, median cycles"),
    ("srtp-srtp-worst", "cycles_srtp_srtp_worst", "SRTP both legs, worst median cycles"),
    ("srtp-srtp-carried", "carried_mpps_srtp_srtp", "SRTP both legs, carried+verified on a shared vCPU"),
    ("rtp-srtp", "cycles_rtp_srtp", "SRTP one leg, median cycles"),
    ("rtp-srtp-worst", "cycles_rtp_srtp_worst", "SRTP one leg, worst median cycles"),
]


def core_pps(figs, profile):
    """Packets per second one dedicated worker core does for @profile."""
    for name, key, _ in PROFILES:
        if name == profile:
            if key.startswith("carried_mpps"):
                return figs[key] * 1e6
            return figs["tsc_hz"] / figs[key]
    raise ValueError("unknown profile %r (known: %s)" % (profile, ", ".join(p[0] for p in PROFILES)))


def dp_bytes(figs, profile):
    return figs["dp_bytes_rtp_srtp"] if profile.startswith("rtp-srtp") else figs["dp_bytes_srtp_srtp"]


def plan(figs, profile, sessions, cps, pps_per_dir=50, pkt_bytes=172, cores_per_node=16,
         reserved_cores=2, max_util=0.8, handoff_factor=1.0, role="ng", spare=1):
    """The plan for one profile: a dict of every figure used and derived.

    @reserved_cores per node are not workers: the dataplane's main lcore and
    the control plane's thread. @max_util: the share of a worker core (and of
    the control thread) the plan fills. @handoff_factor multiplies the
    measured cycles when a node has more than one worker (packets cross a
    hand-off ring; not measured: 1.0 assumes no cost). @role: "ng" (pure media
    node, set-up rate = NG sessions/s) or "b2bua" (set-up rate = B2BUA
    calls/s, extrapolated). @spare: nodes beyond what the load needs.
    """
    if cores_per_node <= reserved_cores:
        raise ValueError("cores_per_node %d must exceed reserved_cores %d" % (cores_per_node, reserved_cores))
    if not 0 < max_util <= 1:
        raise ValueError("max_util %g must be in (0, 1]" % max_util)
    workers = cores_per_node - reserved_cores
    pps = sessions * 2 * pps_per_dir
    per_core = core_pps(figs, profile) / (handoff_factor if workers > 1 else 1.0)
    per_core_used = per_core * max_util
    worker_cores = math.ceil(pps / per_core_used)
    nodes_media = math.ceil(worker_cores / workers)
    cps_node = figs["ng_sessions_per_s"] if role == "ng" else figs["b2bua_calls_per_s"]
    nodes_setup = math.ceil(cps / (cps_node * max_util))
    nodes_load = max(nodes_media, nodes_setup)
    # Per node capacity, at max_util, in sessions and set-ups per second: what
    # the simulation admits (mediagate.calls.maxCalls and maxRate per node).
    cap_sessions = int(workers * per_core_used // (2 * pps_per_dir))
    cap_cps = cps_node * max_util
    ctl_bytes = figs["ng_ctl_bytes_per_session"] if role == "ng" else figs["b2bua_ctl_bytes_per_call"]
    per_node_sessions = sessions / nodes_load
    wire_bits = (pkt_bytes + WIRE_OVERHEAD) * 8
    return {
        "profile": profile,
        "role": role,
        "sessions": sessions,
        "cps": cps,
        "pps_total": pps,
        "core_pps": per_core,
        "max_util": max_util,
        "handoff_factor": handoff_factor,
        "sessions_per_core": int(per_core_used // (2 * pps_per_dir)),
        "worker_cores": worker_cores,
        "cores_per_node": cores_per_node,
        "workers_per_node": workers,
        "nodes_media": nodes_media,
        "nodes_setup": nodes_setup,
        "nodes_load": nodes_load,
        "spare": spare,
        "nodes": nodes_load + spare,
        "cores_total": (nodes_load + spare) * cores_per_node,
        "cap_sessions_node": cap_sessions,
        "cap_cps_node": cap_cps,
        "node_mem_gb": per_node_sessions * (dp_bytes(figs, profile) + ctl_bytes) / 1e9,
        # each packet comes in and goes out: this is each way, per node
        "node_gbps_each_way": per_node_sessions * 2 * pps_per_dir * wire_bits / 1e9,
    }
