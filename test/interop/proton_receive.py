#!/usr/bin/python3
# Receives up to N messages from an address of a qpidd with the Python Qpid Proton client and
# prints one JSON object: each message's body, subject, application properties and header
# (delivery count, first acquirer), and the link or connection error if there was one.
# Messages are accepted as they arrive, or released with --release, or modified with
# delivery-failed with --modify (to test redelivery and the delivery count).
#
# usage: proton_receive.py --url 127.0.0.1:PORT --address ADDR --count N [--timeout SECONDS]
#          [--create queue|topic] [--topic-filter KEY] [--browse] [--release | --modify]
import argparse
import json
import sys

from proton import Data, Delivery, Described, symbol
from proton.handlers import MessagingHandler
from proton.reactor import Container, Copy, Filter, LinkOption


class CreateOnDemand(LinkOption):
    def __init__(self, kind):
        self.kind = kind

    def apply(self, link):
        caps = link.source.capabilities
        caps.put_array(False, Data.SYMBOL)
        caps.enter()
        for cap in ("create-on-demand", self.kind):
            caps.put_symbol(symbol(cap))
        caps.exit()


class Receiver(MessagingHandler):
    def __init__(self, args):
        super().__init__(prefetch=0, auto_accept=False)
        self.args = args
        self.received = []
        self.error = None

    def on_start(self, event):
        self.timer = event.container.schedule(self.args.timeout, self)
        self.conn = event.container.connect(self.args.url, reconnect=False)
        options = []
        if self.args.create:
            options.append(CreateOnDemand(self.args.create))
        if self.args.topic_filter is not None:
            options.append(Filter({symbol("topic-binding"): Described(symbol("apache.org:legacy-amqp-topic-binding:string"), self.args.topic_filter)}))
        if self.args.browse:
            options.append(Copy())
        self.receiver = event.container.create_receiver(self.conn, self.args.address, options=options)
        self.receiver.flow(self.args.count)

    def on_timer_task(self, event):
        # A quiet period ends a receive that asked for more than there was.
        self.conn.close()

    def on_message(self, event):
        message = event.message
        self.received.append({
            "body": message.body,
            "subject": message.subject,
            "properties": message.properties,
            "durable": message.durable,
            "delivery_count": message.delivery_count,
            "first_acquirer": message.first_acquirer,
        })
        if self.args.release:
            self.release(event.delivery, delivered=False)  # released
        elif self.args.modify:
            # Proton's release(delivered=True) sends modified with delivery-failed false, which
            # is not a delivery attempt either (§3.4.5): set the flag explicitly.
            event.delivery.local.failed = True
            self.settle(event.delivery, Delivery.MODIFIED)
        elif not self.args.browse:
            self.accept(event.delivery)
        if len(self.received) >= self.args.count:
            self.timer.cancel()
            self.conn.close()

    def on_link_error(self, event):
        condition = event.link.remote_condition
        self.error = {"condition": condition.name if condition else None, "description": condition.description if condition else None}
        self.timer.cancel()
        self.conn.close()

    def on_connection_error(self, event):
        condition = event.connection.remote_condition
        self.error = {"condition": condition.name if condition else None, "description": condition.description if condition else None}
        self.timer.cancel()
        self.conn.close()

    def on_transport_error(self, event):
        condition = event.transport.condition
        self.error = self.error or {"condition": condition.name if condition else "transport", "description": condition.description if condition else None}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--address", required=True)
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--timeout", type=float, default=5.0)
    parser.add_argument("--create", choices=["queue", "topic"])
    parser.add_argument("--topic-filter")
    parser.add_argument("--browse", action="store_true")
    parser.add_argument("--release", action="store_true")
    parser.add_argument("--modify", action="store_true")
    args = parser.parse_args()
    handler = Receiver(args)
    Container(handler).run()
    json.dump({"received": handler.received, "error": handler.error}, sys.stdout, default=str)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
