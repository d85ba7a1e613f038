"""Mail: the EMAIL_URL setting, signed links, the texts (templates/mail/) and the pages the links open.
Who gets which mail is archive/notify.py's business; mail goes out only from archive/tasks.py."""
