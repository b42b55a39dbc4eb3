"""Time-zone-aware opening hours and holidays: answers out of hours."""

from plugins.business_hours.plugin import BusinessHoursPlugin

__all__ = ["BusinessHoursPlugin"]
