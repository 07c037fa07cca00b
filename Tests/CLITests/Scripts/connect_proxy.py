"""A CONNECT proxy on loopback for tests: tunnels bytes, appends each CONNECT target to the log
file given as the first argument, and writes its port to LOG.port."""
import socket, sys, threading
log = open(sys.argv[1], "a", buffering=1)
server = socket.socket(); server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server.bind(("127.0.0.1", 0)); server.listen(64)
with open(sys.argv[1] + ".port", "w") as f: f.write(str(server.getsockname()[1]))
def pipe(a, b):
    try:
        while True:
            data = a.recv(65536)
            if not data: break
            b.sendall(data)
    except OSError: pass
    finally:
        for s in (a, b):
            try: s.shutdown(socket.SHUT_RDWR)
            except OSError: pass
def handle(client):
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = client.recv(4096)
        if not chunk: return client.close()
        head += chunk
    method, target = head.split(b" ")[0:2]
    if method != b"CONNECT":
        client.sendall(b"HTTP/1.1 405 Method Not Allowed\r\n\r\n"); return client.close()
    log.write(target.decode() + "\n")
    host, port = target.decode().rsplit(":", 1)
    upstream = socket.create_connection((host, int(port)))
    client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
    threading.Thread(target=pipe, args=(client, upstream), daemon=True).start()
    pipe(upstream, client)
while True:
    connection, _ = server.accept()
    threading.Thread(target=handle, args=(connection,), daemon=True).start()
