#!/usr/bin/env bash
# Runs each fuzz target (or the ones named) for SECONDS each, one after the other, on one core.
#   fuzz/run.sh [SECONDS] [TARGET...]
# Needs cargo-fuzz (`cargo install cargo-fuzz`); on stable Rust it runs without a sanitizer.
#
# The working corpus of a target is fuzz/corpus/<target>/: seeded from the public captures in
# $TAPIR_CORPUS (else ../shared/pcaps/public) when it is empty and that directory is there, and always topped up
# with the committed fuzz/regress/<target>/; fuzz/dict/<target>.dict, where there is one, is
# passed as libFuzzer's dictionary. A finding stops that target and leaves its input
# in fuzz/artifacts/<target>/ (see fuzz/regress/README.md to keep it as a regression test).
# Prints one line per target and writes the table to fuzz/last-run.tsv (libFuzzer's full output
# goes to fuzz/logs/<target>.log). Exits 1 when any target found something.
set -euo pipefail
# The corpus directory, resolved before leaving the caller's directory.
shared=$(realpath -m "${TAPIR_CORPUS:-$(dirname "$0")/../../shared/pcaps/public}")
cd "$(dirname "$0")"
secs=${1:-60}; shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  mapfile -t targets < <(grep -A1 '^\[\[bin\]\]' Cargo.toml | sed -n 's/^name = "\(.*\)"/\1/p')
fi
out=$(cargo fuzz build --sanitizer none 2>&1) || { echo "$out"; exit 1; }
mkdir -p logs
table=last-run.tsv
printf 'target\tseconds\texecutions\texec_per_s\tcorpus_entries\tnew_entries\tpeak_rss_mb\tfinding\n' >"$table"
printf '%-15s %7s %11s %8s %7s %5s  %s\n' target seconds executions exec/s corpus new finding
found=0
for t in "${targets[@]}"; do
  mkdir -p "corpus/$t"
  if [ -d "$shared" ] && [ -z "$(ls -A "corpus/$t")" ]; then
    case "$t" in
      capture_file) find "$shared" -type f -name '*.pcap*' -size -256k -exec cp {} "corpus/$t/" \; ;;
      *) find "$shared" -type f -name '*.pcap' -size -64k -exec cp {} "corpus/$t/" \; ;;
    esac
  fi
  if [ -d "regress/$t" ]; then
    find "regress/$t" -type f ! -name '.*' -exec cp -n {} "corpus/$t/" \;
  fi
  log="logs/$t.log"
  start=$(date +%s.%N)
  rc=0
  dict=()
  if [ -f "dict/$t.dict" ]; then dict=("-dict=dict/$t.dict"); fi
  cargo fuzz run --sanitizer none "$t" "corpus/$t" -- -max_total_time="$secs" -timeout=10 \
    -rss_limit_mb=2048 -print_final_stats=1 "${dict[@]}" >"$log" 2>&1 || rc=$?
  end=$(date +%s.%N)
  ran=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.0f", b - a }')
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  new=$(sed -n 's/^stat::new_units_added: *//p' "$log" | tail -1)
  rss=$(sed -n 's/^stat::peak_rss_mb: *//p' "$log" | tail -1)
  entries=$(find "corpus/$t" -type f | wc -l)
  finding=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -1)
  if [ -n "$finding" ]; then
    finding=${finding#"$PWD/"}
    finding="fuzz/${finding#./}"
    found=1
  elif [ "$rc" -ne 0 ]; then
    finding="exit $rc, see fuzz/$log"
    found=1
  fi
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$t" "$ran" "${execs:-?}" "${rate:-?}" "$entries" \
    "${new:-?}" "${rss:-?}" "${finding:--}" >>"$table"
  printf '%-15s %7s %11s %8s %7s %5s  %s\n' "$t" "$ran" "${execs:-?}" "${rate:-?}" "$entries" \
    "${new:-?}" "${finding:-none}"
done
echo "table: fuzz/$table"
exit "$found"
