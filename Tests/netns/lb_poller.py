#!/usr/bin/env python3
"""A cloud load balancer in miniature, for the health kernel tests.

Probes each node's Service health check port (GET /, as cloud load balancers do) and
then opens --connections TCP connections, round robin, to the NodePort of the nodes
that answered 200 only. Prints one JSON object: each node's health status and body,
the nodes it used, and each connection's node, reply and error.
"""
import argparse
import json
import socket
import urllib.error
import urllib.request


def probe(node, port):
    try:
        with urllib.request.urlopen(f"http://{node}:{port}/", timeout=3) as reply:
            return reply.status, reply.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()
    except OSError as error:
        return 0, str(error)


def connect(node, port):
    try:
        with socket.create_connection((node, port), timeout=3) as s:
            s.sendall(b"hello")
            return s.recv(200).decode(), None
    except OSError as error:
        return None, str(error)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--node", action="append", required=True)
    parser.add_argument("--health-port", type=int, required=True)
    parser.add_argument("--service-port", type=int, required=True)
    parser.add_argument("--connections", type=int, default=20)
    args = parser.parse_args()
    health = {node: probe(node, args.health_port) for node in args.node}
    used = [node for node in args.node if health[node][0] == 200]
    connections = []
    for i in range(args.connections if used else 0):
        node = used[i % len(used)]
        reply, error = connect(node, args.service_port)
        connections.append({"node": node, "reply": reply, "error": error})
    print(json.dumps({
        "health": {node: {"status": status, "body": body} for node, (status, body) in health.items()},
        "used": used,
        "connections": connections,
    }))


if __name__ == "__main__":
    main()
