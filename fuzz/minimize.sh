#!/usr/bin/env bash
# Refreshes the committed regression corpora fuzz/regress/<target>/ from the working corpora
# fuzz/corpus/<target>/ (and what regress/ already holds): inputs over 16 KiB are cut to their
# first 16 KiB, then libFuzzer's set-cover merge (edge coverage, counters off) keeps a small set
# that reaches every edge the candidates reach. crash-* files are always kept.
#   fuzz/minimize.sh [TARGET...]
set -euo pipefail
cd "$(dirname "$0")"
max=16384
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  mapfile -t targets < <(grep -A1 '^\[\[bin\]\]' Cargo.toml | sed -n 's/^name = "\(.*\)"/\1/p')
fi
out=$(cargo fuzz build --sanitizer none 2>&1) || { echo "$out"; exit 1; }
bindir=target/x86_64-unknown-linux-gnu/release
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
for t in "${targets[@]}"; do
  mkdir -p "$tmp/$t/cand" "$tmp/$t/min" "regress/$t" "corpus/$t"
  while IFS= read -r -d '' f; do
    head -c "$max" "$f" > "$tmp/$t/cand/$(basename "$f")"
  done < <(find "corpus/$t" "regress/$t" -type f ! -name 'crash-*' ! -name '.*' -print0)
  "$bindir/$t" -set_cover_merge=1 -use_counters=0 -max_len="$max" -rss_limit_mb=2048 -timeout=20 \
    "$tmp/$t/min" "$tmp/$t/cand" >"$tmp/$t/log" 2>&1 || { tail -20 "$tmp/$t/log"; exit 1; }
  find "regress/$t" -type f ! -name 'crash-*' ! -name '.*' -delete
  cp "$tmp/$t/min/"* "regress/$t/"
  printf '%-15s %4d files %8d bytes\n' "$t" "$(find "regress/$t" -type f | wc -l)" \
    "$(find "regress/$t" -type f -printf '%s\n' | awk '{s+=$1} END {print s+0}')"
done
