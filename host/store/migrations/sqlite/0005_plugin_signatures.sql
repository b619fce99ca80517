-- Plugin signatures (see docs/security.md, "Signed plugins"): the minisign signature a plugin
-- was uploaded with, checked again each time the daemon loads the plugin, and the ID of the
-- key that made it. Plugins stored before stay unsigned.
ALTER TABLE plugins ADD COLUMN signature TEXT;
ALTER TABLE plugins ADD COLUMN signed_by TEXT;
