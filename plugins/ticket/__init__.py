"""Opens a ticket through a Zendesk- or Jira-style REST API and returns its id."""

from plugins.ticket.plugin import TicketPlugin

__all__ = ["TicketPlugin"]
