// Who a broker admits by its HA role (src/ha/admission.ts), as a table: admin always; a backup's
// replication connection only where the log is shipped, or, when it comes to a hinted address
// (EXPECT_PROMOTION), at a backup that follows no primary and may be promoted next; clients
// only where they are served, else dropped (or redirected, opt-in).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { admitConnection, EXPECT_PROMOTION, type AdmissionView } from '../../src/ha/admission.js';
import type { ConnectionInfo } from '../../src/amqp/types.js';

const info = (properties: Record<string, unknown>): ConnectionInfo => ({ id: 'c1', containerId: 'x', properties, remoteAddress: '127.0.0.1:1', user: 'anonymous' });
const view = (over: Partial<AdmissionView>): AdmissionView => ({ name: 'b1', state: 'ready', shipping: false, primaryAddress: null, clientRedirect: false, awaitingPromotion: false, ...over });

const replication = { 'qpid.ha-replication': true };
const hinted = { 'qpid.ha-replication': true, [EXPECT_PROMOTION]: true };

const rows: { why: string; props: Record<string, unknown>; view: AdmissionView; kind: 'accept' | 'refuse' | 'drop'; role?: string }[] = [
  { why: 'admin, on a backup', props: { 'qpid.ha-admin': true }, view: view({}), kind: 'accept', role: 'admin' },
  { why: 'replication, on a primary', props: replication, view: view({ state: 'active', shipping: true }), kind: 'accept', role: 'replication' },
  { why: 'replication, on a backup', props: replication, view: view({ awaitingPromotion: true }), kind: 'refuse' },
  { why: 'a hinted join, on a backup that lost its primary', props: hinted, view: view({ awaitingPromotion: true }), kind: 'accept', role: 'replication' },
  { why: 'a hinted join, on a backup that follows a primary', props: hinted, view: view({ awaitingPromotion: false, primaryAddress: '127.0.0.1:9' }), kind: 'refuse' },
  { why: 'the hint flag without replication is a client', props: { [EXPECT_PROMOTION]: true }, view: view({ awaitingPromotion: true }), kind: 'drop' },
  { why: 'a client, on a backup', props: {}, view: view({}), kind: 'drop' },
  { why: 'a client, on a backup with redirects', props: {}, view: view({ primaryAddress: '127.0.0.1:9', clientRedirect: true }), kind: 'refuse' },
  { why: 'a client, on a primary', props: {}, view: view({ state: 'active', shipping: true }), kind: 'accept', role: 'client' },
];

for (const row of rows) {
  test(`admission: ${row.why} -> ${row.kind}${row.role ? ` (${row.role})` : ''}`, () => {
    const admission = admitConnection(info(row.props), row.view);
    assert.equal(admission.kind, row.kind);
    if (row.role !== undefined) assert.equal(admission.kind === 'accept' ? admission.role : null, row.role);
  });
}
