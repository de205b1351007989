import { connect, type Socket } from 'node:net';
import { onCleanup } from '../cleanup/on-cleanup';

/**
 * A TCP connection to 127.0.0.1:`port` from `localAddress` (e.g. 127.0.0.2, a second client) that
 * sends nothing; resolves once connected, or refused or closed at once. Destroyed at cleanup.
 */
export function idleConnection(port: number, localAddress: string): Promise<Socket> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port, localAddress });
    socket.on('error', () => {});
    socket.once('connect', () => resolve(socket));
    socket.once('close', () => resolve(socket));
    onCleanup(() => socket.destroy());
  });
}
