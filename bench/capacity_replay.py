# SPDX-License-Identifier: BSD-3-Clause
"""Time-stepped replay of calls over media nodes with failures (bench/capacity-sim).

Calls arrive as a Poisson process (rate @cps), hold for an exponential time
(mean @hold_s) and go to a node ("slot": one media address with its weight;
the standby machine that takes a slot over keeps the slot) chosen by weight,
as Kamailio's dispatcher and rtpengine relay set do. The run starts in the
steady state of that M/M/inf system (Poisson(cps * hold_s) calls up, each
with an exponential age and remaining time), so there is no warm-up.

Failures (Failure objects) happen at given times:
  node       the machine is gone. Detected after detect_s; set-ups sent to
             it before that time out and are retried on another slot
             (setup_retried). Its calls:
               mode "lose"      lost (no standby: mediagate today),
               mode "standby"   kept by a standby machine (state from Redis,
                                address moved by keepalived) after
                                detect_s + failover_s of no media; calls set
                                up in the last publish_lag_s (not yet in
                                Redis) are lost; with no standby left, "lose",
               mode "survivors" re-offered to the other slots after
                                detect_s + failover_s (those that do not fit
                                are lost).
  dataplane  the dataplane restarts: every call stays, gap_s of no media;
             set-ups during the gap are retried elsewhere.
  control    the control plane restarts in gap_s: media goes on; set-ups
             during it are retried; without re-adoption (readopt False) a
             B2BUA node's calls lose their SIP state (counted lost, their
             dataplane sessions leaked), an NG node's sessions are leaked
             (still forwarding, unknown to the new control plane).

Everything random comes from two generators seeded from @seed: one for
arrivals and hold times, one for routing. Runs with the same seed and
different failures see the same calls up to the first failure.
"""
import heapq
import math
import random


class Failure:
    def __init__(self, kind, slot, t, mode="lose", detect_s=0.0, failover_s=0.0,
                 gap_s=0.0, publish_lag_s=0.0, repair_s=None, readopt=False):
        if kind not in ("node", "dataplane", "control"):
            raise ValueError("failure kind %r: node, dataplane or control" % kind)
        if mode not in ("lose", "standby", "survivors"):
            raise ValueError("failure mode %r: lose, standby or survivors" % mode)
        self.kind, self.slot, self.t, self.mode = kind, slot, t, mode
        self.detect_s, self.failover_s, self.gap_s = detect_s, failover_s, gap_s
        self.publish_lag_s, self.repair_s, self.readopt = publish_lag_s, repair_s, readopt


class Slot:
    def __init__(self, idx, weight, cap_sessions, cap_cps, seconds):
        self.idx, self.weight = idx, weight
        self.cap_sessions, self.cap_cps = cap_sessions, cap_cps
        self.calls = []            # heap of (end, start, call id)
        self.in_rotation = True    # the proxies send it new calls
        self.accepts = True        # it answers them (False: down, undetected)
        self.setups = [0] * (seconds + 1)
        self.peak_active = 0
        self.peak_active_after_failure = 0
        self.refused = 0           # load limit: full or over its set-up rate
        self.refused_after_failure = 0


