"""Schedules a proactive message with EventBridge Scheduler, delivered back on the user's channel."""

from plugins.reminder.plugin import ReminderPlugin

__all__ = ["ReminderPlugin"]
