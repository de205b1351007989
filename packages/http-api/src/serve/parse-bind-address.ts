import { BindAddressError } from '../errors';

export interface BindAddress {
  /** Host to listen on; `0.0.0.0` for `:port`. IPv6 without brackets. */
  host: string;
  port: number;
}

/**
 * Parses the reference's `BIND_ADDRESS` forms: `host:port`, `:port` (all IPv4 interfaces) and
 * `[ipv6]:port`. Port 0 picks a free port.
 */
export function parseBindAddress(address: string): BindAddress {
  const text = address.trim();
  let host: string;
  let portText: string;
  if (text.startsWith('[')) {
    const close = text.indexOf(']');
    if (close < 0 || text[close + 1] !== ':') {
      throw new BindAddressError(address, 'expected [ipv6]:port');
    }
    host = text.slice(1, close);
    portText = text.slice(close + 2);
  } else {
    const colon = text.lastIndexOf(':');
    if (colon < 0) throw new BindAddressError(address, 'expected host:port or :port');
    host = text.slice(0, colon);
    portText = text.slice(colon + 1);
    if (host.includes(':')) {
      throw new BindAddressError(address, 'put an IPv6 host in brackets: [::1]:8080');
    }
    if (host === '') host = '0.0.0.0';
  }
  if (host === '' || /[\s/]/.test(host))
    throw new BindAddressError(address, 'empty or invalid host');
  if (!/^\d{1,5}$/.test(portText) || Number(portText) > 65535) {
    throw new BindAddressError(address, 'port must be an integer in 0..65535');
  }
  return { host, port: Number(portText) };
}
