"""The video plane: RTMP ingest, the ffmpeg supervisor, HLS serving, recordings and external media servers."""
