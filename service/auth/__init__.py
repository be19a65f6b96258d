"""API keys, principals and roles. Study membership checks live in ``membership``."""
