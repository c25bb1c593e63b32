#!/usr/bin/python3
# A Proton Python producer written the way Proton's docs say to fail over: one
# Container.connect(urls=[...]) with the default reconnect, resending what was not confirmed when
# the connection drops (as simple_send.py does). It writes the crash harness's history format
# (one JSON line per send, settlement, connect and disconnect) so the test can check that every
# accepted message arrived, and prints one JSON summary with each failover's timing.
#
# usage: proton_failover_send.py --urls H:P,H:P,... --address Q --count N --history FILE
#          --writer ID [--rate PER_S] [--timeout S] [--durable] [--stop-file PATH]
# --count 0 sends until --stop-file exists, then finishes once everything sent is settled.
import argparse
import collections
import json
import os
import sys
import time

from proton import Message
from proton.handlers import MessagingHandler
from proton.reactor import Container


def now_ms():
    return int(time.time() * 1000)


class FailoverSender(MessagingHandler):
    def __init__(self, args, history):
        super().__init__()
        self.args = args
        self.history = history
        self.next_sn = 1                  # next message never sent before
        self.resend = collections.deque()  # sent, unconfirmed when the connection dropped
        self.outstanding = {}             # delivery -> sn, on the current connection
        self.settled = set()
        self.outcomes = collections.Counter()
        self.errors = []
        self.failovers = []               # per disconnect: when, and the next acceptance
        self.connects = []
        self.rate_clock = None
        self.connected = False
        self.done = False

    def write(self, event):
        event["atMs"] = now_ms()
        self.history.write(json.dumps(event) + "\n")

    def on_start(self, event):
        self.container = event.container
        self.deadline = event.container.schedule(self.args.timeout, self)
        self.conn = event.container.connect(urls=self.args.urls.split(","))
        self.sender = event.container.create_sender(self.conn, self.args.address)
        if self.args.rate:
            self.tick = event.container.schedule(0.005, Pacer(self))

    def on_connection_opened(self, event):
        self.connected = True
        url = str(getattr(event.connection, "url", ""))
        self.connects.append({"url": url, "atMs": now_ms()})
        self.write({"kind": "connect", "client": self.args.writer, "address": url, "reconnect": len(self.connects) > 1})

    def on_disconnected(self, event):
        self.connected = False
        if self.done:
            return
        # Everything not confirmed goes again, in order, on the next connection; the checker
        # counts it as possibly resent (a duplicate is expected, never a loss).
        pending = sorted(sn for sn in self.outstanding.values() if sn not in self.settled)
        self.resend = collections.deque(sorted(set(pending) | set(self.resend)))
        self.outstanding = {}
        self.failovers.append({"disconnectAtMs": now_ms(), "firstAcceptAtMs": None, "resent": len(self.resend)})
        self.write({"kind": "disconnect", "client": self.args.writer, "address": str(getattr(event.connection, "url", "")), "reason": "transport closed"})

    def allowance(self):
        # The rate counts from the first connection, and what it allows does not pile up while
        # the client cannot send (at most 50 ms worth): a paced run stays paced after a slow
        # start or an outage, so that a kill lands mid-stream.
        if not self.args.rate:
            return 1 << 30
        now = time.time()
        if self.rate_clock is None:
            self.rate_clock = now
        self.rate_clock = max(self.rate_clock, now - 0.05)
        due = int((now - self.rate_clock) * self.args.rate)
        if due > 0:
            self.rate_clock += due / self.args.rate
        return due

    def more_to_send(self):
        if self.args.count:
            return self.next_sn <= self.args.count
        return not self.stopping()

    def stopping(self):
        return bool(self.args.stop_file) and os.path.exists(self.args.stop_file)

    def target(self):
        # How many settlements end the run: --count, or everything sent once told to stop.
        return self.args.count or (self.next_sn - 1 if self.stopping() else None)

    def on_sendable(self, event):
        self.send_some()

    def send_some(self):
        # The link keeps its old credit while the connection is down, and Proton holds what is
        # sent then until the next connection: sending (or resending) in between would put a
        # message on the wire once per failed reconnect attempt.
        if not self.connected:
            return
        sender = self.sender
        budget = self.allowance()
        while sender.credit and budget > 0 and not self.done:
            if self.resend:
                sn = self.resend.popleft()
                if sn in self.settled:
                    continue
            elif self.more_to_send():
                sn = self.next_sn
                self.next_sn += 1
                self.write({"kind": "send", "producer": self.args.writer, "queue": self.args.address, "sn": sn})
                budget -= 1
            else:
                break
            message = Message(id=sn, body="m%d" % sn, durable=self.args.durable,
                              properties={"sn": sn, "sender-id": self.args.writer})
            delivery = sender.send(message)
            self.outstanding[delivery] = sn

    def settle(self, event, outcome):
        sn = self.outstanding.pop(event.delivery, None)
        if sn is None or sn in self.settled:
            return
        self.settled.add(sn)
        self.outcomes[outcome] += 1
        self.write({"kind": "settle", "producer": self.args.writer, "queue": self.args.address, "sn": sn, "outcome": outcome})
        if outcome == "accepted" and self.failovers and self.failovers[-1]["firstAcceptAtMs"] is None:
            self.failovers[-1]["firstAcceptAtMs"] = now_ms()
        if len(self.settled) == self.target():
            self.finish()

    def on_accepted(self, event):
        self.settle(event, "accepted")

    def on_rejected(self, event):
        self.settle(event, "rejected")

    def on_released(self, event):
        # Released: the broker did not take it; send it again (qpidd releases nothing here).
        sn = self.outstanding.pop(event.delivery, None)
        if sn is not None and sn not in self.settled:
            self.outcomes["released"] += 1
            self.resend.append(sn)

    def condition(self, where, condition):
        self.errors.append({"where": where, "condition": condition.name if condition else None,
                            "description": condition.description if condition else None, "atMs": now_ms()})

    def on_link_error(self, event):
        # A refused or closed link is fatal to a Proton application (FACTS.md): report and stop.
        self.condition("link", event.link.remote_condition)
        self.finish()

    def on_connection_error(self, event):
        self.condition("connection", event.connection.remote_condition)
        self.finish()

    def on_transport_error(self, event):
        # Reconnect follows; a dropped TCP connection is how a qpidd backup refuses a client.
        self.condition("transport", event.transport.condition)

    def on_timer_task(self, event):
        self.errors.append({"where": "timeout", "condition": "timeout", "description": "%d of %d settled after %s s" % (len(self.settled), self.next_sn - 1, self.args.timeout), "atMs": now_ms()})
        self.finish()

    def finish(self):
        if self.done:
            return
        self.done = True
        self.deadline.cancel()
        self.conn.close()


