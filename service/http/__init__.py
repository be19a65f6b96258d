"""HTTP conventions shared by every router: the route class, pagination, ETags,
idempotent retries and problem+json rendering."""
