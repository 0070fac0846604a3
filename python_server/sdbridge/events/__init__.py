"""Game events drive prompts and state: the rules file model, a pure rules engine, and its server glue.

rules.py (TOML model and validation), engine.py (per-session state, matching, layers, timed effects;
pure), easing.py (blend curves), host.py (per-session engines and hot reload for the server).
"""
