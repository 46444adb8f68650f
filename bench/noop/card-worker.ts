import { NativeConnection, Worker } from '@temporalio/worker';
import { masterKeyFromBase64 } from '../../src/crypto/master-key.ts';
import { EncryptionCodec, temporalDataConverter } from '../../src/temporal/payload-codec.ts';
import * as noopActivities from './activities.ts';
import { NOOP_CARDS_QUEUE } from './queues.ts';

/**
 * The no-op lifecycle's card queue in a process of its own, as the product's card worker runs
 * when the lifecycle bench measures the split (bench/sections/lifecycle.ts): the same codec,
 * activities that do nothing. Stops (drains) on SIGTERM.
 */
const connection = await NativeConnection.connect({ address: process.env.TEMPORAL_ADDRESS! });
const codec = new EncryptionCodec(masterKeyFromBase64(process.env.MASTER_KEY!));
const worker = await Worker.create({ connection, taskQueue: NOOP_CARDS_QUEUE, activities: noopActivities, dataConverter: temporalDataConverter(codec) });
const running = worker.run();
process.stdout.write(`${JSON.stringify({ msg: 'worker started', taskQueues: [NOOP_CARDS_QUEUE] })}\n`);
await running;
await connection.close();
