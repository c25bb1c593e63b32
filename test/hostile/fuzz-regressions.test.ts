// Every finding of the fuzzer (fuzz.test.ts, `npm run fuzz`), replayed byte for byte against a
// real qpidd set up as the fuzzer's is, plus the focused case each pointed to. After each: the broker lives, stays small and
// serves another client within 100 ms; a queue none of them touched keeps what it accepted.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect as tcpConnect } from 'node:net';
import { bin, composite, encode, frame, nul, PERFORMATIVE, uint } from '../helpers/amqp-encode.js';
import { removeDir, startQpidd, tempDir, type BrokerProcess } from '../helpers/broker-process.js';
import { FUZZ_BROKER_ARGS, prepareFuzzQueue } from './fuzz-setup.js';
import { assertHealthy, Probe, RawPeer, seedAccepted, textMessage } from './support.js';

let broker: BrokerProcess;
let probe: Probe;
let dataDir: string;

before(async () => {
  dataDir = tempDir();
  broker = await startQpidd({ dataDir, args: FUZZ_BROKER_ARGS });
  await prepareFuzzQueue(broker.port);
  probe = await Probe.open(broker.port);
});

after(async () => {
  await probe?.close();
  await broker?.stop();
  removeDir(dataDir);
});

/** Writes the chunks of a fuzz case (hex, one per line) on a fresh socket, each read on its own
 * (the order of events a slow moment gave the fuzzer), and waits until the broker closes it or
 * a moment passes. */
function replay(hex: string): Promise<void> {
  return new Promise((resolve) => {
    const socket = tcpConnect(broker.port, '127.0.0.1');
    const done = (): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve();
    };
    const chunks = hex.trim().split('\n').map((line) => Buffer.from(line.trim(), 'hex'));
    const timer = setTimeout(done, 500 + 20 * chunks.length);
    socket.on('error', () => {});
    socket.on('close', done);
    socket.resume();
    socket.on('connect', async () => {
      for (const chunk of chunks) {
        if (socket.destroyed) return;
        socket.write(chunk);
        await new Promise((r) => setTimeout(r, 20));
      }
    });
  });
}

// Seed 2, case 1390: a transfer with no delivery-id started a delivery rhea numbered
// `undefined`; writing its disposition threw in a process.nextTick callback and the broker
// exited ("TypeError: Field first is mandatory").
const SEED_2_CASE_1390 = `
414d515000010000
0000002202000000005310c0150440a109616d712e746f7069637059df3f9060e149
0000001e02000000005311c0110440700000000070000008007000000800
0000005002000000005312c0430aa10b66757a7a2d73656e6465727000000000424040005328c00e01a10b66757a7a2d746172676574005329c00e01a10b66757a7a2d74617267657440407000000000
0000004b02000000005312c03e07a10d66757a7a2d72656365697665727000000001414040005328c00e01a10b66757a7a2d746172676574005329c00e01a10b66757a7a2d746172676574
0000003102000000005313c024077000000000700000080070000000007000000800700000000170000000007000000005
0000003802000000005314d0000000260000000b700000000040a008f1f03941414150b6700000ffff42425001005324c001004042420053
000000350200b15b005318d0000000250000000100531dd00000001900000003a3057175657565a109616d712e746f706963c10100
0000005602000000005311c0490860ada0703fb58042700000000170ffffffe9700584806ce00200a3e02203a30930766d42404828772812616d71703a61636365707465643a6c697374022b63d00000000400000000
00000019020000000053164040000009000000017017aacc46
0000002702000000005316d0000000170000000370000000144200531dc00801a30528422a6835
0000020c02000f83005312d0000001fc0000000da10b66757a7a2d746172676574d10000011d00000006e00904005370522461564b00a311636f6d2e6578616d706c653a7468696e67a303612c3ed10000004a00000006618b28d10000001600000004560056005600a10a3c2548523132502b364ca10775412b3e5e594a7400ae62a6d00000000d00000002b1000000022237512ca006eedcf8c64cd7c17a065601c12906a00a483db953ce67c583a257a306373f3b273f36b0000000004360932aa109557b7a34567d4f5d4900a311636f6d2e6578616d706c653a7468696e67560161289fd00000000e00000002730000d002a103575d7cd00000001b00000005560081239bca5296d5166c7300000c5051517300003dcbf00000001900000004005370c00301560001000100080256017300002001a10a3f737127506278532971415003500200a311636f6d2e6578616d706c653a7468696e675600005329c00f01a10c616d712e6469726563742f6bc15806a100f000000030000000050053708126d4f077f56dba4c3163b075c6eac1675fdf5fd7536a4664557be8c260158dde999fbdd3fda3c68fa300a10853496f303476505ea305746f706963a10b66757a7a2d74617267657442700000ffff80e8fe5ae025789061e01803a3015c0d717069642e68612d61646d696e05504c41494ef0000000120000000700a303783a79526201a8d7560822
000000ac02000000005312c09f0ba10b66757a7a2d74617267657470000000004050035002a3064a7b6c38526300a311636f6d2e6578616d706c653a7468696e670053285600c15a08a309414e4f4e594d4f5553d00000001f00000002560100530100a311636f6d2e6578616d706c653a7468696e675601a3074570415a7d272a707fffffffa1035a4e717000000006a10c616d712e6469726563742f6ba102705a730000000940a302767b
`;

test('fuzz seed 2 case 1390: a first transfer without a delivery-id no longer ends the process', async () => {
  const sentinel = await seedAccepted(broker.port);
  await replay(SEED_2_CASE_1390);
  await assertHealthy(broker, probe);
  await sentinel.check();
});

test('a first transfer without a delivery-id closes its connection with amqp:invalid-field (§2.7.5)', async () => {
  const sentinel = await seedAccepted(broker.port);
  const peer = await RawPeer.connect(broker.port);
  try {
    await peer.open();
    await peer.begin();
    await peer.attachSender(0, sentinel.queue);
    peer.write(frame(Buffer.concat([encode(composite(PERFORMATIVE.transfer, [uint(0), nul, bin(Buffer.from('t')), uint(0)])), textMessage('no id')])));
    await peer.waitFor((f) => f.name === 'close', 'the close');
    assert.equal(peer.errorOf('close')?.condition, 'amqp:invalid-field');
    await peer.waitClosed();
  } finally {
    peer.destroy();
  }
  await assertHealthy(broker, probe);
  await sentinel.check();
});

