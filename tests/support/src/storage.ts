// @synddb/test-support/storage: storage servers for tests, on loopback, with fault injection: a
// Google Cloud Storage JSON-API server, a fault proxy in front of any HTTP server (e.g. the devnet
// sequencer), and a plain HTTP server for client tests. Nothing here registers test hooks: close
// what you start (e.g. `onCleanup(() => server.close())`).
export {
  createFaultInjector,
  type FaultInjector,
  type FaultInjectorOptions,
  FaultRuleError,
  type FaultSetOptions,
} from './faults/create-fault-injector';
export { type FaultResponse, faultBeforeResponse, sendWithFault } from './faults/deliver-fault';
export type * from './faults/fault-types';
export {
  classifySequencerRequest,
  FaultProxyConfigError,
  type HttpFaultProxy,
  type HttpFaultProxyOptions,
  type HttpFaultProxyRequest,
  startHttpFaultProxy,
} from './faults/start-http-fault-proxy';
export {
  type StorageFaultsOptions,
  storageFaults,
} from './faults/storage-faults';
export {
  type GcsTestRequest,
  type GcsTestServer,
  type GcsTestServerOptions,
  startGcsTestServer,
} from './gcs/start-gcs-test-server';
export { type Listening, type ListenOptions, listen } from './http/listen';
export { startTestHttpServer, type TestHttpServer } from './http/start-test-http-server';
