// SPDX-License-Identifier: BSD-3-Clause
'use strict'
// libleader for Node.js: leader election on Redis with node-leader's API
// (new Leader(redis, {key, ttl, wait}), elect(), isLeader(), stop(), the
// elected/revoked/error events) over libleader's C library, through the
// native addon leader.node (src/leader_node.c). The addon runs the
// library's event-loop mode on Node's own libuv loop: events are emitted on
// the main thread, and no thread of the binding's own runs.

const { EventEmitter } = require('events')
const path = require('path')
const fs = require('fs')

const event = Object.freeze({
  ELECTED: 'elected',
  REVOKED: 'revoked',
  ERROR: 'error',
  CHANGED: 'changed'
})

// ---- loading the addon -------------------------------------------------------

let native = null

// Where leader.node may be, in order: $LIBLEADER_NODE_ADDON; next to this
// file (a package with the addon copied in); the build tree of the source
// tree this file is in ($LEADER_BUILD_DIR, else build/).
function addonCandidates () {
  if (process.env.LIBLEADER_NODE_ADDON) return [process.env.LIBLEADER_NODE_ADDON]
  const src = path.resolve(__dirname, '..', '..')
  const build = process.env.LEADER_BUILD_DIR || path.join(src, 'build')
  return [
    path.join(__dirname, 'leader.node'),
    path.join(__dirname, 'build', 'leader.node'),
    path.join(build, 'bindings', 'node', 'leader.node')
  ]
}

function load () {
  if (native !== null) return native
  const tried = []
  for (const file of addonCandidates()) {
    if (!fs.existsSync(file)) {
      tried.push(`${file}: not found`)
      continue
    }
    try {
      native = require(file)
      return native
    } catch (err) {
      tried.push(`${file}: ${err.message}`)
    }
  }
  const err = new Error('libleader: cannot load the native addon leader.node ' +
    '(build it with `make` in the libleader source tree, or set ' +
    'LIBLEADER_NODE_ADDON); tried:\n  ' + tried.join('\n  '))
  err.code = 'ERR_LIBLEADER_ADDON'
  throw err
}

// ---- errors ------------------------------------------------------------------

function codeName (code) {
  const codes = load().codes
  for (const name of Object.keys(codes)) if (codes[name] === code) return name
  return 'LEADER_EUNKNOWN'
}

// An Error for a libleader code: code is the name ('LEADER_ECONN'), errno
// the number (-5).
function leaderError (code, message, extra) {
  const err = new Error(message || load().strerror(code))
  err.code = codeName(code)
  err.errno = code
  if (extra) Object.assign(err, extra)
  return err
}

function optionError (message) {
  const err = new Error(`libleader: invalid option: ${message}`)
  err.code = 'LEADER_EINVAL'
  err.errno = -1
  return err
}

// ---- the redis argument ----------------------------------------------------

// A Redis client object of the npm packages `redis` (node-redis v4: its
// options getter, with socket.host/port/path/tls, username, password,
// database; v3: options.host/port/db) or `ioredis` (options.host/port/path,
// username, password, db, tls), or a plain object of such options. Only
// fields are read: neither package is loaded.
function looksLikeClient (obj) {
  return typeof obj.sendCommand === 'function' || typeof obj.connect === 'function'
}

function hostForUrl (host) {
  return host.includes(':') && !host.startsWith('[') ? `[${host}]` : host
}

function fromClientOptions (o) {
  if (Array.isArray(o.sentinels) && o.sentinels.length > 0) {
    throw optionError('a Sentinel client (options.sentinels) is not supported: ' +
      'give the master\'s URL')
  }
  const socket = o.socket && typeof o.socket === 'object' ? o.socket : {}
  const host = socket.host || o.host
  const port = socket.port || o.port
  const unix = socket.path || o.path
  const tls = socket.tls || o.tls
  const db = o.database !== undefined && o.database !== null ? o.database : o.db
  const out = {}
  if (!host && !port && !unix && typeof o.url === 'string') {
    out.url = o.url
  } else {
    const user = o.username ? encodeURIComponent(String(o.username)) + '@' : ''
    if (unix) {
      if (tls) throw optionError('TLS over a unix socket is not supported')
      out.url = `unix://${user}${unix}` + (db ? `?db=${Number(db)}` : '')
    } else {
      out.url = `${tls ? 'rediss' : 'redis'}://${user}` +
        `${hostForUrl(host || 'localhost')}:${Number(port) || 6379}` +
        (db ? `/${Number(db)}` : '')
    }
  }
  if (o.password !== undefined && o.password !== null && o.password !== '') {
    out.password = String(o.password)
  }
  const t = tls && typeof tls === 'object' ? tls : {}
  for (const field of ['ca', 'cert', 'key']) {
    if (t[field] !== undefined) {
      throw optionError(`the client's tls.${field} holds certificate data, ` +
        'which libleader cannot take: give files as options.tls.' +
        `${field === 'ca' ? 'caFile' : field + 'File'}`)
    }
  }
  if (t.servername) out.tlsServerName = String(t.servername)
  if (t.rejectUnauthorized === false) out.tlsInsecure = true
  return out
}

