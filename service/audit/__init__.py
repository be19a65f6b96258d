"""Audit trail: who did what sensitive thing, when — never the content itself."""
