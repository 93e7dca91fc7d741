"""Audience growth and host tooling: follows, live reminders (预约) with mail and in-site notifications,
calendar files, share posters (海报), run-of-show scripts (直播脚本), FAQ auto-replies and embeddable rooms.
See docs/growth.md."""
