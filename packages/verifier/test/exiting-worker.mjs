// A stand-in pool worker that dies on its first request, to test crash handling.
import { parentPort } from 'node:worker_threads';

parentPort.on('message', () => process.exit(3));
