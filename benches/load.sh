#!/usr/bin/env bash
# liaison load beside SIPp 3.6 on this machine, one run (issue 16):
#  1. CPU per MESSAGE transaction and clean rate, liaison load and SIPp's own
#     UAC, each against a fresh SIPp UAS answering 200 (the generator and the
#     UAS share the machine's cores, so the generator's own cost matters);
#  2. absolute rates against the embedded reference (im-client, im-server,
#     sms-im-iwf), every outcome correlated;
#  3. memory: a million messages with the default --capture ring:64.
# Release build. CPU per transaction = user + system time of the generator
# process (/usr/bin/time) ÷ transactions completed. Socket buffers: the
# figures in the README were taken with net.core.rmem_max and wmem_max at
# 8 MB (`sysctl -w net.core.rmem_max=8388608 net.core.wmem_max=8388608`);
# this script says what the machine has.
#
#   bash benches/load.sh                 # everything (about 3 minutes)
#   RATES="30000" COUNT=100000 bash benches/load.sh sipp
#   bash benches/load.sh reference | memory
set -euo pipefail
cd "$(dirname "$0")/.."
what=${1:-all}
RATES=${RATES:-"10000 30000"}
COUNT=${COUNT:-100000}
PORT=${PORT:-25090}
BIN=target/release/liaison
tmp=$(mktemp -d /tmp/liaison-load-bench.XXXXXX)
trap 'pkill -f "uas-message.xml -i 127.0.0.1 -p $PORT" >/dev/null 2>&1 || true; rm -rf "$tmp"' EXIT
cargo build --release --locked -q
command -v sipp >/dev/null || { echo "sipp missing: apt-get install sip-tester" >&2; exit 2; }
echo "# liaison load beside SIPp ($(sipp -v 2>&1 | grep -o 'v[0-9.]*' | head -1)), $(nproc) cores, rmem_max $(sysctl -n net.core.rmem_max), $(date -u +%F)"

uas() {
  sipp -sf fixtures/sut/sipp/uas-message.xml -i 127.0.0.1 -p "$PORT" -nostdin >/dev/null 2>&1 &
  UAS=$!
  sleep 1
}
stop_uas() { kill "$UAS" 2>/dev/null || true; wait "$UAS" 2>/dev/null || true; sleep 0.5; }
# /usr/bin/time -o writes "Command exited with non-zero status N" first when it did.
cpu() { tail -1 "$1" | awk '{printf "%.2f", $1 + $2}'; }
num() { python3 -c "import json,sys; j=json.load(open(sys.argv[1])); print($2)" "$1"; }

if [ "$what" = all ] || [ "$what" = sipp ]; then
  sed "s/25090/$PORT/g" fixtures/sut/sipp-uas.yaml | grep -v '^launch:\|^  command:\|^  ready:' > "$tmp/uas.yaml"
  echo
  echo "| generator | target /s | completed | failed or lost | rate /s (SIPp: to its exit, which waits out failed calls) | CPU s | µs CPU per transaction |"
  echo "|---|---|---|---|---|---|---|"
  for r in $RATES; do
    uas
    /usr/bin/time -f "%U %S" -o "$tmp/sipp.time" timeout 120 sipp -sf fixtures/sut/sipp/uac-message.xml \
      -m "$COUNT" -r "$r" -rp 1000 "127.0.0.1:$PORT" -nostdin -timeout 60 \
      -trace_screen -screen_file "$tmp/scr.txt" >/dev/null 2>&1 || true
    stop_uas
    ok=$(grep "Successful call" "$tmp/scr.txt" | awk -F'|' '{gsub(/ /,"",$3); print $3}')
    bad=$(grep "Failed call" "$tmp/scr.txt" | awk -F'|' '{gsub(/ /,"",$3); print $3}')
    secs=$(grep -A1 "Total-time" "$tmp/scr.txt" | tail -1 | awk '{for(i=1;i<=NF;i++) if($(i+1)=="s") print $i}' | head -1)
    c=$(cpu "$tmp/sipp.time")
    echo "| SIPp UAC | $r | $ok | $bad | $(python3 -c "print(round($ok/$secs))") | $c | $(python3 -c "print(round($c*1e6/max($ok,1),1))") |"
    uas
    /usr/bin/time -f "%U %S" -o "$tmp/liaison.time" "$BIN" load --sut "$tmp/uas.yaml" --count "$COUNT" \
      --rate "$r" --quiet --out "$tmp/ld" >/dev/null || true
    stop_uas
    done_=$(num "$tmp/ld/load.json" "j['completed']")
    lost=$(num "$tmp/ld/load.json" "j['lost']+j['late']")
    c=$(cpu "$tmp/liaison.time")
    echo "| liaison load (every response correlated; ring:64 capture) | $r | $done_ | $lost | $(num "$tmp/ld/load.json" "round(j['completed_per_s'])") | $c | $(python3 -c "print(round($c*1e6/max($done_,1),1))") (generator thread $(num "$tmp/ld/load.json" "round(j['cost']['generator_cpu_us_per_message'],1)")) |"
  done