function redisTarget (redis) {
  if (redis === undefined || redis === null) return {} // $LEADER_REDIS_URL or 127.0.0.1:6379
  if (typeof redis === 'string') return { url: redis }
  if (redis instanceof URL) return { url: redis.href }
  if (typeof redis !== 'object') {
    throw new TypeError('libleader: redis must be a URL string or a client ' +
      `object of the redis or ioredis package, not ${typeof redis}`)
  }
  if (redis.isCluster === true || Array.isArray(redis.startupNodes)) {
    throw optionError('a Redis Cluster client is not supported: give one ' +
      'node\'s URL')
  }
  let o = redis.options
  if ((o === undefined || o === null) && looksLikeClient(redis)) o = {}
  if (o === undefined || o === null || typeof o !== 'object') o = redis
  return fromClientOptions(o)
}

// ---- options -------------------------------------------------------------------

// node-leader's rule: a missing (or 0) ttl or wait takes the default.
function ms (options, name, dflt) {
  const v = options[name]
  if (v === undefined || v === null || v === 0) return dflt
  if (typeof v !== 'number') {
    throw new TypeError(`libleader: options.${name} must be a number of ` +
      `milliseconds, not ${typeof v}`)
  }
  if (!Number.isFinite(v)) throw optionError(`${name} must be finite, not ${v}`)
  return Math.round(v)
}

function optionalString (options, name) {
  const v = options[name]
  if (v === undefined || v === null) return undefined
  if (typeof v !== 'string') {
    throw new TypeError(`libleader: options.${name} must be a string, not ${typeof v}`)
  }
  return v
}

function nativeOptions (redis, options) {
  if (options === undefined || options === null) options = {}
  if (typeof options !== 'object') {
    throw new TypeError(`libleader: options must be an object, not ${typeof options}`)
  }
  const o = redisTarget(redis)
  o.key = optionalString(options, 'key') || 'default'
  o.id = optionalString(options, 'id')
  o.ttl = ms(options, 'ttl', 10000)
  o.wait = ms(options, 'wait', 1000)
  if (options.connectTimeout !== undefined) o.connectTimeout = ms(options, 'connectTimeout', 0)
  if (options.commandTimeout !== undefined) o.commandTimeout = ms(options, 'commandTimeout', 0)
  const password = optionalString(options, 'password')
  if (password !== undefined) o.password = password
  const tls = options.tls
  if (tls !== undefined && tls !== null) {
    if (typeof tls !== 'object') throw new TypeError('libleader: options.tls must be an object')
    const files = { caFile: 'tlsCaCert', caDir: 'tlsCaDir', certFile: 'tlsCert', keyFile: 'tlsKey', servername: 'tlsServerName' }
    for (const [from, to] of Object.entries(files)) {
      const v = optionalString(tls, from)
      if (v !== undefined) o[to] = v
    }
    if (tls.rejectUnauthorized === false) o.tlsInsecure = true
  }
  return o
}

// libleader names its options as leader.h does (ttl_ms); here they are ttl.
function constructionError (err, url) {
  let message = String(err.message)
    .replace(/^ttl_ms\b/, 'ttl').replace(/^wait_ms\b/, 'wait')
    .replace(/^connect_timeout_ms\b/, 'connectTimeout')
    .replace(/^command_timeout_ms\b/, 'commandTimeout')
    .replace(/ttl_ms\/3/, 'ttl/3')
  const urlProblem = /URL|scheme|host|port|path|database|db\b/i.test(message)
  if (urlProblem && url !== undefined) {
    message = `bad Redis URL ${load().redact(url)}: ${message}`
  }
  const e = optionError(message)
  if (urlProblem) {
    e.code = 'LEADER_EURL'
    e.errno = -3
  }
  return e
}

// ---- Leader ------------------------------------------------------------------

const kHandle = Symbol('handle')
const kEmit = Symbol('emit')

