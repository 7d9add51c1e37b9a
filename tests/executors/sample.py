"""Executors for the `--executor name=module:function` tests."""

from __future__ import annotations

import automations as am


async def shout(ctx: am.RunContext) -> str:
    return ctx.automation.prompt.upper()


def not_async(ctx: am.RunContext) -> str:
    return "no"
