"""The helpdesk domain: tickets, threading, identities, the outbox and reports. No sockets."""
