"""`sdbridge keys generate`: make CurveZMQ key pairs (ZeroMQ certificate files) for the server and clients.

    sdbridge keys generate --dir keys --name server        # keys/server.key, keys/server.key_secret
    sdbridge keys generate --dir keys/clients --name unity-editor

The server loads its NAME.key_secret ([security] server_secret_key) and the folder of client NAME.key
files it accepts ([security] authorized_keys). A client needs the server's public key and its own pair.
"""

from __future__ import annotations

import argparse

NAME = "keys"
HELP = "make CurveZMQ key pairs (NAME.key public, NAME.key_secret secret) for `serve --curve-secret-key`"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """`keys generate [--dir DIR] [--name NAME] [--force]`."""
    sub = parser.add_subparsers(dest="keys_action", required=True, metavar="generate")
    gen = sub.add_parser("generate", help="write a new key pair", description="write a new CurveZMQ key pair")
    gen.add_argument("--dir", default="keys", help="folder to write into (default: ./keys; created if missing)")
    gen.add_argument("--name", default="server", help="file name stem (default: server)")
    gen.add_argument("--force", action="store_true", help="replace an existing pair of the same name")


def run(args: argparse.Namespace) -> int:
    """Write the pair and print where, with the public key (Z85) engines paste into their settings."""
    from sdbridge.commands.output_paths import output_folder
    from sdbridge.transport import curve

    output_folder(args.dir, "--dir")
    public_path, secret_path = curve.generate(args.dir, args.name, force=args.force)
    public = curve.load_public(public_path).decode("ascii")
    print(f"public key  {public_path}\nsecret key  {secret_path} (mode 600: keep it private)\n"
          f"public Z85  {public}", flush=True)
    return 0
