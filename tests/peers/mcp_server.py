"""A small MCP server for vouch's `mcp` probe tests (Python SDK `mcp`, Streamable HTTP).

    python mcp_server.py PORT [--json]

Serves `/mcp` on 127.0.0.1:PORT; SSE answers by default, plain JSON with `--json`.
"""

import sys

try:  # mcp 2.x renamed FastMCP to MCPServer
    from mcp.server.mcpserver import MCPServer as Server
except ImportError:  # mcp 1.x
    from mcp.server.fastmcp import FastMCP as Server

mcp = Server("vouch-python-peer")


@mcp.tool()
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


@mcp.tool()
def shout(text: str) -> str:
    """Upper-case a text."""
    return text.upper()


@mcp.tool()
def fail(reason: str) -> str:
    """Always fails, with the reason as the error."""
    raise ValueError(reason)


@mcp.resource("vouch://motd")
def motd() -> str:
    """The message of the day."""
    return "all systems nominal"


@mcp.prompt()
def greet(name: str) -> str:
    """A greeting prompt."""
    return f"Say hello to {name}."


if __name__ == "__main__":
    port = int(sys.argv[1])
    json_response = "--json" in sys.argv
    try:
        mcp.run("streamable-http", host="127.0.0.1", port=port, json_response=json_response)
    except TypeError:
        # mcp 1.x takes these as settings, not run() arguments.
        mcp.settings.host = "127.0.0.1"
        mcp.settings.port = port
        mcp.settings.json_response = json_response
        mcp.run("streamable-http")
