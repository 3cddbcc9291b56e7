// Prints a line to stdout synchronously, all of it, before anything else
// runs: a child that may be killed the next moment (SIGKILL, SIGBUS) must
// not leave half a line, nor a line still queued in a stream.
'use strict';
const { writeSync } = require('node:fs');

function say(line) {
  const data = Buffer.from(`${line}\n`);
  let off = 0;
  while (off < data.length) {
    try {
      off += writeSync(1, data, off);
    } catch (err) {
      if (err.code !== 'EAGAIN') throw err; // a non-blocking pipe that is full: try again
    }
  }
}

module.exports = { say };
