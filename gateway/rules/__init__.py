"""Pure rules: `(state, reading, now) -> (state, signals)`. Time is passed in, never read."""
