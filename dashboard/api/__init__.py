"""The REST API and what the whole HTTP server shares (errors, headers, caching)."""
