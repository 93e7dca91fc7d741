"""The real-time plane: one WebSocket per viewer per room, batched per room per tick (docs/protocol.md)."""
