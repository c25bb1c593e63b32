// What the machine can honour of --store-map-size and the data dir (src/config/host-limits.ts):
// the rules that startup applies to the facts it reads, tested on made-up facts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decideMapSize, parseAddressSpaceLimit, pseudoFilesystem } from '../../src/config/host-limits.js';
import { describeBytes } from '../../src/config/units.js';

const GiB = 1024 ** 3;

test('an explicit map larger than the filesystem is refused; the default is lowered to fit it', () => {
  const explicit = decideMapSize({ requestedBytes: 1024 * GiB, isDefault: false, filesystemBytes: 100 * GiB, addressSpaceLimitBytes: null }, describeBytes);
  assert.deepEqual(explicit, { ok: false, reason: '1.0 TiB is larger than the filesystem holding the data dir (100.0 GiB): the store could never grow that large' });
  const byDefault = decideMapSize({ requestedBytes: 64 * GiB, isDefault: true, filesystemBytes: 8 * 1024 ** 2, addressSpaceLimitBytes: null }, describeBytes);
  assert.equal(byDefault.ok, true);
  assert.equal(byDefault.ok && byDefault.mapSizeBytes, 8 * 1024 ** 2);
  assert.match(byDefault.ok ? (byDefault.lowered ?? '') : '', /default map size 64\.0 GiB is larger than the filesystem.*using 8\.0 MiB/);
  const fits = decideMapSize({ requestedBytes: 10 * GiB, isDefault: false, filesystemBytes: 100 * GiB, addressSpaceLimitBytes: null }, describeBytes);
  assert.deepEqual(fits, { ok: true, mapSizeBytes: 10 * GiB, lowered: null });
  const unknownDisk = decideMapSize({ requestedBytes: 10 * GiB, isDefault: false, filesystemBytes: null, addressSpaceLimitBytes: null }, describeBytes);
  assert.deepEqual(unknownDisk, { ok: true, mapSizeBytes: 10 * GiB, lowered: null });
});

test('a map above half the address-space limit is refused, default or not', () => {
  for (const isDefault of [true, false]) {
    const d = decideMapSize({ requestedBytes: 64 * GiB, isDefault, filesystemBytes: 1024 * GiB, addressSpaceLimitBytes: 100 * GiB }, describeBytes);
    assert.equal(d.ok, false);
    assert.match(d.ok ? '' : d.reason, /more than half of this process's address-space limit \(ulimit -v, 100\.0 GiB\)/);
  }
  assert.equal(decideMapSize({ requestedBytes: 50 * GiB, isDefault: false, filesystemBytes: null, addressSpaceLimitBytes: 100 * GiB }, describeBytes).ok, true);
});

test('the address-space limit is read from /proc/self/limits: unlimited is no limit', () => {
  const limits = (soft: string) =>
    ['Limit                     Soft Limit           Hard Limit           Units     ', 'Max open files            1024                 1048576              files     ', `Max address space         ${soft}         unlimited            bytes     `, ''].join('\n');
  assert.equal(parseAddressSpaceLimit(limits('unlimited')), null);
  assert.equal(parseAddressSpaceLimit(limits('8589934592')), 8 * GiB);
  assert.equal(parseAddressSpaceLimit('nothing useful'), null);
});

test('kernel pseudo-filesystems are named; ordinary ones are not', () => {
  assert.equal(pseudoFilesystem(0x9fa0), 'proc');
  assert.equal(pseudoFilesystem(0x62656572), 'sysfs');
  assert.equal(pseudoFilesystem(0xef53), null, 'ext4');
  assert.equal(pseudoFilesystem(0x01021994), null, 'tmpfs');
});
