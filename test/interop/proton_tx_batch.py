#!/usr/bin/env python3
# One AMQP 1.0 local transaction with Proton Python (the suite's own client, for the
# transaction crash tests, issue 12): it takes N messages from SOURCE (accepted inside the
# transaction) and sends N durable messages, alternating between TARGET1 and TARGET2 (sent
# inside the transaction), then commits. Prints "declared", then "committed" when the broker
# settles the discharge ("commit failed" when it refuses it, "aborted"). With LINGER seconds it
# waits that long before committing (the --max-transaction-age test). A crash of the broker at any point must leave either all
# of it (SOURCE lost N, the targets gained N) or none of it.
import sys
from proton import Message
from proton.handlers import MessagingHandler, TransactionHandler
from proton.reactor import Container


class TxBatch(MessagingHandler, TransactionHandler):
    def __init__(self, url, source, targets, count, linger):
        super(TxBatch, self).__init__(prefetch=0, auto_accept=False)
        self.url, self.source, self.targets, self.count, self.linger = url, source, targets, count, linger
        self.txn = None
        self.received = 0
        self.sent = 0
        self.committing = False

    def on_start(self, event):
        self.container = event.container
        self.conn = event.container.connect(self.url, reconnect=False)
        self.receiver = event.container.create_receiver(self.conn, self.source)
        self.senders = [event.container.create_sender(self.conn, t) for t in self.targets]
        event.container.declare_transaction(self.conn, handler=self)

    def on_transaction_declared(self, event):
        self.txn = event.transaction
        print("declared", flush=True)
        self.receiver.flow(self.count)
        self.send()

    def on_sendable(self, event):
        self.send()

    def send(self):
        while self.txn and self.sent < self.count:
            sender = self.senders[self.sent % len(self.senders)]
            if not sender.credit:
                return
            self.txn.send(sender, Message(body="txn-%d" % self.sent, durable=True))
            self.sent += 1
        self.maybe_commit()

    def on_message(self, event):
        self.txn.accept(event.delivery)
        self.received += 1
        self.maybe_commit()

    def maybe_commit(self):
        if self.txn and not self.committing and self.sent == self.count and self.received == self.count:
            self.committing = True
            if self.linger > 0:
                self.container.schedule(self.linger, self)
            else:
                self.txn.commit()

    def on_timer_task(self, event):
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


url, source, t1, t2, count = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
linger = float(sys.argv[6]) if len(sys.argv) > 6 else 0
Container(TxBatch(url, source, [t1, t2], count, linger)).run()
