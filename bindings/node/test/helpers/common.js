// SPDX-License-Identifier: BSD-3-Clause
'use strict'
// Shared pieces of the tests of bindings/node: the Redis fixture's URL, the
// npm clients of bench/node_modules when installed, and child candidates
// (candidate.js) whose output lines a test waits for.
const { spawn } = require('child_process')
const path = require('path')
const readline = require('readline')

const src = path.resolve(__dirname, '..', '..', '..', '..')
const URL = process.env.REDIS_URL
const Leader = require(path.join(src, 'bindings', 'node'))

// The npm package name from bench/node_modules, or null when absent.
function benchModule (name) {
  try {
    return require(path.join(src, 'bench', 'node_modules', name))
  } catch (err) {
    return null
  }
}

function sleep (ms) {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

// Resolves with the next event args, rejects after ms.
function once (emitter, name, ms = 5000) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      emitter.off(name, on)
      reject(new Error(`no ${name} within ${ms} ms`))
    }, ms)
    function on (...args) {
      clearTimeout(timer)
      resolve(args)
    }
    emitter.once(name, on)
  })
}

// A candidate in a child process. lines: every line so far with its time
// (performance.now() of this process).
class Child {
  constructor (impl, key, ttl, wait) {
    this.proc = spawn(process.execPath,
      [path.join(__dirname, 'candidate.js'), impl, URL, key, String(ttl), String(wait)],
      { stdio: ['pipe', 'pipe', 'inherit'] })
    this.lines = []
    this.waiters = []
    this.exited = new Promise((resolve) => this.proc.on('exit', (code, signal) =>
      resolve({ code, signal })))
    readline.createInterface({ input: this.proc.stdout }).on('line', (line) => {
      const entry = { line, at: performance.now() }
      this.lines.push(entry)
      this.waiters = this.waiters.filter((w) => !w.check())
    })
  }

  send (cmd) {
    this.proc.stdin.write(cmd + '\n')
  }

  // Waits for a line matching re after index from (default: any so far);
  // resolves with its entry and index.
  waitFor (re, ms = 5000, from = 0) {
    return new Promise((resolve, reject) => {
      const w = {
        check: () => {
          for (let i = from; i < this.lines.length; i++) {
            if (re.test(this.lines[i].line)) {
              clearTimeout(w.timer)
              resolve({ ...this.lines[i], index: i })
              return true
            }
          }
          return false
        }
      }
      if (w.check()) return
      w.timer = setTimeout(() => {
        this.waiters = this.waiters.filter((x) => x !== w)
        reject(new Error(`no line ${re} within ${ms} ms; got: ` +
          JSON.stringify(this.lines.map((l) => l.line))))
      }, ms)
      this.waiters.push(w)
    })
  }

  kill (signal = 'SIGKILL') {
    this.proc.kill(signal)
  }
}

module.exports = { src, URL, Leader, benchModule, sleep, once, Child }
