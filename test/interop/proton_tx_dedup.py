#!/usr/bin/env python3
# One AMQP 1.0 local transaction with Proton Python that sends one durable message per ID given
# (message-id ID, body "txn ID") to QUEUE, then commits: the duplicate-detection test (issue 12,
# qpid.dedup_window) passes the same ID twice and expects it once on the queue. Prints
# "committed" when the broker settles the discharge ("commit failed", "aborted" otherwise).
import sys
from proton import Message
from proton.handlers import MessagingHandler, TransactionHandler
from proton.reactor import Container


class TxSend(MessagingHandler, TransactionHandler):
    def __init__(self, url, queue, ids):
        super(TxSend, self).__init__()
        self.url, self.queue, self.ids = url, queue, ids
        self.txn = None
        self.sent = 0

    def on_start(self, event):
        self.conn = event.container.connect(self.url, reconnect=False)
        self.sender = event.container.create_sender(self.conn, self.queue)
        event.container.declare_transaction(self.conn, handler=self)

    def on_transaction_declared(self, event):
        self.txn = event.transaction
        self.send()

    def on_sendable(self, event):
        self.send()

    def send(self):
        while self.txn and self.sent < len(self.ids) and self.sender.credit:
            mid = self.ids[self.sent]
            self.txn.send(self.sender, Message(id=mid, body="txn %s" % mid, durable=True))
            self.sent += 1
            if self.sent == len(self.ids):
                self.txn.commit()

    def on_transaction_committed(self, event):
        print("committed", flush=True)
        event.connection.close()

    def on_transaction_commit_failed(self, event):
        print("commit failed", flush=True)
        event.connection.close()

    def on_transaction_aborted(self, event):
        print("aborted", flush=True)
        event.connection.close()

    def on_transport_error(self, event):
        print("transport error", flush=True)
        sys.exit(3)


Container(TxSend(sys.argv[1], sys.argv[2], sys.argv[3:])).run()
