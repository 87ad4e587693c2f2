"""Standard five-field cron expressions -> APScheduler triggers.

APScheduler 3's ``CronTrigger.from_crontab`` reads a numeric day of week as its own
numbering (0 = Monday), so "0 7 * * 1" would fire on Tuesdays. Cron's is 0 (or 7) = Sunday;
day-of-week numbers are turned into names here before APScheduler sees them.
"""

from __future__ import annotations

import re

from apscheduler.triggers.cron import CronTrigger

DAY_NAMES = ("sun", "mon", "tue", "wed", "thu", "fri", "sat", "sun")


def cron_day_of_week(field: str) -> str:
    """ "1-5" -> "mon-fri", "0,6" -> "sun,sat", "*/2" stays as it is (APScheduler's steps)."""

    def name(match: re.Match[str]) -> str:
        number = int(match.group(0))
        if number > 7:
            raise ValueError(f"day of week {number} is out of range (0-7)")
        return DAY_NAMES[number]

    parts = []
    for part in field.split(","):
        value, slash, step = part.partition("/")
        parts.append(re.sub(r"\d+", name, value) + slash + step)
    return ",".join(parts)


def cron_trigger(expression: str, timezone: str = "UTC") -> CronTrigger:
    """A trigger for a standard cron expression "minute hour day month day-of-week"."""
    fields = expression.split()
    if len(fields) != 5:
        raise ValueError(
            f"expected 5 fields (minute hour day month day-of-week), got {len(fields)}"
        )
    minute, hour, day, month, day_of_week = fields
    return CronTrigger(
        minute=minute,
        hour=hour,
        day=day,
        month=month,
        day_of_week=cron_day_of_week(day_of_week),
        timezone=timezone,
    )
