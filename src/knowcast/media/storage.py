"""Where a room's video lives on disk: ``<data dir>/media/<room id>/<variant>/{index.m3u8, seg_*.ts}``.

Every segment is kept, so the recording exists as soon as the stream ends; ``vod.m3u8`` beside ffmpeg's
``index.m3u8`` is the finished recording. Names that come from URLs are checked before they touch the disk.
"""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import asdict
from pathlib import Path

from knowcast.media import playlist
from knowcast.media.playlist import MediaPlaylist, Variant

INDEX = "index.m3u8"
VOD = "vod.m3u8"
MANIFEST = "variants.json"
VARIANT_NAME = re.compile(r"^[a-z0-9]{1,8}$")
SEGMENT_NAME = re.compile(r"^seg_\d{6,9}\.ts$")
PASSTHROUGH = "src"


class MediaStore:
    def __init__(self, root: Path) -> None:
        self.root = root
        self._parsed: dict[Path, tuple[int, int, MediaPlaylist]] = {}

    @classmethod
    def of_data_dir(cls, data_dir: Path) -> MediaStore:
        return cls(data_dir / "media")

    def room_dir(self, room_id: int) -> Path:
        return self.root / str(room_id)

    def variant_dir(self, room_id: int, variant: str) -> Path:
        if not VARIANT_NAME.match(variant):
            raise ValueError(f"bad variant name {variant!r}")
        return self.room_dir(room_id) / variant

    def has_media(self, room_id: int) -> bool:
        return (self.room_dir(room_id) / MANIFEST).exists()

    def write_variants(self, room_id: int, variants: list[Variant]) -> None:
        folder = self.room_dir(room_id)
        for variant in variants:
            self.variant_dir(room_id, variant.name).mkdir(parents=True, exist_ok=True)
        (folder / MANIFEST).write_text(json.dumps([asdict(v) for v in variants]), encoding="utf-8")

    def variants(self, room_id: int) -> list[Variant]:
        try:
            raw = json.loads((self.room_dir(room_id) / MANIFEST).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return []
        return [Variant(**item) for item in raw]

    def playlist(self, room_id: int, variant: str) -> MediaPlaylist | None:
        """ffmpeg's playlist for the variant, parsed once per change."""
        path = self.variant_dir(room_id, variant) / INDEX
        try:
            stat = path.stat()
            cached = self._parsed.get(path)
            if cached and cached[0] == stat.st_mtime_ns and cached[1] == stat.st_size:
                return cached[2]
            parsed = playlist.parse(path.read_text(encoding="utf-8", errors="replace"))
        except OSError:
            return None
        self._parsed[path] = (stat.st_mtime_ns, stat.st_size, parsed)
        return parsed

    def segment_count(self, room_id: int) -> int:
        counts = [len(p.segments) for v in self.variants(room_id) if (p := self.playlist(room_id, v.name))]
        return min(counts, default=0)

    def segment_path(self, room_id: int, variant: str, name: str) -> Path | None:
        if not SEGMENT_NAME.match(name) or not VARIANT_NAME.match(variant):
            return None
        path = self.variant_dir(room_id, variant) / name
        return path if path.is_file() else None

    def finalize(self, room_id: int) -> None:
        """Write the recording's VOD playlists (safe to repeat; nothing to do for a room without video)."""
        for variant in self.variants(room_id):
            parsed = self.playlist(room_id, variant.name)
            if parsed is not None and parsed.segments:
                text = playlist.render_vod(parsed, lambda uri: uri)
                (self.variant_dir(room_id, variant.name) / VOD).write_text(text, encoding="utf-8")

    def free_bytes(self, room_id: int) -> int:
        folder = self.room_dir(room_id)
        probe = folder if folder.exists() else self.root if self.root.exists() else self.root.parent
        while not probe.exists():
            probe = probe.parent
        return shutil.disk_usage(probe).free