class Leader extends EventEmitter {
  /**
   * @param {string|object} redis a URL (redis://, rediss://, unix://), or a
   *   client of the redis or ioredis package to read the address from
   * @param {object} [options] key ('default'), ttl (10000 ms), wait
   *   (1000 ms), and libleader's own: id, password, tls, connectTimeout,
   *   commandTimeout
   */
  constructor (redis, options) {
    super()
    const o = nativeOptions(redis, options)
    const { Handle } = load()
    // The addon holds emit strongly only while the handle has work; the
    // Leader holds it always, so that it lives as long as the Leader.
    const emit = (type, term, leaderId, error, message) =>
      this._onNative(type, term, leaderId, error, message)
    let handle
    try {
      handle = new Handle(o, emit)
    } catch (err) {
      if (err instanceof TypeError) throw err
      throw constructionError(err, o.url)
    }
    Object.defineProperty(this, kHandle, { value: handle })
    Object.defineProperty(this, kEmit, { value: emit })
    Object.defineProperty(this, 'id', { value: handle.id(), enumerable: true })
    Object.defineProperty(this, 'key', { value: handle.key(), enumerable: true })
    this.options = { ttl: o.ttl, wait: o.wait }
    this._elected = false
    this._holder = undefined
    this._stopping = []
    this._closed = false
  }

  // Events from the addon, on the main thread, inside libleader's turn.
  _onNative (type, term, leaderId, error, message) {
    switch (type) {
      case 'elected':
        this._elected = true
        this.emit(event.ELECTED, term)
        break
      case 'revoked': {
        this._elected = false
        const reason = error ? leaderError(error, message, { term }) : null
        this.emit(event.REVOKED, term, reason)
        break
      }
      case 'error':
        // libleader keeps trying after an error: it is news, not a failure
        // of the Leader. Without a listener it is dropped rather than
        // thrown (EventEmitter throws an 'error' nobody listens to).
        if (this.listenerCount(event.ERROR) > 0) {
          this.emit(event.ERROR, leaderError(error, message, { term }))
        }
        break
      case 'changed':
        this._holder = leaderId === null ? null : { id: leaderId, term }
        this.emit(event.CHANGED, { id: leaderId, term, reason: message })
        break
      case 'idle':
        this._settle()
        break
    }
  }

  _settle () {
    const waiting = this._stopping
    this._stopping = []
    for (const resolve of waiting) resolve()
  }

  /** Starts campaigning; ELECTED comes as an event. Returns at once. */
  elect () {
    this[kHandle].elect()
    this._settle() // a stop() still settling counts as done
  }

  /** Watches who leads without campaigning: 'changed' events. */
  observe () {
    this[kHandle].observe()
    this._settle()
  }

  /**
   * Asks Redis whether this candidate holds the key (one round trip, off
   * the main thread). A promise of true or false; or, given a callback,
   * callback(err, isLeader).
   */
  isLeader (callback) {
    let p
    try {
      p = this[kHandle].isLeader()
    } catch (err) {
      p = Promise.reject(err)
    }
    if (typeof callback !== 'function') return p
    p.then((v) => process.nextTick(callback, null, v),
      (err) => process.nextTick(callback, err))
  }

  /** Reads who leads from Redis: a promise of {id, term, leaseLeft} or null. */
  current () {
    try {
      return this[kHandle].current()
    } catch (err) {
      return Promise.reject(err)
    }
  }

  /** True while the local lease is valid: no I/O. */
  hasLease () {
    return this[kHandle].hasLease()
  }

  /** The fencing token of the current leadership, 0 when not leading. */
  get term () {
    return this[kHandle].term()
  }

  /** Milliseconds left on the local lease, 0 when not leading. */
  get leaseRemaining () {
    return this[kHandle].leaseLeft()
  }

  /** Between ELECTED and REVOKED. */
  get elected () {
    return this._elected
  }

  /** Who leads as the last 'changed' event said: {id, term}, null for
   * nobody, undefined before the first. */
  get holder () {
    return this._holder
  }

  /** A new term within the current leadership (REVOKED, then ELECTED). */
  newTerm () {
    const rc = this[kHandle].newTerm()
    if (rc < 0) throw leaderError(rc, 'newTerm(): not leading')
  }

  /** Health-gated leadership: an unhealthy candidate steps down and does
   * not campaign until healthy again. */
  setHealthy (healthy) {
    this[kHandle].setHealthy(!!healthy)
  }

  /**
   * Stops campaigning (or observing). If leading, REVOKED is emitted and the
   * key released. Returns a promise that resolves once that is done (at most
   * about ttl/3, never more than 5 s); then nothing of this Leader keeps
   * the process alive.
   */
  stop () {
    if (this[kHandle].stop() !== 0) return Promise.resolve()
    return new Promise((resolve) => this._stopping.push(resolve))
  }

  /** Stops, then frees the native handle. The Leader is unusable after. */
  async close () {
    if (this._closed) return
    await this.stop()
    this._closed = true
    this[kHandle].close()
    this._settle()
  }
}

Leader.event = event
Leader.EVENT_TYPE = event // node-leader's lib/leader.js exports this name
Leader.Leader = Leader
Leader.version = () => load().version()
Leader.strerror = (code) => load().strerror(code)
Leader._redisTarget = redisTarget // for the tests

module.exports = Leader
