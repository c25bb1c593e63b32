#!/usr/bin/python3
# Sends N messages to an address of a qpidd with the Python Qpid Proton client (a second,
# independent AMQP 1.0 implementation) and prints one JSON object: every message's outcome in
# send order, and the link or connection error if there was one.
#
# usage: proton_send.py --url 127.0.0.1:PORT --address ADDR --count N
#          [--create queue|topic] [--node-properties JSON] [--durable] [--subject S]
#          [--properties JSON] [--body-prefix P] [--presettled] [--timeout SECONDS]
import argparse
import json
import sys

from proton import Data, Message, symbol
from proton.handlers import MessagingHandler
from proton.reactor import AtMostOnce, Container, LinkOption


class CreateOnDemand(LinkOption):
    """Qpid's create-on-demand convention: target capabilities and dynamic node properties."""

    def __init__(self, kind, properties):
        self.kind = kind
        self.properties = {symbol(k): v for k, v in properties.items()}

    def apply(self, link):
        caps = link.target.capabilities
        caps.put_array(False, Data.SYMBOL)
        caps.enter()
        for cap in ("create-on-demand", self.kind):
            caps.put_symbol(symbol(cap))
        caps.exit()
        if self.properties:
            link.target.properties.put_dict(self.properties)


class Sender(MessagingHandler):
    def __init__(self, args):
        super().__init__(auto_settle=True)
        self.args = args
        self.outcomes = [None] * args.count
        self.sent = 0
        self.settled = 0
        self.error = None
        self.tags = {}

    def on_start(self, event):
        self.timer = event.container.schedule(self.args.timeout, self)
        self.conn = event.container.connect(self.args.url, reconnect=False)
        options = []
        if self.args.create:
            options.append(CreateOnDemand(self.args.create, json.loads(self.args.node_properties)))
        if self.args.presettled:
            options.append(AtMostOnce())
        self.sender = event.container.create_sender(self.conn, self.args.address, options=options)

    def on_timer_task(self, event):
        self.error = self.error or {"condition": "timeout", "description": "%d of %d settled" % (self.settled, self.args.count)}
        self.conn.close()

    def on_sendable(self, event):
        while event.sender.credit and self.sent < self.args.count:
            i = self.sent
            message = Message(body="%s%d" % (self.args.body_prefix, i), durable=self.args.durable, id=i)
            if self.args.subject:
                message.subject = self.args.subject
            if self.args.properties:
                message.properties = json.loads(self.args.properties)
            delivery = event.sender.send(message)
            self.tags[delivery.tag] = i
            self.sent += 1
        if self.args.presettled and self.sent == self.args.count:
            self.outcomes = ["presettled"] * self.args.count
            self.finish()

    def record(self, event, state):
        i = self.tags.get(event.delivery.tag)
        if i is None or self.outcomes[i] is not None:
            return
        entry = {"state": state}
        condition = event.delivery.remote.condition
        if condition is not None:
            entry["condition"] = condition.name
            entry["description"] = condition.description
        self.outcomes[i] = entry
        self.settled += 1
        if self.settled == self.args.count:
            self.finish()

    def on_accepted(self, event):
        self.record(event, "accepted")

    def on_rejected(self, event):
        self.record(event, "rejected")

    def on_released(self, event):
        self.record(event, "released")

    def on_link_error(self, event):
        condition = event.link.remote_condition
        self.error = {"condition": condition.name if condition else None, "description": condition.description if condition else None}
        self.finish()

    def on_connection_error(self, event):
        condition = event.connection.remote_condition
        self.error = {"condition": condition.name if condition else None, "description": condition.description if condition else None}
        self.finish()

    def on_transport_error(self, event):
        condition = event.transport.condition
        self.error = self.error or {"condition": condition.name if condition else "transport", "description": condition.description if condition else None}

    def finish(self):
        self.timer.cancel()
        self.conn.close()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--address", required=True)
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--create", choices=["queue", "topic"])
    parser.add_argument("--node-properties", default="{}")
    parser.add_argument("--durable", action="store_true")
    parser.add_argument("--subject")
    parser.add_argument("--properties")
    parser.add_argument("--body-prefix", default="m")
    parser.add_argument("--presettled", action="store_true")
    parser.add_argument("--timeout", type=float, default=20.0)
    args = parser.parse_args()
    handler = Sender(args)
    Container(handler).run()
    json.dump({"outcomes": handler.outcomes, "error": handler.error}, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
