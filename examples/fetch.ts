// A Fetch-style app: an object with fetch(request) => Response, as in Hono, Bun and Deno.
export default {
  async fetch(request: Request): Promise<Response> {
    const url = new URL(request.url);
    if (request.method === 'POST') {
      const body = await request.arrayBuffer();
      return Response.json({ path: url.pathname, received: body.byteLength });
    }
    return new Response(`Hello from fetch! ${request.method} ${url.pathname}\n`, {
      headers: { 'content-type': 'text/plain; charset=utf-8' },
    });
  },
};
