"""StreamDiffusion Bridge: real-time diffusion stylization for game engines.

The server (``sdbridge serve``) runs the StreamDiffusion pipeline and talks to Unity and Unreal
clients over ZeroMQ with FlatBuffers messages. Importing this package has no side effects.
"""

__version__ = "0.1.0"
