#!/usr/bin/env bash
# Runs each fuzz target (or the ones named) for SECONDS each, seeding the corpora from the
# public captures when ../shared is there.
#   fuzz/run.sh [SECONDS] [TARGET...]
# Needs cargo-fuzz (`cargo install cargo-fuzz`); on stable Rust it runs without a sanitizer.
set -euo pipefail
cd "$(dirname "$0")"
secs=${1:-60}; shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  mapfile -t targets < <(grep -A1 '^\[\[bin\]\]' Cargo.toml | sed -n 's/^name = "\(.*\)"/\1/p')
fi
shared=../../shared/pcaps/public
for t in "${targets[@]}"; do
  mkdir -p "corpus/$t"
  if [ -d "$shared" ] && [ -z "$(ls -A "corpus/$t")" ]; then
    case "$t" in
      capture_file) find "$shared" -type f -name '*.pcap*' -size -256k -exec cp {} "corpus/$t/" \; ;;
      *) find "$shared" -type f -name '*.pcap' -size -64k -exec cp {} "corpus/$t/" \; ;;
    esac
  fi
  echo "== $t for ${secs}s"
  cargo fuzz run --sanitizer none "$t" "corpus/$t" -- -max_total_time="$secs" -rss_limit_mb=2048 2>&1 \
    | grep -E "^(#[0-9]+.*(DONE|pulse)|==|SUMMARY|artifact)" | tail -3
done
