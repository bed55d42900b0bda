#!/usr/bin/env bash
# Regenerates tests/expected/conversations.tsv and tests/expected/conversations/*.tsv
# (plus tests/expected/demo_conversations.tsv for pcaps/demo.pcap) from tshark's
# conversation statistics.
#
# Generated with: TShark (Wireshark) 4.0.17 (Debian 4.0.17-0+deb12u3).
#
# Per capture the exact command is
#     tshark -n -r FILE -q -z conv,tcp -z conv,udp
# (default preferences, so ip.defragment / ipv6.defragment are on).
#
# tshark 4.0 prints byte counts humanised ("11 kB", SI prefixes, truncated) once a value
# reaches 10000, so byte counts cannot be read back exactly from that table. The script
# therefore also runs
#     tshark -n -r FILE -T fields -E occurrence=a -E aggregator='|' \
#         -e frame.len -e frame.protocols -e ip.src -e ip.dst -e ipv6.src -e ipv6.dst \
#         -e tcp.srcport -e tcp.dstport -e tcp.stream -e udp.srcport -e udp.dstport -e udp.stream
# and recounts every conversation exactly (see README.md for the rules), then checks the
# recount against the conv table: the same rows, identical frame counts, and exact byte
# counts that print as the very same strings tshark printed. Any disagreement aborts.
#
# Usage: tests/expected/make_conversations.sh [PCAP_ROOT]
#   (default: $TAPIR_CORPUS, else ../shared/pcaps/public beside the repository)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="${1:-${TAPIR_CORPUS:-$here/../../../shared/pcaps/public}}"
export LC_ALL=C
exec python3 - "$root" "$here" <<'PY'
import os, re, subprocess, sys

root, here = sys.argv[1], sys.argv[2]
FIELDS = ["frame.len", "frame.protocols", "ip.src", "ip.dst", "ipv6.src", "ipv6.dst",
          "tcp.srcport", "tcp.dstport", "tcp.stream", "udp.srcport", "udp.dstport", "udp.stream"]
ROW = re.compile(r"^(\S+)\s+<->\s+(\S+)\s+(\d+)\s+(\d+ \S+)\s+(\d+)\s+(\d+ \S+)\s+(\d+)\s+(\d+ \S+)\s+\S+\s+\S+\s*$")

def tshark(args):
    return subprocess.run(["tshark", "-n"] + args, check=True, capture_output=True, text=True).stdout

