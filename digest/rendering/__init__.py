"""Rendering: plain view data in, the email's HTML and text parts out (Jinja2 → MJML → HTML),
with the fragments (summaries, Markdown introductions) they carry."""
