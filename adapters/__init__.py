"""Everything that touches the outside: settings, storage, the vault, and (later) HTTP, web pages and CLI."""
