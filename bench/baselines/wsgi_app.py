# The bench's apps as WSGI callables, for gunicorn (sync worker):
#   gunicorn -w 1 -b 127.0.0.1:0 --chdir bench/baselines wsgi_app:hello
import json as _json

HELLO = b'Hello, World!'


def hello(environ, start_response):
    start_response('200 OK', [('Content-Type', 'text/plain'), ('Content-Length', str(len(HELLO)))])
    return [HELLO]


def json(environ, start_response):
    body = _json.dumps({'message': 'Hello, World!', 'items': [1, 2, 3], 'ok': True}).encode()
    start_response('200 OK', [('Content-Type', 'application/json'), ('Content-Length', str(len(body)))])
    return [body]


def echo(environ, start_response):
    length = int(environ.get('CONTENT_LENGTH') or 0)
    body = environ['wsgi.input'].read(length)
    start_response('200 OK', [('Content-Type', environ.get('CONTENT_TYPE') or 'application/octet-stream'),
                              ('Content-Length', str(len(body)))])
    return [body]
