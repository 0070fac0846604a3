"""Record and replay sessions: every pipeline call of a session (with its input frame) and the game
inputs that caused them, in a documented container; `sdbridge replay` re-runs them bit for bit.

format.py (the container: writer and reader, numpy + JSON only), recorder.py (the per-session recorder
and the recording pipeline wrapper the worker uses), replay.py (re-running a recording; imports torch).
"""
