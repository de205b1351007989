export {
  createFaultInjector,
  type FaultInjector,
  type FaultInjectorOptions,
  FaultRuleError,
  type FaultSetOptions,
} from './faults/create-fault-injector';
export { type FaultResponse, faultBeforeResponse, sendWithFault } from './faults/deliver-fault';
export type {
  Fault,
  FaultKind,
  FaultOperation,
  FaultRequest,
  FaultRule,
  ServedFault,
} from './faults/fault-types';
export { seededRandom } from './faults/seeded-random';
export {
  classifySequencerRequest,
  type HttpFaultProxy,
  type HttpFaultProxyOptions,
  type HttpFaultProxyRequest,
  startHttpFaultProxy,
} from './faults/start-http-fault-proxy';
export {
  type GcsTestRequest,
  type GcsTestServer,
  type GcsTestServerOptions,
  startGcsTestServer,
} from './gcs/test-server';
