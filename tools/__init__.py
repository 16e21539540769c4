"""Tools layer: the library facade and plain, typed tool functions an agent (or a person) calls."""