class Replay:
    def __init__(self, slots, cps, hold_s, duration_s, seed, dt=0.1, admit=True,
                 role="ng", standby=0, series=False):
        self.cps, self.hold_s, self.duration_s, self.dt = cps, hold_s, duration_s, dt
        self.admit, self.role, self.standby = admit, role, standby
        seconds = int(math.ceil(duration_s))
        self.slots = [Slot(i, w, cs, cc, seconds) for i, (w, cs, cc) in enumerate(slots)]
        self.rng_calls = random.Random("calls-%d" % seed)
        self.rng_route = random.Random("route-%d" % seed)
        self.series = [] if series else None
        self.tot = dict(initial=0, offered=0, admitted=0, rejected=0, ended=0, lost=0,
                        setup_retried=0, media_gap_s=0.0, media_lost_s=0.0, leaked_sessions=0)
        self.events = []           # one record per failure
        self.timers = []           # heap of (t, seq, fn): repairs, recoveries, moves
        self.timer_seq = 0
        self.failed_at = None      # time of the first failure
        self.next_id = 0

    # -- routing ----------------------------------------------------------
    def pick(self, exclude=()):
        """A slot in rotation by weight, not in @exclude; None if none."""
        cands = [s for s in self.slots if s.in_rotation and s.weight > 0 and s.idx not in exclude]
        total = sum(s.weight for s in cands)
        if total <= 0:
            return None
        x = self.rng_route.random() * total
        for s in cands:
            x -= s.weight
            if x < 0:
                return s
        return cands[-1]

    def drain(self, s, t):
        """Ends every call of @s that ended by @t."""
        while s.calls and s.calls[0][0] <= t:
            heapq.heappop(s.calls)
            self.tot["ended"] += 1

    def full(self, s, t):
        sec = min(int(t), len(s.setups) - 1)
        return self.admit and (len(s.calls) >= s.cap_sessions or s.setups[sec] + 1 > s.cap_cps)

    def place(self, t, end, start):
        """Routes one new call: retries past dead slots, load-limit failover past full ones."""
        self.tot["offered"] += 1
        tried = set()
        retried = False
        while True:
            s = self.pick(tried)
            if s is None:
                self.tot["rejected"] += 1
                return
            tried.add(s.idx)
            if not s.accepts:
                retried = True     # timed out: the proxy tries the next one
                continue
            self.drain(s, t)
            if self.full(s, t):
                s.refused += 1
                if self.failed_at is not None:
                    s.refused_after_failure += 1
                continue
            break
        if retried:
            self.tot["setup_retried"] += 1
        self.tot["admitted"] += 1
        self.add_call(s, t, end, start)

    def add_call(self, s, t, end, start):
        heapq.heappush(s.calls, (end, start, self.next_id))
        self.next_id += 1
        sec = min(int(t), len(s.setups) - 1)
        if t >= 0:
            s.setups[sec] += 1
        n = len(s.calls)
        s.peak_active = max(s.peak_active, n)
        if self.failed_at is not None and t >= self.failed_at:
            s.peak_active_after_failure = max(s.peak_active_after_failure, n)

    # -- timers -----------------------------------------------------------
    def at(self, t, fn):
        heapq.heappush(self.timers, (t, self.timer_seq, fn))
        self.timer_seq += 1

    def run_timers(self, t):
        while self.timers and self.timers[0][0] <= t:
            tt, _, fn = heapq.heappop(self.timers)
            fn(tt)

    # -- failures ---------------------------------------------------------
    def lose_calls(self, calls, t, rec):
        for end, _, _ in calls:
            self.tot["lost"] += 1
            self.tot["media_lost_s"] += end - t
            rec["lost"] += 1
            rec["media_lost_s"] += end - t

    def gap_calls(self, calls, t, gap, rec):
        for end, _, _ in calls:
            g = min(gap, end - t)
            self.tot["media_gap_s"] += g
            rec["media_gap_s"] += g

    def fail(self, f, t):
        s = self.slots[f.slot]
        self.drain(s, t)
        if not s.accepts:
            # a second failure of a slot that is already down is not modelled
            self.events.append(dict(kind=f.kind, slot=f.slot, t=t, mode="ignored-already-down",
                                    active_at_failure=len(s.calls), lost=0, kept=0, moved=0,
                                    media_gap_s=0.0, media_lost_s=0.0, leaked=0))
            return
        if self.failed_at is None:
            self.failed_at = t
        rec = dict(kind=f.kind, slot=f.slot, t=t, mode=f.mode if f.kind == "node" else "-", active_at_failure=len(s.calls),
                   lost=0, kept=0, moved=0, media_gap_s=0.0, media_lost_s=0.0, leaked=0)
        self.events.append(rec)
        if f.kind == "dataplane":
            # the proxies keep sending: each set-up gets 503 / an error and is retried
            self.down(s, t, f.gap_s, detect_s=math.inf)
            self.gap_calls(s.calls, t, f.gap_s, rec)
            rec["kept"] = len(s.calls)
        elif f.kind == "control":
            self.down(s, t, f.gap_s, detect_s=math.inf)
            if not f.readopt:
                rec["leaked"] = len(s.calls)
                self.tot["leaked_sessions"] += len(s.calls)
                if self.role == "b2bua":
                    calls, s.calls = s.calls, []
                    for _ in calls:     # SIP state gone; media goes on
                        self.tot["lost"] += 1
                        rec["lost"] += 1
            rec["kept"] = len(s.calls)
        else:
            self.fail_node(f, s, t, rec)

    def down(self, s, t, gap, detect_s):
        """@s refuses set-ups from @t; proxies stop sending after @detect_s; back after @gap."""
        s.accepts = False

        def detected(_t):
            if not s.accepts:
                s.in_rotation = False
        if detect_s < (math.inf if gap is None else gap):
            self.at(t + detect_s, detected)

        def back(_t):
            s.accepts = s.in_rotation = True
        if gap is not None:
            self.at(t + gap, back)

    def fail_node(self, f, s, t, rec):
        gap = f.detect_s + f.failover_s
        mode = f.mode
        if mode == "standby" and self.standby <= 0:
            mode = "lose"
            rec["mode"] = "standby-none-left"
        if mode == "standby":
            self.standby -= 1
            late = [c for c in s.calls if c[1] > t - f.publish_lag_s]
            kept = [c for c in s.calls if c[1] <= t - f.publish_lag_s]
            self.lose_calls(late, t, rec)
            self.gap_calls(kept, t, gap, rec)
            heapq.heapify(kept)
            s.calls = kept
            rec["kept"] = len(kept)
            self.down(s, t, gap, f.detect_s)      # the standby answers after gap
            if f.repair_s is not None:
                def repaired(_t):
                    self.standby += 1
                self.at(t + f.repair_s, repaired)
            return
        calls, s.calls = s.calls, []
        self.down(s, t, f.repair_s, f.detect_s)
        if mode == "lose":
            self.lose_calls(calls, t, rec)
            return

        def move(tm):
            left = []
            for c in calls:
                end = c[0]
                if end <= tm:           # ended during the gap: its gap was the rest
                    self.tot["ended"] += 1
                    self.tot["media_gap_s"] += end - t
                    rec["media_gap_s"] += end - t
                else:
                    left.append(c)
            for c in left:
                d = self.pick((s.idx,))
                tried = {s.idx}
                while d is not None:
                    self.drain(d, tm)
                    if d.accepts and len(d.calls) < d.cap_sessions:
                        break
                    tried.add(d.idx)
                    d = self.pick(tried)
                if d is None:
                    self.lose_calls([c], t, rec)
                    continue
                self.tot["media_gap_s"] += tm - t
                rec["media_gap_s"] += tm - t
                rec["moved"] += 1
                heapq.heappush(d.calls, c)
                d.peak_active = max(d.peak_active, len(d.calls))
                d.peak_active_after_failure = max(d.peak_active_after_failure, len(d.calls))
        self.at(t + gap, move)

    # -- the run ----------------------------------------------------------
    def initial(self):
        """Steady state of M/M/inf: Poisson(cps*hold) calls, exponential age and rest."""
        mean = self.cps * self.hold_s
        n, x = 0, self.rng_calls.expovariate(1.0)
        while x <= mean:
            n += 1
            x += self.rng_calls.expovariate(1.0)
        for _ in range(n):
            age = self.rng_calls.expovariate(1.0 / self.hold_s)
            rest = self.rng_calls.expovariate(1.0 / self.hold_s)
            s = self.pick()
            self.tot["initial"] += 1
            self.add_call(s, -1.0, rest, -age)

    def sample(self, t):
        for s in self.slots:
            self.drain(s, t)
            if self.failed_at is not None and t >= self.failed_at:
                s.peak_active_after_failure = max(s.peak_active_after_failure, len(s.calls))
        if self.series is not None:
            self.series.append((t, [len(s.calls) for s in self.slots]))

    def run(self, failures):
        self.initial()
        pending = sorted(failures, key=lambda f: f.t)
        for f in pending:
            if not 0 <= f.slot < len(self.slots):
                raise ValueError("failure on slot %d: slots are 0..%d" % (f.slot, len(self.slots) - 1))
        next_arr = self.rng_calls.expovariate(self.cps)
        steps = int(math.ceil(self.duration_s / self.dt))
        self.sample(0.0)
        for k in range(1, steps + 1):
            t1 = min(round(k * self.dt, 9), self.duration_s)
            while True:
                tf = pending[0].t if pending else math.inf
                tt = self.timers[0][0] if self.timers else math.inf
                nxt = min(next_arr, tf, tt)
                if nxt > t1:
                    break
                if tt == nxt:
                    self.run_timers(tt)
                elif tf == nxt:
                    self.fail(pending.pop(0), tf)
                else:
                    hold = self.rng_calls.expovariate(1.0 / self.hold_s)
                    self.place(next_arr, next_arr + hold, next_arr)
                    next_arr += self.rng_calls.expovariate(self.cps)
            self.sample(t1)
        return self.result()

    def result(self):
        active = sum(len(s.calls) for s in self.slots)
        slots = []
        for s in self.slots:
            peak_cps = max(s.setups) if s.setups else 0
            slots.append(dict(
                slot=s.idx, weight=s.weight, cap_sessions=s.cap_sessions, cap_cps=s.cap_cps,
                active_end=len(s.calls), peak_active=s.peak_active,
                peak_active_after_failure=s.peak_active_after_failure,
                peak_load=s.peak_active / s.cap_sessions if s.cap_sessions else math.inf,
                peak_cps=peak_cps, refused=s.refused, refused_after_failure=s.refused_after_failure,
                over_capacity=bool(s.peak_active > s.cap_sessions or peak_cps > s.cap_cps
                                   or s.refused > 0),
                over_capacity_after_failure=bool(s.peak_active_after_failure > s.cap_sessions
                                                 or s.refused_after_failure > 0)))
        tot = dict(self.tot, active_end=active, standby_left=self.standby)
        tot["over_capacity"] = any(x["over_capacity"] for x in slots)
        tot["over_capacity_after_failure"] = any(x["over_capacity_after_failure"] for x in slots)
        return dict(totals=tot, events=self.events, slots=slots)
