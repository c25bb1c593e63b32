// Deliberately broken variants of the production code, to prove the simulator bites: each one
// patches a production prototype for the length of one run and restores it afterwards. They
// live here, never as flags in production code. variants.test.ts asserts that the simulator
// finds each within its seed budget.

import { AckGate } from '../../src/ha/ack-gate.js';
import { BackupReplicator } from '../../src/ha/backup.js';
import { HaNode } from '../../src/ha/node.js';
import { PrimaryReplicator } from '../../src/ha/primary.js';
import { ServingLease } from '../../src/ha/serving-lease.js';

export type VariantName = 'settle-early' | 'settle-alone' | 'promote-catchup' | 'no-epoch-check' | 'truncate-below-divergence' | 'lease-past-ttl' | 'count-shipped' | 'unrecorded-departure';

export interface Variant {
  readonly description: string;
  /** Patches the prototypes; returns the function that restores them. */
  install(): () => void;
}

type Patchable = Record<string, unknown>;

function patch(target: object, name: string, replacement: (original: (...args: unknown[]) => unknown) => (...args: unknown[]) => unknown): () => void {
  const proto = target as Patchable;
  const original = proto[name] as (...args: unknown[]) => unknown;
  proto[name] = replacement(original);
  return () => {
    proto[name] = original;
  };
}

export const VARIANTS: Readonly<Record<VariantName, Variant>> = {
  'lease-past-ttl': {
    description: "the broker's serving lease runs three times what the manager granted, past the etcd key's ttl, and extensions' time left is ignored (needs --etcd-manager)",
    install: () => {
      const restoreGrant = patch(ServingLease.prototype, 'grant', (original) =>
        function (this: unknown, ...args: unknown[]) {
          return original.apply(this, [args[0], (args[1] as number) * 3, args[2]]);
        },
      );
      // Otherwise the first prompt extension brings the deadline back (serving-lease.ts).
      const restoreExtend = patch(ServingLease.prototype, 'extend', (original) =>
        function (this: unknown, ...args: unknown[]) {
          return original.apply(this, args.slice(0, 3));
        },
      );
      return () => {
        restoreExtend();
        restoreGrant();
      };
    },
  },
  'unrecorded-departure': {
    description: 'a leased primary settles past a ready backup that left its gate before etcd records the departure (needs --etcd-manager)',
    install: () => patch(AckGate.prototype, 'requireRecordedDepartures', () => () => undefined),
  },
  'count-shipped': {
    description: 'toward --ha-min-backups the ack gate counts a backup that entered it mid catch-up, holding only what it was shipped',
    install: () => patch(AckGate.prototype, 'heldByMinMembers', () => () => Infinity),
  },
  'settle-early': {
    description: 'the ack gate ignores its backups: a message is settled once the primary has it durable',
    install: () => patch(AckGate.prototype, 'minMemberLsn', () => () => Infinity),
  },
  'settle-alone': {
    description: 'the ack gate ignores --ha-min-backups: a primary with no backup in its gate settles alone',
    install: () =>
      patch(AckGate.prototype, 'minMemberLsn', () =>
        function (this: { members: Map<string, number> }) {
          let min = Infinity;
          for (const lsn of this.members.values()) if (lsn < min) min = lsn;
          return min;
        },
      ),
  },
  'promote-catchup': {
    description: 'promote() accepts a backup that is still catching up, as if it were ready',
    install: () =>
      patch(HaNode.prototype, 'promote', (original) =>
        function (this: { haState: string }, ...args: unknown[]) {
          if (this.haState === 'catchup') this.haState = 'ready';
          return original.apply(this, args);
        },
      ),
  },
  'no-epoch-check': {
    description: 'nobody checks epochs: a backup follows a primary older than one it has seen, a primary ignores a backup that has seen a newer epoch and does not look for a newer primary',
    install: () => {
      const restoreBackup = patch(BackupReplicator.prototype, 'handle', (original) =>
        function (this: { deps: { epochSeen: () => number } }, ...args: unknown[]) {
          const frame = args[1] as { kind: string };
          if (frame.kind !== 'hello') return original.apply(this, args);
          const deps = this.deps;
          this.deps = { ...deps, epochSeen: () => 0 };
          try {
            // The epoch is read before the first await; restore at once.
            return original.apply(this, args);
          } finally {
            this.deps = deps;
          }
        },
      );
      const restorePrimary = patch(PrimaryReplicator.prototype, 'join', (original) =>
        function (this: unknown, ...args: unknown[]) {
          const join = args[1] as Record<string, unknown>;
          return original.apply(this, [args[0], { ...join, epochSeen: 0 }]);
        },
      );
      // The primary's own look for a higher epoch among the other brokers is an epoch check too.
      const restoreProbe = patch(HaNode.prototype, 'startFencingProbe', () => () => undefined);
      return () => {
        restoreBackup();
        restorePrimary();
        restoreProbe();
      };
    },
  },
  'truncate-below-divergence': {
    description: 'a returning backup takes its log back further than the divergence point (what it takes back below it, the primary had settled)',
    install: () => {
      // The backup takes the hello's divergence point for one 8 LSNs lower.
      const restoreTruncate = patch(BackupReplicator.prototype, 'handle', (original) =>
        function (this: unknown, ...args: unknown[]) {
          const frame = args[1] as { kind: string; catchUp?: { kind: string; fromLsn?: number } };
          if (frame.kind !== 'hello' || frame.catchUp?.kind !== 'incremental') return original.apply(this, args);
          return original.apply(this, [args[0], { ...frame, catchUp: { kind: 'incremental', fromLsn: Math.max(0, (frame.catchUp.fromLsn ?? 0) - 8) } }]);
        },
      );
      // A primary keeps undo only above what its gate confirmed, which by itself makes a
      // truncation below the divergence point fail (and the backup resync): keep it all, so
      // that the planted bug can do its harm.
      const restoreFloor = patch(PrimaryReplicator.prototype, 'applyRetention', (original) =>
        function (this: { deps: { store: { setUndoFloor(lsn: number | null): void } } }, ...args: unknown[]) {
          const result = original.apply(this, args);
          this.deps.store.setUndoFloor(null);
          return result;
        },
      );
      return () => {
        restoreTruncate();
        restoreFloor();
      };
    },
  },
};

export function isVariant(name: string): name is VariantName {
  return Object.hasOwn(VARIANTS, name);
}
