"""Server-rendered pages: templates, translations, static assets."""
