"""The Jinja2 templates baker renders (shipped in the wheel as package data)."""
