#!/usr/bin/env python3
"""Parses a Prometheus text exposition with the real parser (Debian's
python3-prometheus-client) and prints what t/024-telemetry.t checks: every family's type and
the samples asked for on the command line (name{label=value,...}), one per line."""
import sys

from prometheus_client.parser import text_string_to_metric_families


def main():
    text = open(sys.argv[1], encoding="utf-8").read()
    families = {f.name: f for f in text_string_to_metric_families(text)}
    for name in sorted(families):
        print(f"family {name} {families[name].type}")
    samples = {}
    for f in families.values():
        for s in f.samples:
            key = s.name + "{" + ",".join(f"{k}={v}" for k, v in sorted(s.labels.items())) + "}"
            samples[key] = s.value
    for want in sys.argv[2:]:
        print(f"{want} = {samples.get(want, 'missing')}")


main()
