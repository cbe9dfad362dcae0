"""codesearch: local, long-context semantic code search (the command line; see ARCHITECTURE.md)."""
