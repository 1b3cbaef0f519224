// Runs a small ES module script in a child `node` against the built package (it imports
// `weir/<module>` from the package root) and reports how the child ended. Used to check
// that nothing of weir holds the process open once the script's own work is done.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));

export interface Exit {
  /** Exit code, or null when the child was killed. */
  code: number | null;
  /** True when the child was still running after the bound and was killed. */
  hung: boolean;
  stdout: string;
  stderr: string;
}

/**
 * Runs `source` as an ES module in a child process; kills it if it has not exited within
 * `boundMs` (a bound on a hang, not a measure of speed: a healthy child exits at once).
 */
export function runScript(source: string, boundMs = 15_000): Promise<Exit> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', source], {
      cwd: root,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let hung = false;
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
    });
    const timer = setTimeout(() => {
      hung = true;
      child.kill('SIGKILL');
    }, boundMs);
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, hung, stdout, stderr });
    });
  });
}
