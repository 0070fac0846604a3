"""The Python flag enums (Capability, ParamsField) keep a bounded cache of bit combinations.

enum.Flag caches a pseudo-member for every combination of bits it is asked for and never drops one; the bits of
Hello.capabilities and Params.set_mask are chosen by the peer, so a client sending new combinations grew the
server's memory without end (about 470 bytes each; found while profiling the coverage-guided fuzzer's memory).
The generated enums derive from BoundedFlag, which keeps at most FLAG_CACHE combinations."""

from __future__ import annotations

import random

import pytest

from sdbridge.protocol._generated.bridge_schema import FLAG_CACHE
from sdbridge.protocol.codec import decode, encode
from sdbridge.protocol.messages import Capability, Hello, ParamsField


@pytest.mark.parametrize("flag", [Capability, ParamsField])
def test_combinations_past_the_cache_are_built_and_not_kept(flag: type) -> None:
    rng = random.Random(7)
    all_bits = 0
    for member in flag:
        all_bits |= int(member)
    for _ in range(5000):
        value = rng.getrandbits(64) if rng.random() < 0.5 else rng.getrandbits(64) & all_bits
        built = flag(value)
        assert int(built) == value and int(built & flag(all_bits)) == value & all_bits
    assert len(flag._value2member_map_) <= len(flag._member_map_) + FLAG_CACHE + 1


def test_a_client_choosing_the_capability_bits_does_not_grow_the_decoders_enum() -> None:
    rng = random.Random(8)
    for _ in range(3000):
        caps = rng.getrandbits(32)
        hello = Hello(protocol_major=1, protocol_minor=5, client_name="c", capabilities=Capability(caps))
        assert decode(encode(hello)).capabilities == caps
    assert len(Capability._value2member_map_) <= len(Capability._member_map_) + FLAG_CACHE + 1