def human(n):
    # tshark 4.0 format_size(n, FORMAT_SIZE_UNIT_BYTES, FORMAT_SIZE_PREFIX_SI)
    for lim, div, unit in ((10**4, 1, "bytes"), (10**7, 10**3, "kB"), (10**10, 10**6, "MB"),
                           (10**13, 10**9, "GB")):
        if n < lim:
            return "%d %s" % (n // div, unit)
    return "%d TB" % (n // 10**12)

def split_ep(ep):
    addr, port = ep.rsplit(":", 1)
    return addr, port

def conv_table(path):
    out = tshark(["-r", path, "-q", "-z", "conv,tcp", "-z", "conv,udp"])
    rows, proto = [], None
    for line in out.splitlines():
        if line.startswith("TCP Conversations"):
            proto = "tcp"
        elif line.startswith("UDP Conversations"):
            proto = "udp"
        m = ROW.match(line)
        if m:
            a, pa = split_ep(m.group(1)); b, pb = split_ep(m.group(2))
            # column order in tshark 4.0: "<-" (B to A) first, then "->" (A to B), then Total
            rows.append((proto, a, pa, b, pb, int(m.group(5)), m.group(6), int(m.group(3)),
                         m.group(4), int(m.group(7)), m.group(8)))
        elif "<->" in line:
            sys.exit("unparsed conv line in %s: %r" % (path, line))
    return rows

def recount(path):
    """Exact per-conversation counts, keyed like tshark: (proto, A, pA, B, pB, stream)."""
    out = tshark(["-r", path, "-T", "fields", "-E", "occurrence=a", "-E", "aggregator=|",
                  "-E", "separator=/t"] + sum((["-e", f] for f in FIELDS), []))
    convs = {}
    order = []
    for line in out.splitlines():
        v = dict(zip(FIELDS, [x.split("|") if x else [] for x in line.split("\t")]))
        flen = int(v["frame.len"][0])
        cur = {"ip": 0, "ipv6": 0, "tcp": 0, "udp": 0}
        src = dst = None
        for layer in v["frame.protocols"][0].split(":"):
            if layer in ("icmp", "icmpv6"):
                break  # headers quoted inside ICMP errors are not tapped
            if layer in ("ip", "ipv6"):
                i = cur[layer]; cur[layer] += 1
                src, dst = v[layer + ".src"][i], v[layer + ".dst"][i]
            elif layer in ("tcp", "udp"):
                i = cur[layer]; cur[layer] += 1
                sp, dp = v[layer + ".srcport"][i], v[layer + ".dstport"][i]
                stream = v[layer + ".stream"][i]
                k1 = (layer, src, sp, dst, dp, stream)
                k2 = (layer, dst, dp, src, sp, stream)
                if k1 in convs:
                    c = convs[k1]; c[0] += 1; c[1] += flen
                elif k2 in convs:
                    c = convs[k2]; c[2] += 1; c[3] += flen
                else:
                    convs[k1] = [1, flen, 0, 0]; order.append(k1)
    return convs, order

def one(path):
    table = conv_table(path)
    convs, order = recount(path)
    by_key = {}
    for k in order:
        by_key.setdefault(k[:5], []).append(convs[k])
    res = []
    for (proto, a, pa, b, pb, fab, sab, fba, sba, ftot, stot) in table:
        cands = by_key.get((proto, a, pa, b, pb), [])
        hit = None
        for i, c in enumerate(cands):
            if (c[0], c[2]) == (fab, fba) and human(c[1]) == sab and human(c[3]) == sba \
                    and human(c[1] + c[3]) == stot and c[0] + c[2] == ftot:
                hit = cands.pop(i); break
        if hit is None:
            sys.exit("%s: cannot reproduce tshark row %r (candidates %r)" % (path, (proto, a, pa, b, pb, fab, sab, fba, sba), cands))
        res.append((proto, a, pa, b, pb, hit[0], hit[1], hit[2], hit[3]))
    left = [k for k, v in by_key.items() if v]
    if left:
        sys.exit("%s: recount has conversations tshark does not list: %r" % (path, left))
    return res

def summary(rel, res):
    s = {"tcp": [0, 0, 0], "udp": [0, 0, 0]}
    for r in res:
        t = s[r[0]]; t[0] += 1; t[1] += r[5] + r[7]; t[2] += r[6] + r[8]
    return [rel, s["tcp"][0], s["udp"][0], s["tcp"][1], s["udp"][1], s["tcp"][2], s["udp"][2]]

HEAD = "file\ttcp_convs\tudp_convs\ttcp_packets\tudp_packets\ttcp_bytes\tudp_bytes\n"
CHEAD = "proto\taddrA\tportA\taddrB\tportB\tframes_a_to_b\tbytes_a_to_b\tframes_b_to_a\tbytes_b_to_a\n"

def write_conv(path, res):
    with open(path, "w") as f:
        f.write(CHEAD)
        for r in res:
            f.write("\t".join(map(str, r)) + "\n")

files = []
with open(os.path.join(root, "MANIFEST.tsv")) as m:
    next(m)
    for line in m:
        if line.strip():
            files.append(line.split("\t")[0])
os.makedirs(os.path.join(here, "conversations"), exist_ok=True)
with open(os.path.join(here, "conversations.tsv"), "w") as out:
    out.write(HEAD)
    for rel in sorted(files):
        res = one(os.path.join(root, rel))
        write_conv(os.path.join(here, "conversations", rel.replace("/", "__") + ".tsv"), res)
        out.write("\t".join(map(str, summary(rel, res))) + "\n")
        print(rel, len(res), file=sys.stderr)

demo = os.path.join(here, "..", "..", "pcaps", "demo.pcap")
if os.path.exists(demo):
    res = one(demo)
    with open(os.path.join(here, "demo_conversations.tsv"), "w") as out:
        out.write(HEAD)
        out.write("\t".join(map(str, summary("demo.pcap", res))) + "\n")
    write_conv(os.path.join(here, "demo_conversations.detail.tsv"), res)
PY
