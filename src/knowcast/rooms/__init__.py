"""Live rooms: scheduling, the live state machine, access modes, stream keys."""
