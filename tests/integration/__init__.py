"""Integration tests: the real server over real sockets."""