fi

if [ "$what" = all ] || [ "$what" = reference ]; then
  echo
  echo "| embedded reference | target /s | messages | completed | lost, late | violations | rate /s | p99 ms | generator µs/message | final codes |"
  echo "|---|---|---|---|---|---|---|---|---|---|"
  for spec in "im-client 60000 600000" "im-server 30000 300000" "sms-im-iwf 20000 200000"; do
    set -- $spec
    if "$BIN" load --role "$1" --count 1 --rate 1 --quiet --out "$tmp/probe" >/dev/null 2>&1 || [ $? -eq 1 ]; then
      "$BIN" load --role "$1" --rate "$2" --count "$3" --quiet --out "$tmp/ref" >/dev/null || true
      echo "| $1 | $2 | $3 | $(num "$tmp/ref/load.json" "j['completed']") | $(num "$tmp/ref/load.json" "j['lost']+j['late']") | $(num "$tmp/ref/load.json" "j['mismatched']+j['fabricated']+j['duplicated']") | $(num "$tmp/ref/load.json" "round(j['completed_per_s'])") | $(num "$tmp/ref/load.json" "j['latency_ms']['p99']") | $(num "$tmp/ref/load.json" "round(j['cost']['generator_cpu_us_per_message'],1)") | $(num "$tmp/ref/load.json" "' '.join(f'{k}:{v}' for k, v in sorted(j['codes'].items()))") |"
    else
      echo "| $1 | — | no load driver for this role yet | | | | | | | |"
    fi
  done
fi

if [ "$what" = all ] || [ "$what" = memory ]; then
  # The generator alone: the reference im-client launched apart, a profile for it.
  RPORT=$((PORT + 100))
  "$BIN" reference --role im-client --listen "127.0.0.1:$RPORT" >/dev/null 2>&1 &
  REF=$!
  sleep 1
  printf 'name: reference im-client launched apart\nroles: [im-client]\nsip:\n  address: 127.0.0.1:%s\n  transport: [udp]\n  aor: "sip:load@127.0.0.1:%s"\nharness: { address: 127.0.0.1 }\n' "$RPORT" "$RPORT" > "$tmp/ref.yaml"
  "$BIN" load --sut "$tmp/ref.yaml" --count 1000000 --rate 60000 --quiet --out "$tmp/mem1" >/dev/null || true
  kill "$REF" 2>/dev/null || true
  wait "$REF" 2>/dev/null || true
  "$BIN" load --count 1000000 --rate 60000 --quiet --out "$tmp/mem" >/dev/null || true
  echo
  echo "memory: 1 000 000 MESSAGEs at 60 000/s, --capture ring:64:"
  echo "- the generator alone (reference launched apart): peak RSS $(num "$tmp/mem1/load.json" "round(j['cost']['max_rss_mb'],1)") MB, $(num "$tmp/mem1/load.json" "j['completed']") completed, $(num "$tmp/mem1/load.json" "j['lost']+j['late']") lost or late, $(num "$tmp/mem1/load.json" "round(j['cost']['generator_cpu_us_per_message'],1)") µs CPU per message"
  echo "- with the reference embedded: peak RSS $(num "$tmp/mem/load.json" "round(j['cost']['max_rss_mb'])") MB (the process), $(num "$tmp/mem/load.json" "j['completed']") completed, pcap $(du -m "$tmp/mem/load.pcap" | cut -f1) MB"
fi
