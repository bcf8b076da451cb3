import { ReplyError } from 'ioredis';
import { evictionPolicy } from './redis-connection';

const info = (policy: string) => async () => `# Memory\r\nused_memory:1024\r\nmaxmemory_policy:${policy}\r\n`;

describe('evictionPolicy', () => {
  it('reads CONFIG GET (RESP2 pairs and RESP3 maps)', async () => {
    const refused = async () => Promise.reject(new Error('INFO must not be asked'));
    expect(await evictionPolicy({ config: async () => ['maxmemory-policy', 'allkeys-lru'], info: refused })).toBe(
      'allkeys-lru',
    );
    expect(await evictionPolicy({ config: async () => ({ 'maxmemory-policy': 'noeviction' }), info: refused })).toBe(
      'noeviction',
    );
  });

  it('falls back to INFO memory when CONFIG is refused or missing', async () => {
    const config = async () => Promise.reject(new ReplyError("ERR unknown command 'CONFIG'"));
    expect(await evictionPolicy({ config, info: info('volatile-lru') })).toBe('volatile-lru');
    expect(await evictionPolicy({ info: info('allkeys-random') })).toBe('allkeys-random');
  });

  it('says nothing when neither answers, and rejects when Redis cannot be reached', async () => {
    const refused = async () => Promise.reject(new ReplyError('NOPERM'));
    expect(await evictionPolicy({ config: refused, info: refused })).toBeUndefined();
    const unreachable = async () => Promise.reject(new Error('connect ECONNREFUSED 127.0.0.1:6379'));
    await expect(evictionPolicy({ config: unreachable, info: info('noeviction') })).rejects.toThrow(/ECONNREFUSED/);
  });
});
