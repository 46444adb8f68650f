import { ConfigError, loadConfig } from '../../src/config.ts';
import { clusterSettings, parseSettingOverrides, settingArguments } from '../../src/dev/postgres-settings.ts';

const GiB = 1024 ** 3;

test('the embedded cluster is sized for the machine, not left on the defaults', () => {
  expect(clusterSettings({ memoryBytes: 24 * GiB, cores: 2 })).toMatchObject({
    shared_buffers: '2048MB', effective_cache_size: '12288MB', maintenance_work_mem: '768MB', max_wal_size: '8GB',
    checkpoint_timeout: '15min', max_parallel_workers_per_gather: '1',
  });
  // A small machine keeps at least the defaults; a big one is capped, the cluster sharing it.
  expect(clusterSettings({ memoryBytes: 0.5 * GiB, cores: 1 })).toMatchObject({ shared_buffers: '128MB', maintenance_work_mem: '64MB' });
  expect(clusterSettings({ memoryBytes: 256 * GiB, cores: 64 })).toMatchObject({ shared_buffers: '2048MB', maintenance_work_mem: '1024MB', max_parallel_workers_per_gather: '32' });
});

test('POSTGRES_SETTINGS overrides any setting, and is checked where the environment is read', () => {
  const overrides = parseSettingOverrides(loadConfig({ POSTGRES_SETTINGS: 'shared_buffers=512MB, max_wal_size = 2GB,synchronous_commit=off' }).POSTGRES_SETTINGS);
  expect(overrides).toEqual({ shared_buffers: '512MB', max_wal_size: '2GB', synchronous_commit: 'off' });
  expect(clusterSettings({ memoryBytes: 24 * GiB, cores: 2 }, overrides)).toMatchObject({ shared_buffers: '512MB', max_wal_size: '2GB', synchronous_commit: 'off', work_mem: '16MB' });
  expect(parseSettingOverrides(undefined)).toEqual({});
  for (const bad of ['shared_buffers', 'shared_buffers=', '=1GB', 'a=1,,b=2', 'Shared_Buffers=1GB']) {
    expect(() => loadConfig({ POSTGRES_SETTINGS: bad })).toThrow(new ConfigError(
      'Invalid environment variable POSTGRES_SETTINGS: name=value pairs separated by commas, e.g. shared_buffers=512MB,max_wal_size=2GB'));
  }
});

test('settings become the server command line', () => {
  expect(settingArguments({ shared_buffers: '1GB', max_wal_size: '8GB' })).toEqual(['-c', 'shared_buffers=1GB', '-c', 'max_wal_size=8GB']);
});
