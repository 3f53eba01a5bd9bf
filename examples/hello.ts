// The hello app of the course, WSGI-style: environ in, startResponse + body out.
import type { Environ, StartResponse } from 'forkserve';

export function app(environ: Environ, startResponse: StartResponse): string {
  startResponse('200 OK', [['Content-Type', 'text/plain; charset=utf-8']]);
  return `Hello, World! You asked for ${environ.PATH_INFO}\n`;
}

export default app;
