#!/usr/bin/env python3
"""Generates the decode expectations (one TSV per public capture) from tshark.

Run once: python3 tests/expected/decode/generate.py [PCAP_ROOT]
(default: $TAPIR_CORPUS, else ../shared/pcaps/public beside the repository)
Columns: frame, src, dst, sport, dport of the innermost IP packet the decoder is expected to
report ('-' when tshark found no IP; empty ports when no TCP/UDP header). Layers tshark shows
that the decoder does not follow are cut: anything after ICMP/ICMPv6 (quoted headers), after
TCP, after UDP unless VXLAN follows, and GRE carrying PPP.
"""
import os, subprocess, sys

repo = os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../..")
root = sys.argv[1] if len(sys.argv) > 1 else (
    os.environ.get("TAPIR_CORPUS") or os.path.join(repo, "../shared/pcaps/public"))
out_dir = os.path.dirname(os.path.abspath(__file__))
fields = ["frame.number", "frame.protocols", "ip.src", "ip.dst", "ipv6.src", "ipv6.dst",
          "tcp.srcport", "tcp.dstport", "udp.srcport", "udp.dstport"]

def nth(val, i):
    parts = val.split(",") if val else []
    return parts[i] if 0 <= i < len(parts) else ""

for d in sorted(os.listdir(root)):
    if d in ("expected", "peer_expected") or not os.path.isdir(os.path.join(root, d)):
        continue
    for f in sorted(os.listdir(os.path.join(root, d))):
        if ".pcap" not in f:
            continue
        path = os.path.join(root, d, f)
        cmd = ["tshark", "-n", "-r", path, "-o", "ip.defragment:FALSE", "-o", "ipv6.defragment:FALSE",
               "-T", "fields", "-E", "separator=/t", "-E", "occurrence=a", "-E", "aggregator=,"]
        for fl in fields:
            cmd += ["-e", fl]
        res = subprocess.run(cmd, capture_output=True, text=True, check=True)
        rows = []
        for line in res.stdout.splitlines():
            c = line.split("\t")
            c += [""] * (len(fields) - len(c))
            frame, protos = c[0], c[1].split(":")
            kept = []
            for i, p in enumerate(protos):
                if p == "gre" and i + 1 < len(protos) and protos[i + 1] == "ppp":
                    break
                kept.append(p)
                if p in ("icmp", "icmpv6", "tcp"):
                    break
                if p == "udp" and not (i + 1 < len(protos) and protos[i + 1] == "vxlan"):
                    break
            ips = [p for p in kept if p in ("ip", "ipv6")]
            if not ips:
                rows.append(f"{frame}\t-\t-\t\t")
                continue
            last = ips[-1]
            n = ips.count(last) - 1
            if last == "ip":
                src, dst = nth(c[2], n), nth(c[3], n)
            else:
                src, dst = nth(c[4], n), nth(c[5], n)
            l4 = [p for p in kept if p in ("tcp", "udp")]
            sport = dport = ""
            # Ports only when the transport header belongs to the innermost IP packet.
            if l4 and kept.index(l4[-1]) > len(kept) - 1 - kept[::-1].index(last):
                k = kept.count(l4[-1]) - 1
                if l4[-1] == "tcp":
                    sport, dport = nth(c[6], k), nth(c[7], k)
                else:
                    sport, dport = nth(c[8], k), nth(c[9], k)
            rows.append(f"{frame}\t{src}\t{dst}\t{sport}\t{dport}")
        name = f"{d}__{f}.tsv"
        with open(os.path.join(out_dir, name), "w") as o:
            o.write("\n".join(rows) + "\n")
        print(name, len(rows))
