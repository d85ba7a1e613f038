"""Blog interchange formats: WordPress's WXR in and out, and WARC out."""
