"""Authentication: JWT verification shared by the HTTP API and the WebSocket $connect authorizer."""
