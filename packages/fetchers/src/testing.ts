export {
  type GcsTestRequest,
  type GcsTestServer,
  type GcsTestServerOptions,
  startGcsTestServer,
} from './gcs/test-server';
