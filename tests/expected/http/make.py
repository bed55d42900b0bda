#!/usr/bin/env python3
"""Regenerates tests/expected/http/<dir>__<file>.json from the tshark oracle
(../shared/pcaps/public/expected/{http,encap}/*.json): one compact entry per HTTP
transaction: request fields, the paired response's status, and the decoded body sha256 where
the response body is complete and not empty. Responses without a request (tshark could not
dissect the request) are listed with only their status."""
import glob, json, os, sys

root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "../../../../shared/pcaps/public")
out = os.path.dirname(os.path.abspath(__file__))
for sub in ("http", "encap"):
    for f in sorted(glob.glob(os.path.join(root, "expected", sub, "*.json"))):
        d = json.load(open(f))
        http = d["http"]
        if not http:
            continue
        resp_by_req = {x["request_frame"]: x for x in http if x["kind"] == "response" and x.get("request_frame")}
        txs = []
        for x in http:
            if x["kind"] == "request":
                r = resp_by_req.get(x["frame"])
                t = {k: x.get(k) for k in ("method", "uri", "host", "user_agent")}
                t["status"] = r["status"] if r else None
                b = (r or {}).get("body") or {}
                if r and r.get("body_complete") and b.get("entity_len") and b.get("decoded_sha256"):
                    t["sha256"] = b["decoded_sha256"]
                    t["entity_len"] = b["entity_len"]
                txs.append(t)
            elif not x.get("request_frame"):
                txs.append({"status": x["status"], "response_only": True})
        name = os.path.basename(f)[: -len(".json")]
        with open(os.path.join(out, f"{sub}__{name}.json"), "w") as o:
            json.dump({"capture": f"{sub}/{name}", "transactions": txs}, o, indent=0)
            o.write("\n")
