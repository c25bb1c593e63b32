#!/usr/bin/python3
"""README's Python example, as a test: Proton's BlockingConnection creates a durable queue on
attach, sends, then receives on the same queue (Proton names both links after the queue, so the
broker must tell links apart by direction, AMQP 1.0 2.6.1). Prints JSON."""
import json
import sys

from proton import Data, Message, symbol
from proton.reactor import LinkOption
from proton.utils import BlockingConnection


class CreateOnDemand(LinkOption):
    def apply(self, link):
        caps = link.target.capabilities
        caps.put_array(False, Data.SYMBOL)
        caps.enter()
        for cap in ("create-on-demand", "queue"):
            caps.put_symbol(symbol(cap))
        caps.exit()
        link.target.properties.put_dict({symbol("durable"): True})


url, queue = sys.argv[1], sys.argv[2]
conn = BlockingConnection(url)
sender = conn.create_sender(queue, options=CreateOnDemand())
sender.send(Message(body="order 1", durable=True))
receiver = conn.create_receiver(queue)
message = receiver.receive(timeout=5)
receiver.accept()
sender.close()
receiver.close()
conn.close()
print(json.dumps({"body": message.body}))
