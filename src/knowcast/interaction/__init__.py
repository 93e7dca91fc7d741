"""Chat and moderation, likes, presence, Q&A with guest experts, polls: what viewers do in a live room."""
