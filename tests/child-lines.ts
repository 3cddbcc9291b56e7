import type { ChildProcessWithoutNullStreams } from 'node:child_process';

/**
 * The next line a child process prints. If the child ends first, a line
 * starting with "ERR" that carries what it printed to stderr, so a test
 * reports it instead of hanging.
 *
 * Waits for 'close', not 'exit': 'exit' can come before the last output has
 * been read, which made a child that answered and then exited look silent.
 */
export function nextLine(child: ChildProcessWithoutNullStreams): Promise<string> {
  return new Promise((resolve, reject) => {
    let buffered = '';
    let errors = '';
    const onData = (chunk: string) => {
      buffered += chunk;
      const end = buffered.indexOf('\n');
      if (end >= 0) {
        child.stdout.off('data', onData);
        resolve(buffered.slice(0, end));
      }
    };
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', onData);
    child.stderr.on('data', (chunk: Buffer) => (errors += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve(`ERR child ended (code ${code}) before answering: ${buffered}${errors}`));
  });
}
