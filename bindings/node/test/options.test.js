// SPDX-License-Identifier: BSD-3-Clause
'use strict'
// Bad options give clear errors; the redis argument is read from a URL or
// from the fields of a redis or ioredis client object.
const test = require('node:test')
const assert = require('node:assert')
const { URL, Leader, benchModule } = require('./helpers/common')

test('ttl out of range: an Error with the library\'s message', () => {
  assert.throws(() => new Leader(URL, { ttl: 5 }), (err) => {
    assert.ok(err instanceof Error)
    assert.strictEqual(err.code, 'LEADER_EINVAL')
    assert.match(err.message, /ttl must be from 10 to 86400000, not 5/)
    return true
  })
  assert.throws(() => new Leader(URL, { wait: -1 }), /wait must be from 0 to 86400000, not -1/)
  assert.throws(() => new Leader(URL, { ttl: Infinity }), /ttl must be finite/)
})

test('an unknown URL scheme: LEADER_EURL, the URL named', () => {
  assert.throws(() => new Leader('http://127.0.0.1:6379'), (err) => {
    assert.strictEqual(err.code, 'LEADER_EURL')
    assert.match(err.message, /bad Redis URL http:\/\/127\.0\.0\.1:6379: unknown scheme/)
    return true
  })
})

test('a URL\'s password is never shown in an error', () => {
  assert.throws(() => new Leader('redis://user:s3cret@127.0.0.1:99999'), (err) => {
    assert.strictEqual(err.code, 'LEADER_EURL')
    assert.doesNotMatch(err.message, /s3cret/)
    return true
  })
})

test('wrong types: TypeError', () => {
  assert.throws(() => new Leader(42), TypeError)
  assert.throws(() => new Leader(true), TypeError)
  assert.throws(() => new Leader(URL, 'key'), TypeError)
  assert.throws(() => new Leader(URL, { ttl: '1000' }), TypeError)
  assert.throws(() => new Leader(URL, { key: 7 }), TypeError)
  assert.throws(() => new Leader(URL, { id: 7 }), TypeError)
})

test('a bad id and a bad key', () => {
  assert.throws(() => new Leader(URL, { id: 'has space' }), /id must not contain spaces/)
  assert.throws(() => new Leader(URL, { id: 'x'.repeat(256) }), /id must be 1 to 255 bytes/)
  assert.throws(() => new Leader(URL, { key: 'a\0b' }), /NUL/)
})

test('node-leader\'s defaults: a missing or 0 ttl or wait', () => {
  assert.deepStrictEqual(new Leader(URL, { ttl: 0, wait: 0 }).options, { ttl: 10000, wait: 1000 })
  assert.deepStrictEqual(new Leader(URL, { ttl: 1500.4, wait: 10 }).options, { ttl: 1500, wait: 10 })
})

test('an id of one\'s own', () => {
  assert.strictEqual(new Leader(URL, { id: 'worker-7' }).id, 'worker-7')
})

test('Cluster and Sentinel clients are refused', () => {
  assert.throws(() => new Leader({ isCluster: true, options: {} }), /Cluster client is not supported/)
  assert.throws(() => new Leader({ options: { sentinels: [{ host: 'h', port: 26379 }], name: 'm' } }),
    /Sentinel client/)
})

test('the address from client-like objects', () => {
  const t = Leader._redisTarget
  // node-redis v4: createClient({url}) merges the URL's parts into options.
  assert.deepStrictEqual(t({ connect () {}, options: { url: 'redis://:pw@h:7000/2', socket: { host: 'h', port: 7000 }, password: 'pw', database: 2 } }),
    { url: 'redis://h:7000/2', password: 'pw' })
  // node-redis v4: createClient() with no options.
  assert.deepStrictEqual(t({ connect () {}, sendCommand () {}, options: undefined }),
    { url: 'redis://localhost:6379' })
  assert.deepStrictEqual(t({ options: { socket: { path: '/run/redis.sock' }, database: 3 } }),
    { url: 'unix:///run/redis.sock?db=3' })
  assert.deepStrictEqual(t({ options: { socket: { host: 'h', tls: true, servername: 'x' }, username: 'app', password: 'p@ss' } }),
    { url: 'rediss://app@h:6379', password: 'p@ss' })
  // ioredis
  assert.deepStrictEqual(t({ options: { host: '::1', port: 6380, db: 0, username: null, password: null } }),
    { url: 'redis://[::1]:6380' })
  assert.deepStrictEqual(t({ options: { host: 'h', port: 6379, tls: { servername: 'redis.example', rejectUnauthorized: false } } }),
    { url: 'rediss://h:6379', tlsServerName: 'redis.example', tlsInsecure: true })
  assert.throws(() => t({ options: { host: 'h', tls: { ca: 'PEM...' } } }), /tls\.ca holds certificate data/)
  // plain options objects
  assert.deepStrictEqual(t({ url: 'redis://h:1' }), { url: 'redis://h:1' })
  assert.deepStrictEqual(t({ host: 'h', port: 2 }), { url: 'redis://h:2' })
})

test('real client objects of redis and ioredis', (t) => {
  const redis = benchModule('redis')
  const Redis = benchModule('ioredis')
  if (!redis || !Redis) return t.skip('redis or ioredis is not installed in bench/node_modules')
  assert.deepStrictEqual(Leader._redisTarget(redis.createClient({ url: 'redis://alice:pw@10.0.0.1:6390/4' })),
    { url: 'redis://alice@10.0.0.1:6390/4', password: 'pw' })
  assert.deepStrictEqual(Leader._redisTarget(redis.createClient()), { url: 'redis://localhost:6379' })
  const c = new Redis({ host: '10.0.0.2', port: 6391, db: 5, password: 'pw', lazyConnect: true })
  assert.deepStrictEqual(Leader._redisTarget(c), { url: 'redis://10.0.0.2:6391/5', password: 'pw' })
  const u = new Redis({ path: '/tmp/r.sock', lazyConnect: true })
  assert.deepStrictEqual(Leader._redisTarget(u), { url: 'unix:///tmp/r.sock' })
})
