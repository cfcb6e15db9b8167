// SPDX-License-Identifier: BSD-3-Clause
'use strict'
// node-leader's election algorithm (@compie-technologies/node-leader), written anew for the
// libleader benchmarks, where it is the baseline. Same API and same Redis protocol:
// holder key 'leader:' + sha1hex(key) set to the candidate's id with SET NX PX; renewal and
// release are GET-then-PEXPIRE and GET-then-DEL, not atomic, as in the original (a renew
// or stop may extend or delete someone else's leadership). The client is a node-redis v4
// client (promise API), which all Leader instances of a process share.

const crypto = require('crypto')
const { EventEmitter } = require('events')

const event = { ELECTED: 'elected', REVOKED: 'revoked', ERROR: 'error' }

class Leader extends EventEmitter {
  constructor (client, options = {}) {
    super()
    this.client = client
    this.id = crypto.randomUUID()
    this.key = 'leader:' + crypto.createHash('sha1').update(options.key || 'default').digest('hex')
    this.ttl = options.ttl || 10000
    this.wait = options.wait || 1000
    this.running = false // between elect() and stop()
    this.timer = null
  }

  // Start trying to get elected: now, then every `wait` ms until elected.
  elect () {
    if (this.running) return Promise.resolve()
    this.running = true
    return this._elect()
  }

  async isLeader () {
    return (await this.client.get(this.key)) === this.id
  }

  // Stop trying; if we hold the key, delete it and emit REVOKED.
  async stop () {
    this.running = false
    clearTimeout(this.timer)
    this.timer = null
    if (await this.isLeader()) {
      await this.client.del(this.key)
      this.emit(event.REVOKED)
    }
  }

  async _elect () {
    try {
      const res = await this.client.set(this.key, this.id, { PX: this.ttl, NX: true })
      if (res === 'OK') {
        this.emit(event.ELECTED)
        this._later(() => this._renew(), this.ttl / 2)
      } else {
        this._later(() => this._elect(), this.wait)
      }
    } catch (err) {
      this.emit(event.ERROR, err)
      this._later(() => this._elect(), this.wait)
    }
  }

  async _renew () {
    try {
      if (await this.isLeader()) {
        await this.client.pExpire(this.key, this.ttl)
        this._later(() => this._renew(), this.ttl / 2)
      } else {
        this.emit(event.REVOKED)
        this._later(() => this._elect(), this.wait)
      }
    } catch (err) {
      this.emit(event.ERROR, err)
      this._later(() => this._renew(), this.wait)
    }
  }

  // Schedule the next step, unless stop() was called meanwhile.
  _later (fn, ms) {
    if (this.running) this.timer = setTimeout(fn, ms)
  }
}

Leader.event = event
Leader.Leader = Leader // so both require(...) and { Leader } = require(...) work
module.exports = Leader
