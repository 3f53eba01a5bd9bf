# A forking HTTP server in the style of "Let's Build A Web Server", part 3
# (webserver3g): accept, os.fork() per connection, the child answers and
# exits, the parent closes its copy; a SIGCHLD handler reaps with a
# waitpid(-1, WNOHANG) loop; accept() is retried on EINTR. The fork engine's
# baseline in `npm run bench`:
#   python3 bench/baselines/forking_server.py [PORT]
import errno
import os
import signal
import socket
import sys

BODY = b'Hello, World!'
RESPONSE = (b'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\nConnection: close\r\n\r\n' % len(BODY)) + BODY


def grim_reaper(signum, frame):
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except OSError:
            return
        if pid == 0:
            return


def handle_request(client):
    request = client.recv(1024)
    while request and b'\r\n\r\n' not in request:
        more = client.recv(1024)
        if not more:
            break
        request += more
    client.sendall(RESPONSE)


def serve_forever(port):
    listen = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listen.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listen.bind(('127.0.0.1', port))
    listen.listen(1024)
    sys.stderr.write('Listening at: http://127.0.0.1:%d (%d)\n' % (listen.getsockname()[1], os.getpid()))
    sys.stderr.flush()
    signal.signal(signal.SIGCHLD, grim_reaper)
    while True:
        try:
            client, address = listen.accept()
        except IOError as e:
            if e.args[0] == errno.EINTR:
                continue
            raise
        pid = os.fork()
        if pid == 0:
            listen.close()
            handle_request(client)
            client.close()
            os._exit(0)
        client.close()


if __name__ == '__main__':
    serve_forever(int(sys.argv[1]) if len(sys.argv) > 1 else 0)
