"""A WebSocket feed that greets first, for vouch's `websocket` tests: a real
server from PyPI `websockets` (scripts/ws-greeter.sh starts it on loopback).

On connect it sends `{"type": "welcome", ...}` before the client says
anything. A `{"op": "subscribe", "channel": C}` message gets two heartbeats,
then `{"type": "snapshot", "channel": C}`. `ping` gets `pong`. It negotiates the
`feed.v1` subprotocol when offered, and serves a client that offers none.

    python3 tests/peers/ws_greeter.py PORT
"""

import asyncio
import json
import sys

from websockets.asyncio.server import serve


async def feed(ws):
    await ws.send(json.dumps({"type": "welcome", "server": "vouch-test-feed"}))
    async for message in ws:
        if message == "ping":
            await ws.send("pong")
            continue
        try:
            request = json.loads(message)
        except ValueError:
            await ws.send(json.dumps({"type": "error", "error": "not JSON"}))
            continue
        if request.get("op") == "subscribe":
            channel = request.get("channel", "")
            for n in (1, 2):
                await ws.send(json.dumps({"type": "heartbeat", "n": n}))
            await ws.send(json.dumps({"type": "snapshot", "channel": channel}))


def select_subprotocol(connection, offered):
    # `feed.v1` when offered; a client offering none is served without one
    # (websockets' default would refuse it with 400).
    return "feed.v1" if "feed.v1" in offered else None


async def main(port):
    async with serve(feed, "127.0.0.1", port, select_subprotocol=select_subprotocol) as server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1])))
