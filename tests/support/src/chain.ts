// @synddb/test-support/chain: test servers for chain clients, on loopback: a JSON-RPC-aware fault
// proxy in front of a node (e.g. anvil) that drops or delays a share of requests. Nothing here
// registers test hooks: close what you start (e.g. `onCleanup(() => proxy.close())`).
export {
  type JsonRpcFaultProxy,
  type JsonRpcFaultProxyOptions,
  startJsonRpcFaultProxy,
} from './json-rpc/start-json-rpc-fault-proxy';
