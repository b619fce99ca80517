"""The failures a plugin reports: each message should tell a person what to change."""


class PluginError(Exception):
    """A failure the plugin reports (`error` in the plugin contract)."""


class InvalidConfig(PluginError):
    """The configuration was rejected: bad JSON, an unknown setting, a value out of range."""


class InvalidInput(PluginError):
    """The input cannot be processed: an empty window, a column of the wrong kind."""
