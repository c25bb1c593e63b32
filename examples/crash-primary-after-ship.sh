#!/usr/bin/env bash
# Kill a primary at ha.primary.after-ship-before-confirm and prove nothing accepted was lost.
# Run from the package root after `npm run build`; PORT0/PORT1 choose the ports.
set -euo pipefail
bin=dist/tools; p0=${PORT0:-25672}; p1=${PORT1:-25673}
url=127.0.0.1:$p0,127.0.0.1:$p1; work=$(mktemp -d); trap 'kill -9 $(jobs -p) 2>/dev/null; rm -rf "$work"' EXIT
ha="--ha-cluster yes --ha-brokers-url $url --ha-replicate all --link-maintenance-interval 0.1 --link-heartbeat-interval 1"
wait_for() {  # wait_for PORT STATE: poll qpid-ha status (its first line is the HA state)
  for _ in $(seq 300); do [ "$(node $bin/qpid-ha.js -b 127.0.0.1:$1 status 2>/dev/null | head -1)" = "$2" ] && return 0; sleep 0.1; done
  echo "broker on port $1 never became $2" >&2; return 1
}
# b0 kills itself the 20th time it ships log records to a backup in the ack gate.
node $bin/qpidd.js --port $p0 --data-dir "$work/b0" $ha --enable-crash-points yes \
  --crash-at ha.primary.after-ship-before-confirm:20 > "$work/b0.log" 2>&1 & b0=$!
node $bin/qpidd.js --port $p1 --data-dir "$work/b1" $ha > "$work/b1.log" 2>&1 &
wait_for $p0 joining; wait_for $p1 joining
node $bin/qpid-ha.js --cluster-manager -b 127.0.0.1:$p0 promote
wait_for $p0 active; wait_for $p1 ready
# The producer fails over by itself and resends what was not settled; every event goes to its history.
node $bin/qpid-send.js -b $url -a "orders; {create: always, node: {durable: true}}" -m 500 --durable yes \
  --capacity 10 -i producer --history "$work/producer.jsonl" \
  --connection-options "{reconnect: true, reconnect_interval: 0.1}" > /dev/null & sender=$!
wait $b0 || true                                     # b0 dies at the crash point (SIGKILL)
grep -q 'crash point ha.primary.after-ship-before-confirm reached' "$work/b0.log"
node $bin/qpid-ha.js --cluster-manager -b 127.0.0.1:$p1 promote    # the manager promotes the ready backup
wait $sender                                         # every message settled, on b1
node $bin/qpid-receive.js -b $url -a orders -m 500 --ignore-duplicates --timeout 5 --print-content no \
  -i consumer --history "$work/consumer.jsonl" > /dev/null
node $bin/qpid-check-history.js "$work/producer.jsonl" "$work/consumer.jsonl"   # exit 1 on any loss
