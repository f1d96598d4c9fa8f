#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""configs/grafana-mediagate.json against the metrics: valid JSON, every
metric a panel queries is one /metrics serves (listed in docs/operations.md,
"Metrics", which metrics_text_test keeps in step with the code), and every
query is valid PromQL (promtool check rules, with Grafana's variables
replaced, when promtool is installed).

  check_dashboard.py DASHBOARD.json OPERATIONS.md [PROMTOOL]
"""
import json
import os
import re
import subprocess
import sys
import tempfile


def main():
    dash, doc = json.load(open(sys.argv[1])), open(sys.argv[2]).read()
    promtool = sys.argv[3] if len(sys.argv) > 3 else ""
    exprs = [t["expr"] for p in dash["panels"] for t in p.get("targets", [])]
    bad = 0
    for e in exprs:
        for name in set(re.findall(r"\bmediagate_[a-z_]+", e)):
            base = re.sub(r"_(bucket|sum|count)$", "", name)
            if "| `%s` |" % base not in doc:
                print("dashboard queries %s, which /metrics does not serve" % name)
                bad += 1
    if promtool:
        with tempfile.NamedTemporaryFile("w", suffix=".yml", delete=False) as f:
            f.write("groups:\n  - name: dashboard\n    rules:\n")
            for i, e in enumerate(exprs):
                e = e.replace("$__rate_interval", "5m").replace("$job", ".*")
                f.write("      - record: dashboard:expr%d\n        expr: %s\n" % (i, json.dumps(e)))
        r = subprocess.run([promtool, "check", "rules", f.name], capture_output=True, text=True)
        os.unlink(f.name)
        if r.returncode != 0:
            print("promtool check rules:", r.stdout, r.stderr)
            bad += 1
    print("%d panels, %d queries: %s" % (len(dash["panels"]), len(exprs), "ok" if not bad else "%d problems" % bad))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
