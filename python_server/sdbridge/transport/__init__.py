"""ZeroMQ transport: the server's ROUTER socket (`zmq_server`) and the reference Python client (`client`).

Never imports torch. See README.md in this folder for the Python client API.
"""
