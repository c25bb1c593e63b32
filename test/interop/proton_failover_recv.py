#!/usr/bin/python3
# A Proton Python consumer in the style of simple_recv.py (default reconnect, auto-accept) over
# Container.connect(urls=[...]): it writes one history line (the crash harness's format) per
# message before accepting it, and stops once it has seen --expect distinct messages, or after
# --idle seconds without one once connected (never connecting is a --timeout error). Prints one
# JSON summary.
#
# usage: proton_failover_recv.py --urls H:P,... --address Q --history FILE --writer ID
#          [--expect N] [--idle S] [--timeout S]
import argparse
import json
import sys
import time

from proton.handlers import MessagingHandler
from proton.reactor import Container


def now_ms():
    return int(time.time() * 1000)


class FailoverReceiver(MessagingHandler):
    def __init__(self, args, history):
        super().__init__(prefetch=200)
        self.args = args
        self.history = history
        self.seen = set()
        self.receipts = 0
        self.connects = []
        self.errors = []
        self.last_message = None  # the idle clock starts at the first connection
        self.done = False

    def write(self, event):
        event["atMs"] = now_ms()
        self.history.write(json.dumps(event) + "\n")

    def on_start(self, event):
        self.deadline = event.container.schedule(self.args.timeout, self)
        self.conn = event.container.connect(urls=self.args.urls.split(","))
        event.container.create_receiver(self.conn, self.args.address)
        if self.args.idle:
            event.container.schedule(0.1, IdleWatch(self))

    def on_connection_opened(self, event):
        if self.last_message is None:
            self.last_message = time.time()
        url = str(getattr(event.connection, "url", ""))
        self.connects.append({"url": url, "atMs": now_ms()})
        self.write({"kind": "connect", "client": self.args.writer, "address": url, "reconnect": len(self.connects) > 1})

    def on_disconnected(self, event):
        if not self.done:
            self.write({"kind": "disconnect", "client": self.args.writer, "address": str(getattr(event.connection, "url", "")), "reason": "transport closed"})

    def on_message(self, event):
        message = event.message
        properties = message.properties or {}
        sn = properties.get("sn", message.id)
        self.receipts += 1
        self.last_message = time.time()
        self.write({"kind": "receive", "consumer": self.args.writer, "queue": self.args.address,
                    "producer": properties.get("sender-id", ""), "sn": sn, "deliveryCount": message.delivery_count})
        self.seen.add((properties.get("sender-id", ""), sn))
        if self.args.expect and len(self.seen) >= self.args.expect:
            # Auto-accept runs when on_message returns; Proton writes that disposition before the
            # close frame (it processes deliveries before endpoint teardown).
            self.finish()

    def condition(self, where, condition):
        self.errors.append({"where": where, "condition": condition.name if condition else None,
                            "description": condition.description if condition else None, "atMs": now_ms()})

    def on_link_error(self, event):
        self.condition("link", event.link.remote_condition)
        self.finish()

    def on_connection_error(self, event):
        self.condition("connection", event.connection.remote_condition)
        self.finish()

    def on_transport_error(self, event):
        self.condition("transport", event.transport.condition)

    def on_timer_task(self, event):
        self.errors.append({"where": "timeout", "condition": "timeout", "description": "%d distinct after %s s" % (len(self.seen), self.args.timeout), "atMs": now_ms()})
        self.finish()

    def finish(self):
        if self.done:
            return
        self.done = True
        self.deadline.cancel()
        self.conn.close()


class IdleWatch(object):
    def __init__(self, receiver):
        self.receiver = receiver

    def on_timer_task(self, event):
        r = self.receiver
        if r.done:
            return
        if r.last_message is not None and time.time() - r.last_message >= r.args.idle:
            r.finish()
        else:
            event.container.schedule(0.1, self)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--urls", required=True)
    parser.add_argument("--address", required=True)
    parser.add_argument("--history", required=True)
    parser.add_argument("--writer", required=True)
    parser.add_argument("--expect", type=int, default=0)
    parser.add_argument("--idle", type=float, default=0)
    parser.add_argument("--timeout", type=float, default=60)
    args = parser.parse_args()
    with open(args.history, "a", buffering=1) as history:
        handler = FailoverReceiver(args, history)
        Container(handler).run()
    json.dump({"distinct": len(handler.seen), "receipts": handler.receipts, "connects": handler.connects, "errors": handler.errors}, sys.stdout)
    sys.stdout.write("\n")
    fatal = [e for e in handler.errors if e["where"] != "transport"]
    sys.exit(0 if not fatal else 1)


if __name__ == "__main__":
    main()