class Pacer(object):
    """Sends what the rate allows every 5 ms (the credit alone would send everything at once)."""

    def __init__(self, sender):
        self.sender = sender

    def on_timer_task(self, event):
        sender = self.sender
        if sender.done:
            return
        sender.send_some()
        if sender.target() is not None and len(sender.settled) == sender.target():
            sender.finish()
            return
        event.container.schedule(0.005, self)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--urls", required=True)
    parser.add_argument("--address", required=True)
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--history", required=True)
    parser.add_argument("--writer", required=True)
    parser.add_argument("--rate", type=float, default=0)
    parser.add_argument("--timeout", type=float, default=60)
    parser.add_argument("--durable", action="store_true")
    parser.add_argument("--stop-file")
    args = parser.parse_args()
    if not args.count and not (args.stop_file and args.rate):
        parser.error("--count 0 needs --stop-file and --rate")
    with open(args.history, "a", buffering=1) as history:
        handler = FailoverSender(args, history)
        Container(handler).run()
    json.dump({
        "sent": handler.next_sn - 1,
        "settled": len(handler.settled),
        "outcomes": dict(handler.outcomes),
        "connects": handler.connects,
        "failovers": handler.failovers,
        "errors": handler.errors,
    }, sys.stdout)
    sys.stdout.write("\n")
    fatal = [e for e in handler.errors if e["where"] != "transport"]
    complete = len(handler.settled) == (args.count or handler.next_sn - 1)
    sys.exit(0 if complete and not fatal else 1)

if __name__ == "__main__":
    main()
