"""Everything other sites send us (Pingback, Webmention) and what we send them; see DESIGN.md."""
