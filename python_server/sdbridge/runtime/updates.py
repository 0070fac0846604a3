"""A session's pending pipeline updates (Prompt, Params), applied by the worker thread in arrival order.

A new prompt needs its texts encoded, and a Prompt blend of many new long texts costs far more than a frame.
A plain change (at most `texts_per_turn` new texts: a prompt and its negative) applies at the session's next
worker turn, before its next frame, as always. A larger one is encoded in bounded slices instead:
`texts_per_turn` new texts per turn of that session, filling its pipeline's embedding cache across turns
while its frames keep the old prompt; the queued updates then apply together, in arrival order, at the turn
where no more than `texts_per_turn` texts are left. Until then they stay in the session's bounded queue, so
later updates wait behind them and the queue's bound still refuses a flood. One turn therefore never
encodes more than `texts_per_turn` texts, and the fair share (runtime.queues.FairShare) charges each turn to
its session: a client's prompt blends cost its own share of the worker, not the other sessions'.

Two values are not settings: `SCENE_CUT` (a client's Frame.scene_cut, protocol 1.4) calls the pipeline's
`scene_cut()` before the updates apply and is not kept; `style_images` (StyleImage messages, a rules file's styles)
accumulate by name across updates and in `session.prompt_values`, so a pipeline rebuilt for a new frame size gets
every style image the session sent.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sdbridge.runtime.sessions import PipelineUpdate, PromptTransition, Session, blend_prompts

#: The update value a Frame.scene_cut queues (dispatcher): `pipeline.scene_cut()` before the frame, not a setting
SCENE_CUT = "scene_cut"
#: The update value holding style images (sdbridge.events.style_files.StyleImages): merged by name, never replaced
STYLE_IMAGES = "style_images"


def style_update(name: str, rgb: Any) -> dict[str, Any]:
    """The update values that set style image `name` ((H, W, 3) uint8 RGB, top row first) in the session's pipeline
    (a StyleImage message; `StreamPipeline.update(style_images=...)`)."""
    from sdbridge.events.style_files import StyleImages  # torch-free (numpy); the pipeline's type for style images

    return {STYLE_IMAGES: StyleImages.of({name: rgb})}


def _merge_styles(old: Any, new: Any) -> Any:
    """Style images `new` set on top of `old` (StyleImages: a name sent again replaces that image)."""
    if old is None:
        return new
    for name, image in new.images:
        old = old.with_image(name, image)
    return old

log = logging.getLogger(__name__)

#: New prompt texts one session's turn may encode (a prompt and its negative prompt: applied at once).
TEXTS_PER_TURN = 2

#: Blend items lighter than this (after normalising) are dropped from an interrupted blend's starting point,
#: so that a chain of interruptions keeps a bounded list; the embedding moves by less than this fraction.
NEGLIGIBLE_WEIGHT = 1e-4


def shown_prompt(transition: PromptTransition) -> Any:
    """The prompt the running blend shows now (its last frame's position), as a normalised weighted blend.

    A blend interrupted by a new transition starts from here, not from its old target, so the picture does
    not jump. Each text appears once (weights summed: the same linear blend), weights sum to 1.
    """
    if transition.position <= 0.0:
        return transition.start
    merged: dict[str, float] = {}
    for text, weight in blend_prompts(transition.start, transition.target, transition.position):
        merged[text] = merged.get(text, 0.0) + weight
    total = sum(merged.values())
    kept = {t: w / total for t, w in merged.items() if w / total >= NEGLIGIBLE_WEIGHT}
    total = sum(kept.values())
    return [(t, w / total) for t, w in kept.items()]


def plan(session: Session, updates: Sequence[PipelineUpdate],
         default_prompt: Mapping[str, Any]) -> tuple[dict[str, Any], PromptTransition | None]:
    """What applying `updates` in order does: (the merged pipeline values, the prompt transition then running).

    A prompt with a transition starts a blend from the prompt on screen: the current prompt, or the blend a
    running transition shows now (`shown_prompt`); an immediate prompt cancels a running blend. Pure: the
    session is not changed.
    """
    merged: dict[str, Any] = {}
    transition = session.transition
    for update in updates:
        values = dict(update.values)
        if "prompt" in values and (update.transition_frames > 0 or update.transition_seconds > 0):
            current = session.prompt_values.get("prompt", default_prompt.get("prompt", ""))
            if transition is not None:  # start from where the running blend is now
                current = shown_prompt(transition)
            transition = PromptTransition(current, values.pop("prompt"), update.transition_frames,
                                          update.transition_seconds, easing=update.easing)
        elif "prompt" in values:
            transition = None  # an immediate prompt cancels a running blend
        if STYLE_IMAGES in values:
            values[STYLE_IMAGES] = _merge_styles(merged.get(STYLE_IMAGES), values[STYLE_IMAGES])
        merged.update(values)
    return merged, transition


def _specs(session: Session, merged: Mapping[str, Any], transition: PromptTransition | None) -> list[Any]:
    """The prompt specs (texts or blends) applying `merged` and `transition` will encode."""
    specs = [merged.get("prompt"), merged.get("negative_prompt")]
    if transition is not None and transition is not session.transition:
        specs += [transition.start, transition.target]
    if "prompt_interpolation" in merged and "prompt" not in merged:  # the current prompt is resolved again
        specs.append(session.prompt_values.get("prompt"))
        if session.transition is not None:
            specs += [session.transition.start, session.transition.target]
    return specs


class UpdateApplier:
    """Applies a session's queued updates to its pipeline (see the module docstring). Worker thread only."""

    def __init__(self, default_prompt: Mapping[str, Any], on_failure: Callable[[Session, Exception], None],
                 texts_per_turn: int = TEXTS_PER_TURN) -> None:
        self._default = dict(default_prompt)
        self._on_failure = on_failure
        self._per_turn = max(1, texts_per_turn)

    def apply(self, session: Session, slices: bool = True) -> None:
        """One turn: encode a slice of new prompt texts, or apply every queued update in arrival order.

        `slices=False` (a session joining another's turn for its frame): a large blend waits for a turn of
        the session's own instead of encoding a slice now; updates that need no slice apply as usual.
        """
        pending = session.updates.items()
        if not pending:
            return
        merged, transition = plan(session, pending, self._default)
        if not self._encoded(session, merged, transition, slices):
            return  # the old prompt stays in use; the updates stay queued for the session's next turn
        session.updates.discard(len(pending))
        session.transition = transition
        if merged.pop(SCENE_CUT, False):
            self._scene_cut(session)
        if STYLE_IMAGES in merged:  # the session's every style image, for a pipeline rebuilt later
            merged[STYLE_IMAGES] = _merge_styles(session.prompt_values.get(STYLE_IMAGES), merged[STYLE_IMAGES])
        if merged:
            before = dict(session.prompt_values)
            session.prompt_values.update(merged)
            if session.pipeline is not None:
                try:
                    session.pipeline.update(**merged)
                except Exception as exc:  # report to the client, keep serving with the old values
                    session.prompt_values = before
                    self._on_failure(session, exc)

    def _scene_cut(self, session: Session) -> None:
        """The client's scene cut: the pipeline drops its temporal state (a pipeline without one has none)."""
        cut = getattr(session.pipeline, "scene_cut", None)
        if cut is not None:
            try:
                cut()
            except Exception as exc:  # report to the client, keep serving
                self._on_failure(session, exc)

    def _encoded(self, session: Session, merged: Mapping[str, Any], transition: PromptTransition | None,
                 slices: bool) -> bool:
        """True when at most one slice of new texts is left (applying encodes those); else encode one slice
        (if `slices`) and return False."""
        encoder = getattr(session.pipeline, "prompt_encoder", None) if session.pipeline is not None else None
        if encoder is None:  # no pipeline yet (prepare encodes at the first frame) or one without text encoder
            return True
        try:
            missing = encoder.missing(_specs(session, merged, transition))
            if len(missing) <= self._per_turn or len(missing) > encoder.capacity:  # (more than the cache
                return True  # holds: it could never be complete in the cache, so it is encoded at once)
            if slices:
                for text in missing[:self._per_turn]:
                    encoder.encode(text)
        except Exception:  # a bad value or a failed encoding: applying the updates reports it to the client
            log.debug("session %d: encoding a prompt slice failed", session.session_id, exc_info=True)
            return True
        return False
