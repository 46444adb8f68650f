import { ConfigError, loadConfig } from '../../src/config.ts';

test('defaults describe a development machine', () => {
  const settings = loadConfig({});
  expect(settings).toMatchObject({ NODE_ENV: 'development', API_PORT: 3000, TEMPORAL_PORT: 7233, TEMPORAL_UI_PORT: 8233, TEMPORAL_NAMESPACE: 'default' });
  expect(settings.DATABASE_URL).toBeUndefined();
});

test('values are parsed into their types', () => {
  expect(loadConfig({ API_PORT: '8080', DATABASE_POOL_SIZE: '25' })).toMatchObject({ API_PORT: 8080, DATABASE_POOL_SIZE: 25 });
  expect(loadConfig({ RATE_LIMIT_REGISTRATIONS: '1200' })).toMatchObject({ RATE_LIMIT_REGISTRATIONS: 1200, RATE_LIMIT_PUBLIC: 120 });
});

test('trusted proxies default to this machine; a list or none is taken as given', () => {
  expect(loadConfig({}).TRUSTED_PROXIES).toBe('loopback');
  expect(loadConfig({ TRUSTED_PROXIES: 'loopback, 10.0.0.0/8, fd00::/8' }).TRUSTED_PROXIES).toBe('loopback, 10.0.0.0/8, fd00::/8');
  expect(loadConfig({ TRUSTED_PROXIES: 'none' }).TRUSTED_PROXIES).toBe('none');
});

test('a worker serves every task queue unless WORKER_TASK_QUEUES names some, each once', () => {
  expect(loadConfig({}).WORKER_TASK_QUEUES).toEqual(['membership', 'membership-cards']);
  expect(loadConfig({ WORKER_TASK_QUEUES: 'membership-cards' }).WORKER_TASK_QUEUES).toEqual(['membership-cards']);
  expect(loadConfig({ WORKER_TASK_QUEUES: ' membership , membership-cards,membership ' }).WORKER_TASK_QUEUES).toEqual(['membership', 'membership-cards']);
});

test.each([
  ['API_PORT', 'eighty'],
  ['API_PORT', '70000'],
  ['DATABASE_URL', 'not a url'],
  ['LOG_LEVEL', 'loud'],
  ['MASTER_KEY', 'c2hvcnQ='],
  ['NODE_ENV', 'staging'],
  ['TRUSTED_PROXIES', 'everyone; drop table'],
  ['RATE_LIMIT_REGISTRATIONS', '0'],
  ['WORKER_METRICS_PORT', '70000'],
  ['OTEL_EXPORTER_OTLP_ENDPOINT', 'collector:4318'],
  ['WORKER_TASK_QUEUES', 'cards'],
  ['WORKER_TASK_QUEUES', ' , '],
])('a bad %s stops start-up with a message naming it', (variable, value) => {
  expect(() => loadConfig({ [variable]: value })).toThrow(ConfigError);
  expect(() => loadConfig({ [variable]: value })).toThrow(new RegExp(`^Invalid environment variable ${variable}:`));
});
