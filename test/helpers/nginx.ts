/** Debian's nginx in front of a forkserve under test: a foreground instance whose files all live in one scratch directory. */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

/**
 * Writes DIR/NAME.conf, with `http` as the body of its http block (upstreams
 * and servers), and starts nginx on it in the foreground. Its pid file,
 * error log and temp paths are DIR/NAME-*. It has no readiness line: wait
 * for it to answer. stop() sends SIGQUIT (graceful).
 */
export function startNginx(dir: string, name: string, http: string): { proc: ChildProcess; stop(): void } {
  const at = (what: string) => path.join(dir, `${name}-${what}`);
  const conf = path.join(dir, `${name}.conf`);
  fs.writeFileSync(conf, `worker_processes 1;
daemon off;
pid ${at('pid')};
error_log ${at('error.log')};
events { worker_connections 64; }
http {
  access_log off;
  client_body_temp_path ${at('body')};
  proxy_temp_path ${at('proxy')};
  fastcgi_temp_path ${at('fastcgi')};
  uwsgi_temp_path ${at('uwsgi')};
  scgi_temp_path ${at('scgi')};
${http}
}
`);
  const proc = spawn('nginx', ['-c', conf, '-e', at('error.log')], { stdio: 'ignore' });
  return { proc, stop: () => proc.kill('SIGQUIT') };
}
