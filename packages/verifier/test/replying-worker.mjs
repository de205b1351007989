// A stand-in pool worker that answers every request with an error reply.
import { parentPort } from 'node:worker_threads';

parentPort.on('message', ({ id }) => parentPort.postMessage({ id, error: 'refused for the test' }));
