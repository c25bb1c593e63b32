#!/usr/bin/env python3
# The transactions benchmark's load (bench/scenarios/transactions.ts, issue 12), with Proton
# Python: TOTAL durable messages of BODY bytes to QUEUE, either in transactions of SIZE
# messages ("txn": declare, SIZE transactional sends, commit, wait for the commit to be
# settled, next), or unbatched ("plain": ordinary sends, at most SIZE unsettled at a time, each
# settled by the broker on its own). Timing starts once the links are open. Prints one JSON line.
import json
import sys
import time
from proton import Message
from proton.handlers import MessagingHandler, TransactionHandler
from proton.reactor import Container


class Load(MessagingHandler, TransactionHandler):
    def __init__(self, url, queue, mode, size, total, body):
        super(Load, self).__init__()
        self.url, self.queue, self.mode, self.size, self.total = url, queue, mode, size, total
        self.body = "x" * body
        self.sent = 0
        self.settled = 0
        self.committed = 0
        self.in_txn = 0
        self.txn = None
        self.started = None

    def on_start(self, event):
        self.conn = event.container.connect(self.url, reconnect=False)
        self.sender = event.container.create_sender(self.conn, self.queue)

    def on_link_opened(self, event):
        if event.link != self.sender or self.started is not None:
            return
        self.started = time.monotonic()
        if self.mode == "txn":
            event.container.declare_transaction(self.conn, handler=self)

    def on_sendable(self, event):
        self.pump()

    def pump(self):
        if self.started is None:
            return
        if self.mode == "plain":
            while self.sender.credit and self.sent < self.total and self.sent - self.settled < self.size:
                self.sender.send(Message(body=self.body, durable=True))
                self.sent += 1
            return
        while self.txn and self.sender.credit and self.in_txn < self.size and self.sent < self.total:
            self.txn.send(self.sender, Message(body=self.body, durable=True))
            self.sent += 1
            self.in_txn += 1
        if self.txn and (self.in_txn == self.size or self.sent == self.total):
            txn, self.txn = self.txn, None
            txn.commit()

    def on_accepted(self, event):
        if self.mode == "plain" and event.sender == self.sender:
            self.settled += 1
            if self.settled == self.total:
                self.finish(event, self.settled)
            else:
                self.pump()

    def on_rejected(self, event):
        print(json.dumps({"error": "rejected"}), flush=True)
        sys.exit(1)

    def on_transaction_declared(self, event):
        self.txn = event.transaction
        self.in_txn = 0
        self.pump()

    def on_transaction_committed(self, event):
        self.committed = self.sent
        if self.committed == self.total:
            self.finish(event, self.committed)
        else:
            event.container.declare_transaction(self.conn, handler=self)

    def on_transaction_aborted(self, event):
        print(json.dumps({"error": "transaction aborted"}), flush=True)
        sys.exit(1)

    def finish(self, event, done):
        elapsed = time.monotonic() - self.started
        print(json.dumps({"messages": done, "elapsedS": elapsed}), flush=True)
        event.connection.close()


url, queue, mode, size, total, body = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6])
Container(Load(url, queue, mode, size, total, body)).run()
