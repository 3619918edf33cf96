"""The call deadline's contextvar block."""
from __future__ import annotations

import contextvars

from smartlib_server import deadlines


def test_a_deadline_block_closed_from_another_context_ends_quietly():
    # asyncio closes an abandoned chat stream's generator in a task of its own: the block's
    # exit then runs in a context other than the one that entered it.
    block = deadlines.bound(5.0)
    contextvars.copy_context().run(block.__enter__)
    contextvars.copy_context().run(block.__exit__, None, None, None)  # raised ValueError before


def test_a_deadline_block_restores_the_outer_deadline():
    with deadlines.bound(100.0):
        with deadlines.bound(1.0):
            assert deadlines.remaining() <= 1.0
        assert deadlines.remaining() > 50.0
    assert deadlines.remaining() is None
