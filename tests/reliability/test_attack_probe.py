"""A short run of the attack probe (tests/reliability/attack_probe.py) in CI: against a real `sdbridge serve`
(identity model), the memory attacks are refused with Errors, cost bounded memory, and the server survives each.
The bystander's frames/s are printed, not asserted (this shared 2-core machine makes them noisy); RELIABILITY.md
quotes longer runs."""

from __future__ import annotations

from .attack_probe import run

# Before the budgets: state +238 MB and events +270 MB in this probe (identity, 100 messages each).
MEMORY_BOUND_MB = {"state": 32.0, "events": 32.0, "no_read": 160.0}


def test_memory_attacks_are_refused_and_bounded() -> None:
    results = run("identity", 64, 2.0, list(MEMORY_BOUND_MB), [])
    for r in results:
        print(f"{r.name}: rss +{r.rss_growth_mb:.1f} MB, bystander {r.bystander_fps:.0f} of "
              f"{r.bystander_solo_fps:.0f} fps, {r.errors_to_attacker} errors, alive {r.server_alive}")
    assert [r.name for r in results] == list(MEMORY_BOUND_MB)
    for r in results:
        assert r.server_alive, f"{r.name}: the server died"
        assert r.rss_growth_mb <= MEMORY_BOUND_MB[r.name], f"{r.name}: server grew {r.rss_growth_mb:.1f} MB"
        assert r.bystander_solo_fps > 0, f"{r.name}: the bystander got no results before the attack"
    assert all(r.errors_to_attacker >= 1 for r in results if r.name in ("state", "events"))  # refused, with Errors
