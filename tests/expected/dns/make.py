#!/usr/bin/env python3
"""Regenerates tests/expected/dns/<file>.json from the oracle's tshark output.

Usage: python3 make.py PCAP_ROOT/expected   (PCAP_ROOT: $TAPIR_CORPUS or ../shared/pcaps/public)
One compact object per DNS message: qr, id, name, qtype, rcode (with the EDNS extension;
null for queries), transport and, for responses, answers [name, type code, data] where data
is the oracle's normalised rdata (null when it has none: compared by name and type only).
"""
import glob
import json
import os
import sys

root = sys.argv[1]
here = os.path.dirname(os.path.abspath(__file__))


def fix_name(n):
    return "." if n == "<Root>" else n


for sub in ("dns", "encap"):
    for f in sorted(glob.glob(os.path.join(root, sub, "*.json"))):
        d = json.load(open(f))
        out = []
        for m in d["dns"]:
            q = m["queries"][0] if m["queries"] else None
            e = {
                "qr": m["qr"],
                "id": m["id"],
                "name": fix_name(q["name"]) if q else None,
                "qtype": q["type"] if q else None,
                "rcode": m.get("rcode_full", m["rcode"]) if m["qr"] == 1 else None,
                "transport": m["transport"],
            }
            if m.get("malformed"):
                e["malformed"] = True
            if m["qr"] == 1:
                ans = []
                for a in m["answers"]:
                    data = a.get("rdata")
                    if a["type"] == 6:
                        fl = a["fields"]
                        data = " ".join(fl[k] for k in (
                            "dns.soa.mname", "dns.soa.rname", "dns.soa.serial_number",
                            "dns.soa.refresh_interval", "dns.soa.retry_interval",
                            "dns.soa.expire_limit", "dns.soa.minimum_ttl"))
                    elif isinstance(data, list):
                        data = " ".join(data)
                    ans.append([fix_name(a["name"]), a["type"], data])
                e["answers"] = ans
            out.append(e)
        if not out:
            continue
        name = os.path.basename(f)
        with open(os.path.join(here, name), "w") as w:
            w.write("[\n" + ",\n".join(json.dumps(x) for x in out) + "\n]\n")
