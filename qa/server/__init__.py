"""article-qa as a service: the REST API (``qa serve``) and the MCP server (``qa mcp``, and /mcp).

Built on the public Python API only. Import the parts you need (qa.server.app, qa.server.mcp);
this package itself imports nothing heavy, so the web app can use qa.server.binding cheaply.
"""
